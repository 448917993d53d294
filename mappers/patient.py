"""FHIR R4 Patient → canonical Patient.

Choices for messy real data:
- ``name``: the current name, preferring ``use`` official, then usual, then no
  use; a name whose ``period`` has an end, or whose use is old/maiden/nickname,
  only wins when nothing better exists. Every other name goes to ``other_names``
  (kept for matching), in upstream order. A name with only ``text`` is kept as is.
- ``address``: the current home address, else the first current one.
- ``phones`` / ``emails``: telecom split by system (phone and sms are phones);
  fax, pager, url and other systems are not front-desk contact routes.
- ``language``: the ``communication`` marked preferred, else the first.
- ``birth_date``: kept at the precision given (YYYY, YYYY-MM, YYYY-MM-DD); a
  dateTime is cut to its date; data-absent-reason (``_birthDate``) gives None.
- ``deceased``: deceasedBoolean as given; any deceasedDateTime means True.
- Codes outside the R4 value sets (gender) are kept with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import (
    OBJECT,
    Ctx,
    as_bool,
    as_list,
    as_str,
    first_code,
    has_end,
    parse_partial_date,
    read_code,
    read_identifiers,
    record_head,
)
from .model import Patient

__all__ = ["map_patient"]

_GENDERS = frozenset({"male", "female", "other", "unknown"})
_NAME_RANK = {"official": 0, "usual": 1, None: 2, "temp": 3, "anonymous": 4}
_NAME_RANK_LOW = 5  # nickname, maiden, old and unknown uses
_ADDRESS_RANK = {"home": 0, None: 1, "temp": 2, "work": 3, "billing": 4}
_PHONE_SYSTEMS = frozenset({"phone", "sms"})


def map_patient(resource: Mapping[str, Any], ctx: Ctx) -> Patient:
    fields = record_head(resource, ctx)
    fields["identifiers"] = read_identifiers(resource.get("identifier"), ctx, "identifier")
    fields["name"], fields["other_names"] = _names(resource.get("name"), ctx)
    fields["birth_date"] = _birth_date(resource, ctx)
    fields["gender"] = read_code(resource.get("gender"), ctx, "gender", _GENDERS)
    fields["phones"], fields["emails"] = _telecom(resource.get("telecom"), ctx)
    fields["address"] = _address(resource.get("address"), ctx)
    fields["language"] = _language(resource.get("communication"))
    fields["active"] = _flag(resource, "active", ctx)
    fields["deceased"] = _deceased(resource, ctx)
    fields["warnings"] = ctx.warnings
    return Patient.model_validate(fields)


def _names(raw: Any, ctx: Ctx) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    names: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(as_list(raw)):
        if not isinstance(item, OBJECT):
            ctx.warn(f"name[{i}]", "not an object")
            continue
        name = _human_name(item, ctx, f"name[{i}]")
        if name is None:
            continue
        rank = _NAME_RANK.get(name["use"], _NAME_RANK_LOW)
        if has_end(item.get("period")):
            rank += 10
        names.append((rank, name))
    if not names:
        return None, []
    best = min(range(len(names)), key=lambda k: names[k][0])
    return names[best][1], [n for k, (_, n) in enumerate(names) if k != best]


def _human_name(item: Mapping[str, Any], ctx: Ctx, path: str) -> dict[str, Any] | None:
    family_raw = item.get("family")
    family = as_str(family_raw)
    if family is None and isinstance(family_raw, list):
        # DSTU2 made family a list; some R4 servers still send one.
        parts = [p for p in (as_str(x) for x in family_raw) if p is not None]
        family = " ".join(parts) or None
        ctx.warn(f"{path}.family", "a list where a string was expected; joined")
    name = {
        "family": family,
        "given": _strings(item.get("given")),
        "prefix": _strings(item.get("prefix")),
        "suffix": _strings(item.get("suffix")),
        "text": as_str(item.get("text")),
        "use": as_str(item.get("use")),
    }
    if family is None and not name["given"] and name["text"] is None:
        ctx.warn(path, "no family, given or text; skipped")
        return None
    return name


def _strings(raw: Any) -> list[str]:
    if raw is None:
        return []
    return [x.strip() for x in as_list(raw) if isinstance(x, str) and x and not x.isspace()]


def _birth_date(resource: Mapping[str, Any], ctx: Ctx) -> str | None:
    raw = resource.get("birthDate")
    if raw is None:
        if isinstance(resource.get("_birthDate"), OBJECT):
            ctx.warn("birthDate", "absent upstream (data-absent-reason or extension only)")
        return None
    value = parse_partial_date(raw)
    if value is not None:
        return value
    if isinstance(raw, str) and len(raw) > 10 and raw[10] == "T":
        value = parse_partial_date(raw[:10])
        if value is not None:
            ctx.warn("birthDate", "a dateTime where a date was expected; date kept")
            return value
    ctx.warn("birthDate", "not a FHIR date; dropped")
    return None


def _telecom(raw: Any, ctx: Ctx) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    phones: list[dict[str, Any]] = []
    emails: list[dict[str, Any]] = []
    for i, item in enumerate(as_list(raw)):
        if not isinstance(item, OBJECT):
            ctx.warn(f"telecom[{i}]", "not an object")
            continue
        value = as_str(item.get("value"))
        if value is None:
            continue
        system = as_str(item.get("system"))
        point = {"system": system, "value": value, "use": as_str(item.get("use"))}
        if system in _PHONE_SYSTEMS:
            phones.append(point)
        elif system == "email":
            emails.append(point)
        elif system is None:
            ctx.warn(f"telecom[{i}].system", "missing; contact point skipped")
    return phones, emails


def _address(raw: Any, ctx: Ctx) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    best_rank = 1_000
    for i, item in enumerate(as_list(raw)):
        if not isinstance(item, OBJECT):
            ctx.warn(f"address[{i}]", "not an object")
            continue
        use = as_str(item.get("use"))
        rank = _ADDRESS_RANK.get(use, 5) + (10 if has_end(item.get("period")) else 0)
        if rank >= best_rank:
            continue
        address = {
            "line": _strings(item.get("line")),
            "city": as_str(item.get("city")),
            "state": as_str(item.get("state")),
            "postal_code": as_str(item.get("postalCode")),
            "country": as_str(item.get("country")),
            "use": use,
        }
        if address["line"] or any(address[k] for k in ("city", "state", "postal_code")):
            best, best_rank = address, rank
    return best


def _language(raw: Any) -> str | None:
    first: str | None = None
    for item in as_list(raw):
        if not isinstance(item, OBJECT):
            continue
        code = first_code(item.get("language"))
        if code is None:
            continue
        if item.get("preferred") is True:
            return code
        if first is None:
            first = code
    return first


def _flag(resource: Mapping[str, Any], key: str, ctx: Ctx) -> bool | None:
    raw = resource.get(key)
    value = as_bool(raw)
    if value is None and raw is not None:
        ctx.warn(key, "not a boolean; dropped")
    return value


def _deceased(resource: Mapping[str, Any], ctx: Ctx) -> bool | None:
    if "deceasedBoolean" in resource:
        return _flag(resource, "deceasedBoolean", ctx)
    raw = resource.get("deceasedDateTime")
    if raw is None:
        return None
    if as_str(raw) is None:
        ctx.warn("deceasedDateTime", "not a string; dropped")
        return None
    # The date may be partial or odd; that a death is recorded is what matters here.
    return True
