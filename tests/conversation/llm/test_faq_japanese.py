"""The demo FAQ in Japanese: questions as a customer (or Whisper) words them find their entry
through the lexical matcher, and the answer is the Japanese one."""

from __future__ import annotations

import pytest

from avatars.demo_data import DEMO_FAQ, DEMO_FAQ_JA
from conversation.llm.base import HANDOFF_ANSWERS, ChatTurn, FaqItem, LlmRequest
from conversation.llm.faq import FaqAnswerer

ITEMS = [
    *(
        FaqItem(index + 1, question, tuple(paraphrases), answer, "en", 0)
        for index, (question, paraphrases, answer) in enumerate(DEMO_FAQ)
    ),
    *(
        FaqItem(101 + index, question, tuple(paraphrases), answer, "ja", 0)
        for index, (question, paraphrases, answer) in enumerate(DEMO_FAQ_JA)
    ),
]
JAPANESE = {question: 101 + index for index, (question, _, _) in enumerate(DEMO_FAQ_JA)}


@pytest.fixture(scope="module")
def faq() -> FaqAnswerer:
    return FaqAnswerer(ITEMS, language="en")


@pytest.mark.parametrize(
    ("asked", "entry"),
    [
        ("営業時間は何時までですか", "営業時間を教えてください。"),
        ("土曜日も営業していますか", "営業時間を教えてください。"),
        ("商品を返品したいのですが", "返品するにはどうすればいいですか？"),
        ("返金してもらえますか", "返品するにはどうすればいいですか？"),
        ("届くまで何日かかりますか", "配送にはどのくらいかかりますか？"),
        ("送料は無料ですか", "送料はいくらですか？"),
        ("クレジットカードで支払えますか", "支払い方法は何がありますか？"),
        ("パスワードを忘れてしまいました", "パスワードをリセットするにはどうすればいいですか？"),
        ("電話番号を教えてください", "問い合わせ方法を教えてください。"),
        ("荷物がまだ届いていません", "注文した荷物はどこにありますか？"),
    ],
)
def test_a_japanese_question_finds_its_japanese_entry(
    faq: FaqAnswerer, asked: str, entry: str
) -> None:
    found = faq.match(asked, "ja")

    assert found is not None and found.entry_id == JAPANESE[entry]


def test_english_questions_keep_their_english_entries(faq: FaqAnswerer) -> None:
    found = faq.match("What are your opening hours?", "en")

    assert found is not None and found.entry_id == 1


async def test_the_answer_is_japanese_and_an_unknown_question_hands_off_in_japanese(
    faq: FaqAnswerer,
) -> None:
    async def answer(question: str) -> str:
        request = LlmRequest(system="", history=(ChatTurn("user", question),), language="ja")
        return "".join([delta async for delta in faq.stream(request)])

    assert await answer("営業時間を教えてください") == DEMO_FAQ_JA[0][2]
    assert await answer("宇宙旅行の予約はできますか") == HANDOFF_ANSWERS["ja"]
