"""FHIR R4 CoverageEligibilityResponse → EligibilityResult.

Inbound lenient: what cannot be used becomes a warning; only a response that says
nothing about coverage (no outcome, no insurance, no error) is a ``MappingError``.

Vocabulary is aligned with the X12 271 mapping so the gateway reads one model:
- ``Benefit.coverage_level``: FHIR benefit-unit ``individual``/``family`` → ``IND``/``FAM``.
- ``Benefit.time_period``: FHIR benefit-term ``annual`` → ``23`` (calendar year, the
  usual US plan year), ``day`` → ``7``, ``lifetime`` → ``32``; other terms keep their code.
- ``Benefit.service_type``: ``item.category`` codes (ex-benefitcategory reuses the X12
  service type codes), else the ``productOrService`` code.
- "Remaining" amounts: FHIR gives ``allowedMoney`` (the limit) and ``usedMoney`` (spent
  so far). The limit becomes one Benefit; when both are present a second Benefit holds
  ``allowed - used`` (floored at 0) with time period ``29`` (``33`` for lifetime terms),
  as a 271 reports a remaining deductible. ``usedMoney`` alone becomes time period
  ``24`` (year to date).

Money: ``json.loads`` yields floats; amounts are built from ``str(value)``, which for
a float is the shortest text that round-trips, i.e. the JSON text for any amount with
up to 15 significant digits. Callers may also parse with ``parse_float=Decimal``;
Decimals and strings are taken as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ._primitives import (
    Ctx,
    as_list,
    as_str,
    codeable_codes,
    codeable_text,
    parse_date_floor,
    parse_datetime,
)
from .model import (
    Benefit,
    BenefitKind,
    EligibilityError,
    EligibilityResult,
    EligibilityStatus,
    SourceRef,
)
from .x12 import codes

__all__ = ["map_coverage_eligibility_response"]

_RESOURCE = "CoverageEligibilityResponse"

# benefit-type codes (terminology.hl7.org/CodeSystem/benefit-type) and the words
# payers and vendors put in type.text (often the X12 EB01 names), normalised by
# _norm(): lowercase letters and digits only.
_KINDS: dict[str, BenefitKind] = {
    "benefit": "limitation",
    "deductible": "deductible",
    "copay": "copay",
    "copayment": "copay",
    "copay-percent": "coinsurance",
    "copaypercent": "coinsurance",
    "coinsurance": "coinsurance",
    "copay-maximum": "limitation",
    "copaymaximum": "limitation",
    "visit": "limitation",
    "limitation": "limitation",
    "limitations": "limitation",
    "outofpocket": "out_of_pocket",
    "outofpocketstoploss": "out_of_pocket",
    "outofpocketmaximum": "out_of_pocket",
    "oop": "out_of_pocket",
    "oopmax": "out_of_pocket",
    "stoploss": "out_of_pocket",
    "activecoverage": "active_coverage",
    "inactive": "inactive",
    "inactivecoverage": "inactive",
    "noncovered": "non_covered",
    "notcovered": "non_covered",
    "exclusions": "non_covered",
    "room": "other",
    "vision-exam": "other",
    "vision-glasses": "other",
    "vision-contacts": "other",
    "medical-primarycare": "other",
    "pharmacy-dispense": "other",
}
_KIND_LABELS: dict[str, str] = {
    "benefit": "Maximum benefit",
    "copay-maximum": "Copay maximum",
    "visit": "Visits",
    "room": "Room",
    "vision-exam": "Vision exam",
    "vision-glasses": "Vision glasses",
    "vision-contacts": "Vision contacts",
    "medical-primarycare": "Primary care",
    "pharmacy-dispense": "Pharmacy dispense",
}
_INCOMPLETE = "incompleteinformation"
_UNITS = {"individual": "IND", "family": "FAM"}
_TERMS = {"annual": "23", "day": "7", "lifetime": "32"}
_REMAINING, _LIFETIME_REMAINING, _YEAR_TO_DATE = "29", "33", "24"
_NETWORK = {"in": True, "innetwork": True, "out": False, "outofnetwork": False}
# adjudication-error codes (terminology.hl7.org/CodeSystem/adjudication-error).
_ADJUDICATION_ERRORS = {
    "a001": "the request is missing an identifier: correct the request and check again",
    "a002": "the request is missing its creation date: correct the request and check again",
}
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_MONEY_TEXT = re.compile(r"\$?\s*(-?\d[\d,]*(?:\.\d+)?)")
_PERCENT_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(%?)")


def map_coverage_eligibility_response(resource: Mapping[str, Any], ctx: Ctx) -> EligibilityResult:
    if not isinstance(resource, Mapping) or resource.get("resourceType") != _RESOURCE:
        raise ctx.fail("resourceType", f"expected {_RESOURCE}")
    outcome = as_str(resource.get("outcome"))
    insurances = [i for i in as_list(resource.get("insurance")) if isinstance(i, Mapping)]
    errors = _errors(resource, ctx)
    if outcome is None and not insurances and not errors:
        raise ctx.fail("outcome", "no outcome, insurance or error: nothing to say about coverage")

    contained = _contained(resource)
    payer_id, payer_name = _insurer(resource.get("insurer"), contained, ctx)
    benefits: list[Benefit] = []
    chosen: Mapping[str, Any] | None = None
    for i, insurance in enumerate(insurances):
        path = f"insurance[{i}]"
        inforce = insurance.get("inforce")
        if chosen is None and inforce is not False:
            chosen = insurance
        for j, item in enumerate(as_list(insurance.get("item"))):
            if isinstance(item, Mapping):
                benefits.extend(_item(item, inforce is True, ctx, f"{path}.item[{j}]"))
    if chosen is None and insurances:
        chosen = insurances[0]

    result = EligibilityResult(
        status=_status(resource, outcome, insurances, errors, benefits, ctx),
        checked_at=_checked_at(resource.get("created"), ctx),
        payer_id=payer_id,
        payer_name=payer_name,
        benefits=benefits,
        errors=errors,
        messages=[m for m in (as_str(resource.get("disposition")),) if m is not None],
        origin="fhir",
        source=_source(resource, ctx),
    )
    if chosen is not None:
        _apply_insurance(result, chosen, contained, ctx, f"insurance[{insurances.index(chosen)}]")
    result.warnings = ctx.warnings
    return result


def _status(
    resource: Mapping[str, Any],
    outcome: str | None,
    insurances: list[Mapping[str, Any]],
    errors: list[EligibilityError],
    benefits: list[Benefit],
    ctx: Ctx,
) -> EligibilityStatus:
    status = as_str(resource.get("status"))
    if status in {"cancelled", "entered-in-error"}:
        ctx.warn("status", f"response is {status}")
        return "error"
    if errors or outcome == "error":
        return "error"
    if outcome == "queued":
        return "unknown"
    if outcome not in {None, "complete", "partial"}:
        ctx.warn("outcome", "unknown outcome code")
    inforce = [i.get("inforce") for i in insurances if isinstance(i.get("inforce"), bool)]
    if any(inforce):
        return "active"
    if inforce:
        return "inactive"
    kinds = {b.kind for b in benefits}
    if "active_coverage" in kinds:
        return "active"
    if "inactive" in kinds:
        return "inactive"
    return "unknown"


def _checked_at(raw: Any, ctx: Ctx) -> datetime:
    when = parse_datetime(raw)
    if when is not None:
        return when
    day = parse_date_floor(raw)
    if day is not None:
        ctx.warn("created", "a date without a time; midnight UTC assumed")
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    # The response is being mapped as it arrives, so "now" is the closest truth.
    ctx.warn("created", "missing or unreadable; time of mapping used")
    return datetime.now(UTC)


def _source(resource: Mapping[str, Any], ctx: Ctx) -> SourceRef | None:
    rid = as_str(resource.get("id"))
    if rid is None:
        return None
    meta = resource.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    return SourceRef(
        source=ctx.source,
        resource_type=_RESOURCE,
        id=rid,
        version=as_str(meta.get("versionId")),
        last_updated=parse_datetime(meta.get("lastUpdated")),
    )


def _contained(resource: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for res in as_list(resource.get("contained")):
        if isinstance(res, Mapping):
            rid = as_str(res.get("id"))
            if rid is not None:
                out[rid] = res
    return out


def _resolve(
    ref: Any, contained: Mapping[str, Mapping[str, Any]], rtype: str
) -> Mapping[str, Any] | None:
    if not isinstance(ref, Mapping):
        return None
    text = as_str(ref.get("reference"))
    if text is None or not text.startswith("#"):
        return None
    found = contained.get(text[1:])
    if found is None or found.get("resourceType") != rtype:
        return None
    return found


def _identifier_value(raw: Any, ctx: Ctx, path: str) -> str | None:
    if isinstance(raw, str):
        # Seen in vendor output: "identifier": "1111" instead of an Identifier.
        ctx.warn(path, "a string where an Identifier was expected")
        return as_str(raw)
    if isinstance(raw, Mapping):
        return as_str(raw.get("value"))
    return None


def _insurer(
    raw: Any, contained: Mapping[str, Mapping[str, Any]], ctx: Ctx
) -> tuple[str | None, str | None]:
    if not isinstance(raw, Mapping):
        ctx.warn("insurer", "missing")
        return None, None
    payer_id = _identifier_value(raw.get("identifier"), ctx, "insurer.identifier")
    payer_name = as_str(raw.get("display"))
    org = _resolve(raw, contained, "Organization")
    if org is not None:
        for k, ident in enumerate(as_list(org.get("identifier"))):
            payer_id = payer_id or _identifier_value(ident, ctx, f"contained.identifier[{k}]")
        payer_name = payer_name or as_str(org.get("name"))
    return payer_id, payer_name


def _apply_insurance(
    result: EligibilityResult,
    insurance: Mapping[str, Any],
    contained: Mapping[str, Mapping[str, Any]],
    ctx: Ctx,
    path: str,
) -> None:
    period = insurance.get("benefitPeriod")
    if isinstance(period, Mapping):
        result.coverage_start = parse_date_floor(period.get("start"))
        result.coverage_end = parse_date_floor(period.get("end"), end=True)
        if period.get("start") is not None and result.coverage_start is None:
            ctx.warn(f"{path}.benefitPeriod.start", "not a date")
        if period.get("end") is not None and result.coverage_end is None:
            ctx.warn(f"{path}.benefitPeriod.end", "not a date")
    coverage = _resolve(insurance.get("coverage"), contained, "Coverage")
    if coverage is None:
        ctx.warn(f"{path}.coverage", "not contained; member id, plan and group unknown")
        return
    result.member_id = _member_id(coverage)
    for cls in as_list(coverage.get("class")):
        if not isinstance(cls, Mapping):
            continue
        kind = codeable_codes(cls.get("type"))
        value, name = as_str(cls.get("value")), as_str(cls.get("name"))
        if "group" in kind:
            result.group_number = result.group_number or value
            result.group_name = result.group_name or name
        elif "plan" in kind:
            result.plan_name = result.plan_name or name or value
        elif "subplan" in kind and result.plan_name is None:
            result.plan_name = name or value
    if result.payer_id is None and result.payer_name is None:
        for k, payor in enumerate(as_list(coverage.get("payor"))):
            if isinstance(payor, Mapping):
                result.payer_id = result.payer_id or _identifier_value(
                    payor.get("identifier"), ctx, f"{path}.coverage.payor[{k}].identifier"
                )
                result.payer_name = result.payer_name or as_str(payor.get("display"))


def _member_id(coverage: Mapping[str, Any]) -> str | None:
    """The member number: an identifier typed MB, else subscriberId, else the first identifier."""
    idents = [i for i in as_list(coverage.get("identifier")) if isinstance(i, Mapping)]
    for ident in idents:
        if "MB" in codeable_codes(ident.get("type")):
            return as_str(ident.get("value"))
    subscriber = as_str(coverage.get("subscriberId"))
    if subscriber is not None:
        return subscriber
    return next((v for i in idents if (v := as_str(i.get("value"))) is not None), None)


def _item(item: Mapping[str, Any], inforce: bool, ctx: Ctx, path: str) -> list[Benefit]:
    category = item.get("category")
    service_type = next(iter(codeable_codes(category)), None)
    display = _coding_display(category)
    if service_type is None:
        service_type = next(iter(codeable_codes(item.get("productOrService"))), None)
        display = _coding_display(item.get("productOrService"))
    name = as_str(item.get("name"))
    if display is None and service_type is not None:
        display = codes.SERVICE_TYPES.get(service_type)
    common: dict[str, Any] = {
        "service_type": service_type,
        "service_type_display": display or name,
        "coverage_level": _unit(item.get("unit")),
        "in_network": _network(item.get("network"), ctx, f"{path}.network"),
        "time_period": _term(item.get("term")),
        "authorization_required": (
            item["authorizationRequired"]
            if isinstance(item.get("authorizationRequired"), bool)
            else None
        ),
        "description": as_str(item.get("description")) or name,
    }
    if item.get("excluded") is True:
        return [Benefit(kind="non_covered", **common)]
    entries = [b for b in as_list(item.get("benefit")) if isinstance(b, Mapping)]
    if not entries:
        return [Benefit(kind="active_coverage" if inforce else "other", **common)]
    out: list[Benefit] = []
    for k, entry in enumerate(entries):
        out.extend(_benefit(entry, common, ctx, f"{path}.benefit[{k}]"))
    return out


def _benefit(
    entry: Mapping[str, Any], common: dict[str, Any], ctx: Ctx, path: str
) -> list[Benefit]:
    kind, label, incomplete = _kind(entry.get("type"), ctx, f"{path}.type")
    fields = dict(common)
    if label is not None and fields["description"] is None:
        fields["description"] = label
    messages = ["payer marked this benefit as incomplete information"] if incomplete else []

    if kind == "coinsurance":
        percent = _percent(entry, ctx, path)
        return [Benefit(kind=kind, percent=percent, messages=messages, **fields)]
    count = entry.get("allowedUnsignedInt")
    if isinstance(count, int) and not isinstance(count, bool):
        # A count (visits, days...), not money; X12 HSD "VS" names a visit count.
        visits = label == _KIND_LABELS["visit"]
        return [
            Benefit(
                kind=kind,
                quantity=Decimal(count),
                quantity_qualifier="VS" if visits else None,
                messages=messages,
                **fields,
            )
        ]

    allowed = _money(entry, "allowed", ctx, path, messages)
    used = _money(entry, "used", ctx, path, messages)
    text = as_str(entry.get("allowedString"))
    if allowed is None and text is not None:
        allowed = _money_text(text)
        if allowed is None:
            messages.append(text)
    if allowed is None and used is not None:
        fields["time_period"] = _YEAR_TO_DATE
        return [Benefit(kind=kind, amount=used, messages=messages, **fields)]
    out = [Benefit(kind=kind, amount=allowed, messages=messages, **fields)]
    if allowed is not None and used is not None:
        remaining = allowed - used
        if remaining < 0:
            ctx.warn(f"{path}.usedMoney", "more used than allowed; remaining set to 0")
            remaining = Decimal(0)
        lifetime = common["time_period"] == _TERMS["lifetime"]
        fields["time_period"] = _LIFETIME_REMAINING if lifetime else _REMAINING
        out.append(Benefit(kind=kind, amount=remaining, **fields))
    return out


def _kind(raw: Any, ctx: Ctx, path: str) -> tuple[BenefitKind, str | None, bool]:
    """(kind, human label, payer flagged the benefit as incomplete)."""
    if not isinstance(raw, Mapping):
        ctx.warn(path, "missing benefit type")
        return "other", None, False
    for coding in as_list(raw.get("coding")):
        if not isinstance(coding, Mapping):
            continue
        code = as_str(coding.get("code"))
        if code is None:
            continue
        system = as_str(coding.get("system")) or ""
        if "x12" in system.lower() and code in codes.BENEFIT_KINDS:
            return codes.benefit_kind(code), codes.ELIGIBILITY_CODE_NAMES.get(code), False
        kind = _KINDS.get(code) or _KINDS.get(_norm(code))
        if kind is not None:
            return kind, as_str(coding.get("display")) or _KIND_LABELS.get(code), False
    text = codeable_text(raw)
    if text is not None:
        key = _norm(text)
        incomplete = key.endswith(_INCOMPLETE)
        if incomplete:
            key = key[: -len(_INCOMPLETE)]
        kind = _KINDS.get(key)
        if kind is not None:
            return kind, text, incomplete
        ctx.warn(path, "unknown benefit type")
        return "other", text, incomplete
    ctx.warn(path, "unknown benefit type")
    return "other", None, False


def _percent(entry: Mapping[str, Any], ctx: Ctx, path: str) -> Decimal | None:
    """A fraction (0.2 = 20%) from allowedUnsignedInt (whole percent) or allowedString."""
    number = entry.get("allowedUnsignedInt")
    if isinstance(number, int) and not isinstance(number, bool):
        return Decimal(number) / 100
    text = as_str(entry.get("allowedString"))
    if text is not None:
        m = _PERCENT_TEXT.fullmatch(text)
        if m is not None:
            value = Decimal(m.group(1))
            # "20%" and "20" are percents; "0.2" is already a fraction.
            return value / 100 if m.group(2) or value > 1 else value
    if "allowedUnsignedInt" in entry or "allowedString" in entry:
        ctx.warn(path, "percentage not readable")
    return None


def _money(
    entry: Mapping[str, Any], prefix: str, ctx: Ctx, path: str, messages: list[str]
) -> Decimal | None:
    raw = entry.get(f"{prefix}Money")
    if not isinstance(raw, Mapping):
        return None
    amount = _decimal(raw.get("value"))
    if amount is None:
        ctx.warn(f"{path}.{prefix}Money.value", "not a number")
        return None
    currency = as_str(raw.get("currency"))
    if currency not in {None, "USD"}:
        # Amounts are USD by contract; a foreign amount is kept as words only.
        ctx.warn(f"{path}.{prefix}Money.currency", "not USD; amount kept as a message")
        messages.append(f"{prefix} {amount} {currency}")
        return None
    return amount


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal, str)):
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


def _money_text(text: str) -> Decimal | None:
    m = _MONEY_TEXT.fullmatch(text.strip())
    return Decimal(m.group(1).replace(",", "")) if m else None


def _unit(raw: Any) -> str | None:
    code = next(iter(codeable_codes(raw)), None)
    if code is None:
        return None
    return _UNITS.get(code.lower(), code)


def _term(raw: Any) -> str | None:
    code = next(iter(codeable_codes(raw)), None)
    if code is None:
        return None
    return _TERMS.get(code.lower(), code)


def _network(raw: Any, ctx: Ctx, path: str) -> bool | None:
    code = next(iter(codeable_codes(raw)), None)
    if code is None:
        return None
    value = _NETWORK.get(_norm(code))
    if value is None:
        ctx.warn(path, "unknown network code")
    return value


def _coding_display(raw: Any) -> str | None:
    if not isinstance(raw, Mapping):
        return None
    for coding in as_list(raw.get("coding")):
        if isinstance(coding, Mapping) and (label := as_str(coding.get("display"))) is not None:
            return label
    return as_str(raw.get("text"))


def _errors(resource: Mapping[str, Any], ctx: Ctx) -> list[EligibilityError]:
    out: list[EligibilityError] = []
    for i, entry in enumerate(as_list(resource.get("error"))):
        concept = entry.get("code") if isinstance(entry, Mapping) else None
        code = next(iter(codeable_codes(concept)), None)
        if code is None:
            ctx.warn(f"error[{i}].code", "missing")
            code = "unknown"
        if code in codes.REJECT_REASONS:
            description = codes.reject_reason_words(code)
        elif code.lower() in _ADJUDICATION_ERRORS:
            description = _ADJUDICATION_ERRORS[code.lower()]
        else:
            description = codeable_text(concept) or codes.reject_reason_words(code)
            if description == code:
                description = codes.reject_reason_words(code)
        out.append(EligibilityError(code=code, description=description, loop="payer"))
    return out


def _norm(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())
