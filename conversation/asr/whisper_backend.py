"""faster-whisper ASR: a Whisper size name or a local CTranslate2 directory, loaded once."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from conversation.asr.base import (
    INPUT_RATE,
    AsrError,
    AsrErrorKind,
    Transcript,
    check_pcm16,
)

_PROMPT_CHARS = 400  # Whisper keeps ~220 prompt tokens; more would be cut by faster-whisper anyway
_LOCAL_FILES = ("model.bin", "config.json", "tokenizer.json")
# A hallucinating decode (looping on noise) stops near the length real speech could need.
_TOKENS_PER_SECOND = 8
_MAX_NEW_TOKENS = 200  # with a full prompt (~227 tokens) this stays under Whisper's 448
# Whisper's encoder window is 30 s and costs the same whatever the utterance's length (about
# 500 of the 800 ms of a decode on 2 cores). An utterance is encoded in a window of its own
# length plus this much silence: a 6 s question costs a third of the encoder, and the words
# come out as well (docs/performance.md, "A window the length of the utterance").
WINDOW_TAIL_S = 4.0
_FULL_WINDOW_S = 30.0
# Beam width when other readings are wanted (a final transcript); partials decode greedily.
ALTERNATIVES_BEAM = 5
# An avatar that speaks several languages: another of them is heard only when Whisper finds it
# this many times as likely as the avatar's own. Whisper base's detection on short or synthetic
# speech strays (it gave Japanese up to 3 times English's odds on espeak-ng's English questions,
# and at least 98 times on Kokoro's Japanese ones), and a wrong language costs a whole answer:
# docs/languages.md.
OTHER_LANGUAGE_ODDS = 16.0
# A hint sentence in a transcript is the customer's only if the audio decoded without the prompt
# says at least this share of its words, in order; below, it is the prompt written out.
HEARD_WITHOUT_PROMPT = 0.75
# faster-whisper's rule for a segment that is only silence or noise.
_NO_SPEECH_PROB = 0.6
_NO_SPEECH_LOGPROB = -1.0


def prompt_from_hints(hints: Sequence[str], limit: int = _PROMPT_CHARS) -> str | None:
    """The hint phrases as one initial prompt, cut at a word boundary within `limit` chars."""
    prompt = " ".join(" ".join(h.split()) for h in hints if h.strip())
    if len(prompt) > limit:
        prompt = prompt[:limit].rsplit(" ", 1)[0]
    return prompt or None


def _sentences(text: str) -> list[str]:
    return [
        words
        for sentence in re.split(r"(?<=[.?!])\s+|(?<=[。！？])", text)
        if (words := " ".join(re.findall(r"[^\W_]+", sentence.lower())))
    ]


def copies_prompt(text: str, hints: Sequence[str]) -> bool:
    """Whether a transcript looks like Whisper writing out its prompt rather than the speech:
    a sentence said twice, or two of the hint phrases word for word ("Can I change or cancel my
    order? Do you have gift cards? Do you have gift cards?" for a question about free delivery).
    One hint phrase alone is what a customer who reads the FAQ says."""
    said = _sentences(text)
    hinted = {sentence for hint in hints for sentence in _sentences(hint)}
    return len(said) != len(set(said)) or len(hinted.intersection(said)) >= 2


def hint_sentences_in(text: str, hints: Sequence[str]) -> list[str]:
    """The sentences of `text` that are hint phrases word for word (lower case, no marks)."""
    hinted = {sentence for hint in hints for sentence in _sentences(hint)}
    return [sentence for sentence in _sentences(text) if sentence in hinted]


def said_without_prompt(sentence: str, unprompted: str) -> bool:
    """Whether a transcript decoded without the prompt says `sentence` (a hint phrase, as
    `_sentences` writes it): most of its words, in order. "Can I change or cancel my order?"
    against "I ordered two towels 10 days ago. Can you check on my order?" is not."""
    words = sentence.split()
    heard = " ".join(_sentences(unprompted)).split()
    matcher = difflib.SequenceMatcher(a=words, b=heard, autojunk=False)
    found = sum(block.size for block in matcher.get_matching_blocks())
    return bool(words) and found / len(words) >= HEARD_WITHOUT_PROMPT


def choose_language(
    probabilities: Mapping[str, float],
    own: str,
    others: Sequence[str],
    odds: float = OTHER_LANGUAGE_ODDS,
) -> str:
    """`own` (the avatar's language), unless one of `others` is more than `odds` times as
    likely; languages outside `own` and `others` do not count, however likely."""
    mine = probabilities.get(own, 0.0)
    best = max(others, key=lambda code: probabilities.get(code, 0.0), default=None)
    if best is not None and probabilities.get(best, 0.0) > odds * mine:
        return best
    return own


def _looks_like_path(model: str) -> bool:
    """A directory, not a size name or hub id ("Systran/faster-whisper-small")."""
    return model.startswith(("/", ".", "~")) or Path(model).exists()


class FasterWhisperAsr:
    """Whisper through faster-whisper; the model loads in the constructor (AsrError on failure).

    `model` is a size name ("small", "large-v3"; downloaded when the machine is online) or a
    local CTranslate2 directory holding model.bin, config.json, tokenizer.json and, for models
    with 128 mel bins, preprocessor_config.json. A directory never touches the network.
    """

    name = "faster-whisper"

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        download_root: str | None = None,
        cpu_threads: int = 0,
        num_workers: int = 1,
    ) -> None:
        from faster_whisper import WhisperModel

        if _looks_like_path(model):
            directory = Path(model).expanduser()
            missing = [name for name in _LOCAL_FILES if not (directory / name).is_file()]
            if not directory.is_dir():
                raise AsrError(AsrErrorKind.MODEL_MISSING, f"no Whisper model directory at {model}")
            if missing:
                raise AsrError(
                    AsrErrorKind.MODEL_MISSING,
                    f"Whisper model directory {model} lacks {', '.join(missing)}",
                )
            model = str(directory)
        try:
            self._model = WhisperModel(
                model,
                device=device,
                compute_type=compute_type,
                download_root=download_root,
                cpu_threads=cpu_threads,  # threads per decode (0: CTranslate2 decides)
                num_workers=num_workers,  # decodes that may run at once
            )
        except Exception as exc:  # ctranslate2, tokenizers and hub errors alike
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            raise AsrError(
                AsrErrorKind.MODEL_MISSING,
                f"cannot load Whisper model {model!r}: {type(exc).__name__}: {detail}",
            ) from exc
        self.model = model
        self.languages = frozenset(self._model.supported_languages)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str] = (),
        alternatives: int = 0,
        other_languages: Sequence[str] = (),
    ) -> Transcript:
        samples = check_pcm16(audio).astype(np.float32) / 32768.0
        seconds = len(samples) / INPUT_RATE
        max_new_tokens = min(_MAX_NEW_TOKENS, 16 + int(seconds * _TOKENS_PER_SECOND))
        code = self._model_language(language)
        others = self._other_codes(code, other_languages)
        if code is None and others:  # the avatar's own language is not one Whisper knows
            code, others = others[0], others[1:]
        try:
            if seconds + WINDOW_TAIL_S > _FULL_WINDOW_S:
                if code is not None and others:
                    probabilities = dict(self._model.detect_language(samples)[2])
                    heard = choose_language(probabilities, code, others)
                    code, hints = heard, (hints if heard == code else ())
                return self._transcribe_windows(samples, code, hints, max_new_tokens)
            return self._transcribe_fitted(
                samples, code, others, hints, max_new_tokens, max(0, alternatives)
            )
        except Exception as exc:  # never echo the audio's words: the type only
            raise AsrError(AsrErrorKind.FAILED, f"faster-whisper: {type(exc).__name__}") from exc

    def language_probabilities(self, audio: np.ndarray) -> dict[str, float]:
        """Whisper's probability of each language for an utterance (int16 PCM), as a session
        sees it: over the window fitted to the utterance."""
        samples = check_pcm16(audio).astype(np.float32) / 32768.0
        return self._detect(self._encode(samples))

    def _encode(self, samples: np.ndarray) -> object:
        """The encoder's output for a window fitted to the utterance."""
        import ctranslate2

        features = self._model.feature_extractor(samples)  # (mel bins, 100 frames a second)
        frames = features.shape[-1] + int(WINDOW_TAIL_S * 100)
        window = np.zeros((1, features.shape[0], frames + frames % 2), dtype=np.float32)
        window[0, :, : features.shape[-1]] = features  # zeros after: faster-whisper's padding
        view = ctranslate2.StorageView.from_array(window)
        return self._model.model.encode(view, to_cpu=False)

    def _detect(self, encoded: object) -> dict[str, float]:
        ranked = self._model.model.detect_language(encoded)[0]
        return {token.strip("<|>"): probability for token, probability in ranked}

    def _transcribe_fitted(
        self,
        samples: np.ndarray,
        code: str | None,
        others: Sequence[str],
        hints: Sequence[str],
        max_new_tokens: int,
        alternatives: int,
    ) -> Transcript:
        """One decode over an encoder window fitted to the utterance: greedy, or a beam search
        keeping its runners-up when `alternatives` are wanted. `code` None: any language."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        whisper = self._model
        encoded = self._encode(samples)
        if code is None:
            probabilities = self._detect(encoded)
            code = max(probabilities, key=probabilities.__getitem__)
        elif others:
            heard = choose_language(self._detect(encoded), code, others)
            # The hints are phrases in the avatar's own language: as a prompt before speech in
            # another, they make Whisper translate (Japanese heard as English) instead.
            code, hints = heard, (hints if heard == code else ())
        tokenizer = Tokenizer(
            whisper.hf_tokenizer, whisper.model.is_multilingual, task="transcribe", language=code
        )

        def decode(prompt_text: str | None) -> Any:
            previous = tokenizer.encode(" " + prompt_text) if prompt_text else []
            prompt = whisper.get_prompt(tokenizer, previous, without_timestamps=True)
            return whisper.model.generate(
                encoded,
                [prompt],
                # One pass, no temperature fallback: latency over re-decodes.
                beam_size=max(ALTERNATIVES_BEAM, alternatives + 1) if alternatives else 1,
                num_hypotheses=alternatives + 1,
                max_length=len(prompt) + max_new_tokens,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            )[0]

        prompt_text = prompt_from_hints(hints)
        result = decode(prompt_text)
        first = tokenizer.decode(result.sequences_ids[0]) if prompt_text else ""
        if copies_prompt(first, hints):
            result = decode(None)  # the encoded audio again, without the prompt it copied
        elif copied := hint_sentences_in(first, hints):
            # One FAQ question word for word: the customer read it, or Whisper wrote out its
            # prompt over audio it could not follow. The audio without the prompt tells.
            plain = decode(None)
            unprompted = tokenizer.decode(plain.sequences_ids[0])
            if not all(said_without_prompt(sentence, unprompted) for sentence in copied):
                result = plain
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > _NO_SPEECH_PROB and avg_logprob < _NO_SPEECH_LOGPROB:
            return Transcript(text="", final=True, language=code, confidence=None)
        text = tokenizer.decode(tokens).strip()
        confidence = min(1.0, math.exp(avg_logprob)) if text else None
        readings = (tokenizer.decode(ids).strip() for ids in result.sequences_ids[1:])
        return Transcript(
            text=text,
            final=True,
            language=code,
            confidence=confidence,
            alternatives=tuple(r for r in dict.fromkeys(readings) if r and r != text),
        )

    def _transcribe_windows(
        self, samples: np.ndarray, code: str | None, hints: Sequence[str], max_new_tokens: int
    ) -> Transcript:
        """faster-whisper's own loop of 30 s windows, for an utterance too long for one."""
        segments, info = self._model.transcribe(
            samples,
            language=code,
            beam_size=1,
            temperature=0.0,
            vad_filter=False,  # our own VAD cut the utterance
            condition_on_previous_text=False,
            without_timestamps=True,
            initial_prompt=prompt_from_hints(hints),
            max_new_tokens=max_new_tokens,
        )
        decoded = list(segments)
        text = " ".join(s.text.strip() for s in decoded if s.text.strip())
        confidence = (
            min(1.0, sum(math.exp(s.avg_logprob) for s in decoded) / len(decoded))
            if decoded
            else None
        )
        return Transcript(text=text, final=True, language=info.language, confidence=confidence)

    def _other_codes(self, code: str | None, languages: Sequence[str]) -> list[str]:
        """The Whisper codes of the avatar's other languages, its own and unknown ones left out."""
        codes = (self._model_language(language) for language in languages)
        return list(dict.fromkeys(c for c in codes if c is not None and c != code))

    def _model_language(self, language: str | None) -> str | None:
        """The Whisper code for an avatar language ("en-US" -> "en"); None detects it."""
        if not language:
            return None
        code = language.strip().lower().replace("_", "-").split("-", 1)[0]
        return code if code in self.languages else None
