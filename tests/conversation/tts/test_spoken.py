"""The spoken form of written English: what the voice says, while the subtitle keeps the text."""

from __future__ import annotations

import pytest

from conversation.tts.spoken import spoken_form

CASES = [
    # money
    ("It costs $4.95.", "It costs four dollars ninety-five."),
    ("Shipping is $5.", "Shipping is five dollars."),
    ("Only $1 today.", "Only one dollar today."),
    ("Add $0.50 for wrapping.", "Add fifty cents for wrapping."),
    (
        "The sofa is $1,299.99.",
        "The sofa is one thousand two hundred ninety-nine dollars ninety-nine.",
    ),
    ("We raised $2.5 million.", "We raised two point five million dollars."),
    ("That is €10 in Europe.", "That is ten euros in Europe."),
    ("It was £3.20 in London.", "It was three pounds twenty in London."),
    # plain numbers and decimals
    ("We have 30 stores.", "We have thirty stores."),
    ("Over 1,000 items ship daily.", "Over one thousand items ship daily."),
    ("It weighs 3.5 times more.", "It weighs three point five times more."),
    ("It dropped to -5 overnight.", "It dropped to minus five overnight."),
    ("Order 250 or more.", "Order two hundred fifty or more."),
    # ranges
    ("Delivery takes 3-5 days.", "Delivery takes three to five days."),
    ("Open Mon-Sat.", "Open Monday to Saturday."),
    # percentages
    ("Students get 10% off.", "Students get ten percent off."),
    ("Rates rose 2.5% this year.", "Rates rose two point five percent this year."),
    # ordinals
    ("You are 1st in line.", "You are first in line."),
    ("It is our 22nd year.", "It is our twenty-second year."),
    ("The 3rd option is best.", "The third option is best."),
    # dates
    ("It ships on 2024-05-01.", "It ships on May first, twenty twenty-four."),
    ("Order by 12/24/2025 please.", "Order by December twenty-fourth, twenty twenty-five please."),
    ("The sale ends March 3rd.", "The sale ends March third."),
    ("We close on 25 December.", "We close on the twenty-fifth of December."),
    ("We opened in 1998.", "We opened in nineteen ninety-eight."),
    ("Since 2009 we ship worldwide.", "Since two thousand nine we ship worldwide."),
    # times
    ("Order before 2 p.m. today.", "Order before two p m today."),
    ("Call after 9am.", "Call after nine a m."),
    ("We open at 9:30 AM on weekdays.", "We open at nine thirty a m on weekdays."),
    ("The store closes at 18:45.", "The store closes at eighteen forty-five."),
    ("Pick-up starts at 9:05.", "Pick-up starts at nine oh five."),
    ("Doors open at 10:00.", "Doors open at ten o'clock."),
    ("We close at 6 p.m.", "We close at six p m."),
    # phone numbers
    ("Call us at 555-0199.", "Call us at five five five, zero one nine nine."),
    ("Dial (555) 123-4567 now.", "Dial five five five, one two three, four five six seven now."),
    ("Call +1 555 123 4567.", "Call plus one, five five five, one two three, four five six seven."),
    (
        "Call 1-800-555-0199 free.",
        "Call one, eight zero zero, five five five, zero one nine nine free.",
    ),
    # e-mail addresses
    (
        "Write to help@northwind.example today.",
        "Write to help at northwind dot example today.",
    ),
    ("Mail jane.doe_2@shop.co.uk.", "Mail jane dot doe underscore two at shop dot co dot uk."),
    # URLs
    (
        "See https://northwind.example/returns for details.",
        "See northwind dot example slash returns for details.",
    ),
    ("Visit www.northwind.example.", "Visit w w w dot northwind dot example."),
    (
        "Go to northwind-goods.com/help/faq.",
        "Go to northwind dash goods dot com slash help slash faq.",
    ),
    # abbreviations
    ("Bring an ID, e.g. a passport.", "Bring an I D, for example a passport."),
    ("Dr. Smith will call you.", "Doctor Smith will call you."),
    ("Check the FAQ first.", "Check the F A Q first."),
    ("Pens, paper, etc.", "Pens, paper, et cetera."),
    ("Reply ASAP please.", "Reply as soon as possible please."),
    ("Ask for order No. 5.", "Ask for order number five."),
    # units
    ("The box weighs 2 kg.", "The box weighs two kilograms."),
    ("It takes 1 hr to charge.", "It takes one hour to charge."),
    ("Keep it below 30 °C.", "Keep it below thirty degrees Celsius."),
    # symbols
    ("Tea & coffee.", "Tea and coffee."),
    ("Ask for item #42.", "Ask for item number forty-two."),
    ("Choose red/blue.", "Choose red or blue."),
    ("Support is open 24/7.", "Support is open twenty-four seven."),
    ("Add 1/2 cup.", "Add one half cup."),
    ("Size S + M.", "Size S plus M."),
    ("Great deals — today only.", "Great deals, today only."),
]


@pytest.mark.parametrize(("written", "spoken"), CASES, ids=[c[0] for c in CASES])
def test_english_written_forms_are_spoken_as_words(written: str, spoken: str) -> None:
    assert spoken_form(written, "en") == spoken


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_plain_sentences_pass_unchanged() -> None:
    for text in (
        "You can return any item within thirty days.",
        "Maybe 5 is enough.".replace("5", "five"),
        "We accept Visa, Mastercard and PayPal.",
    ):
        assert spoken_form(text, "en-US") == text


@pytest.mark.parametrize(
    "text",
    [
        "Thanks! 😀👍🏽 See you soon 🇺🇸",
        "bell\x07 null\x00 escape\x1b[31m red\x7f",
        "word " * 200 + "12345678901234567890 $99999999999999999999.99 100%%%",
        "Mixed: こんにちは, Привет, مرحبا, नमस्ते and hello at 9:30.",
        "\u200d\ufe0f\u20e3 \U000e0067 \U0010fffd \ud7ff",
        "$ % # / & @ - . , : ; ! ?",
        "1/0 0/0 99:99 00:00 13/45/2024 2024-13-45 +++ 1-2-3-4-5-6-7-8-9",
        "[[h@loU]] {braces} <tags> `code` *stars* _under_ |pipes| \\back\\",
    ],
)
@pytest.mark.parametrize("language", ["en", "de", "ja", "zz"])
def test_bad_input_is_spoken_or_skipped_never_a_crash(text: str, language: str) -> None:
    spoken = spoken_form(text, language)
    assert isinstance(spoken, str)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in spoken)
    assert "😀" not in spoken and "\u200d" not in spoken


def test_nothing_speakable_is_empty() -> None:
    assert spoken_form("😀 👍🏽 …", "en") == ""
    assert spoken_form("\x00\x01", "de") == ""
    assert spoken_form("", "en") == ""


def test_other_languages_keep_their_words() -> None:
    assert spoken_form("Wir öffnen um 9:30 Uhr 😀", "de") == "Wir öffnen um 9:30 Uhr"
    assert spoken_form("営業時間は９時からです。", "ja") == "営業時間は９時からです。"
    assert spoken_form("नमस्ते दुनिया", "hi") == "नमस्ते दुनिया"  # vowel signs stay
