"""What customers say when they want a person (or answer "may I share?"), and what the avatar
says when it hands them over: pure text rules, no I/O.

The avatar's lines tell the customer what happens next (a colleague joins this chat; until
then the avatar keeps answering) and ask, once, whether the conversation may be shared.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from conversation.llm.base import handoff_answer, primary_language


class Reason(StrEnum):
    """Why a customer is handed to a person (mirrors handoff.models.HandOff.Reason)."""

    NO_ANSWER = "no_answer"
    LLM_FAILED = "llm_failed"
    ASKED_FOR_PERSON = "asked_for_person"
    REPEATED = "repeated"
    OPERATOR_RULE = "operator_rule"


_PERSON = (
    "human|person|people|someone|somebody|anyone|anybody|agent|representative|rep|operator|"
    "staff|colleague|manager|supervisor|employee|advisor|adviser"
)
_ASKS_FOR_PERSON = [
    re.compile(p, re.IGNORECASE)
    for p in (
        # English: "can I talk to someone", "speak with a real person", "a human, please"
        rf"\b(talk|speak|chat)\s+(to|with)\s+(an?\s+|the\s+|some\s+|your\s+)?"
        rf"((real|live|actual)\s+)?({_PERSON})\b",
        r"\b(real|live|actual)\s+(person|human|agent)\b",
        r"\b(human|agent|operator|representative|person)\s*,?\s*please\b",
        r"\b(connect|transfer|put)\s+me\s+(through\s+)?(to|with)\b",
        # German, French, Spanish
        r"\b(mit\s+)?(einem|einer)\s+(menschen|mitarbeiter\w*|person|berater\w*)\s+"
        r"(sprechen|reden)\b",
        r"\bparler\s+(à|a|avec)\s+(quelqu.un|un\s+(conseiller|humain|agent|opérateur)|"
        r"une\s+(conseillère|personne|vraie\s+personne))",
        r"\bhablar\s+con\s+(alguien|una\s+persona|un\s+(agente|humano|asesor|operador))",
        # Japanese: 担当者と話したい, 人と話せますか, オペレーターにつないで
        r"(担当者?|オペレーター?|スタッフ|係の人|人間|有人|窓口|人)(の方)?(と|に)"
        r"(話|はな|代わ|かわ|つな|繋|相談)",
    )
]


def asks_for_person(text: str) -> bool:
    """The customer wants a person, in any language the rules know (English, German, French,
    Spanish, Japanese)."""
    folded = unicodedata.normalize("NFKC", text)
    return any(pattern.search(folded) for pattern in _ASKS_FOR_PERSON)


def has_keyword(text: str, keywords: tuple[str, ...]) -> bool:
    """An operator's keyword as a whole word (case ignored); words in scripts without spaces
    (Japanese) match anywhere."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    for keyword in keywords:
        word = unicodedata.normalize("NFKC", keyword).casefold().strip()
        if not word:
            continue
        if word.isascii():
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
                return True
        elif word in folded:
            return True
    return False


def same_question(one: str, other: str) -> bool:
    """The same question, asked again: equal once case, punctuation and fillers are set aside,
    or sharing almost all of its words."""
    a, b = _words(one), _words(other)
    if not a or not b:
        return False
    if a == b:
        return True
    sa, sb = set(a), set(b)
    return len(sa) >= 3 and len(sa & sb) / len(sa | sb) >= 0.8


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c if c.isalnum() or c.isspace() else " " for c in folded)
    words = kept.split()
    if len(words) == 1 and not words[0].isascii():  # no spaces: compare the characters
        return list(words[0])
    return words


_YES = {
    "en": ("yes", "yeah", "yep", "sure", "ok", "okay", "go ahead", "yes please", "that's fine"),
    "ja": ("はい", "ええ", "お願いします", "どうぞ", "はいお願いします", "共有してください"),
}
_NO = {
    "en": ("no", "nope", "no thanks", "no thank you", "don't", "please don't", "rather not"),
    "ja": ("いいえ", "結構です", "共有しないでください", "やめてください", "いいえ結構です"),
}


def consent_answer(text: str) -> bool | None:
    """A short spoken or typed yes or no to "may I share our conversation?"; None otherwise."""
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    folded = re.sub(r"[\s.,!?。、！？]+", " ", folded).strip()
    if len(folded) > 24:
        return None
    for answers, meaning in ((_NO, False), (_YES, True)):
        for words in answers.values():
            if folded in words or folded.replace(" ", "") in words:
                return meaning
    return None


_LEAD = {
    "en": {
        Reason.ASKED_FOR_PERSON: "Of course.",
        Reason.OPERATOR_RULE: "A colleague of mine handles this best.",
        "": "I'm sorry, I can't answer that myself.",
    },
    "de": {
        Reason.ASKED_FOR_PERSON: "Gern.",
        Reason.OPERATOR_RULE: "Das klärt am besten eine Kollegin oder ein Kollege.",
        "": "Das kann ich leider nicht selbst beantworten.",
    },
    "fr": {
        Reason.ASKED_FOR_PERSON: "Bien sûr.",
        Reason.OPERATOR_RULE: "Un collègue s'en occupera mieux que moi.",
        "": "Je suis désolée, je ne peux pas répondre à cela moi-même.",
    },
    "es": {
        Reason.ASKED_FOR_PERSON: "Por supuesto.",
        Reason.OPERATOR_RULE: "De esto se ocupa mejor un compañero.",
        "": "Lo siento, eso no lo puedo responder yo.",
    },
    "ja": {
        Reason.ASKED_FOR_PERSON: "かしこまりました。",
        Reason.OPERATOR_RULE: "この件は担当者がご案内いたします。",
        "": "申し訳ありません、その件は私ではお答えできません。",
    },
}
_NEXT = {
    "en": (
        "I'm passing you to a colleague, who will join this chat here shortly; until then, "
        "you can keep asking me. May I share our conversation with them, so you don't have "
        "to repeat yourself?"
    ),
    "de": (
        "Ich gebe Sie an eine Kollegin oder einen Kollegen weiter, die gleich hier im Chat "
        "dazukommen; bis dahin können Sie mich weiter fragen. Darf ich unser Gespräch "
        "weitergeben, damit Sie nichts wiederholen müssen?"
    ),
    "fr": (
        "Je vous passe à un collègue, qui vous rejoindra ici dans un instant ; en attendant, "
        "vous pouvez continuer à me poser vos questions. Puis-je lui transmettre notre "
        "conversation, pour que vous n'ayez pas à vous répéter ?"
    ),
    "es": (
        "Le paso con un compañero, que se unirá a este chat en breve; mientras tanto, puede "
        "seguir preguntándome. ¿Puedo compartir nuestra conversación con él, para que no "
        "tenga que repetirse?"
    ),
    "ja": (
        "担当者におつなぎします。まもなくこの画面で担当者が対応いたしますので、それまでは引き続き"
        "私にご質問いただけます。お手数をおかけしないよう、これまでの会話を担当者に共有してもよろしいですか？"
    ),
}
_ALREADY = {
    "en": "A colleague already has your request and will join this chat shortly.",
    "de": "Eine Kollegin oder ein Kollege hat Ihre Anfrage schon und kommt gleich dazu.",
    "fr": "Un collègue a déjà votre demande et vous rejoindra dans un instant.",
    "es": "Un compañero ya tiene su solicitud y se unirá en breve.",
    "ja": "すでに担当者にお伝えしています。まもなく対応いたします。",
}
_CONSENT_THANKS = {
    "en": ("Thank you, I'll share our conversation.", "All right, I won't share it."),
    "ja": (
        "ありがとうございます。会話を担当者に共有します。",
        "かしこまりました。会話は共有しません。",
    ),
}


def handoff_line(reason: Reason, language: str) -> str:
    """What the avatar says when it hands the customer over: why, and what happens next."""
    code = primary_language(language)
    if code not in _NEXT:
        return handoff_answer(language)  # a language without these lines: the short hand-off
    lead = _LEAD[code].get(reason, _LEAD[code][""])
    return f"{lead} {_NEXT[code]}" if code != "ja" else f"{lead}{_NEXT[code]}"


def already_line(language: str) -> str:
    return _ALREADY.get(primary_language(language), _ALREADY["en"])


def consent_thanks(given: bool, language: str) -> str:
    yes, no = _CONSENT_THANKS.get(primary_language(language), _CONSENT_THANKS["en"])
    return yes if given else no
