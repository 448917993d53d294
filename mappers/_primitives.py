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
from functools import lru_cache
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from .errors import MappingError
from .fhir_dates import datetime_problem, parse_date_floor, parse_datetime, parse_partial_date
from .ids import InvalidId, encode_id, reference_id
from .local_ids import content_id, full_url_id
from .npi import NPI_SYSTEM, is_valid_npi

__all__ = [
    "OBJECT",
    "Ctx",
    "EntryIndex",
    "as_bool",
    "as_list",
    "as_str",
    "build",
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
    "read_bool",
    "read_code",
    "read_concept",
    "read_concepts",
    "read_datetime",
    "read_identifiers",
    "read_npi",
    "read_refs",
    "record_head",
]

# For isinstance checks on JSON objects. dict comes first: parsed JSON is made of
# dicts, and the exact-type check is far cheaper than the Mapping ABC check.
OBJECT: Final = (dict, Mapping)

_REL_REF = re.compile(
    r"([A-Z][A-Za-z]+)/([A-Za-z0-9.\-]{1,64})(?:/_history/([A-Za-z0-9.\-]{1,64}))?"
)


class EntryIndex:
    """The entries of one or more Bundle pages by ``fullUrl``: what a reference to an
    entry resolves to (FHIR R4 Bundle, "Resolving references in Bundles").

    Built on the first lookup, so a page whose references are all relative
    (``Type/id``, resolved without it) never pays for it.
    """

    __slots__ = ("_pages", "_urls")

    def __init__(self) -> None:
        self._pages: list[list[Any]] = []
        self._urls: dict[str, tuple[str, str]] | None = None

    def add(self, entries: list[Any]) -> None:
        self._pages.append(entries)
        self._urls = None

    def lookup(self, url: str) -> tuple[str, str] | None:
        if self._urls is None:
            self._urls = self._build()
        return self._urls.get(url)

    def _build(self) -> dict[str, tuple[str, str]]:
        urls: dict[str, tuple[str, str]] = {}
        for entries in self._pages:
            for entry in entries:
                if not isinstance(entry, OBJECT):
                    continue
                full_url = entry.get("fullUrl")
                resource = entry.get("resource")
                if not isinstance(full_url, str) or not isinstance(resource, OBJECT):
                    continue
                rtype = resource.get("resourceType")
                if not isinstance(rtype, str):
                    continue
                rid = resource.get("id")
                if not isinstance(rid, str):
                    rid = full_url_id(full_url, rtype)
                # The first entry with a fullUrl wins, as a reader scanning the Bundle would.
                urls.setdefault(entry_key(full_url), (rtype, rid.strip()))
        return urls


def entry_key(url: str) -> str:
    """A fullUrl or reference as an index key: trimmed, without ``/_history/v``, and a
    ``urn:uuid:`` in lower case (UUIDs are case-insensitive, RFC 4122)."""
    key = url.strip()
    if "/_history/" in key:
        key = key.split("/_history/", 1)[0]
    if key[:9].lower() == "urn:uuid:":
        key = key.lower()
    return key


class Ctx:
    """Mapping context of one resource: its source, its type and the warnings so far.

    Inside a Bundle, ``full_url`` is the entry's fullUrl (it names a resource that has
    no id) and ``index`` resolves references to other entries by their fullUrl.
    """

    __slots__ = ("full_url", "index", "resource_type", "source", "warnings")

    def __init__(
        self,
        source: str,
        resource_type: str,
        full_url: str | None = None,
        index: EntryIndex | None = None,
    ) -> None:
        self.source = source
        self.resource_type = resource_type
        self.warnings: list[str] = []
        self.full_url = full_url
        self.index = index

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append(f"{self.resource_type}.{path}: {reason}")

    def fail(self, path: str, reason: str) -> MappingError:
        return MappingError(f"{self.resource_type}.{path}", reason)

    def resolve(self, raw: Any) -> tuple[str, str] | None:
        """(type, upstream id) a Reference points to, or None.

        An absolute URL or URN that is the fullUrl of an entry of the Bundle being
        mapped resolves to that entry (a version-specific URL matches without its
        ``/_history/v``); otherwise references resolve as ``parse_reference`` reads them.
        """
        if raw is None or not isinstance(raw, OBJECT):
            return None
        ref = raw.get("reference")
        if type(ref) is not str or not ref or ref[0] == "#":
            return None
        if self.index is not None and (ref.startswith("urn:") or "://" in ref):
            hit = self.index.lookup(entry_key(ref))
            if hit is not None:
                return hit
        return _parse_reference_text(ref)

    def ref_id(self, raw: Any, path: str, expected: str | None = None) -> str | None:
        """Gateway id for a Reference to a record of this source, or None (with a warning)."""
        parsed = self.resolve(raw)
        if parsed is None:
            if isinstance(raw, OBJECT):
                if raw.get("display") is None and raw:
                    self.warn(path, "reference not resolvable")
            elif raw is not None:
                self.warn(path, "not a Reference object")
            return None
        rtype, rid = parsed
        if expected is not None and rtype != expected:
            self.warn(path, f"expected a {expected} reference, got {rtype}")
            return None
        try:
            return reference_id(self.source, rtype, rid)
        except InvalidId:
            self.warn(path, "reference id has an invalid format")
            return None


def as_str(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    # The exact-type test first: JSON strings are str, and it is the cheaper check.
    if type(value) is str or isinstance(value, str):
        return value.strip() or None
    return None


def as_list(value: Any) -> list[Any]:
    """A JSON array as a list; a lone object (a common vendor slip) as a one-item list."""
    if type(value) is list or isinstance(value, list):
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
    if raw is None or not isinstance(raw, OBJECT):
        return None
    ref = raw.get("reference")
    if type(ref) is not str or not ref or ref[0] == "#":
        return None
    return _parse_reference_text(ref)


# The same reference recurs across a page (every Slot of one Schedule names it).
@lru_cache(maxsize=4096)
def _parse_reference_text(ref: str) -> tuple[str, str] | None:
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
    """The codes of a CodeableConcept (or of a list of them), in order, without duplicates;
    a concept with no usable coding gives its text. (The codes ``read_concepts`` gives,
    without building its Codings.)"""
    codes: list[str] = []
    if raw is None:
        return codes
    for concept in raw if type(raw) is list else as_list(raw):
        concept = _concept_object(concept)
        if concept is None:
            continue
        items = concept.get("coding")
        found = False
        if items:
            for coding in items if type(items) is list else as_list(items):
                if not isinstance(coding, OBJECT):
                    continue
                code = coding.get("code")
                if type(code) is str and (code := code.strip()):
                    found = True
                    if code not in codes:
                        codes.append(code)
                elif not found:
                    display = coding.get("display")
                    found = type(display) is str and bool(display.strip())
        if not found:
            text = concept.get("text")
            if type(text) is str and (text := text.strip()) and text not in codes:
                codes.append(text)
    return codes


def read_concepts(raw: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Codes and Codings (as model input) of a CodeableConcept or a list of them.

    Codes: every coding's code, in order, without duplicates; a concept with no usable
    coding (one with a code or a display) contributes its text. Codings: system, code
    and display (the coding's, else the concept's text), one per distinct (system,
    code); a concept with only text gives one with only a display. R5
    CodeableReferences (``{"concept": ...}``) are read through their concept.
    """
    codes: list[str] = []
    codings: list[dict[str, Any]] = []
    if raw is None:
        return codes, codings
    for concept in raw if type(raw) is list else as_list(raw):
        concept = _concept_object(concept)
        if concept is None:
            continue
        text = concept.get("text")
        text = (text.strip() or None) if type(text) is str else None
        items = concept.get("coding")
        found = False
        if items:
            for coding in items if type(items) is list else as_list(items):
                if not isinstance(coding, OBJECT):
                    continue
                code = coding.get("code")
                code = (code.strip() or None) if type(code) is str else None
                display = coding.get("display")
                display = (display.strip() or None) if type(display) is str else None
                if code is None and display is None:
                    continue
                found = True
                system = coding.get("system")
                system = (system.strip() or None) if type(system) is str else None
                if code is not None:
                    if code not in codes:
                        codes.append(code)
                    elif any(c["code"] == code and c["system"] == system for c in codings):
                        continue
                codings.append({"system": system, "code": code, "display": display or text})
        if not found and text is not None:
            if text not in codes:
                codes.append(text)
            codings.append({"system": None, "code": None, "display": text})
    return codes, codings


def _concept_object(concept: Any) -> Mapping[str, Any] | None:
    """A CodeableConcept object, looking through an R5 CodeableReference's ``concept``."""
    if not isinstance(concept, OBJECT):
        return None
    if "concept" in concept and "coding" not in concept:
        inner = concept.get("concept")
        return inner if isinstance(inner, OBJECT) else None
    return concept


def read_concept(raw: Any) -> tuple[str | None, dict[str, Any] | None]:
    """One CodeableConcept: its first code (as ``first_code``) and the Coding (as model
    input) that carries it, else its first Coding; (None, None) when it has neither."""
    if raw is None:
        return None, None
    codes, codings = read_concepts(raw)
    if not codings:
        return None, None
    if codes:
        for coding in codings:
            if coding["code"] == codes[0]:
                return codes[0], coding
        return codes[0], codings[0]
    return None, codings[0]


def codeable_text(raw: Any) -> str | None:
    """Human words for a CodeableConcept: its text, else the first coding's display or code."""
    if raw is None or not isinstance(raw, OBJECT):
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


def read_bool(raw: Any, ctx: Ctx, path: str) -> bool | None:
    """A JSON boolean, or None with a warning when something else is there."""
    if raw is None or isinstance(raw, bool):
        return raw
    ctx.warn(path, "not a boolean; dropped")
    return None


def first_code(raw: Any) -> str | None:
    """The first code of a CodeableConcept (or its text when it has no coding)."""
    codes = codeable_codes(raw)
    return codes[0] if codes else None


def has_end(period: Any) -> bool:
    """Whether a Period carries an end, i.e. the element is no longer current.

    Deliberately clock-free (mappers stay pure and deterministic): FHIR data
    rarely records a planned future end for a name, address or identifier.
    """
    return period is not None and isinstance(period, OBJECT) and period.get("end") is not None


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
    if raw is None:
        return None
    code = raw.strip() or None if type(raw) is str else as_str(raw)
    if code is None:
        ctx.warn(path, "not a code string")
        return None
    if code not in known:
        ctx.warn(path, "code outside the expected value set; kept as given")
    return code


_M = TypeVar("_M", bound=BaseModel)


def build(model: type[_M], fields: dict[str, Any], ctx: Ctx) -> _M:
    """The record ``fields`` describe, with the context's warnings, validated by ``model``
    (its own validator, called directly: ``model_validate`` adds a Python-level wrapper
    on the hot path; an empty warnings list is left to the model's default, cheaper
    for pydantic than a given one)."""
    if ctx.warnings:
        fields["warnings"] = ctx.warnings
    record: _M = model.__pydantic_validator__.validate_python(fields)
    return record


def record_head(resource: Mapping[str, Any], ctx: Ctx) -> dict[str, Any]:
    """``id`` and ``source`` of a record, as validated-model input.

    A resource without ``id`` gets a local one (``mappers.local_ids``: from the
    entry's fullUrl, else from its content). An ``id`` that is present but not a FHIR
    id raises MappingError: a record we cannot point back to is unusable.
    """
    raw_id = resource.get("id")
    origin = "resource"
    local: str | None
    if raw_id is None:
        if ctx.full_url is not None:
            local = full_url_id(ctx.full_url, ctx.resource_type)
            origin = "full_url"
        else:
            local = content_id(resource)
            origin = "content"
            if local is None:
                raise ctx.fail("id", "missing, and the content gives no stable local id")
    else:
        local = as_str(raw_id)
        if local is None:
            raise ctx.fail("id", "not a string")
    rid: str = local
    try:
        gid = encode_id(ctx.source, ctx.resource_type, rid)
    except InvalidId:
        raise ctx.fail("id", "not a FHIR id, or the source name is invalid") from None
    source: dict[str, Any] = {
        "source": ctx.source,
        "resource_type": ctx.resource_type,
        "id": rid,
    }
    if origin != "resource":
        source["id_origin"] = origin
    meta = resource.get("meta")
    if isinstance(meta, OBJECT):
        version = meta.get("versionId")
        if version is not None:
            source["version"] = as_str(version)
            if source["version"] is None:
                ctx.warn("meta.versionId", "not a string")
        updated = meta.get("lastUpdated")
        if updated is not None:
            source["last_updated"] = read_datetime(updated, ctx, "meta.lastUpdated")
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
    if raw is None or not isinstance(raw, OBJECT):
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


def read_npi(raw: Any, ctx: Ctx, path: str = "identifier") -> str | None:
    """The NPI among identifiers: system ``http://hl7.org/fhir/sid/us-npi`` only, ten
    digits with a valid check digit. Another value in that system stays an identifier,
    with a warning."""
    npi: str | None = None
    for i, ident in enumerate(as_list(raw)):
        if not isinstance(ident, OBJECT):
            continue
        system = ident.get("system")
        if not isinstance(system, str) or system.strip() != NPI_SYSTEM:
            continue
        value = as_str(ident.get("value"))
        if value is None or not is_valid_npi(value):
            ctx.warn(f"{path}[{i}].value", "not a valid NPI (ten digits, check digit); not used")
        elif npi is None:
            npi = value
        elif value != npi:
            ctx.warn(f"{path}[{i}].value", "a second, different NPI; the first is kept")
    return npi


def read_refs(raw: Any, ctx: Ctx, path: str, expected: str) -> list[str]:
    """Gateway ids of a list of References to ``expected`` records, in order, unique."""
    out: list[str] = []
    for i, item in enumerate(as_list(raw)):
        gid = ctx.ref_id(item, f"{path}[{i}]", expected)
        if gid is not None and gid not in out:
            out.append(gid)
    return out
