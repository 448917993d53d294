"""The one search box: what a desk types, read as a patient search.

``Garcia`` (a family name), ``Garcia, Patricia`` or ``Patricia Garcia`` (family and
given), either with a birth date (``1984-03-02`` or ``3/2/1984``), a phone number (7, 10
or 11 digits, any punctuation) or an MRN (one word with digits; ``mrn 1234`` or
``phone 5550100`` to say which). An MRN is looked up in each EHR's MRN system
(``sources[].mrn_system``). The box travels in a POST body, never a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ..services.errors import InvalidRequest
from ..services.patients import PatientQuery

__all__ = ["ReadSearch", "read_search"]

_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_US = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_PHONE = re.compile(r"^[\d\s().+-]+$")
_PREFIX = re.compile(r"^(mrn|phone|name)\s*[: ]\s*(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ReadSearch:
    """The box read: the searches to run and, in words, how it was read."""

    queries: tuple[PatientQuery, ...]
    how: str
    birth_date: str | None = None


def _birth_date(text: str) -> tuple[str, str | None]:
    for pattern, order in ((_ISO, (1, 2, 3)), (_US, (3, 1, 2))):
        found = pattern.search(text)
        if found is None:
            continue
        year, month, day = (int(found.group(i)) for i in order)
        try:
            born = date(year, month, day)
        except ValueError:
            raise InvalidRequest("that birth date is not a calendar date") from None
        return (text[: found.start()] + text[found.end() :]).strip(" ,"), born.isoformat()
    return text, None


def _name(text: str) -> tuple[str, str | None]:
    if "," in text:
        family, _, given = text.partition(",")
        return family.strip(), given.strip() or None
    words = text.split()
    if len(words) == 1:
        return words[0], None
    return words[-1], " ".join(words[:-1])


def read_search(raw: str, mrn_systems: list[str]) -> ReadSearch:
    text = " ".join(raw.split())
    if not text:
        raise InvalidRequest("type a name, a name and birth date, a phone number or an MRN")
    if len(text) > 120:
        raise InvalidRequest("the search is too long")
    kind: str | None = None
    prefixed = _PREFIX.match(text)
    if prefixed:
        kind, text = prefixed.group(1).lower(), prefixed.group(2).strip()
    digits = re.sub(r"\D", "", text)
    if kind == "phone" or (kind is None and _PHONE.match(text) and len(digits) in (7, 10, 11)):
        return ReadSearch((PatientQuery(phone=text),), "a phone number")
    dated = _ISO.search(text) or _US.search(text)
    if kind == "mrn" or (
        kind is None and not dated and " " not in text and any(c.isdigit() for c in text)
    ):
        if not mrn_systems:
            raise InvalidRequest(
                "MRN search needs each EHR's MRN system in the settings (sources[].mrn_system)"
            )
        return ReadSearch(
            tuple(PatientQuery(identifier=f"{system}|{text}") for system in mrn_systems),
            "an MRN",
        )
    rest, born = _birth_date(text)
    if not rest:
        raise InvalidRequest("add the family name to the birth date")
    family, given = _name(rest)
    how = "a family name" if given is None else "a family and given name"
    if born:
        how += " and a birth date"
    return ReadSearch((PatientQuery(family=family, given=given, birthdate=born),), how, born)
