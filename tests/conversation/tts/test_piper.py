from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from conversation.tts.base import OUTPUT_RATE, TtsError, TtsErrorKind
from conversation.tts.piper import PiperTts
from tests.conversation.tts.child_processes import child_pids, process_state
from tests.conversation.tts.piper_install import FakePiper, write_voice

SENTENCE = "Your parcel left our warehouse this morning; it'll arrive tomorrow."


async def collect(tts: PiperTts, text: str = SENTENCE) -> list[np.ndarray]:
    return [b async for b in tts.synthesize(text, voice="", language="en")]


async def test_streams_before_piper_finishes_and_converts_22050_to_16k(
    fake_piper: FakePiper,
) -> None:
    fake_piper.configure(blocks=20, gated=True)
    blocks = PiperTts(fake_piper.model).synthesize(SENTENCE, voice="", language="en")

    first = await anext(blocks)
    # The fake holds back its other 19 blocks until the gate opens: it is still running.
    (pid,) = child_pids("piper")
    assert process_state(pid) not in (None, "Z")
    assert first.size < 20 * OUTPUT_RATE // 10
    fake_piper.gate.touch()
    audio = np.concatenate([first, *[b async for b in blocks]])

    assert audio.dtype == np.int16
    assert abs(audio.size - 20 * 2205 * OUTPUT_RATE / 22050) < 3
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    assert np.fft.rfftfreq(audio.size, 1 / OUTPUT_RATE)[spectrum.argmax()] == pytest.approx(
        440, abs=2
    )
    assert process_state(pid) is None


async def test_text_goes_in_on_stdin_verbatim_and_never_on_the_command_line(
    fake_piper: FakePiper,
) -> None:
    text = "--help; rm -rf / $(reboot) `id` | tee /etc/passwd\n-s 9"

    await collect(PiperTts(fake_piper.model), text)

    call = fake_piper.received()
    assert call["stdin"] == "--help; rm -rf / $(reboot) `id` | tee /etc/passwd -s 9\n"
    assert call["argv"][1:] == ["--model", str(fake_piper.model), "--output-raw"]


async def test_a_voice_at_16k_passes_through_unchanged(
    fake_piper: FakePiper, tmp_path: Path
) -> None:
    voice = write_voice(tmp_path / "wide.onnx", 16000)
    fake_piper.configure(blocks=5)

    audio = np.concatenate(await collect(PiperTts(voice)))

    assert audio.size == 5 * 1600
    expected = (8000 * np.sin(2 * np.pi * 440 * np.arange(audio.size) / 16000)).astype(np.int16)
    assert np.max(np.abs(audio.astype(int) - expected)) <= 1


async def test_a_crash_is_a_failure_whose_message_does_not_echo_the_text(
    fake_piper: FakePiper,
) -> None:
    fake_piper.configure(mode="fail")

    with pytest.raises(TtsError) as caught:
        await collect(PiperTts(fake_piper.model))

    assert caught.value.kind is TtsErrorKind.FAILED
    assert "warehouse" not in str(caught.value)
    assert "status 3" in str(caught.value)


async def test_a_hung_piper_times_out_and_is_killed(fake_piper: FakePiper) -> None:
    fake_piper.configure(mode="hang")
    tts = PiperTts(fake_piper.model, timeout_s=0.5)

    with pytest.raises(TtsError) as caught:
        await collect(tts)

    assert caught.value.kind is TtsErrorKind.TIMEOUT
    assert process_state(fake_piper.received()["pid"]) is None


async def test_cancelling_while_awaiting_the_next_block_kills_piper(fake_piper: FakePiper) -> None:
    fake_piper.configure(gated=True)  # the gate never opens: piper stalls after one block
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in PiperTts(fake_piper.model).synthesize(SENTENCE, voice="", language="en"):
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    (pid,) = child_pids("piper")
    await asyncio.sleep(0.05)  # let the consumer park on the next read
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert process_state(pid) is None


async def test_missing_piper_program(fake_piper: FakePiper) -> None:
    with pytest.raises(TtsError) as caught:
        await collect(PiperTts(fake_piper.model, program="piper-not-installed-here"))
    assert caught.value.kind is TtsErrorKind.MISSING_PROGRAM


def test_a_voice_without_a_usable_config_is_a_bad_voice(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"x")
    with pytest.raises(TtsError) as missing:
        PiperTts(model)
    Path(f"{model}.json").write_text('{"audio": {"sample_rate": "fast"}}')
    with pytest.raises(TtsError) as bad_rate:
        PiperTts(model)
    with pytest.raises(TtsError) as no_model:
        PiperTts(tmp_path / "absent.onnx")

    kinds = {missing.value.kind, bad_rate.value.kind, no_model.value.kind}
    assert kinds == {TtsErrorKind.BAD_VOICE}
