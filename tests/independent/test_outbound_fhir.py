"""Every FHIR resource the gateway writes is valid R4 for HAPI's validator, not only for ours.

The builders validate their output with fhir.resources (R4B models); that is our own code
judging our own code. Here the HAPI FHIR instance validator (R4 core definitions,
offline; see tests/support/fhir_validator.py) judges the same output, over realistic
inputs. An error fails the test; warnings are printed and summarised at the end of the run.

To add a builder: write a function yielding ``(label, resource)`` pairs, one per
realistic input, exactly as the gateway would send them, and add it to ``OUTBOUND``.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import pytest

from connectors import FhirClient, FhirEligibility
from gateway.services.payers import FhirPayer
from mappers import encode_id, from_fhir
from mappers.model import EligibilityRequest, Person, Schedule, Slot, SourceRef
from mappers.outbound import build_booking_appointment, build_cancellation, cancel_patch
from simulators.payer import create_payer_app
from simulators.seed import build_bundles, build_resources
from tests.support.fhir_validator import OfflineFhirValidator

Resource = dict[str, Any]
Cases = Iterator[tuple[str, Resource]]

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "fhir" / "public" / "hl7-r4-spec"
TODAY = date(2026, 3, 2)
EST = timezone(timedelta(hours=-5))
NPI = "1234567893"
SERVICE_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/service-type"


# --- booking ------------------------------------------------------------------------------


def _slot(slot_id: str = "s-42", **fields: Any) -> Slot:
    base: dict[str, Any] = {
        "id": encode_id("ehr-a", "Slot", slot_id),
        "source": SourceRef(source="ehr-a", resource_type="Slot", id=slot_id),
        "schedule_id": encode_id("ehr-a", "Schedule", "sch-1"),
        "start": datetime(2026, 3, 3, 9, 0, tzinfo=EST),
        "end": datetime(2026, 3, 3, 9, 20, tzinfo=EST),
        "status": "free",
        "service_types": ["57"],
    }
    base.update(fields)
    return Slot(**base)


def _schedule(actors: list[str]) -> Schedule:
    return Schedule(
        id=encode_id("ehr-a", "Schedule", "sch-1"),
        source=SourceRef(source="ehr-a", resource_type="Schedule", id="sch-1"),
        actors=actors,
    )


def _seed_bookings(profile: str, count: int) -> Cases:
    """Bookings of free seed slots, mapped as the gateway maps what HAPI returns."""
    resources = build_resources(profile, today=TODAY)
    schedules = {f"Schedule/{r['id']}": r for r in resources if r["resourceType"] == "Schedule"}
    patients = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    free = [r for r in resources if r["resourceType"] == "Slot" and r["status"] == "free"]
    # Spread over the schedules (practitioners, service types) and the fortnight.
    for n, slot_json in enumerate(free[:: max(1, len(free) // count)][:count]):
        slot = from_fhir(slot_json, source=profile, expect=Slot)
        schedule_json = schedules[slot_json["schedule"]["reference"]]
        schedule = from_fhir(schedule_json, source=profile, expect=Schedule)
        yield (
            f"{profile} seed slot {slot_json['id']}",
            build_booking_appointment(
                slot=slot,
                schedule=schedule,
                patient_id=patients[n * 7 % len(patients)],
                idempotency_key=f"desk-app:{profile}:{n}",
                reason="Follow-up" if n % 2 else None,
            ),
        )


def booking_cases() -> Cases:
    yield (
        "practitioner and location from the schedule, reason, comment, created",
        build_booking_appointment(
            slot=_slot(),
            schedule=_schedule(["Practitioner/dr-1", "Location/loc-1"]),
            patient_id="pat-9",
            idempotency_key="client-a:7d0c6a",
            reason="Knee pain, follow-up",
            comment="Bring previous X-rays; wheelchair access needed",
            description="Orthopaedic follow-up",
            created=datetime(2026, 3, 2, 14, 5, 30, 250_000, tzinfo=UTC),
        ),
    )
    yield (
        "slot without end, minutes_duration, explicit actors, coded service type",
        build_booking_appointment(
            slot=_slot("s-43", end=None, service_types=[], appointment_type="FOLLOWUP"),
            schedule=None,
            patient_id="Patient/p-1001",
            idempotency_key="client-b:0001",
            minutes_duration=45,
            service_type="124",
            service_type_system=SERVICE_TYPE_SYSTEM,
            practitioner_refs=["Practitioner/prac-101", "PractitionerRole/role-7"],
            location_refs=["Location/loc-2"],
        ),
    )
    yield (
        "schedule actors a booking can't name (Patient, Device) are left out",
        build_booking_appointment(
            slot=_slot("s-44", service_types=["57", "124"]),
            schedule=_schedule(["Patient/px", "Device/d-1", "HealthcareService/hs-1"]),
            patient_id="pat-10",
            idempotency_key="client-a:7d0c6b",
            comment="Interprète: español — por favor llamar antes",
        ),
    )
    hl7_slot = json.loads((SPEC / "slot-example.json").read_text(encoding="utf-8"))
    hl7_schedule = json.loads((SPEC / "schedule-example.json").read_text(encoding="utf-8"))
    yield (
        "the HL7 R4 slot and schedule examples",
        build_booking_appointment(
            slot=from_fhir(hl7_slot, source="ehr-b", expect=Slot),
            schedule=from_fhir(hl7_schedule, source="ehr-b", expect=Schedule),
            patient_id="example",
            idempotency_key="client-c:42",
        ),
    )
    yield from _seed_bookings("ehr-a", 6)
    yield from _seed_bookings("ehr-b", 6)


# --- cancellation -------------------------------------------------------------------------


def _as_stored(resource: Resource, upstream_id: str) -> Resource:
    """What a server returns for a created resource: an id and meta added."""
    return {
        **copy.deepcopy(resource),
        "id": upstream_id,
        "meta": {"versionId": "1", "lastUpdated": "2026-03-02T14:05:31.250+00:00"},
    }


def _appointments_as_read() -> Iterator[tuple[str, Resource]]:
    for n, (label, booked) in enumerate(booking_cases()):
        yield f"booking: {label}", _as_stored(booked, f"appt-{n}")
    seed = [r for r in build_resources("ehr-b", today=TODAY) if r["resourceType"] == "Appointment"]
    for appointment in [a for a in seed if a["status"] == "booked"][:4]:
        yield f"ehr-b seed {appointment['id']}", appointment
    for name in ("appointment-example.json", "appointment-example2doctors.json"):
        yield f"HL7 {name}", json.loads((SPEC / name).read_text(encoding="utf-8"))


REASONS = (
    "Patient called to cancel",
    "Doctor's emergency — will rebook",
    "Enfermo; llamará la próxima semana",
)


def cancellation_cases() -> Cases:
    for n, (label, appointment) in enumerate(_appointments_as_read()):
        reason = REASONS[n % len(REASONS)]
        yield f"PUT body, {label}", build_cancellation(appointment, reason)


def cancel_patch_cases() -> Cases:
    """What a server stores after applying our JSON Patch."""
    for n, (label, appointment) in enumerate(_appointments_as_read()):
        patch = jsonpatch.JsonPatch(cancel_patch(REASONS[n % len(REASONS)]))
        yield f"JSON Patch applied, {label}", patch.apply(appointment)


# --- coverage eligibility (FHIR payers) ---------------------------------------------------


def _eligibility_requests() -> Iterator[tuple[str, EligibilityRequest]]:
    def request(label: str, subscriber: Person, **fields: Any) -> tuple[str, EligibilityRequest]:
        base: dict[str, Any] = {
            "payer_id": "SIMPAYER",
            "payer_name": "SIMULATED PAYER",
            "provider_npi": NPI,
            "provider_name": "Harborview Primary Care",
            "subscriber": subscriber,
            "service_types": ["30", "98"],
            "date_of_service": TODAY,
            "trace_number": f"TRACE-{len(label)}-{label[:3].upper()}",
        }
        base.update(fields)
        return label, EligibilityRequest(**base)

    jane = Person(
        first_name="Jane",
        last_name="Doe",
        birth_date=date(1980, 1, 15),
        gender="female",
        member_id="SIM-ACTIVE-1",
    )
    yield request("subscriber, office visit", jane)
    yield request(
        "dependent child, group number",
        Person(first_name="Alex", last_name="Smith", member_id="SIM-FAMILY-1"),
        dependent=Person(
            first_name="Sam", last_name="Smith", birth_date=date(2016, 4, 4), gender="male"
        ),
        group_number="SIMGRP01",
    )
    yield request(
        "several service types",
        jane,
        service_types=["30", "98", "UC", "86", "BZ", "AL", "MH"],
    )
    yield request(
        "names with apostrophes, accents and hyphens, unknown gender",
        Person(
            first_name="Zoë-Anne",
            last_name="O'Brien-Núñez",
            birth_date=date(1991, 2, 28),
            gender="unknown",
            member_id="SIM-AUTH-1",
        ),
    )
    yield request(
        "no member id: name and birth date only, no payer name",
        Person(first_name="Richard", last_name="de la Roe Jr.", birth_date=date(1968, 3, 2)),
        payer_name=None,
        provider_name=None,
        service_types=["30"],
    )


async def _as_fhir_payer_sends(request: EligibilityRequest) -> Resource:
    """The CoverageEligibilityRequest FhirPayer puts on the wire (payer simulator answers)."""
    sent: list[bytes] = []

    async def capture(http_request: httpx.Request) -> None:
        sent.append(http_request.read())

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_payer_app()),
        event_hooks={"request": [capture]},
    ) as http:
        fhir = FhirClient("http://payer.test/fhir", http=http, source="payer")
        await FhirPayer(FhirEligibility(fhir), source="payer").check(request)
    (body,) = sent
    resource: Resource = json.loads(body)
    return resource


def coverage_eligibility_cases() -> Cases:
    for label, request in _eligibility_requests():
        yield label, asyncio.run(_as_fhir_payer_sends(request))


# --- the seed data the simulators write -------------------------------------------------


SEED_SAMPLE_PER_TYPE = 40


def seed_cases() -> Cases:
    """The transaction Bundles `frontdesk seed` sends, as Bundles (fullUrl rules included).

    Each keeps every entry of the rarer types and the first entries of the common ones
    (patients, slots, coverages, appointments): the whole seed is validated anyway by
    the strict HAPI servers each time an integration test loads it.
    """
    for profile, seed, today in (
        ("ehr-a", 7, TODAY),
        ("ehr-b", 7, TODAY),
        ("ehr-a", 11, date(2026, 11, 2)),
    ):
        bundles = build_bundles(
            profile, seed=seed, today=today, base_url="http://127.0.0.1:8081/fhir"
        )
        for n, bundle in enumerate(bundles):
            kept: Counter[str] = Counter()
            entries = []
            for entry in bundle["entry"]:
                rtype = entry["resource"]["resourceType"]
                kept[rtype] += 1
                if kept[rtype] <= SEED_SAMPLE_PER_TYPE:
                    entries.append(entry)
            yield (
                f"{profile} seed {seed} from {today}, transaction {n + 1}/{len(bundles)}",
                {**bundle, "entry": entries},
            )


# --- the registry -------------------------------------------------------------------------

OUTBOUND: dict[str, Callable[[], Cases]] = {
    "booking Appointment": booking_cases,
    "cancellation (PUT)": cancellation_cases,
    "cancellation (JSON Patch result)": cancel_patch_cases,
    "CoverageEligibilityRequest (FhirPayer)": coverage_eligibility_cases,
    "seed transactions": seed_cases,
}


@pytest.mark.parametrize("kind", list(OUTBOUND))
def test_outbound_resources_are_valid_r4_for_the_hapi_validator(
    fhir_validator: OfflineFhirValidator, kind: str
) -> None:
    cases = list(OUTBOUND[kind]())
    assert len(cases) >= 2, "each builder is checked over several inputs"
    invalid = []
    for label, resource in cases:
        report = fhir_validator.validate(resource)
        for issue in report.warnings:
            print(f"{kind}, {label}: {issue}")
        if report.errors:
            invalid.append(f"{label}:\n    " + "\n    ".join(str(e) for e in report.errors))
    assert not invalid, f"{kind}: not valid R4:\n  " + "\n  ".join(invalid)


def test_the_validator_refuses_what_is_not_r4(fhir_validator: OfflineFhirValidator) -> None:
    """The judge is awake: it finds the errors our outbound builders guard against."""
    booked = next(booking_cases())[1]
    broken = {**booked, "status": "arrived-late", "serviceTyp": []}
    del broken["start"]

    report = fhir_validator.validate(broken)

    messages = " | ".join(e.message for e in report.errors)
    assert "arrived-late" in messages  # not in the required AppointmentStatus value set
    assert "serviceTyp" in messages  # unknown element
    assert "app-3" in messages  # a booked appointment needs start and end
