"""Rules every outbound builder shares: the error they raise, R4B validation, and the
checks of values the desk or the gateway hands in. Messages name fields, never values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Final

from pydantic import ValidationError

from ..errors import MappingError
from ..ids import is_fhir_id

__all__ = [
    "REF",
    "OutboundError",
    "aware",
    "concept",
    "fhir_date",
    "instant",
    "reference",
    "require_uri",
    "text",
    "validated",
]

REF: Final = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9.\-]{1,64})")
_URI: Final = re.compile(r"\S+")


class OutboundError(MappingError):
    """A resource we were about to send is not valid; ``path`` names the field."""


def validated(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with fhir.resources R4B; the first error becomes an OutboundError."""
    rtype = resource["resourceType"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"] if p != "__root__")
        # pydantic's msg names the rule, not the value (the value is only in str(exc)).
        raise OutboundError(f"{rtype}.{path}" if path else rtype, first["msg"]) from None
    return resource


def reference(ref: str, field: str, types: Iterable[str]) -> str:
    """``ref`` when it is a relative ``Type/id`` reference to one of ``types``."""
    m = REF.fullmatch(ref) if isinstance(ref, str) else None
    if m is not None and not is_fhir_id(m.group(2)):
        m = None
    allowed = set(types)
    if m is None or m.group(1) not in allowed:
        raise OutboundError(field, f"must be a reference like {sorted(allowed)[0]}/<id>")
    return ref


def concept(code: str, system: str | None, field: str) -> dict[str, Any]:
    if not isinstance(code, str) or not code.strip():
        raise OutboundError(field, "code must be a non-empty string")
    coding: dict[str, Any] = {"code": code.strip()}
    if system is not None:
        require_uri(system, field + ".system")
        coding = {"system": system, **coding}
    return {"coding": [coding]}


def require_uri(value: str, field: str) -> None:
    if not isinstance(value, str) or not _URI.fullmatch(value):
        raise OutboundError(field, "must be a URI without spaces")


def text(value: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OutboundError(field, "must be non-empty text")
    return value.strip()


def aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise OutboundError(field, "must be a timezone-aware datetime")
    return value


def instant(value: datetime) -> str:
    """FHIR instant: seconds always, milliseconds when present, an explicit offset."""
    spec = "milliseconds" if value.microsecond else "seconds"
    out = value.isoformat(timespec=spec)
    return out[:-6] + "Z" if out.endswith("+00:00") else out


def fhir_date(value: date) -> str:
    return value.isoformat()
