"""FHIR R4 primitive readers shared by the resource mappers.

Inbound lenient: each reader takes raw JSON values, returns a typed value or
``None``, and appends a warning (never the value itself: no PHI in warnings)
when something was present but unusable. Only the caller decides whether a
missing value makes the record unusable (``MappingError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from .errors import MappingError
from .fhir_dates import datetime_problem, parse_date_floor, parse_datetime, parse_partial_date
from .ids import InvalidId, encode_id

__all__ = [
    "OBJECT",
    "Ctx",
    "as_bool",
    "as_list",
    "as_str",
    "codeable_codes",
    "codeable_text",
    "contained_index",
    "datetime_problem",
    "first_code",
    "has_end",
    "identifier_type",
    "parse_date_floor",
    "parse_datetime",
    "parse_partial_date",
    "parse_reference",
    "read_code",
    "read_datetime",
    "read_identifiers",
    "record_head",
]

# For isinstance checks on JSON objects. dict comes first: parsed JSON is made of
# dicts, and the exact-type check is far cheaper than the Mapping ABC check.
OBJECT: Final = (dict, Mapping)

_REL_REF = re.compile(
    r"([A-Z][A-Za-z]+)/([A-Za-z0-9.\-]{1,64})(?:/_history/([A-Za-z0-9.\-]{1,64}))?"
)


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
            if isinstance(raw, OBJECT) and raw.get("display") is None and raw:
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


def parse_reference(raw: Any) -> tuple[str, str] | None:
    """(type, id) of a FHIR Reference.

    Accepts ``Type/id``, ``Type/id/_history/v``, absolute URLs ending in one of
    those, and a Reference with ``type`` + ``identifier`` is not resolvable
    (None). Contained (``#id``) and display-only references give None.
    """
    if not isinstance(raw, OBJECT):
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
        if not isinstance(concept, OBJECT):
            continue
        for coding in as_list(concept.get("coding")):
            if isinstance(coding, OBJECT):
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
    if not isinstance(raw, OBJECT):
        return None
    text = as_str(raw.get("text"))
    if text is not None:
        return text
    for coding in as_list(raw.get("coding")):
        if isinstance(coding, OBJECT):
            label = as_str(coding.get("display")) or as_str(coding.get("code"))
            if label is not None:
                return label
    return None


def as_bool(value: Any) -> bool | None:
    """A JSON boolean, or None (``"true"`` strings are not booleans in FHIR JSON)."""
    return value if isinstance(value, bool) else None


def first_code(raw: Any) -> str | None:
    """The first code of a CodeableConcept (or its text when it has no coding)."""
    codes = codeable_codes(raw)
    return codes[0] if codes else None


def has_end(period: Any) -> bool:
    """Whether a Period carries an end, i.e. the element is no longer current.

    Deliberately clock-free (mappers stay pure and deterministic): FHIR data
    rarely records a planned future end for a name, address or identifier.
    """
    return isinstance(period, OBJECT) and period.get("end") is not None


def contained_index(resource: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Contained resources by their local id, for ``#id`` references."""
    out: dict[str, Mapping[str, Any]] = {}
    contained = resource.get("contained")
    if not contained:
        return out
    for res in as_list(contained):
        if isinstance(res, OBJECT):
            rid = as_str(res.get("id"))
            if rid is not None:
                out[rid] = res
    return out


def read_datetime(raw: Any, ctx: Ctx, path: str) -> datetime | None:
    """An aware datetime, or None with a warning when present but unusable."""
    if raw is None:
        return None
    when = parse_datetime(raw)
    if when is None:
        ctx.warn(path, datetime_problem(raw))
    return when


def read_code(raw: Any, ctx: Ctx, path: str, known: frozenset[str]) -> str | None:
    """A code string; one outside ``known`` is kept as given, with a warning."""
    code = as_str(raw)
    if code is None:
        if raw is not None:
            ctx.warn(path, "not a code string")
        return None
    if code not in known:
        ctx.warn(path, "code outside the expected value set; kept as given")
    return code


def record_head(resource: Mapping[str, Any], ctx: Ctx) -> dict[str, Any]:
    """``id`` and ``source`` of a record, as validated-model input.

    Raises MappingError when the upstream id is missing or not a FHIR id: a
    record we cannot point back to is unusable.
    """
    raw_id = resource.get("id")
    rid = as_str(raw_id)
    if rid is None:
        raise ctx.fail("id", "missing" if raw_id is None else "not a string")
    try:
        gid = encode_id(ctx.source, ctx.resource_type, rid)
    except InvalidId:
        raise ctx.fail("id", "not a FHIR id, or the source name is invalid") from None
    source: dict[str, Any] = {
        "source": ctx.source,
        "resource_type": ctx.resource_type,
        "id": rid,
        "version": None,
        "last_updated": None,
    }
    meta = resource.get("meta")
    if isinstance(meta, OBJECT):
        version = meta.get("versionId")
        if version is not None:
            source["version"] = as_str(version)
            if source["version"] is None:
                ctx.warn("meta.versionId", "not a string")
        source["last_updated"] = read_datetime(meta.get("lastUpdated"), ctx, "meta.lastUpdated")
    elif meta is not None:
        ctx.warn("meta", "not an object")
    return {"id": gid, "source": source}


def read_identifiers(raw: Any, ctx: Ctx, path: str) -> list[dict[str, Any]]:
    """Identifiers as model input: value required; type is the v2-0203 code where known."""
    out: list[dict[str, Any]] = []
    for i, ident in enumerate(as_list(raw)):
        if not isinstance(ident, OBJECT):
            ctx.warn(f"{path}[{i}]", "not an object")
            continue
        value = as_str(ident.get("value"))
        if value is None:
            ctx.warn(f"{path}[{i}].value", "missing; identifier skipped")
            continue
        out.append(
            {
                "system": as_str(ident.get("system")),
                "value": value,
                "type": identifier_type(ident.get("type")),
            }
        )
    return out


_V2_0203 = "terminology.hl7.org/CodeSystem/v2-0203"


def identifier_type(raw: Any) -> str | None:
    """The v2-0203 code of an Identifier.type (MR, MB, SS ...).

    A coding from the v2-0203 system wins; otherwise the first coded value
    (vendors often omit the system but use the v2 codes).
    """
    if not isinstance(raw, OBJECT):
        return None
    fallback: str | None = None
    for coding in as_list(raw.get("coding")):
        if not isinstance(coding, OBJECT):
            continue
        code = as_str(coding.get("code"))
        if code is None:
            continue
        system = coding.get("system")
        if isinstance(system, str) and (system.endswith(_V2_0203) or system.endswith("v2-0203")):
            return code
        if fallback is None:
            fallback = code
    return fallback
