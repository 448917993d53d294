"""FHIR R4 datatypes built from canonical values, strictly: codes from their value sets,
no blank parts. Each raises OutboundError naming ``field``, never the value."""

from __future__ import annotations

import re
from typing import Any, Final

from ..model import Address, ContactPoint, HumanName, Identifier
from ._rules import OutboundError, require_uri

__all__ = [
    "BCP47_SYSTEM",
    "V2_0203_SYSTEM",
    "address",
    "communication",
    "contact_point",
    "human_name",
    "identifier",
    "language_tag",
    "strings",
]

BCP47_SYSTEM: Final = "urn:ietf:bcp:47"
V2_0203_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
# R4 value sets: name-use, contact-point-use, address-use.
_NAME_USES: Final = frozenset(
    {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}
)
_CONTACT_USES: Final = frozenset({"home", "work", "temp", "old", "mobile"})
_ADDRESS_USES: Final = frozenset({"home", "work", "temp", "old", "billing"})
# BCP-47 in the shape FHIR servers take: a language, then subtags (en, es-MX, zh-Hant-TW).
_BCP47: Final = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def strings(values: list[str], field: str) -> list[str]:
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise OutboundError(f"{field}[{i}]", "must be non-empty text")
        out.append(value.strip())
    return out


def _optional_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OutboundError(field, "must be non-empty text when given")
    return value.strip()


def _use(value: str | None, allowed: frozenset[str], field: str) -> str | None:
    if value is not None and value not in allowed:
        raise OutboundError(field, f"must be one of {sorted(allowed)}")
    return value


def human_name(name: HumanName, field: str, *, default_use: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    use = _use(name.use or default_use, _NAME_USES, f"{field}.use")
    if use is not None:
        out["use"] = use
    family = _optional_text(name.family, f"{field}.family")
    if family is not None:
        out["family"] = family
    for key in ("given", "prefix", "suffix"):
        parts = strings(getattr(name, key), f"{field}.{key}")
        if parts:
            out[key] = parts
    text = _optional_text(name.text, f"{field}.text")
    if text is not None:
        out["text"] = text
    if "family" not in out and "given" not in out:
        raise OutboundError(field, "needs a family or a given name")
    return out


def contact_point(point: ContactPoint, system: str, field: str) -> dict[str, Any]:
    value = _optional_text(point.value, f"{field}.value")
    if value is None:
        raise OutboundError(f"{field}.value", "must be non-empty text")
    if point.system is not None and point.system != system:
        raise OutboundError(f"{field}.system", f"must be {system}")
    out: dict[str, Any] = {"system": system, "value": value}
    use = _use(point.use, _CONTACT_USES, f"{field}.use")
    if use is not None:
        out["use"] = use
    return out


def address(value: Address, field: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    use = _use(value.use, _ADDRESS_USES, f"{field}.use")
    if use is not None:
        out["use"] = use
    lines = strings(value.line, f"{field}.line")
    if lines:
        out["line"] = lines
    for key, fhir_key in (
        ("city", "city"),
        ("state", "state"),
        ("postal_code", "postalCode"),
        ("country", "country"),
    ):
        part = _optional_text(getattr(value, key), f"{field}.{key}")
        if part is not None:
            out[fhir_key] = part
    if not set(out) - {"use"}:
        raise OutboundError(field, "needs at least a line, city, state, postal code or country")
    return out


def language_tag(value: str, field: str) -> str:
    if not isinstance(value, str) or not _BCP47.fullmatch(value.strip()):
        raise OutboundError(field, "must be a BCP-47 language tag (en, es-MX ...)")
    return value.strip()


def communication(language: str, field: str) -> dict[str, Any]:
    code = language_tag(language, field)
    return {"language": {"coding": [{"system": BCP47_SYSTEM, "code": code}]}, "preferred": True}


def identifier(value: Identifier, field: str) -> dict[str, Any]:
    if value.system is None:
        raise OutboundError(f"{field}.system", "is required")
    require_uri(value.system, f"{field}.system")
    ident_value = _optional_text(value.value, f"{field}.value")
    if ident_value is None:
        raise OutboundError(f"{field}.value", "must be non-empty text")
    out: dict[str, Any] = {"system": value.system, "value": ident_value}
    if value.type is not None:
        code = _optional_text(value.type, f"{field}.type")
        out["type"] = {"coding": [{"system": V2_0203_SYSTEM, "code": code}]}
    return out
