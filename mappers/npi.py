"""National Provider Identifiers: ten digits, the last a Luhn check digit computed over
the card-issuer prefix 80840 and the first nine (CMS, "NPI check digit")."""

from __future__ import annotations

import re

__all__ = ["NPI_SYSTEM", "is_valid_npi", "npi_check_digit"]

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
_NPI = re.compile(r"[12]\d{9}")


def _luhn_sum(digits: str, *, double_odd: bool) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if (i % 2 == 1) == double_odd:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def npi_check_digit(first_nine: str) -> str:
    """The tenth digit for ``first_nine`` (nine ASCII digits)."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("an NPI check digit needs nine digits")
    # The check digit is not there yet, so the digit doubled first is the last one given.
    return str((10 - _luhn_sum("80840" + first_nine, double_odd=False) % 10) % 10)


def is_valid_npi(npi: str) -> bool:
    """Ten digits starting 1 or 2 whose last is the check digit of the first nine."""
    return (
        isinstance(npi, str)
        and _NPI.fullmatch(npi) is not None
        and _luhn_sum("80840" + npi, double_odd=True) % 10 == 0
    )
