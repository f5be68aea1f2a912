from __future__ import annotations

import numpy as np
import pytest

from contracts.media import SAMPLES_PER_FRAME
from conversation.reply.audio_chunks import (
    FIRST_CHUNK_SAMPLES,
    MAX_CHUNK_SAMPLES,
    TurnAudioChunker,
    left_context,
    pad_to_whole_frames,
    split_pcm,
)

rng = np.random.default_rng(7)


def noise(samples: int) -> np.ndarray:
    return (rng.standard_normal(samples) * 3000).astype(np.int16)


@pytest.mark.parametrize(
    ("samples", "sizes"),
    [
        (0, []),
        (100, [100]),
        (6400, [6400]),
        (6401, [6400, 1]),
        (6400 + 16000 + 700, [6400, 16000, 700]),
        (6400 + 3 * 16000, [6400, 16000, 16000, 16000]),
    ],
)
def test_split_pcm_sizes(samples: int, sizes: list[int]) -> None:
    pcm = noise(samples)
    chunks = split_pcm(pcm)
    assert [len(c) for c in chunks] == sizes
    assert all(len(c) % SAMPLES_PER_FRAME == 0 for c in chunks[:-1])
    assert np.array_equal(np.concatenate(chunks) if chunks else pcm, pcm)


def test_split_pcm_refuses_sizes_that_are_not_whole_frames() -> None:
    with pytest.raises(ValueError):
        split_pcm(noise(10), first_chunk_samples=1000)


def test_pad_to_whole_frames() -> None:
    assert len(pad_to_whole_frames(noise(641))) == 1280
    padded = pad_to_whole_frames(np.ones(10, dtype=np.int16))
    assert padded[:10].tolist() == [1] * 10 and not padded[10:].any()
    exact = noise(1280)
    assert pad_to_whole_frames(exact) is exact


def test_left_context_is_the_last_milliseconds() -> None:
    turn = np.arange(20000, dtype=np.int16)
    assert left_context(turn, ms=100).tolist() == list(range(18400, 20000))
    assert len(left_context(turn[:50], ms=100)) == 50
    assert len(left_context(turn, ms=0)) == 0


def test_turn_audio_chunker_over_two_sentences() -> None:
    chunker = TurnAudioChunker()
    first, second = noise(6400 + 16000 + 1000), noise(5000)
    chunks = []
    for piece in np.array_split(first, 7):
        chunks += chunker.push(piece)
    chunks += chunker.end_sentence()
    chunks += chunker.push(second)
    chunks += chunker.end_sentence()

    assert [len(c.pcm) for c in chunks] == [6400, 16000, 1280, 5120]
    assert all(len(c.pcm) % SAMPLES_PER_FRAME == 0 for c in chunks)
    assert [c.first_frame for c in chunks] == [0, 10, 35, 37]
    assert [(c.sentence, c.is_last_of_sentence) for c in chunks] == [
        (0, False),
        (0, False),
        (0, True),
        (1, True),
    ]
    assert len(chunks[0].left_audio) == 0
    # the left context is the audio that was sent just before, padding included
    sent = np.concatenate([c.pcm for c in chunks])
    assert np.array_equal(chunks[1].left_audio, sent[:6400])
    assert np.array_equal(chunks[3].left_audio, sent[23680 - 16000 : 23680])
    assert np.array_equal(sent[: len(first)], first)
    assert not sent[len(first) : 23680].any()  # silence pads the sentence to whole frames


def test_a_sentence_of_exactly_one_chunk_is_marked_last() -> None:
    chunker = TurnAudioChunker()
    assert chunker.push(noise(FIRST_CHUNK_SAMPLES)) == []
    (only,) = chunker.end_sentence()
    assert len(only.pcm) == FIRST_CHUNK_SAMPLES and only.is_last_of_sentence


def test_reset_starts_a_new_turn() -> None:
    chunker = TurnAudioChunker()
    chunker.push(noise(MAX_CHUNK_SAMPLES * 2))
    chunker.reset()
    chunker.push(noise(100))
    (chunk,) = chunker.end_sentence()
    assert chunk.first_frame == 0 and chunk.sentence == 0 and len(chunk.pcm) == 640
