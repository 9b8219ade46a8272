"""Typed coordinates: read the forms people paste, write degrees-minutes-seconds.

Accepted (order latitude then longitude unless hemisphere letters say otherwise):
``60.1699, 24.9384`` · ``60.1699 24.9384`` · ``60.1699N 24.9384E`` · ``N60.1699 E24.9384`` ·
``60°10'11.6"N 24°56'18.2"E`` · ``60 10 11.6 N, 24 56 18.2 E`` · ``60°10.194'N 24°56.304'E`` ·
negative values, S/W hemispheres, Unicode primes (′ ″) and typographic quotes.
Decimal commas and exponents are not read: a comma separates latitude from longitude, and ``E`` is
a hemisphere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasking.errors import InputError
from tasking.rules import check_point

__all__ = [
    "EXPECTED",
    "format_dms",
    "parse_coordinates",
]


EXPECTED = "could not read coordinates: expected e.g. '60.17, 24.94' or 60°10'12\"N 24°56'18\"E"

# Every spelling of the three unit marks folded to ° ' " before tokenising.
_FOLD = str.maketrans(
    {
        "º": "°",
        "˚": "°",
        "′": "'",
        "’": "'",
        "‘": "'",
        "´": "'",
        "`": "'",
        "″": '"',
        "”": '"',
        "“": '"',
        "−": "-",
        "–": "-",
        "(": " ",
        ")": " ",
        "[": " ",
        "]": " ",
    }
)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>[°'"])?
      | (?P<hemi>[NSEW])
      | (?P<sep>[,;])
    )\s*""",
    re.VERBOSE,
)
_UNIT_SLOT = {"°": 0, "'": 1, '"': 2}
_SLOT_NAME = ("degrees", "minutes", "seconds")


@dataclass(frozen=True)
class _Num:
    text: str
    slot: int | None  # 0 degrees, 1 minutes, 2 seconds; None when unmarked


_Token = _Num | str  # a number, a hemisphere letter, or "," for a separator


def _tokenize(text: str) -> list[_Token]:
    folded = text.translate(_FOLD).replace("''", '"').upper().strip()
    tokens: list[_Token] = []
    position = 0
    while position < len(folded):
        match = _TOKEN.match(folded, position)
        if match is None or match.end() == position:
            raise InputError(EXPECTED, field="coordinates", rule="format")
        position = match.end()
        if match["num"] is not None:
            unit = match["unit"]
            tokens.append(_Num(match["num"], _UNIT_SLOT[unit] if unit else None))
        else:
            tokens.append(match["hemi"] or ",")
    return tokens


def _split(tokens: list[_Token]) -> tuple[list[_Token], list[_Token]]:
    """Cut the tokens into the two coordinates."""
    separators = [i for i, t in enumerate(tokens) if t == ","]
    if separators:
        if len(separators) > 1:
            raise InputError(
                f"{EXPECTED} (one comma between latitude and longitude; decimals use a point)",
                field="coordinates",
                rule="format",
            )
        cut = separators[0]
        return tokens[:cut], tokens[cut + 1 :]
    letters = [i for i, t in enumerate(tokens) if isinstance(t, str)]
    if len(letters) == 2:
        # Prefix style (N60 E24) cuts before the second letter, suffix style (60N 24E) after the first.
        cut = letters[1] if letters[0] == 0 else letters[0] + 1
        return tokens[:cut], tokens[cut:]
    numbers = [i for i, t in enumerate(tokens) if isinstance(t, _Num)]
    degree_marks = [i for i in numbers if isinstance(t := tokens[i], _Num) and t.slot == 0]
    if len(degree_marks) == 2 and not letters:
        return tokens[: degree_marks[1]], tokens[degree_marks[1] :]
    if not letters and len(numbers) in (2, 4, 6):
        half = len(numbers) // 2
        return tokens[:half], tokens[half:]
    raise InputError(EXPECTED, field="coordinates", rule="format")


def _value(part: list[_Token]) -> tuple[float, str | None]:
    """One coordinate as signed degrees, with its hemisphere letter if it had one."""
    if part and isinstance(part[0], str):
        letter: str | None = part[0]
        numbers = part[1:]
    elif part and isinstance(part[-1], str):
        letter = part[-1]
        numbers = part[:-1]
    else:
        letter, numbers = None, part
    nums = [n for n in numbers if isinstance(n, _Num)]
    if not 1 <= len(nums) <= 3 or len(nums) != len(numbers):
        raise InputError(EXPECTED, field="coordinates", rule="format")

    values = [0.0, 0.0, 0.0]
    next_slot = 0
    for index, num in enumerate(nums):
        slot = next_slot if num.slot is None else num.slot
        if slot < next_slot or slot > 2:
            raise InputError(
                "degrees, minutes and seconds must come in that order",
                field="coordinates",
                rule="dms-order",
            )
        if index > 0 and num.text[0] in "+-":
            raise InputError(
                f"{_SLOT_NAME[slot]} must not carry a sign; put it on the degrees",
                field="coordinates",
                rule="dms-sign",
            )
        if index < len(nums) - 1 and "." in num.text:
            raise InputError(
                f"only the last of degrees, minutes and seconds may have decimals"
                f" ({_SLOT_NAME[slot]} {num.text.lstrip('+-')} is followed by more)",
                field="coordinates",
                rule="dms-decimals",
            )
        values[slot] = abs(float(num.text))
        next_slot = slot + 1
    degrees, minutes, seconds = values
    if minutes >= 60:
        raise InputError("minutes must be < 60", field="coordinates", rule="minutes-range")
    if seconds >= 60:
        raise InputError("seconds must be < 60", field="coordinates", rule="seconds-range")
    negative = nums[0].text.startswith("-")
    if negative and letter is not None:
        raise InputError(
            "use a minus sign or a hemisphere letter, not both",
            field="coordinates",
            rule="sign-and-hemisphere",
        )
    value = degrees + minutes / 60 + seconds / 3600
    if negative or letter in ("S", "W"):
        value = -value
    return value, letter


def parse_coordinates(text: str) -> tuple[float, float]:
    """``(lat, lon)`` in decimal degrees from typed text, or ``InputError`` naming the rule."""
    first, second = _split(_tokenize(text))
    (a, a_letter), (b, b_letter) = _value(first), _value(second)
    a_is_lon = a_letter in ("E", "W")
    b_is_lat = b_letter in ("N", "S")
    if (a_letter in ("N", "S") and b_is_lat) or (a_is_lon and b_letter in ("E", "W")):
        raise InputError(
            "one coordinate must be N/S (latitude) and the other E/W (longitude)",
            field="coordinates",
            rule="hemispheres",
        )
    lat, lon = (b, a) if a_is_lon or b_is_lat else (a, b)
    check_point(lat, lon)
    return lat, lon


def _dms(value: float, positive: str, negative: str, decimals: int) -> str:
    scale = 10**decimals
    # Round once, in whole units of the last printed digit, so 59.96" carries into the minutes.
    total = round(abs(value) * 3600 * scale)
    degrees, rest = divmod(total, 3600 * scale)
    minutes, seconds = divmod(rest, 60 * scale)
    width = 2 + (decimals + 1 if decimals else 0)
    sec = f"{seconds / scale:0{width}.{decimals}f}"
    hemisphere = negative if value < 0 and total else positive
    return f"{degrees}°{minutes:02d}'{sec}\"{hemisphere}"


def format_dms(lat: float, lon: float, decimals: int = 1) -> str:
    """``60°10'11.6"N 24°56'18.2"E``: seconds with ``decimals`` digits (0.1" ≈ 3 m by default)."""
    check_point(lat, lon)
    return f"{_dms(lat, 'N', 'S', decimals)} {_dms(lon, 'E', 'W', decimals)}"
