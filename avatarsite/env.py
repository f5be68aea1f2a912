"""The one place configuration is read from the environment.

Every variable the product understands is declared in `VARIABLES`, with its default and a
line for the README's configuration table; settings read them only through `env_*` below,
so a test can check that the compose file sets nothing the settings ignore.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AVATAR_VAR_DIR", BASE_DIR / "var"))
# Packaged models assembled at first use (Whisper base): kept apart so that a fresh var dir
# (every test run, a new volume) can share them.
PACKAGED_MODELS_DIR = Path(os.environ.get("AVATAR_MODELS_DIR", VAR_DIR / "models"))


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    help: str


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable(
            "AVATAR_VAR_DIR",
            "var/",
            "Runtime files: SQLite database, media, secret key, redis data.",
        ),
        Variable(
            "AVATAR_MODELS_DIR",
            "var/models/",
            "Where packaged models are assembled and checked at first use (Whisper base).",
        ),
        Variable(
            "DEBUG",
            "1 under `make run`, else 0",
            "Development mode: detailed errors, public /metrics.",
        ),
        Variable(
            "SECRET_KEY",
            "generated into var/secret_key",
            "Django secret key; set it in production.",
        ),
        Variable(
            "DATABASE_URL",
            "sqlite:///var/db.sqlite3",
            "Database, e.g. postgres://user@host:5432/name.",
        ),
        Variable(
            "REDIS_URL",
            "redis://127.0.0.1:6379/0",
            "Celery broker, channel layer and cancel flags.",
        ),
        Variable(
            "ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]", "Host names the web server answers to."
        ),
        Variable(
            "WIDGET_ORIGINS",
            "the server's own origin",
            "Other origins allowed to embed the widget (comma list, `*` for any), beside those added in the admin.",
        ),
        Variable(
            "SESSION_TOKEN_TTL_S", "60", "Lifetime of a session token from POST /api/sessions."
        ),
        Variable(
            "SESSIONS_PER_ORIGIN",
            "200",
            "Live sessions one origin may hold across all web processes (0: no limit).",
        ),
        Variable(
            "TURNS_PER_MINUTE",
            "30",
            "Questions (typed or spoken) one session may start per minute; more get `rate_limited` (0: no limit).",
        ),
        Variable(
            "SESSION_IDLE_TIMEOUT_S",
            "300",
            "A session with no client message for this long is closed with 4008 (0: never).",
        ),
        Variable(
            "MAX_UTTERANCE_S",
            "30",
            "Longer speech is cut here and recognised; bounds the audio held per utterance.",
        ),
        Variable(
            "WS_MAX_FRAME_BYTES",
            "65536",
            "Largest WebSocket frame daphne reads from a client; for a bigger one it drops the connection unread.",
        ),
        Variable(
            "WS_MAX_MESSAGE_BYTES",
            "1048576",
            "Largest WebSocket message, in or out (daphne applies it both ways): above the biggest media chunk.",
        ),
        Variable("ADMIN_USER", "admin", "Admin user created by `make run`."),
        Variable("ADMIN_PASSWORD", "generated and printed once", "Its password."),
        Variable("ADMIN_EMAIL", "admin@localhost", "Its e-mail address."),
        Variable("FLOWER_USER", "operator", "Basic-auth user for Flower."),
        Variable(
            "FLOWER_PASSWORD",
            "generated into var/flower_password",
            "Basic-auth password for Flower.",
        ),
        Variable(
            "METRICS_TOKEN", "unset", "Bearer token that may read /metrics when DEBUG is off."
        ),
        Variable("HOST", "127.0.0.1", "Address the web server binds to under `make run`."),
        Variable("PORT", "8000", "Port of the web server under `make run`."),
        Variable("FLOWER_PORT", "5555", "Port of Flower under `make run`."),
        Variable("MEDIA_URL_BASE", "/media/", "Public URL prefix of uploaded and baked media."),
        Variable(
            "LIPSYNC_RENDERER",
            "auto",
            "auto (MuseTalk when weights and CUDA exist), cpu or musetalk.",
        ),
        Variable(
            "LIPSYNC_MEMORY_MB",
            "4096",
            "Memory a lipsync worker may use for resident baked avatars.",
        ),
        Variable(
            "LIPSYNC_BATCH_CHUNKS",
            "0",
            "Chunks a lipsync worker holds at once, from any sessions, their MuseTalk frames "
            "rendered in shared batches (a thread per chunk, one render loop); 0: one chunk at "
            "a time.",
        ),
        Variable(
            "LIPSYNC_BATCH_FRAMES",
            "32",
            "Most frames in one MuseTalk batch when chunks are batched across sessions.",
        ),
        Variable(
            "LIPSYNC_BATCH_GATHER_MS",
            "5",
            "How long a batch that is not full waits for other sessions' frames.",
        ),
        Variable(
            "LIPSYNC_DEVICE_MEMORY_MB",
            "2048",
            "Memory of the render device (the GPU) a MuseTalk worker may fill with resident "
            "avatars' latents; the least recently used leave first.",
        ),
        Variable(
            "LIPSYNC_METRICS_PORT",
            "0",
            "Port on which a lipsync worker serves its Prometheus metrics at /metrics; 0: none.",
        ),
        Variable(
            "MUSETALK_MODELS",
            "unset",
            "Directory with MuseTalk v1.5 weights in the official layout.",
        ),
        Variable(
            "WHISPER_MODEL",
            "unset",
            "Unset: the packaged Whisper base. A faster-whisper size name, a CTranslate2 directory, or pocketsphinx.",
        ),
        Variable(
            "ASR_LOCATION",
            "web",
            "Where speech is recognised: web (beside each web process) or speech (the speech queue).",
        ),
        Variable("WHISPER_DEVICE", "cpu", "Where faster-whisper runs: cpu or cuda."),
        Variable(
            "ASR_DECODES",
            "the CPU count",
            "Decodes at once per process, finals before partials; a decode alone uses every core.",
        ),
        Variable(
            "ASR_ALTERNATIVES",
            "4",
            "Other readings of a final transcript (Whisper's beam) the FAQ matcher may use; 0: "
            "one greedy reading.",
        ),
        Variable(
            "WHISPER_COMPUTE_TYPE", "int8", "faster-whisper compute type (int8, float16, ...)."
        ),
        Variable(
            "VAD_END_SILENCE_MS",
            "300",
            "Silence that ends a turn when TURN_MODEL is off or missing.",
        ),
        Variable("TURN_MODEL", "1", "Judge each pause with the Smart Turn end-of-turn model."),
        Variable(
            "TURN_THRESHOLD", "0.5", "Smart Turn probability above which a pause ends the turn."
        ),
        Variable(
            "TURN_MAX_SILENCE_MS", "1500", "Silence that ends a turn the model judged unfinished."
        ),
        Variable(
            "TURN_HOLD_MS",
            "900",
            "Silence after the last word before a spoken answer may be heard; speech before it "
            "continues the question.",
        ),
        Variable("VAD_MIN_SPEECH_MS", "200", "Shorter sounds (clicks, coughs) never interrupt."),
        Variable("ANTHROPIC_API_KEY", "unset", "Answer with Claude when set."),
        Variable("LLM_BASE_URL", "unset", "Answer with an OpenAI-compatible server when set."),
        Variable(
            "LLM_MODEL", "claude-haiku-4-5 (Claude) or default", "Model name sent to the LLM."
        ),
        Variable(
            "LLM_API_KEY", "unset", "Bearer key for the OpenAI-compatible server, if it wants one."
        ),
        Variable(
            "LLM_TIMEOUT_S", "20", "Longest wait for a whole answer before the hand-off answer."
        ),
        Variable(
            "LLM_FIRST_TOKEN_TIMEOUT_S", "2.5", "Wait for the first token before 'one moment'."
        ),
        Variable(
            "LIPSYNC_TIMEOUT_S",
            "1.5",
            "A chunk waits this long for its lip-sync frames (longer while the customer still "
            "hears earlier audio), then goes out as audio over the idle loop.",
        ),
        Variable("TTS_TIMEOUT_S", "10", "Longest synthesis of one sentence before subtitles only."),
        Variable("ESPEAK_PROGRAM", "espeak-ng", "The espeak-ng program to run."),
        Variable(
            "TTS_VOICES_DIR",
            "var/voices/",
            "Extra Piper voices: each a model NAME.onnx beside its NAME.onnx.json.",
        ),
        Variable("LOG_LEVEL", "INFO", "Log level of the product's loggers."),
        Variable(
            "REPLY_STREAMING",
            "1",
            "0: whole answer, then all speech, then lip-sync (the benchmark's baseline only).",
        ),
        Variable(
            "TURN_RECORD_RETENTION_DAYS",
            "30",
            "Turn records older than this are deleted daily (0: keep them).",
        ),
        Variable(
            "HANDOFF_TRANSCRIPT_RETENTION_DAYS",
            "30",
            "Transcripts customers agreed to share with a person are deleted daily after this "
            "many days (0: keep them).",
        ),
        Variable(
            "HANDOFF_CONSENT_WAIT_S",
            "60",
            "How long a hand-off's webhook waits for the customer's answer about the transcript.",
        ),
        Variable(
            "HANDOFF_WEBHOOK_ATTEMPTS", "6", "Hand-off webhook attempts before it is given up."
        ),
        Variable(
            "HANDOFF_WEBHOOK_BACKOFF_S",
            "5",
            "Pause before the second webhook attempt; doubled before each further one.",
        ),
    ]
}


def _raw(name: str) -> str | None:
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a declared configuration variable")
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def env_str(name: str, default: str) -> str:
    return _raw(name) or default


def env_optional(name: str) -> str | None:
    return _raw(name)


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = _raw(name)
    return default if value is None else int(value)


def env_float(name: str, default: float) -> float:
    value = _raw(name)
    return default if value is None else float(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def daphne_size_flags(environ: Mapping[str, str] | None = None) -> list[str]:
    """daphne's WebSocket size limits, read from `environ` (a child's environment) or ours.

    Autobahn refuses a frame whose header announces more than the limit before reading its body.
    """
    source = os.environ if environ is None else environ

    def value(name: str) -> str:
        return str(int(source.get(name) or VARIABLES[name].default))

    return [
        "--websocket-max-frame-size",
        value("WS_MAX_FRAME_BYTES"),
        "--websocket-max-message-size",
        value("WS_MAX_MESSAGE_BYTES"),
    ]


def lipsync_pool_flags(environ: Mapping[str, str] | None = None) -> list[str]:
    """The lipsync worker's pool: solo, or a thread per chunk when chunks are batched."""
    source = os.environ if environ is None else environ
    chunks = int(source.get("LIPSYNC_BATCH_CHUNKS") or VARIABLES["LIPSYNC_BATCH_CHUNKS"].default)
    if chunks > 0:
        return ["--pool=threads", f"--concurrency={chunks}"]
    return ["--pool=solo"]


def stored_secret(name: str, filename: str) -> str:
    """The variable's value, else a random value generated once into var/ (never committed)."""
    value = _raw(name)
    if value:
        return value
    path = VAR_DIR / filename
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
