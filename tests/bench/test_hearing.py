"""bench.hearing: transcripts made once per item, backend and hints; the right-entry figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from avatars.demo_data import DEMO_FAQ
from bench import hearing
from bench.spoken_set import spoken_set
from conversation.llm.base import FaqMatch

ITEMS = spoken_set()
ENTRY = {question: index + 1 for index, (question, _, _) in enumerate(DEMO_FAQ)}


def test_transcripts_are_recognized_once_then_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = ITEMS[:2]
    first = hearing.transcripts(items, "pocketsphinx", hints=("hello",), cache_dir=tmp_path)
    assert set(first) == {item.name for item in items}
    assert all(len(heard) == 1 and isinstance(heard[0], str) for heard in first.values())

    def no_recognizer(name: str, models_dir: Path | None = None) -> None:
        raise AssertionError("recognized again")

    monkeypatch.setattr(hearing, "build_backend", no_recognizer)
    assert hearing.transcripts(items, "pocketsphinx", hints=("hello",), cache_dir=tmp_path) == first
    with pytest.raises(AssertionError, match="recognized again"):  # other hints: other words
        hearing.transcripts(items, "pocketsphinx", hints=("goodbye",), cache_dir=tmp_path)


class ByText:
    """A scripted matcher: the entries of a few texts, none for the rest."""

    def __init__(self, entries: dict[str, int]) -> None:
        self.entries = entries

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        entry = self.entries.get(question)
        return None if entry is None else FaqMatch(entry_id=entry, answer="", score=1.0)


def test_the_figures_count_right_entries_and_answers_outside_the_faq() -> None:
    inside = [item for item in ITEMS if item.faq is not None]
    outside = [item for item in ITEMS if item.faq is None]
    said = {item.name: (item.text,) for item in ITEMS}
    other = ENTRY[DEMO_FAQ[0][0]] if inside[1].faq != DEMO_FAQ[0][0] else ENTRY[DEMO_FAQ[1][0]]
    matcher = ByText(
        {
            inside[0].text: ENTRY[inside[0].faq or ""],  # right
            inside[1].text: other,  # a wrong entry
            outside[0].text: 1,  # an answer where the FAQ has none
        }
    )
    figures = hearing.faq_figures(ITEMS, said, matcher)
    assert (figures.in_faq, figures.out_of_faq) == (len(inside), len(outside))
    assert figures.right == 1 and inside[1].name in figures.wrong
    assert inside[0].name not in figures.wrong and len(figures.wrong) == len(inside) - 1
    assert figures.matched_out == [outside[0].name]
    assert figures.right_rate == pytest.approx(1 / len(inside))


class ByReadings(ByText):
    """Finds an entry only in the other readings, as a runner-up that heard the key word."""

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        for reading in readings:
            if (found := super().match(reading, language)) is not None:
                return found
        return None


def test_the_figures_pass_the_other_readings_to_the_matcher() -> None:
    item = next(item for item in ITEMS if item.faq is not None)
    said = {each.name: ("misheard",) for each in ITEMS}
    said[item.name] = ("misheard", "heard right")
    figures = hearing.faq_figures(ITEMS, said, ByReadings({"heard right": ENTRY[item.faq or ""]}))
    assert figures.right == 1 and item.name not in figures.wrong
