"""What the person index compares: a patient record as a flat row of normalised fields,
and the blocking keys that find candidate records for it.

Pure functions (no I/O). Both the Splink build and the in-process scorer read these rows,
so a record is normalised one way everywhere: names folded to lower-case ASCII letters,
birth dates kept only when complete (YYYY-MM-DD), phones as their last ten digits,
addresses as postcode, street number and street line.

Blocking keys (``KEY_KINDS``) are the cheap equalities that put two records of one
person side by side: the full birth date; a phonetic surname (Soundex) with the given
initial; the two names as an unordered pair (given and family swapped); the phone; the
postcode with the street number. The index stores a keyed hash of each, never the value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final

import jellyfish

from mappers.model import HumanName, Patient

from ..services.nicknames import root

__all__ = [
    "COLUMNS",
    "KEY_KINDS",
    "Row",
    "blocking_keys",
    "query_row",
    "row_of",
]

# A row: column -> normalised value (None when unknown).
Row = dict[str, str | None]

COLUMNS: Final = (
    "unique_id",
    "source_dataset",
    "first_name",
    "first_root",
    "surname",
    "dob",
    "postcode",
    "street",
    "street_number",
    "phone",
    "sex",
)
KEY_KINDS: Final = ("dob", "sx", "names", "phone", "addr")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"^\s*(\d+)")


def _letters(text: str | None) -> str | None:
    if not text:
        return None
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in decomposed if c.isascii() and c.isalpha())
    return folded or None


def _first_given(name: HumanName | None) -> str | None:
    if name is None:
        return None
    for given in name.given:
        # "Mary Ann" typed in one field: the first word is the first name.
        first = _letters(given.split()[0]) if given.strip() else None
        if first:
            return first
    return None


def _official(patient: Patient) -> HumanName | None:
    names = [n for n in ([patient.name] if patient.name else []) + patient.other_names]
    for name in names:
        if name.use in (None, "official", "usual") and (name.family or name.given):
            return name
    return names[0] if names else None


def _phone(values: Iterable[str]) -> str | None:
    for value in values:
        digits = "".join(c for c in value if c.isdigit())
        if len(digits) >= 10:
            return digits[-10:]
    return None


def _street(lines: list[str]) -> tuple[str | None, str | None]:
    if not lines:
        return None, None
    line = _SPACES.sub(" ", unicodedata.normalize("NFKD", lines[0].casefold())).strip()
    number = _NUMBER.match(line)
    return (line or None), (number.group(1) if number else None)


def _postcode(value: str | None) -> str | None:
    if not value:
        return None
    digits = "".join(c for c in value if c.isalnum()).lower()
    return digits[:5] or None


def _sex(gender: str | None) -> str | None:
    # Only a stated male/female compares; unknown/other/missing is "no information",
    # which weighs nothing either way (a missing sex never vetoes a link).
    return gender if gender in ("male", "female") else None


def row_of(patient: Patient) -> Row:
    """``patient`` as the index compares it."""
    name = _official(patient)
    first = _first_given(name)
    family = name.family if name is not None else None
    surname = _letters(family.replace("-", " ").split()[0]) if family and family.split() else None
    dob = patient.birth_date if patient.birth_date and _DATE.match(patient.birth_date) else None
    street, number = _street(patient.address.line if patient.address else [])
    return {
        "unique_id": patient.id,
        "source_dataset": patient.source.source,
        "first_name": first,
        "first_root": root(first) if first else None,
        "surname": surname,
        "dob": dob,
        "postcode": _postcode(patient.address.postal_code if patient.address else None),
        "street": street,
        "street_number": number,
        "phone": _phone(p.value for p in patient.phones if p.value),
        "sex": _sex(patient.gender),
    }


def query_row(
    *,
    family: str | None,
    given: str | None,
    birthdate: str | None,
    phone: str | None,
) -> Row:
    """A desk's search words as a row (the fields it didn't give are unknown)."""
    first = _letters(given.split()[0]) if given and given.split() else None
    surname = _letters(family.split()[0]) if family and family.split() else None
    return {
        "unique_id": "query",
        "source_dataset": "query",
        "first_name": first,
        "first_root": root(first) if first else None,
        "surname": surname,
        "dob": birthdate if birthdate and _DATE.match(birthdate) else None,
        "postcode": None,
        "street": None,
        "street_number": None,
        "phone": _phone([phone]) if phone else None,
        "sex": None,
    }


def blocking_keys(row: Row, *, swapped: bool = False) -> list[tuple[str, str]]:
    """(kind, value) pairs of ``row``; ``swapped`` also gives the surname key read the
    other way round (a desk's words with given and family swapped)."""
    keys: list[tuple[str, str]] = []
    first, surname = row.get("first_name"), row.get("surname")
    if row.get("dob"):
        keys.append(("dob", str(row["dob"])))
    if surname and first:
        keys.append(("sx", jellyfish.soundex(surname) + first[0]))
        keys.append(("names", "|".join(sorted((first, surname)))))
        if swapped:
            keys.append(("sx", jellyfish.soundex(first) + surname[0]))
    if row.get("phone"):
        keys.append(("phone", str(row["phone"])))
    if row.get("postcode") and row.get("street_number"):
        keys.append(("addr", f"{row['postcode']}:{row['street_number']}"))
    return keys


def key_columns(row: Row) -> dict[str, str | None]:
    """The blocking keys as columns (``bk_<kind>``), as Splink's blocking rules read them."""
    out: dict[str, str | None] = {f"bk_{kind}": None for kind in KEY_KINDS}
    for kind, value in blocking_keys(row):
        out[f"bk_{kind}"] = value
    return out
