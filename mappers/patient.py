"""FHIR R4 Patient → canonical Patient.

Choices for messy real data:
- ``name``: the current name (``mappers.names.read_names``); every other name goes
  to ``other_names`` (kept for matching), in upstream order.
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

from ._contacts import read_address, read_telecom
from ._primitives import (
    OBJECT,
    Ctx,
    as_list,
    as_str,
    build,
    first_code,
    parse_partial_date,
    read_bool,
    read_code,
    read_identifiers,
    record_head,
)
from .model import Patient
from .names import read_names

__all__ = ["GENDERS", "map_patient"]

GENDERS = frozenset({"male", "female", "other", "unknown"})


def map_patient(resource: Mapping[str, Any], ctx: Ctx) -> Patient:
    fields = record_head(resource, ctx)
    fields["identifiers"] = read_identifiers(resource.get("identifier"), ctx, "identifier")
    fields["name"], fields["other_names"] = read_names(resource.get("name"), ctx)
    fields["birth_date"] = _birth_date(resource, ctx)
    fields["gender"] = read_code(resource.get("gender"), ctx, "gender", GENDERS)
    fields["phones"], fields["emails"] = read_telecom(resource.get("telecom"), ctx)
    fields["address"] = read_address(resource.get("address"), ctx)
    fields["language"] = _language(resource.get("communication"))
    fields["active"] = read_bool(resource.get("active"), ctx, "active")
    fields["deceased"] = _deceased(resource, ctx)
    return build(Patient, fields, ctx)


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


def _deceased(resource: Mapping[str, Any], ctx: Ctx) -> bool | None:
    if "deceasedBoolean" in resource:
        return read_bool(resource.get("deceasedBoolean"), ctx, "deceasedBoolean")
    raw = resource.get("deceasedDateTime")
    if raw is None:
        return None
    if as_str(raw) is None:
        ctx.warn("deceasedDateTime", "not a string; dropped")
        return None
    # The date may be partial or odd; that a death is recorded is what matters here.
    return True
