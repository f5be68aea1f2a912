"""The local FAQ answerer: calibrated on the demo FAQ with the real MiniLM, lexical elsewhere."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pytest

from avatars.demo_data import DEMO_FAQ
from conversation.llm.base import HANDOFF_ANSWERS, ChatTurn, FaqItem, LlmRequest
from conversation.llm.embedding import EmbedderUnavailable, MiniLmEmbedder, Vectors
from conversation.llm.faq import FaqAnswerer

DEMO_ITEMS = [
    FaqItem(index + 1, question, tuple(paraphrases), answer, "en", 0)
    for index, (question, paraphrases, answer) in enumerate(DEMO_FAQ)
]
ENTRY = {question: index + 1 for index, (question, _, _) in enumerate(DEMO_FAQ)}

GERMAN_ITEMS = [
    FaqItem(
        101,
        "Wie sind Ihre Öffnungszeiten?",
        ("Wann haben Sie geöffnet?", "Haben Sie am Samstag offen?"),
        "Wir sind Montag bis Samstag von neun bis achtzehn Uhr für Sie da.",
        "de",
        0,
    ),
    FaqItem(
        102,
        "Wie kann ich einen Artikel zurückschicken?",
        ("Kann ich etwas zurückgeben?", "Rückgabe"),
        "Sie können jeden Artikel innerhalb von dreißig Tagen zurückgeben.",
        "de",
        0,
    ),
    FaqItem(
        103,
        "Wie setze ich mein Passwort zurück?",
        ("Ich habe mein Passwort vergessen.",),
        "Klicken Sie auf der Anmeldeseite auf Passwort vergessen.",
        "de",
        0,
    ),
]


@pytest.fixture(scope="module")
def demo_faq() -> FaqAnswerer:
    answerer = FaqAnswerer(DEMO_ITEMS)
    answerer.warm_up()
    return answerer


def entry_of(answerer: FaqAnswerer, question: str, language: str) -> int | None:
    found = answerer.match(question, language)
    return None if found is None else found.entry_id


def request(question: str, language: str = "en") -> LlmRequest:
    return LlmRequest(system="", history=(ChatTurn("user", question),), language=language)


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        ("when do you open on saturday", "What are your opening hours?"),
        ("how can I send back a jacket", "How do I return an item?"),
        ("do you take paypal", "Which payment methods do you accept?"),
        ("i forgot my password", "How do I reset my password?"),
        ("how long until my package arrives", "How long does shipping take?"),
        ("I'd like to cancel my purchase", "Can I change or cancel my order?"),
        ("do you ship to germany", "Do you ship internationally?"),
        ("is delivery free", "How much does shipping cost?"),
    ],
)
def test_rephrasings_match_their_entry(demo_faq: FaqAnswerer, question: str, entry: str) -> None:
    found = demo_faq.match(question, "en")
    assert found is not None, question
    assert found.entry_id == ENTRY[entry]
    assert found.score >= demo_faq.threshold


@pytest.mark.parametrize(
    "question",
    [
        "what is the capital of France",
        "tell me a joke about cats",
        "what's the weather like tomorrow",
        "how old are you",
        "can you recommend a good movie",
    ],
)
def test_off_topic_questions_do_not_match(demo_faq: FaqAnswerer, question: str) -> None:
    assert demo_faq.match(question, "en") is None


def test_matching_again_gives_the_same_answer(demo_faq: FaqAnswerer) -> None:
    # How fast a match is, is the benchmark's figure (`understand_ms`), not a test's.
    questions = ["when do you open on saturday", "do you take paypal", "tell me a joke"]
    first = [demo_faq.match(question, "en-US") for question in questions]
    for _ in range(5):
        assert [demo_faq.match(question, "en-US") for question in questions] == first
    assert first[0] is not None and first[1] is not None and first[2] is None


async def test_stream_yields_the_answer_in_word_groups(demo_faq: FaqAnswerer) -> None:
    deltas = [delta async for delta in demo_faq.stream(request("do you take paypal"))]
    assert "".join(deltas) == DEMO_FAQ[ENTRY["Which payment methods do you accept?"] - 1][2]
    assert len(deltas) >= 2


async def test_stream_hands_off_when_nothing_matches(demo_faq: FaqAnswerer) -> None:
    deltas = [delta async for delta in demo_faq.stream(request("tell me a joke about cats"))]
    assert "".join(deltas) == HANDOFF_ANSWERS["en"]


def test_german_entries_match_lexically() -> None:
    answerer = FaqAnswerer(GERMAN_ITEMS, language="de")
    assert entry_of(answerer, "wann öffnen sie am samstag", "de") == 101
    assert entry_of(answerer, "ich möchte eine Jacke zurückschicken", "de-AT") == 102
    assert entry_of(answerer, "Passwort vergessen!", "de") == 103
    assert answerer.match("Was ist die Hauptstadt von Frankreich?", "de") is None
    assert answerer.match("Erzähl mir einen Witz über Katzen", "de") is None


async def test_german_hand_off_is_in_german() -> None:
    answerer = FaqAnswerer(GERMAN_ITEMS, language="de")
    deltas = [d async for d in answerer.stream(request("Wie ist das Wetter morgen?", "de"))]
    assert "".join(deltas) == HANDOFF_ANSWERS["de"]


def test_only_entries_of_the_language_are_searched_else_the_avatar_language() -> None:
    answerer = FaqAnswerer([*DEMO_ITEMS, *GERMAN_ITEMS], language="en")
    assert entry_of(answerer, "Passwort vergessen", "de") == 103
    # English questions never see German entries, and vice versa.
    assert entry_of(answerer, "i forgot my password", "en") == ENTRY["How do I reset my password?"]
    # No French entries: a French question is looked up among the avatar's (English) ones.
    assert answerer.match("Which payment methods do you accept?", "fr") is not None


def test_ties_go_to_the_higher_priority() -> None:
    items = [
        FaqItem(1, "Rückgabe eines Artikels", (), "low", "de", 0),
        FaqItem(2, "Rückgabe eines Artikels", (), "high", "de", 5),
        FaqItem(3, "Rückgabe eines Artikels", (), "middle", "de", 2),
    ]
    found = FaqAnswerer(items).match("Rückgabe eines Artikels", "de")
    assert found is not None
    assert (found.entry_id, found.answer) == (2, "high")


class BrokenEmbedder:
    name = "broken"
    languages = frozenset({"en"})

    def embed(self, texts: Sequence[str]) -> Vectors:
        raise EmbedderUnavailable("no model on this machine")


def test_lexical_scoring_takes_over_when_the_model_cannot_load() -> None:
    answerer = FaqAnswerer(DEMO_ITEMS, embedder=BrokenEmbedder())
    answerer.warm_up()
    found = answerer.match("I forgot my password", "en")
    assert found is not None
    assert found.entry_id == ENTRY["How do I reset my password?"]
    assert answerer.match("what is the capital of France", "en") is None


class CountingEmbedder:
    """Random but stable vectors per text; counts how many texts it was asked to embed."""

    languages = frozenset({"en"})

    def __init__(self, name: str) -> None:
        self.name = name
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        rows = [np.random.default_rng(abs(hash(text)) % 2**32).normal(size=8) for text in texts]
        matrix = np.asarray(rows, dtype=np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_faq_embeddings_are_computed_once_per_content() -> None:
    embedder = CountingEmbedder(f"counting-{time.monotonic_ns()}")
    FaqAnswerer(DEMO_ITEMS, embedder=embedder).match("hello", "en")
    faq_texts = embedder.embedded - 1
    assert faq_texts == sum(1 + len(item.paraphrases) for item in DEMO_ITEMS)
    FaqAnswerer(list(DEMO_ITEMS), embedder=embedder).match("hello again", "en")
    assert embedder.embedded == faq_texts + 2, "the same FAQ content was embedded twice"
    changed = [*DEMO_ITEMS[:-1], FaqItem(99, "A new question?", (), "A new answer.", "en", 0)]
    FaqAnswerer(changed, embedder=embedder).match("hello", "en")
    assert embedder.embedded > faq_texts + 3, "changed FAQ content must be embedded again"


def test_the_model_is_loaded_once_per_process(demo_faq: FaqAnswerer) -> None:
    first = MiniLmEmbedder._load()
    FaqAnswerer(DEMO_ITEMS[:3]).warm_up()
    assert MiniLmEmbedder._load() is first


def test_empty_faq_and_blank_questions_do_not_match(demo_faq: FaqAnswerer) -> None:
    assert FaqAnswerer([]).match("anything", "en") is None
    assert demo_faq.match("   ", "en") is None
