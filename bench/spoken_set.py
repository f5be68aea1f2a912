"""The spoken test set: questions as customers say them, as 16 kHz mono int16 WAVs.

Made by espeak-ng in every English accent it has, with fillers, greetings and stories before
the question, prices and digits, pauses of 300-700 ms inside a sentence (two halves joined by
silence), pink noise at 10-20 dB SNR on a third and the telephone band on some. Everything is
derived from the item's parameters (seeded noise, no clock), and each WAV is cached under
`var/spoken-set/` by a hash of them, so a set is made once per machine and never drifts.

    for item in spoken_set():
        item.pcm(), item.faq, item.marks().speech_end_s
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from avatarsite.env import VAR_DIR
from bench.audio import RATE, espeak_pcm16, with_noise
from conversation.tts.wav import wav_bytes

RECIPE = 2  # raise when the audio recipe below changes: cached WAVs of old recipes are not reused
LEAD_S, TAIL_S = 0.3, 0.7  # silence around the speech, as a microphone stream has
TELEPHONE_HZ = (300.0, 3400.0)
_EDGE_HZ = 60.0  # the telephone filter's cosine roll-off
_SILENT = 16  # espeak-ng's silence is digital zero; sox's resampling leaves a little dither

# The FAQ entries of avatars/demo_data.py, by their question (the key the set expects).
HOURS = "What are your opening hours?"
RETURN = "How do I return an item?"
SHIPPING_TIME = "How long does shipping take?"
SHIPPING_COST = "How much does shipping cost?"
PAYMENT = "Which payment methods do you accept?"
PASSWORD = "How do I reset my password?"
CONTACT = "How can I contact you?"
ORDER_STATUS = "Where is my order?"
CHANGE_ORDER = "Can I change or cancel my order?"
ABROAD = "Do you ship internationally?"
GIFT_CARDS = "Do you have gift cards?"
WARRANTY = "What is your warranty?"
STOCK = "Is my item in stock?"
DISCOUNTS = "Do you offer discounts for students?"
NEW_ACCOUNT = "How do I create an account?"
DELETE_ACCOUNT = "How do I delete my account?"
STORE = "Where is your store?"

# (entry the customer wants or None, what they say; " | " is a pause inside the sentence).
# Worded the way people talk, not copied from the FAQ's questions or paraphrases.
SAID: tuple[tuple[str | None, str], ...] = (
    (HOURS, "Hi there! What time do you guys close on Saturdays?"),
    (HOURS, "Um, how late are you open today?"),
    (HOURS, "Good morning. Are your customer service people | working on Sundays?"),
    (RETURN, "I got a jacket last week that doesn't fit. | How do I send it back?"),
    (RETURN, "Uh, can I get my money back for a lamp I don't want anymore?"),
    (RETURN, "Hello. I'd like to return | a blender I bought for $45."),
    (
        SHIPPING_TIME,
        "I bought a kettle on Monday and it has not shipped yet. When will it get here?",
    ),
    (SHIPPING_TIME, "How many days does delivery usually take | if I order today?"),
    (SHIPPING_TIME, "Uh, if I order a rug today, how soon would I get it?"),
    (SHIPPING_COST, "Do I have to pay for delivery on a $20 order?"),
    (SHIPPING_COST, "Hey. How much do you charge | for postage?"),
    (SHIPPING_COST, "Is delivery free if I spend over 60 dollars?"),
    (PAYMENT, "Can I pay with my Visa card?"),
    (PAYMENT, "Um, do you accept Apple Pay, | or only PayPal?"),
    (PAYMENT, "Hi. What are the ways I can pay for my order?"),
    (PASSWORD, "I can't remember my password. | What do I do?"),
    (
        PASSWORD,
        "Hello, I tried to log in three times and it keeps saying wrong password. Can you help?",
    ),
    (PASSWORD, "Uh, how do I get a new password?"),
    (CONTACT, "Is there a number I can call to speak to someone?"),
    (CONTACT, "Hi there! I'd like to talk | to a real person, please."),
    (CONTACT, "What's your email address?"),
    (ORDER_STATUS, "Um, my package still hasn't come. | Where is it?"),
    (
        ORDER_STATUS,
        "I ordered two towels 10 days ago and I still have nothing. Can you check on my order?",
    ),
    (ORDER_STATUS, "How can I follow my parcel?"),
    (CHANGE_ORDER, "I just placed an order by mistake. | Can I undo it?"),
    (CHANGE_ORDER, "Uh, I need to fix the delivery address on the order I just made."),
    (CHANGE_ORDER, "Is it too late to add something to the order I placed an hour ago?"),
    (ABROAD, "Do you deliver to the UK?"),
    (ABROAD, "Hello. I live in Germany. Can I order from you?"),
    (ABROAD, "Can you send things | overseas to Australia?"),
    (GIFT_CARDS, "Um, I want to buy a gift card for my sister. | Do you sell those?"),
    (GIFT_CARDS, "Can I get a $50 voucher?"),
    (WARRANTY, "My toaster stopped working after two months. | Is it still covered?"),
    (WARRANTY, "How long is the guarantee on your products?"),
    (WARRANTY, "Uh, the handle on my pan broke. What can I do?"),
    (STOCK, "When will the blue vase be available again?"),
    (STOCK, "Hi. The lamp I want says sold out. | Will you get more?"),
    (DISCOUNTS, "Do students get money off?"),
    (DISCOUNTS, "Are there any sales or coupon codes right now?"),
    (NEW_ACCOUNT, "How do I make an account on your website?"),
    (NEW_ACCOUNT, "Um, do I need to sign up | to place an order?"),
    (DELETE_ACCOUNT, "I want you to erase all my personal information."),
    (DELETE_ACCOUNT, "Hello. How can I get rid of my account?"),
    (STORE, "Can I come by your shop and pick it up myself?"),
    (STORE, "Where are you guys located?"),
    # Not in the FAQ: the answer is the hand-off, never a confident wrong entry.
    (None, "Do you sell garden furniture?"),
    (None, "Um, can you gift wrap my order?"),
    (None, "What's the weather going to be like tomorrow?"),
    (None, "Hi there! Can you tell me a joke?"),
    (None, "Are your towels made of organic cotton?"),
    (None, "I'm looking for a present for my mum. | What would you recommend?"),
    (None, "Do you have a loyalty program with points?"),
    (None, "Are you hiring at the moment?"),
    (None, "Is the blender dishwasher safe?"),
    (None, "Who won the football match last night?"),
    (None, "Can I pay in instalments over 6 months?"),
    (None, "What's the name of your boss?"),
)

# Every English accent espeak-ng ships (`espeak-ng --voices=en`, the mbrola ones need mbrola
# voice files this machine lacks), each with a few of its voice variants.
ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
VARIANTS = ("", "+f2", "+m3", "+f4", "+m7", "+f1")
# Words per minute, a calm to a brisk talker (espeak-ng's default is 175). Faster, its accents
# stop sounding like speech at all: its own voices are harder to follow than a person.
SPEEDS = (160, 145, 175, 155)

_FILLER = re.compile(r"\b(?:um|uh)\b", re.IGNORECASE)
_GREETING = re.compile(r"^(?:hi|hello|hey|good morning)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SpeechMarks:
    """Where the speech is in the WAV, in seconds from its start."""

    speech_start_s: float
    speech_end_s: float  # the last audible sample: what TTFW from end of speech counts from
    pause_start_s: float | None
    pause_end_s: float | None


@dataclass(frozen=True)
class SpokenItem:
    name: str
    parts: tuple[str, ...]  # one part, or two said with `pause_ms` of silence between them
    faq: str | None  # the FAQ entry's question that answers it; None: not in the FAQ
    voice: str  # an espeak-ng voice, with its variant ("en-gb-scotland+f2")
    speed: int  # words per minute
    pause_ms: int  # 0 without a pause
    snr_db: float | None  # pink noise at this SNR; None: a quiet room only
    telephone: bool  # band-limited to 300-3400 Hz
    level: float  # speech peak, a fraction of full scale
    seed: int

    @property
    def text(self) -> str:
        return " ".join(self.parts)

    @property
    def traits(self) -> frozenset[str]:
        """What makes it hard: filler, greeting, story, number, pause, noise, telephone."""
        found = {
            "filler": bool(_FILLER.search(self.text)),
            "greeting": bool(_GREETING.match(self.text)),
            "story": bool(re.search(r"[.!] .*\?", self.text)) and not _GREETING.match(self.text),
            "number": bool(re.search(r"\d", self.text)),
            "pause": self.pause_ms > 0,
            "noise": self.snr_db is not None,
            "telephone": self.telephone,
        }
        return frozenset(trait for trait, present in found.items() if present)

    @property
    def digest(self) -> str:
        recipe = {"recipe": RECIPE, "espeak": _espeak_version(), **asdict(self)}
        recipe.pop("name")
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:20]

    def wav_path(self, cache_dir: Path | None = None) -> Path:
        """The item's WAV (16 kHz, mono, int16), made on first use."""
        folder = cache_dir or default_cache_dir()
        path = folder / f"{self.name}-{self.digest}.wav"
        if not path.is_file() or not path.with_suffix(".json").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            audio, marks = render(self)
            _write_atomically(path.with_suffix(".json"), _sidecar(self, marks).encode())
            _write_atomically(path, _wav_bytes(audio))
        return path

    def pcm(self, cache_dir: Path | None = None) -> np.ndarray:
        with wave.open(str(self.wav_path(cache_dir))) as recording:
            return np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)

    def marks(self, cache_dir: Path | None = None) -> SpeechMarks:
        sidecar = json.loads(self.wav_path(cache_dir).with_suffix(".json").read_text())
        return SpeechMarks(**sidecar["marks"])


def default_cache_dir() -> Path:
    return VAR_DIR / "spoken-set"


def spoken_set() -> list[SpokenItem]:
    """The whole set, always the same items in the same order."""
    items = []
    paused = noisy = 0
    for index, (faq, said) in enumerate(SAID):
        parts = tuple(part.strip() for part in said.split("|"))
        pause_ms = 0
        if len(parts) > 1:
            pause_ms = 300 + (paused * 131) % 401  # spread over 300-700 ms
            paused += 1
        snr_db = None
        if index % 3 == 2:  # a third, spread over the entries
            snr_db = round(10.0 + (noisy * 3.7) % 10.0, 1)
            noisy += 1
        items.append(
            SpokenItem(
                name=f"s{index + 1:02d}",
                parts=parts,
                faq=faq,
                voice=ACCENTS[index % len(ACCENTS)] + VARIANTS[(index // 2) % len(VARIANTS)],
                speed=SPEEDS[index % len(SPEEDS)],
                pause_ms=pause_ms,
                snr_db=snr_db,
                telephone=index % 5 == 1,
                level=round(0.3 + 0.6 * ((index * 7) % 10) / 9, 2),
                seed=1000 + index,
            )
        )
    return items


def render(item: SpokenItem) -> tuple[np.ndarray, SpeechMarks]:
    """The item's samples and where its speech lies (no cache)."""
    halves = [
        _trimmed(espeak_pcm16(part, voice=item.voice, speed=item.speed)) for part in item.parts
    ]
    lead = int(LEAD_S * RATE)
    pieces: list[np.ndarray] = [np.zeros(lead, dtype=np.float64)]
    pause_start = pause_end = None
    for number, half in enumerate(halves):
        if number:
            pause_start = sum(len(p) for p in pieces) / RATE
            pieces.append(np.zeros(int(item.pause_ms * RATE / 1000)))
            pause_end = sum(len(p) for p in pieces) / RATE
        pieces.append(half.astype(np.float64))
    speech_end = sum(len(p) for p in pieces) / RATE
    pieces.append(np.zeros(int(TAIL_S * RATE)))
    audio = np.concatenate(pieces)
    audio *= item.level * 32767 / max(float(np.abs(audio).max()), 1.0)
    rng = np.random.default_rng(item.seed)
    if item.snr_db is not None:
        speech = audio[lead : int(speech_end * RATE)]
        noise_power = float(np.mean(speech**2)) / 10 ** (item.snr_db / 10)
        audio = audio + pink_noise(len(audio), rng) * np.sqrt(noise_power)
    quiet_room = with_noise(np.clip(audio, -32768, 32767).astype(np.int16), seed=item.seed)
    audio = quiet_room.astype(np.float64)
    if item.telephone:
        audio = band_limited(audio, *TELEPHONE_HZ)
    samples = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    marks = SpeechMarks(
        speech_start_s=lead / RATE,
        speech_end_s=speech_end,
        pause_start_s=pause_start,
        pause_end_s=pause_end,
    )
    return samples, marks


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise falling 3 dB an octave, like a room, a street or a fan."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1 / RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    noise = np.fft.irfft(spectrum, length)
    return noise / (float(np.sqrt(np.mean(noise**2))) or 1.0)


def band_limited(audio: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """`audio` through a telephone line's pass band, with soft cosine edges (FFT filter)."""
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(len(audio), 1 / RATE)
    gain = np.ones_like(freqs)
    below = np.clip((freqs - (low_hz - _EDGE_HZ)) / _EDGE_HZ, 0.0, 1.0)
    above = np.clip(((high_hz + _EDGE_HZ) - freqs) / _EDGE_HZ, 0.0, 1.0)
    gain *= 0.5 - 0.5 * np.cos(np.pi * below)
    gain *= 0.5 - 0.5 * np.cos(np.pi * above)
    return np.fft.irfft(spectrum * gain, len(audio))


def _trimmed(samples: np.ndarray) -> np.ndarray:
    """Without espeak-ng's own silence before and after, so a pause is exactly as long as set."""
    audible = np.flatnonzero(np.abs(samples) > _SILENT)
    return samples[audible[0] : audible[-1] + 1] if len(audible) else samples


@functools.cache
def _espeak_version() -> str:
    done = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _sidecar(item: SpokenItem, marks: SpeechMarks) -> str:
    return json.dumps({"item": asdict(item), "marks": asdict(marks)}, indent=1)


def _wav_bytes(samples: np.ndarray) -> bytes:
    return wav_bytes(samples, RATE)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(data)
    partial.replace(path)
