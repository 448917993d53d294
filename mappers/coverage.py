"""FHIR R4 Coverage → canonical Coverage.

- ``member_id``: an identifier typed MB (v2-0203 member number), else
  ``subscriberId``, else the first identifier: the same rule as the eligibility
  mapper, so both read one member id from one Coverage.
- ``subscriber_id``: ``subscriberId``, else an identifier typed SN.
- Payer (first usable ``payor``): ``payer_id`` from the payor's identifier value,
  else a contained Organization's identifier, else the referenced Organization's
  upstream id (tenant payer config lists payer ids as the EHR carries them);
  ``payer_name`` from the display, else the contained Organization's name.
- Self-pay: a Patient or RelatedPerson payor (legal FHIR R4: "patient-pay
  agreements") gives ``self_pay`` True, ``payer_kind`` patient/related_person, the
  payer's gateway id in ``paying_party_id`` and no payer id or name (a person's
  display and identifiers are not a payer's). A Coverage typed self-pay
  (coverage-selfpay ``pay``, SOPT ``81``) with no payer named is self-pay too.
- ``class``: group → group_number/group_name, plan → plan_name (name, else value),
  subplan fills plan_name only when no plan is given; other classes (subgroup,
  class, rxbin, rxpcn, rxid, rxgroup, sequence ...) are not front-desk fields.
- ``period``: partial dates widen (an end of "2025-06" covers all of June).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import (
    OBJECT,
    Ctx,
    as_list,
    as_str,
    build,
    codeable_codes,
    contained_index,
    first_code,
    identifier_type,
    parse_date_floor,
    read_code,
    record_head,
)
from .ids import InvalidId, reference_id
from .model import Coverage

__all__ = ["map_coverage"]

_STATUSES = frozenset({"active", "cancelled", "draft", "entered-in-error"})


def map_coverage(resource: Mapping[str, Any], ctx: Ctx) -> Coverage:
    fields = record_head(resource, ctx)
    status = resource.get("status")
    if status is None:
        raise ctx.fail("status", "missing")
    fields["status"] = read_code(status, ctx, "status", _STATUSES)
    if fields["status"] is None:
        raise ctx.fail("status", "not a code string")
    beneficiary = resource.get("beneficiary")
    if beneficiary is None:
        ctx.warn("beneficiary", "missing")
    fields["beneficiary_id"] = ctx.ref_id(beneficiary, "beneficiary", "Patient")
    _member(resource, fields, ctx)
    fields["dependent"] = as_str(resource.get("dependent"))
    fields["relationship"] = first_code(resource.get("relationship"))
    _payer(resource, fields, ctx)
    _classes(resource.get("class"), fields, ctx)
    _period(resource.get("period"), fields, ctx)
    fields["order"] = _order(resource.get("order"), ctx)
    fields["network"] = as_str(resource.get("network"))
    fields["type"] = first_code(resource.get("type"))
    return build(Coverage, fields, ctx)


def _member(resource: Mapping[str, Any], fields: dict[str, Any], ctx: Ctx) -> None:
    member: str | None = None
    subscriber_number: str | None = None
    first: str | None = None
    for i, ident in enumerate(as_list(resource.get("identifier"))):
        if not isinstance(ident, OBJECT):
            ctx.warn(f"identifier[{i}]", "not an object")
            continue
        value = as_str(ident.get("value"))
        if value is None:
            continue
        kind = identifier_type(ident.get("type"))
        if kind == "MB" and member is None:
            member = value
        elif kind == "SN" and subscriber_number is None:
            subscriber_number = value
        if first is None:
            first = value
    subscriber = as_str(resource.get("subscriberId"))
    if subscriber is None and resource.get("subscriberId") is not None:
        ctx.warn("subscriberId", "not a string; dropped")
    fields["subscriber_id"] = subscriber or subscriber_number
    fields["member_id"] = member or subscriber or first


_SELF_PAY_KINDS = {"Patient": "patient", "RelatedPerson": "related_person"}
# Coverage.type codes that say self-pay: coverage-selfpay "pay" (the R4 coverage-type
# value set) and the payer typology (SOPT) "81" Self-pay.
_SELF_PAY_TYPES = frozenset({("coverage-selfpay", "pay"), ("sopt", "81")})


def _payer(resource: Mapping[str, Any], fields: dict[str, Any], ctx: Ctx) -> None:
    payer_id: str | None = None
    payer_name: str | None = None
    kind: str | None = None
    party: str | None = None
    payors = as_list(resource.get("payor"))
    if not payors:
        ctx.warn("payor", "missing")
    for i, payor in enumerate(payors):
        if not isinstance(payor, OBJECT):
            ctx.warn(f"payor[{i}]", "not an object")
            continue
        kind, party, payer_id, payer_name = _one_payor(resource, payor, ctx, f"payor[{i}]")
        if kind is not None or payer_id is not None or payer_name is not None:
            break
    fields["payer_id"] = payer_id
    fields["payer_name"] = payer_name
    fields["payer_kind"] = kind
    fields["paying_party_id"] = party
    fields["self_pay"] = kind in ("patient", "related_person") or (
        payer_id is None and payer_name is None and _typed_self_pay(resource.get("type"))
    )


def _one_payor(
    resource: Mapping[str, Any], payor: Mapping[str, Any], ctx: Ctx, path: str
) -> tuple[str | None, str | None, str | None, str | None]:
    """(payer kind, paying party id, payer id, payer name) of one Coverage.payor."""
    reference = as_str(payor.get("reference"))
    rtype: str | None = None
    rid: str | None = None
    org: Mapping[str, Any] | None = None
    if reference is not None and reference.startswith("#"):
        found = contained_index(resource).get(reference[1:])
        if found is None:
            ctx.warn(f"{path}.reference", "contained resource not found")
        else:
            rtype = as_str(found.get("resourceType"))
            org = found if rtype == "Organization" else None
    elif reference is not None:
        parsed = ctx.resolve(payor)
        if parsed is not None:
            rtype, rid = parsed
    if rtype is None:
        rtype = as_str(payor.get("type"))
    if rtype in _SELF_PAY_KINDS:
        party = None
        if rid is not None:
            try:
                party = reference_id(ctx.source, rtype, rid)
            except InvalidId:
                ctx.warn(f"{path}.reference", "reference id has an invalid format")
        # A person's display and identifiers are not a payer's name and id.
        return _SELF_PAY_KINDS[rtype], party, None, None
    payer_id = _identifier_value(payor.get("identifier"), ctx, f"{path}.identifier")
    payer_name = as_str(payor.get("display"))
    if org is not None:
        payer_name = payer_name or as_str(org.get("name"))
        for k, ident in enumerate(as_list(org.get("identifier"))):
            if payer_id is None:
                payer_id = _identifier_value(ident, ctx, f"contained.identifier[{k}]")
    elif rtype == "Organization" and payer_id is None and rid is not None:
        payer_id = rid
    if rtype == "Organization":
        return "organization", None, payer_id, payer_name
    if payer_id is not None or payer_name is not None:
        return "other", None, payer_id, payer_name
    return None, None, None, None


def _typed_self_pay(raw: Any) -> bool:
    if raw is None or not isinstance(raw, OBJECT):
        return False
    for coding in as_list(raw.get("coding")):
        if not isinstance(coding, OBJECT):
            continue
        system, code = as_str(coding.get("system")) or "", as_str(coding.get("code"))
        tail = system.rstrip("/").rsplit("/", 1)[-1]
        if (tail, code) in _SELF_PAY_TYPES or (not system and code == "pay"):
            return True
    return False


def _identifier_value(raw: Any, ctx: Ctx, path: str) -> str | None:
    if isinstance(raw, OBJECT):
        return as_str(raw.get("value"))
    if raw is not None:
        ctx.warn(path, "not an Identifier object; dropped")
    return None


def _classes(raw: Any, fields: dict[str, Any], ctx: Ctx) -> None:
    subplan: str | None = None
    for i, item in enumerate(as_list(raw)):
        if not isinstance(item, OBJECT):
            ctx.warn(f"class[{i}]", "not an object")
            continue
        kinds = codeable_codes(item.get("type"))
        value, name = as_str(item.get("value")), as_str(item.get("name"))
        if "group" in kinds and fields.get("group_number") is None:
            fields["group_number"], fields["group_name"] = value, name
        elif "plan" in kinds and fields.get("plan_name") is None:
            fields["plan_name"] = name or value
        elif "subplan" in kinds and subplan is None:
            subplan = name or value
    if fields.get("plan_name") is None and subplan is not None:
        fields["plan_name"] = subplan


def _period(raw: Any, fields: dict[str, Any], ctx: Ctx) -> None:
    if raw is None:
        return
    if raw is None or not isinstance(raw, OBJECT):
        ctx.warn("period", "not an object")
        return
    for key, end in (("start", False), ("end", True)):
        value = raw.get(key)
        day = parse_date_floor(value, end=end)
        if day is None and value is not None:
            ctx.warn(f"period.{key}", "not a FHIR date; dropped")
        fields[f"period_{key}"] = day


def _order(raw: Any, ctx: Ctx) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    ctx.warn("order", "not a positive integer; dropped")
    return None
