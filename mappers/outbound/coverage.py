"""Insurance the desk adds or replaces: a Coverage for the patient's EHR.

With a payer: ``payor`` names it by the payer id the eligibility check uses (an
identifier in the gateway's payer-id system, with the payer's name as display); the
member id is an identifier typed MB (v2-0203 "member number") and the
``subscriberId``; the group is a ``class`` of type group (coverage-class), the plan
another. Self-pay: the patient is the payor (FHIR R4 Coverage.payor allows a Patient
for "patient-pay agreements") and the type is coverage-selfpay ``pay``.
To replace a Coverage, give its id (a PUT with If-Match on the version read).
"""

from __future__ import annotations

from typing import Any, Final

from fhir.resources.R4B.coverage import Coverage as R4BCoverage

from ..ids import is_fhir_id
from ..model import NewCoverage
from ._elements import V2_0203_SYSTEM
from ._rules import OutboundError, fhir_date, reference, require_uri, text, validated
from .eligibility_request import PAYER_ID_SYSTEM

__all__ = [
    "COVERAGE_CLASS_SYSTEM",
    "SELF_PAY_SYSTEM",
    "SUBSCRIBER_RELATIONSHIP_SYSTEM",
    "build_coverage",
]

COVERAGE_CLASS_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP_SYSTEM: Final = (
    "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
)
SELF_PAY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/coverage-selfpay"
_RELATIONSHIPS: Final = frozenset(
    {"child", "parent", "spouse", "common", "other", "self", "injured"}
)


def build_coverage(
    new: NewCoverage,
    *,
    patient_ref: str,
    coverage_id: str | None = None,
    subscriber_ref: str | None = None,
) -> dict[str, Any]:
    """The Coverage of ``patient_ref`` (``Patient/<upstream id>``) that ``new`` describes.

    ``coverage_id`` (the upstream id) makes it the body of a replacing PUT.
    ``subscriber_ref`` (a Patient or RelatedPerson) names the subscriber when the
    patient is a dependent; with relationship ``self`` the patient is the subscriber.
    """
    if not isinstance(new, NewCoverage):
        raise OutboundError("NewCoverage", "expected a NewCoverage")
    patient = reference(patient_ref, "patient_ref", {"Patient"})
    if new.relationship not in _RELATIONSHIPS:
        raise OutboundError("NewCoverage.relationship", f"must be one of {sorted(_RELATIONSHIPS)}")
    resource: dict[str, Any] = {"resourceType": "Coverage", "status": new.status}
    if coverage_id is not None:
        if not isinstance(coverage_id, str) or not is_fhir_id(coverage_id):
            raise OutboundError("coverage_id", "must be a FHIR id")
        resource["id"] = coverage_id
    member = _member(new)
    if member:
        resource["identifier"] = member
        resource["subscriberId"] = (
            _optional(new.subscriber_id, "subscriber_id") or (member[0]["value"])
        )
    if new.self_pay:
        resource["type"] = {"coding": [{"system": SELF_PAY_SYSTEM, "code": "pay"}]}
    if subscriber_ref is not None:
        subscriber = reference(subscriber_ref, "subscriber_ref", {"Patient", "RelatedPerson"})
        resource["subscriber"] = {"reference": subscriber}
    elif new.relationship == "self":
        resource["subscriber"] = {"reference": patient}
    resource["beneficiary"] = {"reference": patient}
    resource["relationship"] = {
        "coding": [{"system": SUBSCRIBER_RELATIONSHIP_SYSTEM, "code": new.relationship}]
    }
    period = _period(new)
    if period:
        resource["period"] = period
    resource["payor"] = [{"reference": patient}] if new.self_pay else [_payor(new)]
    classes = _classes(new)
    if classes:
        resource["class"] = classes
    if new.order is not None:
        if new.order < 1:
            raise OutboundError("NewCoverage.order", "must be a positive integer")
        resource["order"] = new.order
    network = _optional(new.network, "network")
    if network is not None:
        resource["network"] = network
    return validated(R4BCoverage, resource)


def _optional(value: str | None, field: str) -> str | None:
    return None if value is None else text(value, f"NewCoverage.{field}")


def _member(new: NewCoverage) -> list[dict[str, Any]]:
    member_id = _optional(new.member_id, "member_id")
    if member_id is None:
        if not new.self_pay:
            raise OutboundError("NewCoverage.member_id", "is required unless self-pay")
        return []
    ident: dict[str, Any] = {
        "type": {"coding": [{"system": V2_0203_SYSTEM, "code": "MB"}]},
        "value": member_id,
    }
    if new.member_id_system is not None:
        require_uri(new.member_id_system, "NewCoverage.member_id_system")
        ident = {"type": ident["type"], "system": new.member_id_system, "value": member_id}
    return [ident]


def _payor(new: NewCoverage) -> dict[str, Any]:
    payer_id = _optional(new.payer_id, "payer_id")
    if payer_id is None:
        raise OutboundError("NewCoverage.payer_id", "is required unless self-pay")
    system = new.payer_id_system if new.payer_id_system is not None else PAYER_ID_SYSTEM
    require_uri(system, "NewCoverage.payer_id_system")
    payor: dict[str, Any] = {"identifier": {"system": system, "value": payer_id}}
    name = _optional(new.payer_name, "payer_name")
    if name is not None:
        payor["display"] = name
    return payor


def _period(new: NewCoverage) -> dict[str, Any]:
    if new.period_start and new.period_end and new.period_end < new.period_start:
        raise OutboundError("NewCoverage.period_end", "must not be before period_start")
    period: dict[str, Any] = {}
    if new.period_start is not None:
        period["start"] = fhir_date(new.period_start)
    if new.period_end is not None:
        period["end"] = fhir_date(new.period_end)
    return period


def _classes(new: NewCoverage) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    group = _optional(new.group_number, "group_number")
    group_name = _optional(new.group_name, "group_name")
    if group_name is not None and group is None:
        raise OutboundError("NewCoverage.group_number", "is required with a group name")
    if group is not None:
        out.append(_class("group", group, group_name))
    plan = _optional(new.plan_name, "plan_name")
    if plan is not None:
        # A class needs a value; the plan's name is all the desk has of it.
        out.append(_class("plan", plan, plan))
    return out


def _class(kind: str, value: str, name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": {"coding": [{"system": COVERAGE_CLASS_SYSTEM, "code": kind}]},
        "value": value,
    }
    if name is not None:
        out["name"] = name
    return out
