"""Shapes of what a client sends, stated once: the OpenAPI document carries these patterns
and bounds, and the server enforces exactly them, so a request the schema allows is
never refused for its shape and one it forbids never gets through.

Patterns are written for both readers: JSON Schema (ECMA-262) and pydantic's regex
engine; no look-arounds, ``^``/``$`` anchored. Calendar dates are spelled out (month
lengths, leap days) inside the years the gateway serves, 1900 to 2199.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator, WithJsonSchema

__all__ = [
    "DATE_PATTERN",
    "DESK_TIME_PATTERN",
    "FORBIDDEN_CHARACTERS",
    "GATEWAY_ID_PATTERN",
    "HOLD_TOKEN_PATTERN",
    "PARTIAL_DATE_PATTERN",
    "SOURCE_PATTERN",
    "TEXT_PATTERN",
    "BodyDate",
    "GatewayIdPath",
    "GatewayIdQuery",
    "SourceQuery",
]

_YEAR = r"(?:19|20|21)[0-9]{2}"
_LEAP_YEAR = r"(?:(?:19|20|21)(?:0[48]|[2468][048]|[13579][26])|2000)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_OFFSET = r"(?:Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)"

DATE_PATTERN = rf"^{_DATE}$"
# A date, or a date and time on the tenant's wall clock, or with an offset an instant.
DESK_TIME_PATTERN = rf"^{_DATE}(?:{_TIME}{_OFFSET}?)?$"
# FHIR date search precision: a year, a month or a day.
PARTIAL_DATE_PATTERN = rf"^(?:{_YEAR}|{_YEAR}-(?:0[1-9]|1[0-2])|{_DATE})$"
# Gateway ids are base64url, at least "s/Tt/i" encoded; what doesn't decode is "not found".
GATEWAY_ID_PATTERN = r"^[A-Za-z0-9_-]{8,300}$"
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
HOLD_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{8,100}$"
# Text that goes upstream: no control characters, no invisible formatting (zero-width,
# bidirectional overrides, byte order marks) that could split a line or hide a value.
FORBIDDEN_CHARACTERS = (
    r"\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
TEXT_PATTERN = rf"^[^{FORBIDDEN_CHARACTERS}]+$"


GatewayIdPath = Annotated[str, Path(pattern=GATEWAY_ID_PATTERN, max_length=300)]
GatewayIdQuery = Annotated[str | None, Query(pattern=GATEWAY_ID_PATTERN, max_length=300)]
SourceQuery = Annotated[
    str | None, Query(pattern=SOURCE_PATTERN, max_length=63, description="One source (EHR) id.")
]


def _iso_date_only(value: object) -> object:
    """A date in a JSON body is a YYYY-MM-DD string (pydantic alone would also take a
    number of seconds or a date-time): what the schema says, nothing else."""
    if isinstance(value, date) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    ):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


# A calendar date in a JSON body: the ISO form only, inside the served years.
BodyDate = Annotated[
    date,
    BeforeValidator(_iso_date_only),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]


def text(max_length: int, description: str | None = None) -> dict[str, object]:
    """Keyword arguments of ``Query``/``Field`` for a piece of free text."""
    out: dict[str, object] = {"min_length": 1, "max_length": max_length, "pattern": TEXT_PATTERN}
    if description is not None:
        out["description"] = description
    return out
