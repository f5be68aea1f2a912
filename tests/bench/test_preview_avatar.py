"""`manage.py preview_avatar`: a picture or an avatar speaking, as an MP4 with sound and a sheet."""

from __future__ import annotations

import io
import json
import subprocess
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image
from skimage import data

from bench import preview
from conversation.tts.catalogue import speak
from lipsync_worker.contract import BakeSource, StreamState
from lipsync_worker.renderers.cpu import CpuRenderer
from tests.speech_audio import espeak_pcm16


def streams(path: Path) -> dict[str, dict]:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {s["codec_type"]: s for s in json.loads(probe.stdout)["streams"]}


def test_a_picture_speaks_a_wav_into_an_mp4_with_sound_and_a_contact_sheet(tmp_path: Path) -> None:
    portrait = tmp_path / "portrait.png"
    Image.fromarray(data.astronaut()).save(portrait)
    sound = tmp_path / "speech.wav"
    with wave.open(str(sound), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(espeak_pcm16("Nine to six, Monday to Saturday.").tobytes())
    stdout = io.StringIO()
    call_command(
        "preview_avatar", "--source", str(portrait), "--wav", str(sound),
        "--out", str(tmp_path / "out.mp4"), "--sheet", str(tmp_path / "sheet.png"),
        stdout=stdout,
    )  # fmt: skip
    assert "the source's mouth is teeth" in stdout.getvalue()
    found = streams(tmp_path / "out.mp4")
    assert found["video"]["codec_name"] == "h264" and found["audio"]["codec_name"] == "aac"
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet is not None and sheet.shape[1] > sheet.shape[0]  # rows of tiles
    assert np.ptp(sheet) > 100  # pictures, not a blank page


def test_a_picture_that_cannot_make_an_avatar_is_refused_with_the_bakes_reason(
    tmp_path: Path,
) -> None:
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 300, 3), 180, np.uint8)).save(blank)
    with pytest.raises(CommandError, match="no_face"):
        call_command(
            "preview_avatar", "--source", str(blank), "--text", "Hello.",
            "--sheet", str(tmp_path / "sheet.png"), stdout=io.StringIO(),
        )  # fmt: skip
    assert not (tmp_path / "sheet.png").exists()


def test_a_piper_sentence_is_previewed_by_its_phonemes_as_a_live_answer_is(
    tmp_path: Path,
) -> None:
    speech = speak("Bob may move the map.", voice="", language="en", backend="piper")
    assert speech.voice.startswith("piper:")
    assert {"b", "m", "p"} <= {span.ipa for span in speech.phonemes}
    audio, phonemes = preview.still_start(speech.pcm, speech.phonemes)
    assert phonemes[0].start >= 8_000  # moved with the half second of silence before
    portrait = tmp_path / "portrait.png"
    Image.fromarray(data.astronaut()).save(portrait)
    renderer = CpuRenderer()
    baked = renderer.bake(BakeSource(path=portrait, out_dir=tmp_path / "baked"))
    timed = preview.render_clip(renderer, baked, audio, phonemes)
    heard = preview.render_clip(renderer, baked, audio)
    # Cut into one-second chunks (two here), each with its left context's phonemes counted from that
    # context's first sample, the clip is the sentence rendered whole with all of them.
    whole = [
        frame
        for batch in renderer.render(baked, audio, StreamState(phonemes=phonemes), lambda: False)
        for frame in batch
    ]
    assert len(audio) > 16_000 and len(timed.rendered) == len(whole)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(timed.rendered, whole, strict=True))
    changed = [
        not np.array_equal(a.image, b.image)
        for a, b in zip(timed.rendered, heard.rendered, strict=True)
    ]
    assert sum(changed) > len(changed) // 4  # the phonemes, not only the sound, shape the mouth
