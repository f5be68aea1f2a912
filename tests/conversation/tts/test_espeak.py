from __future__ import annotations

import asyncio
import logging
import shutil
from contextlib import aclosing
from pathlib import Path

import numpy as np
import pytest

from conversation.tts.base import OUTPUT_RATE, TtsError, TtsErrorKind, phonemes_of
from conversation.tts.espeak import EspeakTts, speakable
from conversation.tts.pcm import MAX_BLOCK, MIN_BLOCK
from tests.conversation.tts.child_processes import (
    bytes_written,
    child_pids,
    cmdline,
    process_state,
)
from tests.conversation.tts.conftest import timed_speech

ANSWER = (
    "Thanks for asking about our opening hours. The store is open from nine in the morning "
    "until six in the evening, Monday to Saturday. On Sundays we are closed."
)
PARAGRAPH = " ".join(
    f"Sentence {n} of a long answer goes on about returns, refunds and delivery times."
    for n in range(25)
)


async def collect(text: str, tts: EspeakTts | None = None, voice: str = "") -> list[np.ndarray]:
    return [b async for b in (tts or EspeakTts()).synthesize(text, voice=voice, language="en")]


def seconds(blocks: list[np.ndarray]) -> float:
    return sum(b.size for b in blocks) / OUTPUT_RATE


async def test_first_block_arrives_while_espeak_is_still_running() -> None:
    blocks = EspeakTts().synthesize(PARAGRAPH, voice="", language="en")
    first = await anext(blocks)
    # ~50 s of audio cannot fit in the pipe: espeak-ng is blocked writing, not finished.
    (pid,) = child_pids("espeak-ng")
    assert process_state(pid) not in (None, "Z")
    assert PARAGRAPH[:20] not in " ".join(cmdline(pid))  # the text went in on stdin

    rest = [b async for b in blocks]

    assert len(rest) > 100
    assert seconds([first, *rest]) > 30
    assert process_state(pid) is None  # reaped: no zombie


async def test_a_short_answer_is_plausible_non_silent_int16_in_small_blocks() -> None:
    blocks = await collect(ANSWER)

    words = len(ANSWER.split())
    assert 0.5 * words / 175 * 60 < seconds(blocks) < 2.5 * words / 175 * 60
    assert all(b.dtype == np.int16 and b.ndim == 1 for b in blocks)
    assert all(MIN_BLOCK <= b.size <= MAX_BLOCK for b in blocks[:-1])
    audio = np.concatenate(blocks).astype(np.float64)
    assert np.sqrt(np.mean(audio**2)) > 300
    # A voice has its energy in speech bands, and nothing above the 8 kHz Nyquist folded in.
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(audio.size, 1 / OUTPUT_RATE)
    assert spectrum[(freqs > 100) & (freqs < 4000)].sum() > 5 * spectrum[freqs > 6000].sum()


async def test_shell_metacharacters_and_dashes_are_spoken_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = "--help -w out.wav; touch pwned && echo $(touch pwned2) `touch pwned3` | cat > x"

    blocks = await collect(text)

    assert seconds(blocks) > 2  # speech, not a usage message (which has no WAV header)
    assert list(tmp_path.iterdir()) == []


async def test_cancelling_the_consumer_while_it_holds_a_block_kills_espeak(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []
    first = asyncio.Event()
    reached = asyncio.Event()

    async def consume() -> None:
        async with aclosing(EspeakTts().synthesize(PARAGRAPH, voice="", language="en")) as it:
            async for _ in it:
                if not seen:
                    seen.extend(child_pids("espeak-ng"))
                    first.set()
                    await reached.wait()  # the consumer is busy elsewhere

    task = asyncio.create_task(consume())
    await first.wait()
    # Hold the block until espeak-ng stops making progress: our pipe reader has paused on a
    # full buffer, the case where, before Python 3.12, Process.wait() never returns unless
    # the pipe is drained first.
    progress = [bytes_written(seen[0])]
    while len(progress) < 1000 and not (len(progress) > 5 and len(set(progress[-5:])) == 1):
        await asyncio.sleep(0.01)
        progress.append(bytes_written(seen[0]))
    assert len(set(progress[-5:])) == 1 and progress[-1] is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)

    (pid,) = seen
    assert process_state(pid) is None
    assert "still open" not in caplog.text  # its pipes were closed, not given up on


async def test_an_abandoned_iterator_without_aclosing_is_still_killed() -> None:
    seen: list[int] = []

    async def consume() -> None:
        async for _ in EspeakTts().synthesize(PARAGRAPH, voice="", language="en"):
            seen.extend(child_pids("espeak-ng"))
            await asyncio.Event().wait()

    task = asyncio.create_task(consume())
    while not seen:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The loop closes a garbage-collected async generator in a task of its own: once the
    # process is gone, let that task finish too.
    for _ in range(1000):
        if process_state(seen[0]) is None and asyncio.all_tasks() == {asyncio.current_task()}:
            break
        await asyncio.sleep(0.01)
    assert process_state(seen[0]) is None


async def test_missing_program() -> None:
    with pytest.raises(TtsError) as caught:
        await collect(ANSWER, EspeakTts(program="espeak-ng-does-not-exist"))
    assert caught.value.kind is TtsErrorKind.MISSING_PROGRAM
    assert ANSWER[:10] not in str(caught.value)


async def test_non_zero_exit_is_a_failure() -> None:
    with pytest.raises(TtsError) as caught:
        await collect(ANSWER, EspeakTts(program="false"))
    assert caught.value.kind is TtsErrorKind.FAILED


async def test_unknown_voice_is_a_bad_voice_without_the_text_in_the_message() -> None:
    with pytest.raises(TtsError) as caught:
        await collect(ANSWER, voice="xx-nope")
    assert caught.value.kind is TtsErrorKind.BAD_VOICE
    assert "opening hours" not in str(caught.value)


@pytest.mark.parametrize("voice", ["-w/tmp/out.wav", "../../etc/passwd", "en us"])
async def test_a_voice_that_could_be_an_option_is_refused_before_running(voice: str) -> None:
    with pytest.raises(TtsError) as caught:
        await collect(ANSWER, voice=voice)
    assert caught.value.kind is TtsErrorKind.BAD_VOICE
    assert child_pids("espeak-ng") == []


async def test_empty_text_yields_nothing() -> None:
    assert await collect("  \n ") == []


def test_phoneme_input_syntax_is_read_as_text() -> None:
    assert "[[" not in speakable("say [[h@'loU]] now\x00")


async def test_the_voice_says_when_each_phoneme_is_spoken(caplog: pytest.LogCaptureFixture) -> None:
    """The library's phoneme events fit the command's audio (`timed_speech`, as Piper's), in
    espeak-ng's IPA; a voice variant and another rate keep them fitting."""
    with caplog.at_level(logging.WARNING, logger="conversation.tts.espeak"):
        _, spans = timed_speech(
            await collect("Maybe we can meet on Monday. Thank you for waiting.")
        )
        slow = EspeakTts(rate_wpm=120, pitch=30)
        timed_speech(await collect("Bonjour. Comment allez-vous?", slow, voice="fr+f2"))

    assert "differ" not in caplog.text  # the command's audio within a frame of the library's
    assert len(spans) > 30
    sounds = [span.ipa.strip("ˈˌː") for span in spans]
    assert sounds[0] == "m" and sounds.count("m") >= 3 and {"b", "θ", "w"} <= set(sounds)


async def test_another_program_speaks_without_the_librarys_timings(tmp_path: Path) -> None:
    program = tmp_path / "other-espeak"
    program.symlink_to(shutil.which("espeak-ng") or "espeak-ng")
    blocks = await collect(ANSWER, EspeakTts(program=str(program)))

    assert seconds(blocks) > 3 and not any(phonemes_of(b) for b in blocks)
