"""FHIR R4 primitive readers shared by the resource mappers.

Inbound lenient: each reader takes raw JSON values, returns a typed value or
``None``, and appends a warning (never the value itself: no PHI in warnings)
when something was present but unusable. Only the caller decides whether a
missing value makes the record unusable (``MappingError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .errors import MappingError
from .ids import InvalidId, encode_id

__all__ = [
    "Ctx",
    "as_list",
    "as_str",
    "codeable_codes",
    "codeable_text",
    "parse_date_floor",
    "parse_datetime",
    "parse_partial_date",
    "parse_reference",
]

_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?"
)
_REL_REF = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9.\-]{1,64})(?:/_history/([A-Za-z0-9.\-]{1,64}))?")


class Ctx:
    """Mapping context of one resource: its source, its type and the warnings so far."""

    __slots__ = ("resource_type", "source", "warnings")

    def __init__(self, source: str, resource_type: str) -> None:
        self.source = source
        self.resource_type = resource_type
        self.warnings: list[str] = []

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append(f"{self.resource_type}.{path}: {reason}")

    def fail(self, path: str, reason: str) -> MappingError:
        return MappingError(f"{self.resource_type}.{path}", reason)

    def ref_id(self, raw: Any, path: str, expected: str | None = None) -> str | None:
        """Gateway id for a Reference to a record of this source, or None (with a warning)."""
        parsed = parse_reference(raw)
        if parsed is None:
            if isinstance(raw, Mapping) and raw.get("display") is None and raw:
                self.warn(path, "reference not resolvable")
            return None
        rtype, rid = parsed
        if expected is not None and rtype != expected:
            self.warn(path, f"expected a {expected} reference, got {rtype}")
            return None
        try:
            return encode_id(self.source, rtype, rid)
        except InvalidId:
            self.warn(path, "reference id has an invalid format")
            return None


def as_str(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def as_list(value: Any) -> list[Any]:
    """A JSON array as a list; a lone object (a common vendor slip) as a one-item list."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def parse_partial_date(value: Any) -> str | None:
    """FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) kept at its precision, or None."""
    if not isinstance(value, str):
        return None
    m = _PARTIAL_DATE.fullmatch(value.strip())
    if m is None:
        return None
    year, month, day = m.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    return m.group(0)


def parse_date_floor(value: Any, *, end: bool = False) -> date | None:
    """A FHIR date or dateTime as a calendar date.

    Partial dates widen to the first day of their period, or to the last when
    ``end`` is set (a coverage ending "2025-06" covers all of June).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _PARTIAL_DATE.match(text)
    if m is None:
        return None
    rest = text[m.end() :]
    if rest and not rest.startswith("T"):
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day is not None and month is not None:
            return date(year, int(month), int(day))
        if month is not None:
            first = date(year, int(month), 1)
            if not end:
                return first
            nxt = date(year + (first.month == 12), first.month % 12 + 1, 1)
            return nxt - timedelta(days=1)
        return date(year, 12, 31) if end else date(year, 1, 1)
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    """A FHIR dateTime/instant with a time and an offset (or Z) as an aware datetime.

    A dateTime without an offset is ambiguous for scheduling; it returns None
    and the caller decides (usually a warning, or an error for Slot.start).
    """
    if not isinstance(value, str):
        return None
    m = _DATETIME.fullmatch(value.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if tz is None:
        return None
    if tz == "Z":
        tzinfo = timezone.utc
    else:
        sign = 1 if tz[0] == "+" else -1
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if hours > 14 or minutes > 59:
            return None
        tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micro, tzinfo)
    except ValueError:
        return None


def parse_reference(raw: Any) -> tuple[str, str] | None:
    """(type, id) of a FHIR Reference.

    Accepts ``Type/id``, ``Type/id/_history/v``, absolute URLs ending in one of
    those, and a Reference with ``type`` + ``identifier`` is not resolvable
    (None). Contained (``#id``) and display-only references give None.
    """
    if not isinstance(raw, Mapping):
        return None
    ref = raw.get("reference")
    if not isinstance(ref, str) or not ref or ref.startswith("#"):
        return None
    ref = ref.strip()
    if "://" in ref or ref.startswith("urn:"):
        if ref.startswith("urn:"):
            return None
        path = ref.split("?", 1)[0].rstrip("/")
        parts = path.split("/")
        # Find the last Type/id(/_history/v) tail of the URL.
        for i in range(len(parts) - 2, 0, -1):
            m = _REL_REF.fullmatch("/".join(parts[i:]))
            if m is not None:
                return m.group(1), m.group(2)
        return None
    m = _REL_REF.fullmatch(ref)
    if m is None:
        return None
    return m.group(1), m.group(2)


def codeable_codes(raw: Any) -> list[str]:
    """The codes of a CodeableConcept (or of a list of them), in order, without duplicates."""
    out: list[str] = []
    for concept in as_list(raw):
        if not isinstance(concept, Mapping):
            continue
        for coding in as_list(concept.get("coding")):
            if isinstance(coding, Mapping):
                code = as_str(coding.get("code"))
                if code is not None and code not in out:
                    out.append(code)
        if not concept.get("coding"):
            text = as_str(concept.get("text"))
            if text is not None and text not in out:
                out.append(text)
    return out


def codeable_text(raw: Any) -> str | None:
    """Human words for a CodeableConcept: its text, else the first coding's display or code."""
    if not isinstance(raw, Mapping):
        return None
    text = as_str(raw.get("text"))
    if text is not None:
        return text
    for coding in as_list(raw.get("coding")):
        if isinstance(coding, Mapping):
            label = as_str(coding.get("display")) or as_str(coding.get("code"))
            if label is not None:
                return label
    return None
