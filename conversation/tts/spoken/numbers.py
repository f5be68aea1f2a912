"""Numbers as English words (num2words underneath), in the American way a voice reads them:
no "and" inside a number, no commas that a synthesizer would pause at."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from num2words import num2words

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MAX = 10**15  # beyond this a number is an identifier: read it digit by digit


def _plain(words: str) -> str:
    return words.replace(",", "").replace(" and ", " ")


def digits(text: str) -> str:
    """ "0199" -> "zero one nine nine"."""
    return " ".join(DIGITS[int(c)] for c in text if c.isdigit())


def cardinal(text: str) -> str:
    """ "1,299" -> "one thousand two hundred ninety-nine"; "3.5" -> "three point five"."""
    clean = text.replace(",", "")
    try:
        value = Decimal(clean)
    except InvalidOperation:
        return digits(text)
    if abs(value) >= _MAX:
        return digits(text)
    if value == value.to_integral_value() and "." not in clean:
        return _plain(num2words(int(value), lang="en"))
    whole, _, fraction = clean.lstrip("-").partition(".")
    sign = "minus " if clean.startswith("-") else ""
    return f"{sign}{_plain(num2words(int(whole or '0'), lang='en'))} point {digits(fraction)}"


def ordinal(number: int) -> str:
    """22 -> "twenty-second"."""
    return _plain(num2words(number, lang="en", to="ordinal"))


def year(number: int) -> str:
    """2024 -> "twenty twenty-four"; 2009 -> "two thousand nine"; 1905 -> "nineteen oh five"."""
    return _plain(num2words(number, lang="en", to="year")).replace("oh-", "oh ")


def amount(whole: str, cents: str | None, unit: tuple[str, str], sub: tuple[str, str]) -> str:
    """ "4", "95", dollars -> "four dollars ninety-five"; "0", "50" -> "fifty cents"."""
    units = int(whole.replace(",", "") or "0")
    hundredths = int((cents or "0").ljust(2, "0")[:2])
    spoken_units = f"{cardinal(whole or '0')} {unit[0] if units == 1 else unit[1]}"
    if not hundredths:
        return spoken_units
    if not units:
        return f"{cardinal(str(hundredths))} {sub[0] if hundredths == 1 else sub[1]}"
    return f"{spoken_units} {cardinal(str(hundredths))}"
