"""Offline English ASR with the pocketsphinx model that ships in its wheel, biased to FAQ hints."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from pocketsphinx import Decoder

from conversation.asr.base import AsrError, AsrErrorKind, Transcript, check_pcm16

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_MAX_HINT_SEARCHES = 32  # one grammar per distinct hint set (about one per avatar)
_MAX_HINTS = 200


class _Engine:
    """The process's one decoder and its hint grammars; callers hold `lock` while using it."""

    def __init__(self) -> None:
        self.decoder = Decoder(loglevel="FATAL")  # the US English model inside the wheel
        self.lm_search: str = self.decoder.current_search()
        # Live CMN carries over between utterances; the decoder is shared by every session, so
        # each utterance starts from the model's initial estimate and no caller sways another.
        self.initial_cmn: str = self.decoder.get_cmn(False)
        self.searches: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self.serial = 0

    def decode(self, search: str, samples: np.ndarray) -> str:
        try:
            self.decoder.activate_search(search)
            self.decoder.set_cmn(self.initial_cmn)
            self.decoder.start_utt()
            self.decoder.process_raw(samples.tobytes(), full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
        except RuntimeError as exc:
            raise AsrError(AsrErrorKind.FAILED, f"pocketsphinx: {type(exc).__name__}") from exc
        return str(hyp.hypstr).strip() if hyp is not None else ""

    def hint_search(self, hints: Sequence[str]) -> str | None:
        """The name of a grammar search over `hints`, built on first use and cached."""
        key = tuple(sorted({h.strip().lower() for h in hints if h.strip()}))[:_MAX_HINTS]
        if not key:
            return None
        if key in self.searches:
            self.searches.move_to_end(key)
            return self.searches[key]
        phrases = sorted({" ".join(self._words(hint)) for hint in key} - {""})
        if not phrases:
            return None
        self.serial += 1
        name = f"hints{self.serial}"
        alternatives = " | ".join(f"( {phrase} )" for phrase in phrases)
        try:
            self.decoder.add_jsgf_string(
                name, f"#JSGF V1.0;\ngrammar hints;\npublic <hint> = {alternatives} ;\n"
            )
        except RuntimeError:
            return None  # a grammar pocketsphinx refuses: decode without hints
        self.searches[key] = name
        if len(self.searches) > _MAX_HINT_SEARCHES:
            _, oldest = self.searches.popitem(last=False)
            self.decoder.remove_search(oldest)
        return name

    def _words(self, phrase: str) -> list[str]:
        """The words of `phrase` the dictionary can say; plain plurals of known words are added."""
        out: list[str] = []
        for word in _WORD.findall(phrase.lower()):
            if self.decoder.lookup_word(word):
                out.append(word)
            elif word.endswith("s") and (stem := self.decoder.lookup_word(word[:-1].rstrip("'"))):
                self.decoder.add_word(word, f"{stem} Z")
                out.append(word)
        return out


_lock = threading.Lock()  # pocketsphinx decoders are not thread-safe: one decode at a time
_engine: _Engine | None = None


def _loaded() -> _Engine:
    global _engine
    if _engine is None:
        try:
            _engine = _Engine()
        except Exception as exc:  # a broken wheel or missing model files
            raise AsrError(AsrErrorKind.MODEL_MISSING, f"pocketsphinx model: {exc}") from exc
    return _engine


def prefer_hinted(free: str, hinted: str) -> bool:
    """Whether the grammar result replaces the free one.

    The grammar pass finds no result for most speech outside the hints; when it does find one,
    it must share a third of its words with the free result, and the free result must not be
    longer (speech that only starts like a hint keeps its own words).
    """
    free_words, hinted_words = free.split(), hinted.split()
    shared = len(set(free_words) & set(hinted_words))
    return (
        shared > 0 and len(free_words) <= len(hinted_words) + 1 and 3 * shared >= len(hinted_words)
    )


class PocketsphinxAsr:
    """English only: other languages are transcribed with the English model and reported "en".

    With hints the utterance is decoded a second time against a JSGF grammar of the hint
    phrases, and `prefer_hinted` picks between the two results.
    """

    name = "pocketsphinx"

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str] = (),
        alternatives: int = 0,  # one reading only
        other_languages: Sequence[str] = (),  # English only
    ) -> Transcript:
        samples = check_pcm16(audio)
        with _lock:
            engine = _loaded()
            text = engine.decode(engine.lm_search, samples)
            search = engine.hint_search(hints)
            if search is not None:
                hinted = engine.decode(search, samples)
                if prefer_hinted(text, hinted):
                    text = hinted
        return Transcript(text=text, final=True, language="en", confidence=None)
