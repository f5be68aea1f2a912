"""The web process's speech input models: one ASR backend and one VAD model, shared by sessions."""

from __future__ import annotations

import threading

from django.conf import settings

from conversation.asr.base import AsrBackend
from conversation.asr.pocketsphinx_backend import PocketsphinxAsr
from conversation.asr.select import build_asr
from conversation.voice.recognizer import LocalRecognizer, ProcessRecognizer, SpeechRecognizer
from conversation.voice.vad import SileroProbability, VoiceActivity

# Silence after which the utterance is recognised speculatively, before VAD_END_SILENCE_MS has
# confirmed its end: the result is used if no speech resumes (docs/architecture.md, Voice).
EARLY_RECOGNITION_MS = 150

_lock = threading.Lock()
_asr: tuple[AsrBackend, str] | None = None
_silero: SileroProbability | None = None
_local: SpeechRecognizer | None = None


def recognizer() -> tuple[AsrBackend, str]:
    """The process's ASR backend and why it was chosen (built once, then resident)."""
    global _asr
    with _lock:
        if _asr is None:
            _asr = build_asr(
                settings.WHISPER_MODEL,
                device=settings.WHISPER_DEVICE,
                compute_type=settings.WHISPER_COMPUTE_TYPE,
            )
        return _asr


def backend() -> AsrBackend:
    """The process's ASR backend alone (what a recognition child process builds for itself)."""
    return recognizer()[0]


def local_recognizer() -> SpeechRecognizer:
    """How this process recognises speech itself (ASR_LOCATION=web), shared by its sessions.

    pocketsphinx holds the GIL through each decode: it runs in a child process, so the event
    loop never stalls on it. faster-whisper (CTranslate2) releases the GIL: a thread will do.
    """
    global _local
    asr = backend()
    with _lock:
        if _local is None:
            _local = (
                ProcessRecognizer(backend)
                if isinstance(asr, PocketsphinxAsr)
                else (LocalRecognizer(asr))
            )
        return _local


def ready() -> bool:
    """Whether the ASR backend is built (health checks report it without building it)."""
    return _asr is not None


def voice_activity() -> VoiceActivity:
    """A fresh endpointer for one microphone stream, on the shared Silero model."""
    global _silero
    with _lock:
        if _silero is None:
            _silero = SileroProbability()
    return VoiceActivity(
        _silero.new_stream,
        min_speech_ms=settings.VAD_MIN_SPEECH_MS,
        end_silence_ms=settings.VAD_END_SILENCE_MS,
        pause_ms=EARLY_RECOGNITION_MS,
    )


def hints_from(questions: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(q.strip() for q in questions if q.strip()))
