"""Payer ports: ask one payer about one member and answer in the canonical model.

``X12Payer`` builds a 270, sends it through the clearinghouse transport and parses the
271; ``FhirPayer`` sends a CoverageEligibilityRequest to ``$submit`` and maps the
response. Both raise ``connectors.UpstreamError`` for transport failures and
``mappers.MappingError`` for answers they can't read; the coverage service turns both
into an answer for the PSR.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from connectors import (
    FhirEligibility,
    X12Eligibility,
)
from mappers import MappingError, from_fhir
from mappers.model import EligibilityRequest, EligibilityResult
from mappers.outbound import PAYER_ID_SYSTEM, build_coverage_eligibility_request
from mappers.x12 import build_270, parse_271

__all__ = ["FhirPayer", "PayerPort", "X12Payer"]

Wall = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class PayerPort(Protocol):
    origin: Literal["x12", "fhir"]

    async def check(self, request: EligibilityRequest) -> EligibilityResult: ...


def _pick(results: list[EligibilityResult], request: EligibilityRequest) -> EligibilityResult:
    """The answer about the member asked for; a 271 may carry several."""
    if not results:
        raise MappingError("interchange", "271 without an eligibility answer")
    wanted = (request.subscriber.member_id or "").strip().upper()
    for result in results:
        if wanted and (result.member_id or "").strip().upper() == wanted:
            return result
    return results[0]


class X12Payer:
    origin: Literal["x12", "fhir"] = "x12"

    def __init__(
        self,
        transport: X12Eligibility,
        *,
        usage: Literal["T", "P"] = "T",
        sender_id: str = "FRONTDESK",
        receiver_id: str = "CLEARINGHOUSE",
        wall: Wall = _now,
    ) -> None:
        self._transport = transport
        self._usage = usage
        self._sender = sender_id
        self._receiver = receiver_id
        self._wall = wall

    async def check(self, request: EligibilityRequest) -> EligibilityResult:
        now = self._wall()
        x12 = build_270(
            request, sender_id=self._sender, receiver_id=self._receiver, usage=self._usage, now=now
        )
        raw = await self._transport.exchange(x12)
        return _pick(parse_271(raw, now=now), request)


class FhirPayer:
    origin: Literal["x12", "fhir"] = "fhir"

    def __init__(self, transport: FhirEligibility, *, source: str, wall: Wall = _now) -> None:
        self._transport = transport
        self._source = source
        self._wall = wall

    async def check(self, request: EligibilityRequest) -> EligibilityResult:
        resource = _with_member(
            build_coverage_eligibility_request(
                request, patient_ref="Patient/patient", coverage_ref=None, created=self._wall()
            ),
            request,
        )
        answer = await self._transport.check(resource)
        return from_fhir(answer, source=self._source, expect=EligibilityResult)


def _with_member(resource: dict[str, Any], request: EligibilityRequest) -> dict[str, Any]:
    """Carry who is asked about as contained Patient and Coverage resources.

    The payer knows none of the EHR's ids: it finds the member by the member id on the
    card (Coverage.subscriberId) and checks name and birth date (Patient), as a 270 does.
    """
    person = request.dependent or request.subscriber
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "patient"}
    if person.last_name or person.first_name:
        name: dict[str, Any] = {}
        if person.last_name:
            name["family"] = person.last_name
        if person.first_name:
            name["given"] = [person.first_name]
        patient["name"] = [name]
    if person.birth_date is not None:
        patient["birthDate"] = person.birth_date.isoformat()
    if person.gender is not None:
        patient["gender"] = person.gender
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": "coverage",
        "status": "active",
        "beneficiary": {"reference": "#patient"},
        "relationship": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                    "code": "self" if request.dependent is None else "child",
                }
            ]
        },
        "payor": [{"identifier": {"system": PAYER_ID_SYSTEM, "value": request.payer_id}}],
    }
    if request.subscriber.member_id:
        coverage["subscriberId"] = request.subscriber.member_id
        coverage["identifier"] = [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}
                    ]
                },
                "value": request.subscriber.member_id,
            }
        ]
    if request.group_number:
        coverage["class"] = [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                            "code": "group",
                        }
                    ]
                },
                "value": request.group_number,
            }
        ]
    out = dict(resource)
    out["contained"] = [patient, coverage]
    out["patient"] = {"reference": "#patient"}
    out["insurance"] = [{"focal": True, "coverage": {"reference": "#coverage"}}]
    return out
