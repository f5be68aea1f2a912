"""Recognition in a child process: the web process's event loop never runs a decode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conversation.asr.base import AsrError, AsrErrorKind
from conversation.voice import models
from conversation.voice.recognizer import ProcessRecognizer
from tests.conversation.asr.child_backends import where
from tests.speech_audio import espeak_pcm16

ROOT = Path(__file__).resolve().parents[3]


def samples(first: int) -> np.ndarray:
    audio = np.zeros(1600, dtype=np.int16)
    audio[0] = first
    return audio


@pytest.fixture
def recognizer():
    recognizer = ProcessRecognizer(where)
    yield recognizer
    recognizer.close()


async def test_decodes_in_another_process_and_survives_its_death(recognizer) -> None:
    first = await recognizer.recognize(samples(0), language="en", hints=())
    child = int(first.text.split()[1])
    assert child != os.getpid() and first.language == "en"
    with pytest.raises(AsrError) as typed:
        await recognizer.recognize(samples(2), language=None, hints=())
    assert typed.value.kind is AsrErrorKind.FAILED and str(typed.value) == "no words in this"
    with pytest.raises(AsrError, match="recognition process died"):
        await recognizer.recognize(samples(1), language=None, hints=())
    again = await recognizer.recognize(samples(0), language=None, hints=())
    assert int(again.text.split()[1]) not in (child, os.getpid())  # a fresh child


async def test_the_product_decodes_pocketsphinx_in_a_child(settings, monkeypatch) -> None:
    settings.WHISPER_MODEL = "pocketsphinx"
    monkeypatch.setenv("WHISPER_MODEL", "pocketsphinx")  # the child reads its own settings
    monkeypatch.setattr(models, "_asr", None)  # built anew from the setting, not this process's
    monkeypatch.setattr(models, "_local", None)
    chosen = models.local_recognizer()
    assert isinstance(chosen, ProcessRecognizer)
    heard = await chosen.recognize(
        espeak_pcm16("What are your opening hours?", silence_before=0.3, silence_after=0.3),
        language="en",
        hints=("What are your opening hours?", "How can I contact you?"),
    )
    assert heard.text == "what are your opening hours"


def test_the_child_exits_when_its_parent_is_killed() -> None:
    script = (
        "from conversation.voice.recognizer import ProcessRecognizer\n"
        "from tests.conversation.asr.child_backends import where\n"
        "import asyncio, numpy as np, sys\n"
        "r = ProcessRecognizer(where)\n"
        "t = asyncio.run(r.recognize(np.zeros(160, dtype=np.int16), language=None, hints=()))\n"
        "print(t.text.split()[1], flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while alive(child):
        assert time.monotonic() < deadline, "the recognition child outlived its parent"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Running, not merely a zombie its new parent has yet to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
