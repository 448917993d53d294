"""The FHIR eligibility question: a CoverageEligibilityRequest for one inquiry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fhir.resources.R4B.coverageeligibilityrequest import (
    CoverageEligibilityRequest as R4BCoverageEligibilityRequest,
)

from ..model import EligibilityRequest
from ..npi import NPI_SYSTEM, is_valid_npi
from ._rules import (
    OutboundError,
    aware,
    concept,
    fhir_date,
    instant,
    reference,
    require_uri,
    validated,
)

__all__ = [
    "ELIGIBILITY_IDENTIFIER_SYSTEM",
    "PAYER_ID_SYSTEM",
    "SERVICE_TYPE_SYSTEM",
    "build_coverage_eligibility_request",
]

ELIGIBILITY_IDENTIFIER_SYSTEM = "urn:frontdesk:eligibility-trace"
SERVICE_TYPE_SYSTEM = "https://x12.org/codes/service-type-codes"
# There is no registered system for clearinghouse payer ids; ours says what it is.
PAYER_ID_SYSTEM = "urn:frontdesk:payer-id"
_PURPOSES = frozenset({"auth-requirements", "benefits", "discovery", "validation"})


def build_coverage_eligibility_request(
    request: EligibilityRequest,
    *,
    patient_ref: str,
    coverage_ref: str | None,
    created: datetime,
    insurer_ref: str | None = None,
    payer_id_system: str = PAYER_ID_SYSTEM,
    provider_ref: str | None = None,
    purpose: Iterable[str] = ("validation", "benefits"),
    identifier_system: str = ELIGIBILITY_IDENTIFIER_SYSTEM,
) -> dict[str, Any]:
    """An R4 CoverageEligibilityRequest for one inquiry.

    The insurer is ``insurer_ref`` when the payer has a FHIR Organization, else the
    request's payer id as an identifier. The provider is identified by NPI (plus
    ``provider_ref`` when given). Each service type becomes an item category in
    the X12 service type code system; the trace number is the identifier.
    """
    patient = reference(patient_ref, "patient_ref", {"Patient"})
    npi = request.provider_npi.strip()
    if not is_valid_npi(npi):
        raise OutboundError(
            "EligibilityRequest.provider_npi", "must be 10 digits with a valid check digit"
        )
    purposes = list(dict.fromkeys(purpose))
    if not purposes or not set(purposes) <= _PURPOSES:
        raise OutboundError("purpose", f"must be one or more of {sorted(_PURPOSES)}")
    trace = request.trace_number.strip()
    if not trace:
        raise OutboundError("EligibilityRequest.trace_number", "must not be empty")
    require_uri(identifier_system, "identifier_system")

    insurer: dict[str, Any]
    if insurer_ref is not None:
        insurer = {"reference": reference(insurer_ref, "insurer_ref", {"Organization"})}
    else:
        require_uri(payer_id_system, "payer_id_system")
        if not request.payer_id.strip():
            raise OutboundError("EligibilityRequest.payer_id", "must not be empty")
        insurer = {"identifier": {"system": payer_id_system, "value": request.payer_id.strip()}}
    if request.payer_name:
        insurer["display"] = request.payer_name

    provider: dict[str, Any] = {"identifier": {"system": NPI_SYSTEM, "value": npi}}
    if provider_ref is not None:
        provider["reference"] = reference(
            provider_ref, "provider_ref", {"Practitioner", "PractitionerRole", "Organization"}
        )
    if request.provider_name:
        provider["display"] = request.provider_name

    resource: dict[str, Any] = {
        "resourceType": "CoverageEligibilityRequest",
        "identifier": [{"system": identifier_system, "value": trace}],
        "status": "active",
        "purpose": purposes,
        "patient": {"reference": patient},
        "servicedDate": fhir_date(request.date_of_service),
        "created": instant(aware(created, "created")),
        "provider": provider,
        "insurer": insurer,
    }
    if coverage_ref is not None:
        resource["insurance"] = [
            {
                "focal": True,
                "coverage": {"reference": reference(coverage_ref, "coverage_ref", {"Coverage"})},
            }
        ]
    if request.service_types:
        resource["item"] = [
            {"category": concept(code, SERVICE_TYPE_SYSTEM, f"item[{i}].category")}
            for i, code in enumerate(request.service_types)
        ]
    return validated(R4BCoverageEligibilityRequest, resource)
