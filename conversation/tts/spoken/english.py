"""English written forms read aloud: e-mails, URLs, phone numbers, dates, times, money,
percentages, ordinals, units, abbreviations and symbols become the words a person would say.

The rules run in order, each on what the ones before it left, so the more specific shapes
(an e-mail address, a phone number, a date) are spoken before their digits and dots could be
read as plain numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from conversation.tts.spoken.numbers import amount, cardinal, digits, ordinal, year

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_BY_PREFIX = {m[:3].lower(): m for m in MONTHS}
_MONTH_SHORT = ("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sept", "Sep", "Oct", "Nov", "Dec")
_MONTH = "(?:" + "|".join([*MONTHS, *_MONTH_SHORT]) + r")\b\.?"
_DAYS = {
    d[:3].lower(): d
    for d in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
}
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\.?"
_TLD = r"(?:com|org|net|edu|gov|io|co|uk|us|ca|de|fr|eu|info|biz|example|shop|store|app|dev|ai)"
_CURRENCIES = {
    "$": (("dollar", "dollars"), ("cent", "cents")),
    "€": (("euro", "euros"), ("cent", "cents")),
    "£": (("pound", "pounds"), ("penny", "pence")),
}
_SCALES = {"k": "thousand", "m": "million", "bn": "billion"}
_UNITS = {
    "km": ("kilometer", "kilometers"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "h": ("hour", "hours"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
}
_ABBREVIATIONS = {
    "e.g.": "for example",
    "i.e.": "that is",
    "etc.": "et cetera",
    "approx.": "approximately",
    "vs.": "versus",
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Dr.": "Doctor",
    "Prof.": "Professor",
    "Dept.": "department",
    "Ltd.": "limited",
    "Inc.": "incorporated",
    "ASAP": "as soon as possible",
    "FAQ": "F A Q",
    "FAQs": "F A Qs",
    "ETA": "E T A",
    "ID": "I D",
    "PIN": "pin",
    "w/o": "without",
    "w/": "with",
    "24/7": "twenty-four seven",
}
_FRACTIONS = {"1/2": "one half", "1/3": "one third", "1/4": "one quarter", "3/4": "three quarters"}
_SYMBOLS = {
    "&": " and ",
    "+": " plus ",
    "=": " equals ",
    "@": " at ",
    "~": " about ",
    "×": " times ",
    "°": " degrees ",
    "%": " percent ",
    "–": ", ",
    "—": ", ",
}
_URL_SEPARATORS = {
    ".": "dot",
    "/": "slash",
    "-": "dash",
    "_": "underscore",
    "?": "question mark",
    "=": "equals",
    "&": "and",
    "#": "hash",
    "+": "plus",
    ":": "colon",
    "~": "tilde",
    "%": "percent",
}


def _spell(part: str, separators: dict[str, str] = _URL_SEPARATORS) -> str:
    """An address piece: words as they are, separators named, digits one by one."""
    out = []
    for token in re.findall(r"[A-Za-z]+|\d+|.", part):
        if token.isdigit():
            out.append(digits(token) if len(token) > 2 else cardinal(token))
        elif token in separators:
            out.append(separators[token])
        elif token.isalpha():
            out.append(token)
    return " ".join(out)


def _keep_final_period(match: re.Match[str], spoken: str) -> str:
    """A shape that swallowed the sentence's final "." (p.m., etc.) gives it back."""
    if match.group(0).endswith(".") and match.end() == len(match.string):
        return spoken + "."
    return spoken


def _email(m: re.Match[str]) -> str:
    return f"{_spell(m.group(1))} at {_spell(m.group(2))}"


def _url(m: re.Match[str]) -> str:
    host, path = m.group(2), m.group(3) or ""
    tail = ""
    while path and path[-1] in ".,?!":
        path, tail = path[:-1], path[-1] + tail
    spoken = _spell(host.removeprefix("www.").removeprefix("WWW."))
    if host.lower().startswith("www."):
        spoken = "w w w dot " + spoken
    if path.strip("/"):
        spoken += " " + _spell(path.rstrip("/"))
    return spoken + tail


def _phone(m: re.Match[str]) -> str:
    text = m.group(0)
    if sum(c.isdigit() for c in text) < 7:
        return text
    groups = re.findall(r"\d+", text)
    spoken = ", ".join(digits(g) for g in groups)
    return ("plus " + spoken) if text.startswith("+") else spoken


def _month_name(written: str) -> str:
    return _MONTH_BY_PREFIX.get(written.rstrip(".").lower()[:3], written)


def _iso_date(m: re.Match[str]) -> str:
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group(0)
    return f"{MONTHS[mo - 1]} {ordinal(d)}, {year(y)}"


def _us_date(m: re.Match[str]) -> str:
    mo, d, y = int(m.group(1)), int(m.group(2)), m.group(3)
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group(0)
    full = int(y) + (2000 if len(y) == 2 else 0)
    return f"{MONTHS[mo - 1]} {ordinal(d)}, {year(full)}"


def _clock(hour: str, minute: str | None) -> str:
    spoken = cardinal(str(int(hour)))
    if minute is None or minute == "00":
        return spoken
    if minute.startswith("0"):
        return f"{spoken} oh {cardinal(minute[1])}"
    return f"{spoken} {cardinal(minute)}"


def _time_of_day(m: re.Match[str]) -> str:
    spoken = f"{_clock(m.group(1), m.group(2))} {m.group(3).lower()} m"
    return _keep_final_period(m, spoken)


def _time(m: re.Match[str]) -> str:
    hour, minute = m.group(1), m.group(2)
    if int(hour) > 24 or int(minute) > 59:
        return m.group(0)
    if minute == "00":
        return f"{cardinal(str(int(hour)))} o'clock"
    return _clock(hour, minute)


def _money(m: re.Match[str]) -> str:
    unit, sub = _CURRENCIES[m.group(1)]
    whole, cents, scale = m.group(2), m.group(3), m.group(4)
    if scale:
        number = cardinal(whole + (f".{cents}" if cents else ""))
        return f"{number} {_SCALES.get(scale.lower(), scale.lower())} {unit[1]}"
    return amount(whole, cents, unit, sub)


def _unit(m: re.Match[str]) -> str:
    number, unit = m.group(1), m.group(2)
    words = _UNITS.get(unit) or _UNITS[unit.lower()]
    return f"{cardinal(number)} {words[0] if number == '1' else words[1]}"


_YEAR_CONTEXT = re.compile(r"(?:\b(?:in|since|from|until|till|of|by|year)|,)\s*$", re.IGNORECASE)


def _number(m: re.Match[str]) -> str:
    text = m.group(0)
    if re.fullmatch(r"(1[2-9]|20)\d\d", text) and _YEAR_CONTEXT.search(m.string, 0, m.start()):
        return year(int(text))
    return cardinal(text)


def _replace_words(table: dict[str, str]) -> Rule:
    keys = sorted(table, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w/])(?!\.\w)"
    )
    return pattern, lambda m: _keep_final_period(m, table[m.group(1)])


_UNIT_NAMES = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"

RULES: list[Rule] = [
    (
        re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"),
        _email,
    ),
    (
        re.compile(
            rf"(?<![\w@.])(?:(https?)://)?((?:www\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.{_TLD})"
            r"(?![\w-])((?:/[\w.~%?=&#+-]*)*)",
            re.IGNORECASE,
        ),
        _url,
    ),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), _iso_date),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b"), _us_date),
    (
        re.compile(
            r"(?<![\w/.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?)?\d{1,4}(?:[.-]\d{2,4}){1,4}"
            r"(?![\w/-]|[.,]\d)|(?<![\w/.])(?:\+\d{1,3}\s?)?\(?\d{3,4}\)?(?:\s\d{3,4}){1,3}"
            r"(?![\w/-]|[.,]\d)"
        ),
        _phone,
    ),
    _replace_words(_ABBREVIATIONS),
    (
        re.compile(rf"\b({_DAY})\s?[-–]\s?({_DAY})(?!\w)"),
        lambda m: _keep_final_period(
            m, f"{_DAYS[m.group(1)[:3].lower()]} to {_DAYS[m.group(2)[:3].lower()]}"
        ),
    ),
    (
        re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!:)"),
        lambda m: f"{_month_name(m.group(1))} {ordinal(int(m.group(2)))}",
    ),
    (
        re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})(?!\w)"),
        lambda m: _keep_final_period(
            m, f"the {ordinal(int(m.group(1)))} of {_month_name(m.group(2))}"
        ),
    ),
    (
        re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s?([AaPp])\.?\s?[Mm]\b\.?"),
        _time_of_day,
    ),
    (re.compile(r"\b(\d{1,2}):(\d{2})\b(?!:)"), _time),
    (
        re.compile(
            r"([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?!\d)"
            r"(?:\s?(thousand|million|billion|bn|k|m)\b)?",
            re.IGNORECASE,
        ),
        _money,
    ),
    (re.compile(rf"({_NUMBER})\s?%"), lambda m: f"{cardinal(m.group(1))} percent"),
    (
        re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE),
        lambda m: ordinal(int(m.group(1))),
    ),
    (re.compile(r"#\s?(\d)"), lambda m: f"number {m.group(1)}"),
    (re.compile(r"\bNo\.\s?(?=\d)"), lambda m: "number "),
    (
        re.compile(rf"(?<![\w.])({_NUMBER})\s?({_UNIT_NAMES})(?![\w/])"),
        _unit,
    ),
    (
        re.compile(r"(?<![\w/])(\d+)/(\d+)(?![\w/])"),
        lambda m: _FRACTIONS.get(m.group(0), f"{cardinal(m.group(1))} over {cardinal(m.group(2))}"),
    ),
    (
        re.compile(rf"(?<![\w.])({_NUMBER})\s?[-–]\s?({_NUMBER})(?![\w])"),
        lambda m: f"{cardinal(m.group(1))} to {cardinal(m.group(2))}",
    ),
    (re.compile(rf"(?<![\w.,])-?(?:{_NUMBER})(?!\d)"), _number),
    (re.compile(r"(?<=[A-Za-z])/(?=[A-Za-z])"), lambda m: " or "),
    (re.compile("[" + re.escape("".join(_SYMBOLS)) + "]"), lambda m: _SYMBOLS[m.group(0)]),
    (re.compile(r"#"), lambda m: " hash "),
    (re.compile(r"[*_|^`<>{}\[\]\\/]"), lambda m: " "),
]


def speak_english(text: str) -> str:
    for pattern, spoken in RULES:
        text = pattern.sub(spoken, text)
    return text
