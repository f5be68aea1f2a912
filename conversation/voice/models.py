"""The web process's speech input models: one ASR backend and one VAD model, shared by sessions."""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings

from conversation.asr.base import AsrBackend
from conversation.asr.pocketsphinx_backend import PocketsphinxAsr
from conversation.asr.select import build_asr
from conversation.voice.end_of_turn import TurnCompletion, TurnModelError
from conversation.voice.recognizer import LocalRecognizer, ProcessRecognizer, SpeechRecognizer
from conversation.voice.vad import SileroProbability, VoiceActivity

# Silence after which the utterance is recognised speculatively and the end-of-turn model
# judges it (docs/architecture.md, Voice): Smart Turn was trained on utterances cut by a VAD
# after 200 ms of silence.
PAUSE_MS = 200
# Audio kept before the VAD's start of an utterance for the recognizer: Silero starts speech up
# to a few windows into a soft onset, and Whisper base hears the first words better with some
# of the room before them (spoken set, offline: WER 28.1 % with 150 ms, 24.0 % with 500 ms;
# docs/performance.md). It costs nothing to wait for: the audio is already in hand.
LEAD_MS = 500

log = logging.getLogger(__name__)
_lock = threading.Lock()
_asr: tuple[AsrBackend, str] | None = None
_silero: SileroProbability | None = None
_local: SpeechRecognizer | None = None
_turn: tuple[TurnCompletion | None, str] | None = None


def recognizer() -> tuple[AsrBackend, str]:
    """The process's ASR backend and why it was chosen (built once, then resident)."""
    global _asr
    with _lock:
        if _asr is None:
            _asr = build_asr(
                settings.WHISPER_MODEL,
                device=settings.WHISPER_DEVICE,
                compute_type=settings.WHISPER_COMPUTE_TYPE,
                models_dir=settings.MODELS_DIR,
                decodes=settings.ASR_DECODES,
                # A decode alone uses every core; two at once share them.
                threads=os.cpu_count() or 1,
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
                else LocalRecognizer(
                    asr, slots=settings.ASR_DECODES, alternatives=settings.ASR_ALTERNATIVES
                )
            )
        return _local


def ready() -> bool:
    """Whether the ASR backend is built (health checks report it without building it)."""
    return _asr is not None


def turn_model_reason() -> str | None:
    """How turns end here, once the end-of-turn model was looked for (for /healthz)."""
    return None if _turn is None else _turn[1]


def turn_model() -> tuple[TurnCompletion | None, str]:
    """The process's end-of-turn model (None: silence alone ends turns) and why."""
    global _turn
    with _lock:
        if _turn is None:
            if not settings.TURN_MODEL:
                _turn = None, f"off (TURN_MODEL=0): {settings.VAD_END_SILENCE_MS} ms of silence"
            else:
                try:
                    model = TurnCompletion(threshold=settings.TURN_THRESHOLD)
                    _turn = model, f"{model.name}, threshold {settings.TURN_THRESHOLD}"
                except TurnModelError as error:
                    _turn = (
                        None,
                        f"unavailable ({error}): {settings.VAD_END_SILENCE_MS} ms of silence",
                    )
                    log.warning("end of turn: %s", _turn[1])
        return _turn


def voice_activity() -> VoiceActivity:
    """A fresh endpointer for one microphone stream, on the shared Silero model. With the
    end-of-turn model, silence alone ends a turn only after TURN_MAX_SILENCE_MS."""
    global _silero
    with _lock:
        if _silero is None:
            _silero = SileroProbability()
    judged = turn_model()[0] is not None
    return VoiceActivity(
        _silero.new_stream,
        min_speech_ms=settings.VAD_MIN_SPEECH_MS,
        end_silence_ms=settings.TURN_MAX_SILENCE_MS if judged else settings.VAD_END_SILENCE_MS,
        pause_ms=PAUSE_MS,
        # All the silence heard when the pause is announced goes to the recognizer: Silero ends
        # speech up to 230 ms before a fading last word has done (docs/performance.md). 200 ms
        # against the VAD's default 150: WER 23.8 -> 22.6 %, 34 -> 35 right entries on the
        # spoken set cut by this VAD; 300 ms (which would also delay the pause) 25.6 % and 32.
        pad_ms=PAUSE_MS,
        lead_ms=LEAD_MS,
    )


def hints_from(questions: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(q.strip() for q in questions if q.strip()))
