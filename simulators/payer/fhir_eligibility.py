"""FHIR R4 CoverageEligibilityRequest in, CoverageEligibilityResponse out.

Who is asked about: a payer cannot resolve references into a provider's EHR, so the
member comes from what the request carries: a contained Coverage (identifier typed MB,
else subscriberId; payor identifier) and a contained Patient (name, birthDate), or a
logical reference (``insurance[].coverage.identifier``). The payer id is the
``insurer.identifier`` value, else the Coverage's payor identifier.

The response (valid per fhir.resources R4B) carries a contained Coverage with the
member id, group and plan, ``insurance[].inforce``, and ``item[]`` benefits: copay
money per service type (``item.category``), coinsurance percent, deductible and
out-of-pocket with ``allowedMoney``/``usedMoney``, network in/out, unit
individual/family and term annual. Rejections become ``error[]`` with the X12 AAA
reason code, as payers bridging to X12 report them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from mappers.x12 import codes
from simulators.payer.benefit_lines import BenefitLine, benefit_lines
from simulators.payer.inquiry import Decision, Party, Query

__all__ = [
    "PAYER_ID_SYSTEM",
    "REJECT_REASON_SYSTEM",
    "SERVICE_TYPE_SYSTEM",
    "FhirRequestError",
    "build_response",
    "read_request",
]

PAYER_ID_SYSTEM = "urn:frontdesk:payer-id"
SERVICE_TYPE_SYSTEM = "https://x12.org/codes/service-type-codes"
# X12 element 901 (AAA03) codes; there is no HL7-registered system for them.
REJECT_REASON_SYSTEM = "urn:frontdesk:x12:reject-reason"
_BENEFIT_TYPE = "http://terminology.hl7.org/CodeSystem/benefit-type"
_NETWORK = "http://terminology.hl7.org/CodeSystem/benefit-network"
_UNIT = "http://terminology.hl7.org/CodeSystem/benefit-unit"
_TERM = "http://terminology.hl7.org/CodeSystem/benefit-term"
_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
_BENEFIT_TYPES = {"copay": "copay", "coinsurance": "copay-percent", "deductible": "deductible"}
_GENDERS = ("male", "female", "other", "unknown")


class FhirRequestError(ValueError):
    """Not a CoverageEligibilityRequest the simulator can read (answered 400)."""


@dataclass(frozen=True, slots=True)
class FhirQuestion:
    request: Mapping[str, Any]
    query: Query


def read_request(body: Any, *, today: date) -> FhirQuestion:
    resource = _unwrap(body)
    contained = {
        f"#{r['id']}": r
        for r in resource.get("contained") or ()
        if isinstance(r, Mapping) and isinstance(r.get("id"), str)
    }
    coverage, coverage_ref = _coverage(resource, contained)
    patient = _resolve(resource.get("patient"), contained)
    member_id = _member_id(coverage) if coverage else None
    if member_id is None and coverage_ref is not None:
        ident = coverage_ref.get("identifier")
        if isinstance(ident, Mapping) and isinstance(ident.get("value"), str):
            member_id = ident["value"]
    payer_id = _payer_id(resource, coverage)
    if payer_id is None:
        raise FhirRequestError("insurer.identifier: no payer id")
    last, first = _name(patient)
    born = patient.get("birthDate") if patient else None
    gender = patient.get("gender") if patient else None
    subscriber = Party(
        last_name=last,
        first_name=first,
        member_id=member_id,
        birth_date=_date(born),
        gender=gender if gender in _GENDERS else None,
    )
    if not (member_id or last):
        raise FhirRequestError("no member: contain the Coverage (or Patient) in the request")
    serviced = _date(resource.get("servicedDate"))
    period = resource.get("servicedPeriod")
    if serviced is None and isinstance(period, Mapping):
        serviced = _date(period.get("start"))
    service_types = tuple(
        code
        for item in resource.get("item") or ()
        if isinstance(item, Mapping)
        for code in _codes(item.get("category"))
    )
    query = Query(
        payer_id=payer_id,
        subscriber=subscriber,
        date_of_service=serviced or today,
        service_types=service_types or ("30",),
    )
    return FhirQuestion(resource, query)


def build_response(
    question: FhirQuestion,
    decision: Decision,
    *,
    payer_name: str,
    now: datetime,
    request_id: str | None = None,
    response_id: str | None = None,
) -> dict[str, Any]:
    request = question.request
    response: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "id": response_id or uuid.uuid4().hex,
        "status": "active",
        "purpose": _purposes(request),
        "patient": _copy_reference(request.get("patient")) or {"display": "unidentified patient"},
        "created": now.isoformat(timespec="seconds"),
        "request": _request_reference(request, request_id),
        "outcome": "complete",
        "insurer": _copy_reference(request.get("insurer"))
        or {"identifier": {"system": PAYER_ID_SYSTEM, "value": question.query.payer_id}},
    }
    response["insurer"].setdefault("display", payer_name)
    if isinstance(request.get("identifier"), list):
        response["identifier"] = [dict(i) for i in request["identifier"] if isinstance(i, Mapping)]
    response["servicedDate"] = question.query.date_of_service.isoformat()
    if decision.reject is not None:
        reason = decision.reject.reason
        response["outcome"] = "error"
        response["disposition"] = codes.reject_reason_words(reason)
        response["error"] = [
            {
                "code": {
                    "coding": [
                        {
                            "system": REJECT_REASON_SYSTEM,
                            "code": reason,
                            "display": codes.reject_reason_words(reason),
                        }
                    ]
                }
            }
        ]
        return response
    patient = decision.patient
    assert patient is not None
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": "coverage-1",
        "identifier": [
            {
                "type": {"coding": [{"system": _V2_0203, "code": "MB"}]},
                "value": patient.member_id,
            }
        ],
        "status": "cancelled" if patient.terminated else "active",
        "subscriberId": patient.subscriber_id or patient.member_id,
        "beneficiary": response["patient"],
        "payor": [
            {
                "identifier": {"system": PAYER_ID_SYSTEM, "value": patient.payer_id},
                "display": payer_name,
            }
        ],
        "period": _period(patient.coverage_start, patient.coverage_end),
        "class": _classes(patient.group_number, patient.group_name, patient.plan_name),
    }
    response["contained"] = [coverage]
    insurance: dict[str, Any] = {
        "coverage": {"reference": "#coverage-1"},
        "inforce": decision.active,
        "benefitPeriod": _period(patient.coverage_start, patient.coverage_end),
    }
    response["disposition"] = (
        "coverage in force" if decision.active else "coverage not in force on the date of service"
    )
    if decision.active:
        insurance["item"] = [
            _item(line) for line in benefit_lines(patient, question.query.service_types)
        ]
    response["insurance"] = [insurance]
    return response


def _item(line: BenefitLine) -> dict[str, Any]:
    item: dict[str, Any] = {
        "category": {
            "coding": [
                {
                    "system": SERVICE_TYPE_SYSTEM,
                    "code": line.service_type,
                    "display": codes.SERVICE_TYPES.get(line.service_type, line.service_type),
                }
            ]
        },
        "network": _concept(_NETWORK, "in" if line.in_network else "out"),
        "unit": _concept(_UNIT, "individual" if line.level == "IND" else "family"),
    }
    if line.kind in ("deductible", "out_of_pocket"):
        item["term"] = _concept(_TERM, "annual")
    if line.auth_required is not None:
        item["authorizationRequired"] = line.auth_required
    if line.message:
        item["description"] = line.message
    benefit: dict[str, Any]
    if line.kind == "out_of_pocket":
        # benefit-type has no out-of-pocket code; payers name it in text.
        benefit = {"type": {"text": "Out of Pocket (Stop Loss)"}}
    else:
        benefit = {"type": _concept(_BENEFIT_TYPE, _BENEFIT_TYPES[line.kind])}
    if line.kind == "coinsurance" and line.percent is not None:
        benefit["allowedUnsignedInt"] = int(line.percent * 100)
    elif line.amount is not None:
        benefit["allowedMoney"] = _money(line.amount)
        if line.remaining is not None:
            benefit["usedMoney"] = _money(line.amount - line.remaining)
    item["benefit"] = [benefit]
    return item


def _unwrap(body: Any) -> Mapping[str, Any]:
    if isinstance(body, Mapping) and body.get("resourceType") == "Parameters":
        for param in body.get("parameter") or ():
            if isinstance(param, Mapping) and isinstance(param.get("resource"), Mapping):
                body = param["resource"]
                break
    if not isinstance(body, Mapping) or body.get("resourceType") != "CoverageEligibilityRequest":
        raise FhirRequestError("expected a CoverageEligibilityRequest")
    return body


def _resolve(ref: Any, contained: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
        return contained.get(ref["reference"])
    return None


def _coverage(
    resource: Mapping[str, Any], contained: Mapping[str, Mapping[str, Any]]
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    insurances = [i for i in resource.get("insurance") or () if isinstance(i, Mapping)]
    focal = [i for i in insurances if i.get("focal") is True] or insurances
    for insurance in focal:
        ref = insurance.get("coverage")
        if isinstance(ref, Mapping):
            return _resolve(ref, contained), ref
    return None, None


def _member_id(coverage: Mapping[str, Any]) -> str | None:
    idents = [i for i in coverage.get("identifier") or () if isinstance(i, Mapping)]
    for ident in idents:
        if "MB" in _codes(ident.get("type")) and isinstance(ident.get("value"), str):
            return str(ident["value"])
    subscriber = coverage.get("subscriberId")
    if isinstance(subscriber, str) and subscriber:
        return subscriber
    return next((str(i["value"]) for i in idents if isinstance(i.get("value"), str)), None)


def _payer_id(resource: Mapping[str, Any], coverage: Mapping[str, Any] | None) -> str | None:
    candidates = [resource.get("insurer")]
    if coverage is not None:
        candidates.extend(p for p in coverage.get("payor") or ())
    for ref in candidates:
        ident = ref.get("identifier") if isinstance(ref, Mapping) else None
        if isinstance(ident, Mapping) and isinstance(ident.get("value"), str) and ident["value"]:
            return str(ident["value"])
    return None


def _name(patient: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    if not patient:
        return None, None
    names = [n for n in patient.get("name") or () if isinstance(n, Mapping)]
    chosen = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = chosen.get("given") or [None]
    family = chosen.get("family")
    return (
        family if isinstance(family, str) else None,
        given[0] if isinstance(given[0], str) else None,
    )


def _codes(concept: Any) -> list[str]:
    if not isinstance(concept, Mapping):
        return []
    return [
        str(c["code"])
        for c in concept.get("coding") or ()
        if isinstance(c, Mapping) and isinstance(c.get("code"), str)
    ]


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _purposes(request: Mapping[str, Any]) -> list[str]:
    allowed = {"auth-requirements", "benefits", "discovery", "validation"}
    purposes = [p for p in request.get("purpose") or () if p in allowed]
    return purposes or ["validation", "benefits"]


def _copy_reference(ref: Any) -> dict[str, Any] | None:
    if not isinstance(ref, Mapping):
        return None
    kept = {k: ref[k] for k in ("reference", "identifier", "display") if k in ref}
    # A contained reference ("#p1") means nothing outside the request: keep its display only.
    if str(kept.get("reference", "")).startswith("#"):
        del kept["reference"]
    return dict(kept) or None


def _request_reference(request: Mapping[str, Any], request_id: str | None) -> dict[str, Any]:
    if request_id is not None:
        return {"reference": f"CoverageEligibilityRequest/{request_id}"}
    idents = [i for i in request.get("identifier") or () if isinstance(i, Mapping)]
    if idents:
        return {"identifier": dict(idents[0])}
    return {"display": "eligibility request"}


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _money(value: Decimal) -> dict[str, Any]:
    # JSON numbers: an integral amount as int, else float of the exact decimal text.
    number: int | float = int(value) if value == value.to_integral_value() else float(value)
    return {"value": number, "currency": "USD"}


def _period(start: date, end: date | None) -> dict[str, str]:
    period = {"start": start.isoformat()}
    if end is not None:
        period["end"] = end.isoformat()
    return period


def _classes(group: str | None, group_name: str | None, plan: str) -> list[dict[str, Any]]:
    classes: list[dict[str, Any]] = []
    if group:
        entry: dict[str, Any] = {"type": _concept(_COVERAGE_CLASS, "group"), "value": group}
        if group_name:
            entry["name"] = group_name
        classes.append(entry)
    classes.append(
        {
            "type": _concept(_COVERAGE_CLASS, "plan"),
            "value": "".join(c if c.isalnum() else "-" for c in plan.upper()),
            "name": plan,
        }
    )
    return classes
