"""The spoken set through a recognizer and the FAQ matcher, offline and without the stack:
word error rate, right-FAQ-entry rate, and the matcher's time per question.

    python -m bench.hearing [--backend whisper-base|pocketsphinx] [--no-hints] [--show]

Transcripts are cached under `var/spoken-set/` by item, backend, hints and readings, so changing
the matcher costs no recognition; the recognizer gets the demo FAQ's questions as hints and is
asked for `ASR_ALTERNATIVES` other readings, as the product does for a final transcript.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avatars.demo_data import DEMO_FAQ
from avatarsite.env import VAR_DIR, env_int
from bench.spoken_set import SpokenItem, default_cache_dir, spoken_set
from bench.wer import corpus_word_error_rate
from conversation.asr.base import AsrBackend
from conversation.asr.whisper_backend import ALTERNATIVES_BEAM, WINDOW_TAIL_S
from conversation.llm.base import FaqItem, FaqMatcher
from conversation.llm.faq import FaqAnswerer
from conversation.llm.select import StrongMatches

BACKENDS = ("whisper-base", "pocketsphinx")


def demo_items() -> list[FaqItem]:
    return [
        FaqItem(index + 1, question, tuple(paraphrases), answer, "en", 0)
        for index, (question, paraphrases, answer) in enumerate(DEMO_FAQ)
    ]


def demo_hints() -> tuple[str, ...]:
    """What the product gives the recognizer: the FAQ's questions (conversation/edge/assembly)."""
    return tuple(dict.fromkeys(question for question, _, _ in DEMO_FAQ))


def build_backend(name: str, models_dir: Path | None = None) -> AsrBackend:
    if name == "pocketsphinx":
        from conversation.asr.pocketsphinx_backend import PocketsphinxAsr

        return PocketsphinxAsr()
    from conversation.asr.packaged import whisper_base
    from conversation.asr.whisper_backend import FasterWhisperAsr

    path = whisper_base(models_dir or VAR_DIR / "models")
    return FasterWhisperAsr(str(path), device="cpu", compute_type="int8")


Heard = tuple[str, ...]  # the best reading first, then the recognizer's runners-up


def transcripts(
    items: Sequence[SpokenItem],
    backend: str,
    *,
    hints: Sequence[str] = (),
    alternatives: int = 0,
    cache_dir: Path | None = None,
) -> dict[str, Heard]:
    """Each item's readings by its name, recognized once and then read from the cache."""
    folder = cache_dir or default_cache_dir()
    hints_key = hashlib.sha256("\n".join(hints).encode()).hexdigest()[:12]
    decode = ""
    if backend == "whisper-base":
        decode = f"-window{WINDOW_TAIL_S:g}-copyguard2"
        decode += f"-beam{ALTERNATIVES_BEAM}x{alternatives}" if alternatives else ""
    path = folder / f"transcripts-{backend}{decode}-{hints_key}.json"
    cached: dict[str, list[str]] = json.loads(path.read_text()) if path.is_file() else {}
    missing = [item for item in items if item.digest not in cached]
    if missing:
        asr = build_backend(backend)
        for item in missing:
            said = asr.transcribe(
                item.pcm(cache_dir), language="en", hints=tuple(hints), alternatives=alternatives
            )
            cached[item.digest] = [said.text, *said.alternatives]
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached, indent=1, sort_keys=True))
    return {item.name: tuple(cached[item.digest]) for item in items}


@dataclass(frozen=True)
class FaqFigures:
    in_faq: int
    right: int  # in-FAQ utterances answered with their entry
    wrong: list[str]  # names of in-FAQ utterances answered with another entry or none
    out_of_faq: int
    matched_out: list[str]  # names of out-of-FAQ utterances that got an entry anyway
    match_ms_median: float
    match_ms_max: float

    @property
    def right_rate(self) -> float:
        return self.right / self.in_faq if self.in_faq else 0.0


def faq_figures(
    items: Sequence[SpokenItem], said: dict[str, Heard], matcher: FaqMatcher
) -> FaqFigures:
    """How often `matcher` finds each item's entry from what the recognizer heard (its best
    reading, and its other readings as the product passes them)."""
    questions = {index + 1: question for index, (question, _, _) in enumerate(DEMO_FAQ)}
    wrong, matched_out, timings = [], [], []
    for item in items:
        started = time.perf_counter()
        best, *others = said[item.name]
        found = matcher.match(best, "en", readings=others)
        timings.append((time.perf_counter() - started) * 1000)
        entry = questions.get(found.entry_id) if found is not None else None
        if item.faq is not None and entry != item.faq:
            wrong.append(item.name)
        if item.faq is None and entry is not None:
            matched_out.append(item.name)
    in_faq = sum(item.faq is not None for item in items)
    return FaqFigures(
        in_faq=in_faq,
        right=in_faq - len(wrong),
        wrong=wrong,
        out_of_faq=len(items) - in_faq,
        matched_out=matched_out,
        match_ms_median=statistics.median(timings),
        match_ms_max=max(timings),
    )


def _report(name: str, figures: FaqFigures, out: Callable[[str], None]) -> None:
    out(
        f"  {name:<22} right entry {figures.right}/{figures.in_faq} "
        f"({figures.right_rate:.0%}), out-of-FAQ matched {len(figures.matched_out)}/"
        f"{figures.out_of_faq}, match {figures.match_ms_median:.1f} ms median "
        f"({figures.match_ms_max:.1f} max)"
    )
    if figures.wrong or figures.matched_out:
        out(f"    wrong: {' '.join(figures.wrong)}  matched out: {' '.join(figures.matched_out)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--no-hints", action="store_true", help="recognize without FAQ hints")
    parser.add_argument(
        "--alternatives",
        type=int,
        default=env_int("ASR_ALTERNATIVES", 4),
        help="other readings asked of Whisper, as ASR_ALTERNATIVES (0: the best reading alone)",
    )
    parser.add_argument("--show", action="store_true", help="print each transcript and match")
    parser.add_argument(
        "--said-only", action="store_true", help="match the text said only, no recognizer"
    )
    args = parser.parse_args(argv)
    items = spoken_set()
    faq = FaqAnswerer(demo_items())
    faq.warm_up()
    matchers: dict[str, FaqMatcher] = {"FAQ alone": faq, "FAQ before an LLM": StrongMatches(faq)}
    hints = () if args.no_hints else demo_hints()
    sources: dict[str, dict[str, Heard]] = {
        "text said": {item.name: (item.text,) for item in items}
    }
    for backend in () if args.said_only else args.backend or BACKENDS:
        asked = args.alternatives if backend == "whisper-base" else 0
        sources[backend] = transcripts(items, backend, hints=hints, alternatives=asked)
    for source, said in sources.items():
        wer = corpus_word_error_rate((item.text, said[item.name][0]) for item in items)
        print(f"{source}: WER {wer:.1%} over {len(items)} utterances")
        for name, matcher in matchers.items():
            _report(name, faq_figures(items, said, matcher), print)
        if args.show:
            for item in items:
                best, *others = said[item.name]
                found = faq.match(best, "en", readings=others)
                got = f"{DEMO_FAQ[found.entry_id - 1][0]} {found.score:.2f}" if found else "-"
                mark = "  " if (found and DEMO_FAQ[found.entry_id - 1][0]) == item.faq else "X "
                print(f"  {mark}{item.name} [{item.faq or '-'}] {best!r} -> {got}")
                for other in others:
                    print(f"      or {other!r}")


if __name__ == "__main__":
    main()
