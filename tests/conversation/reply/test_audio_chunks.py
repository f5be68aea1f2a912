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
    chunks += chunker.release_held()

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
    assert chunker.end_sentence() == []  # held for the next sentence's first words
    (only,) = chunker.release_held()
    assert len(only.pcm) == FIRST_CHUNK_SAMPLES and only.is_last_of_sentence


def test_reset_starts_a_new_turn() -> None:
    chunker = TurnAudioChunker()
    chunker.push(noise(MAX_CHUNK_SAMPLES * 2))
    chunker.reset()
    chunker.push(noise(100))
    chunker.end_sentence()
    (chunk,) = chunker.release_held()
    assert chunk.first_frame == 0 and chunk.sentence == 0 and len(chunk.pcm) == 640


def test_right_context_is_the_audio_that_follows_across_sentences() -> None:
    chunker = TurnAudioChunker(right_ms=200)
    first, second = noise(6400 + 16000 + 1000), noise(5000)
    chunks = []
    for piece in np.array_split(first, 7):
        chunks += chunker.push(piece)
    chunks += chunker.end_sentence()
    # 16000 waits for 3200 samples after it, 1280 for the next sentence's first words
    assert [len(c.pcm) for c in chunks] == [6400]
    chunks += chunker.push(second[:2000])
    assert [len(c.pcm) for c in chunks] == [6400, 16000]
    chunks += chunker.push(second[2000:])
    assert [len(c.pcm) for c in chunks] == [6400, 16000, 1280]
    chunks += chunker.end_sentence()
    assert len(chunks) == 3  # the turn may go on
    chunks += chunker.release_held()

    sent = np.concatenate([c.pcm for c in chunks])
    ends = np.cumsum([len(c.pcm) for c in chunks])
    for chunk, end in zip(chunks, ends, strict=True):
        assert np.array_equal(chunk.right_audio, sent[end : end + 3200])
    assert np.array_equal(chunks[2].right_audio, second[:3200])  # the next sentence
    assert len(chunks[3].right_audio) == 0  # the turn's end: silence follows
    assert [c.is_last_of_sentence for c in chunks] == [False, False, True, True]


def test_right_context_of_held_chunks_released_early_is_what_is_known() -> None:
    """No next sentence written yet, or its speech failed: held chunks go with what is known."""
    chunker = TurnAudioChunker(right_ms=200)
    chunker.push(noise(7000))
    big, tail = chunker.end_sentence() + chunker.release_held()
    assert np.array_equal(big.right_audio, tail.pcm) and len(tail.pcm) == 640
    assert len(tail.right_audio) == 0

    assert chunker.push(noise(16000 + 1000)) == []  # a chunk cut, then the speech fails
    (cut,) = chunker.drop_sentence()
    assert (cut.sentence, cut.first_frame, len(cut.right_audio)) == (1, 11, 0)  # none plays
    chunker.push(noise(2000))
    chunker.end_sentence()
    (after,) = chunker.release_held()
    assert (after.sentence, after.first_frame) == (2, 36)  # frames go on after a failure


def test_phonemes_go_with_each_chunk_cut_at_its_context_and_its_end() -> None:
    """Spans pushed with a sentence's audio land on its chunks, counted from each chunk's left
    context, cut exactly at the window's edges; a sentence without spans gets none."""
    from contracts.phonemes import PhonemeSpan as P

    chunker = TurnAudioChunker(right_ms=0)  # nothing held: each chunk comes out when cut
    first, rest = (
        (P("ɑː", 0, 6000), P("m", 6000, 6800), P("oʊ", 6800, 22400)),
        (P("b", 22400, 23400),),
    )
    chunks = chunker.push(noise(10000), first) + chunker.push(noise(13400), rest)
    chunks += chunker.end_sentence()
    assert [(len(c.left_audio), len(c.pcm)) for c in chunks] == [
        (0, 6400),
        (6400, 16000),
        (16000, 1280),
    ]
    assert chunks[0].phonemes == (P("ɑː", 0, 6000), P("m", 6000, 6400))  # cut at the chunk's end
    assert chunks[1].phonemes == first  # its left context starts where the turn does
    # The third chunk's context starts 6400 samples into the turn: in the middle of the m.
    assert chunks[2].phonemes == (P("m", 0, 400), P("oʊ", 400, 16000), P("b", 16000, 17000))

    # A sentence whose voice gave no spans: its chunk shapes the mouth by its audio alone, not
    # left silent by the phonemes of its context.
    chunks = chunker.push(noise(3000)) + chunker.end_sentence()
    assert len(chunks) == 1 and chunks[0].phonemes == ()

    # The next sentence's spans count from its own first sample, 23680 + 3200 into the turn;
    # its chunk's context reaches back 16000 samples, through the sentence without spans into
    # the first one, whose phonemes come along as they were.
    chunks = chunker.push(noise(2000), (P("i", 100, 1900),)) + chunker.end_sentence()
    assert len(chunks) == 1 and len(chunks[0].left_audio) == 16000
    since = 23680 + 3200 - 16000
    assert chunks[0].phonemes == (
        P("oʊ", 0, 22400 - since),
        P("b", 22400 - since, 23400 - since),
        P("i", 16100, 17900),
    )

    chunker.reset()
    chunks = chunker.push(noise(1000), (P("a", 0, 900),)) + chunker.end_sentence()
    assert chunks[0].phonemes == (P("a", 0, 900),)  # a new turn starts from zero
