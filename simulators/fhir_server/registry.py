"""What the sandbox stores and how it can be searched.

One table per resource type, in the shape of FHIR R4's SearchParameter
definitions (name, type, path) but reduced to the parameters the connectors and
the conformance kit use. Paths are dotted JSON paths; lists are flattened on
the way, as FHIRPath does. HAPI FHIR JPA (R4) is the reference behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ParamType = Literal["token", "string", "date", "reference"]


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter: where its values live and how they compare.

    ``where`` keeps only elements whose field equals a value (FHIRPath
    ``telecom.where(system='phone')``); ``targets`` are the resource types a
    reference parameter may point at (empty means any).
    """

    name: str
    type: ParamType
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()
    where: tuple[str, str] | None = None


def _token(name: str, *paths: str, where: tuple[str, str] | None = None) -> SearchParam:
    return SearchParam(name, "token", paths, where=where)


def _string(name: str, *paths: str) -> SearchParam:
    return SearchParam(name, "string", paths)


def _date(name: str, *paths: str) -> SearchParam:
    return SearchParam(name, "date", paths)


def _ref(name: str, path: str, *targets: str) -> SearchParam:
    return SearchParam(name, "reference", (path,), targets=targets)


# Every HumanName part HAPI indexes for `name`; `family`/`given` narrow it.
_HUMAN_NAME = ("name.family", "name.given", "name.prefix", "name.suffix", "name.text")

_COMMON = (
    SearchParam("_id", "token", ("id",)),
    _date("_lastUpdated", "meta.lastUpdated"),
)

_PARTICIPANT = "participant.actor"

_PARAMS: dict[str, tuple[SearchParam, ...]] = {
    "Patient": (
        _token("identifier", "identifier"),
        _string("name", *_HUMAN_NAME),
        _string("family", "name.family"),
        _string("given", "name.given"),
        _date("birthdate", "birthDate"),
        _token("gender", "gender"),
        _token("phone", "telecom", where=("system", "phone")),
        _token("email", "telecom", where=("system", "email")),
        _token("telecom", "telecom"),
        _token("active", "active"),
        _ref(
            "general-practitioner",
            "generalPractitioner",
            "Practitioner",
            "Organization",
            "PractitionerRole",
        ),
        _ref("organization", "managingOrganization", "Organization"),
    ),
    "Practitioner": (
        _token("identifier", "identifier"),
        _string("name", *_HUMAN_NAME),
        _string("family", "name.family"),
        _string("given", "name.given"),
        _token("active", "active"),
    ),
    "PractitionerRole": (
        _token("identifier", "identifier"),
        _ref("practitioner", "practitioner", "Practitioner"),
        _ref("organization", "organization", "Organization"),
        _ref("location", "location", "Location"),
        _token("specialty", "specialty"),
        _token("role", "code"),
        _token("active", "active"),
    ),
    "Location": (
        _token("identifier", "identifier"),
        _string("name", "name", "alias"),
        _token("status", "status"),
        _ref("organization", "managingOrganization", "Organization"),
    ),
    "Organization": (
        _token("identifier", "identifier"),
        _string("name", "name", "alias"),
        _token("active", "active"),
        _token("type", "type"),
    ),
    "Schedule": (
        _token("identifier", "identifier"),
        _ref("actor", "actor"),
        _token("service-type", "serviceType"),
        _token("specialty", "specialty"),
        _token("active", "active"),
        _date("date", "planningHorizon"),
    ),
    "Slot": (
        _token("identifier", "identifier"),
        _ref("schedule", "schedule", "Schedule"),
        _token("status", "status"),
        _date("start", "start"),
        _token("service-type", "serviceType"),
        _token("specialty", "specialty"),
        _token("appointment-type", "appointmentType"),
    ),
    "Appointment": (
        _token("identifier", "identifier"),
        _ref("patient", _PARTICIPANT, "Patient"),
        _ref("practitioner", _PARTICIPANT, "Practitioner"),
        _ref("location", _PARTICIPANT, "Location"),
        _ref("actor", _PARTICIPANT),
        _ref("slot", "slot", "Slot"),
        _date("date", "start"),
        _token("status", "status"),
        _token("service-type", "serviceType"),
        _token("appointment-type", "appointmentType"),
    ),
    "Coverage": (
        _token("identifier", "identifier"),
        _ref("beneficiary", "beneficiary", "Patient"),
        _ref("patient", "beneficiary", "Patient"),
        _ref("subscriber", "subscriber", "Patient", "RelatedPerson"),
        _ref("policy-holder", "policyHolder", "Patient", "RelatedPerson", "Organization"),
        _ref("payor", "payor", "Organization", "Patient", "RelatedPerson"),
        _token("status", "status"),
        _token("type", "type"),
    ),
    "CoverageEligibilityRequest": (
        _token("identifier", "identifier"),
        _ref("patient", "patient", "Patient"),
        _ref("provider", "provider", "Practitioner", "Organization", "PractitionerRole"),
        _ref("enterer", "enterer", "Practitioner", "PractitionerRole"),
        _token("status", "status"),
        _date("created", "created"),
    ),
    "CoverageEligibilityResponse": (
        _token("identifier", "identifier"),
        _ref("patient", "patient", "Patient"),
        _ref("request", "request", "CoverageEligibilityRequest"),
        _ref("insurer", "insurer", "Organization"),
        _token("status", "status"),
        _token("outcome", "outcome"),
        _date("created", "created"),
    ),
    # Billing: accounts with their balances (the R5 cross-version extension, or Oracle
    # Health's, whose account types are named in type.text and whose guarantor-balance
    # accounts are found by encounter), the encounters they hang on, and bills.
    "Account": (
        _token("identifier", "identifier"),
        _ref("patient", "subject", "Patient"),
        _ref("subject", "subject"),
        _token("status", "status"),
        _token("type", "type", "type.text"),
        _ref("-encounter", "extension.valueReference", "Encounter"),
    ),
    "Encounter": (
        _token("identifier", "identifier"),
        _ref("patient", "subject", "Patient"),
        _ref("subject", "subject"),
        _token("status", "status"),
        _date("date", "period"),
    ),
    "Invoice": (
        _token("identifier", "identifier"),
        _ref("patient", "subject", "Patient"),
        _ref("subject", "subject"),
        _token("status", "status"),
        _date("date", "date"),
    ),
}

SUPPORTED_TYPES: tuple[str, ...] = tuple(_PARAMS)


def search_params(resource_type: str) -> dict[str, SearchParam]:
    """The search parameters of one supported type, by name (common ones included)."""
    return {param.name: param for param in (*_COMMON, *_PARAMS[resource_type])}


def reference_params(resource_type: str) -> list[SearchParam]:
    """The reference parameters of a type: what `_include=Type:param` can follow."""
    return [p for p in _PARAMS[resource_type] if p.type == "reference"]


# Required bindings HAPI's parser enforces on write (an unknown code is a 400).
STATUS_CODES: dict[str, frozenset[str]] = {
    "Slot": frozenset({"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"}),
    "Appointment": frozenset(
        {
            "proposed",
            "pending",
            "booked",
            "arrived",
            "fulfilled",
            "cancelled",
            "noshow",
            "entered-in-error",
            "checked-in",
            "waitlist",
        }
    ),
    "Coverage": frozenset({"active", "cancelled", "draft", "entered-in-error"}),
    "CoverageEligibilityRequest": frozenset({"active", "cancelled", "draft", "entered-in-error"}),
    "CoverageEligibilityResponse": frozenset({"active", "cancelled", "draft", "entered-in-error"}),
    "Account": frozenset({"active", "inactive", "entered-in-error", "on-hold", "unknown"}),
    "Invoice": frozenset({"draft", "issued", "balanced", "cancelled", "entered-in-error"}),
}
