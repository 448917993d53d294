"""Write semantics (write mode only): create, conditional create, versions, If-Match,
delete, the Appointment status moves a front desk makes, and a booking round trip the
way the gateway books.

Most checks are rows of `CASES`, run by `write_engine` (a new check is a row); the
booking round trip is written out below. Everything created is tagged with the run id
and registered for cleanup.
"""

from __future__ import annotations

from conformance.checks import registrar
from conformance.checks.write_engine import (
    AmbiguousCreate,
    CreateAgain,
    Delete,
    ReadBack,
    Update,
    VReadFirst,
    WriteCase,
    as_checks,
    booked_appointment,
    create,
    patient,
    version,
)
from conformance.context import RunContext, fail_unless
from conformance.fixtures import fixture_day, refs
from conformance.model import Check, CheckSkipped, Severity
from connectors import BookingStyle

__all__ = ["CASES", "CHECKS"]

STATUS_FLOW = "appointment.html#status-flow"
# Any client error: servers differ between 400 and 422 for an invalid code.
CLIENT_ERRORS = tuple(range(400, 500))


def _renamed(given: str) -> Update:
    return Update({"name": [{"family": "Zzwrite", "given": [given]}]}, label=f"given={given}")


def _moves(*statuses: str) -> tuple[Update, ...]:
    return tuple(Update({"status": s}) for s in statuses)


CASES: list[WriteCase] = [
    WriteCase(
        "write.create-read",
        "POST creates a resource that reads back as sent",
        "http.html#create",
        patient("created"),
        (ReadBack(),),
    ),
    WriteCase(
        "write.conditional-create",
        "Registration by conditional create (If-None-Exist): a repeat answers the first "
        "record, an ambiguous match is refused",
        "http.html#ccreate",
        patient("conditional"),
        (CreateAgain(), AmbiguousCreate()),
        conditional=True,
    ),
    WriteCase(
        "write.version-increase",
        "Each update gives a new, increasing versionId",
        "http.html#versioning",
        patient("versioned"),
        (_renamed("Second"), _renamed("Third"), VReadFirst()),
    ),
    WriteCase(
        "write.stale-if-match",
        "An update with a stale If-Match is refused with 412 Precondition Failed",
        "http.html#concurrency",
        patient("contended"),
        (Update({"active": False}), Update({"gender": "other"}, if_match="stale", expect=(412,))),
    ),
    WriteCase(
        "write.delete",
        "After DELETE, a read answers 410 Gone or 404 Not Found",
        "http.html#delete",
        patient("deleted"),
        (Delete(),),
    ),
    WriteCase(
        "write.appointment-arrived-fulfilled",
        "Appointment booked -> arrived -> fulfilled, each a guarded update (If-Match)",
        STATUS_FLOW,
        booked_appointment(17),
        _moves("arrived", "fulfilled"),
    ),
    WriteCase(
        "write.appointment-checked-in-fulfilled",
        "Appointment booked -> checked-in -> fulfilled, each a guarded update (If-Match)",
        STATUS_FLOW,
        booked_appointment(19),
        _moves("checked-in", "fulfilled"),
    ),
    WriteCase(
        "write.appointment-noshow",
        "Appointment booked -> noshow, a guarded update (If-Match)",
        STATUS_FLOW,
        booked_appointment(20),
        _moves("noshow"),
    ),
    WriteCase(
        "write.appointment-cancelled",
        "Appointment booked -> cancelled with a cancellation reason, a guarded update",
        STATUS_FLOW,
        booked_appointment(21),
        (
            Update(
                {"status": "cancelled", "cancelationReason": {"text": "patient request"}},
                label="status=cancelled with a reason",
            ),
        ),
    ),
    WriteCase(
        "write.appointment-invalid-status",
        "An Appointment status outside the R4 value set is refused (4xx) and not stored",
        "valueset-appointmentstatus.html",
        booked_appointment(22),
        # Some desk systems say "checked-out"; R4's required binding has no such code.
        (Update({"status": "checked-out"}, expect=CLIENT_ERRORS),),
    ),
]

CHECKS: list[Check] = as_checks(CASES, "write")
check = registrar(CHECKS, "write")


@check(
    "write.booking-round-trip",
    "Booking round trip: free slot -> booked appointment -> slot busy -> cancel",
    Severity.ERROR,
    "appointment.html#statuses",
    write_only=True,
)
async def booking_round_trip(ctx: RunContext) -> list[str]:
    profile = ctx.config.profile
    if profile.booking is not BookingStyle.SLOT_CREATE:
        raise CheckSkipped(f"profile {profile.name} books with $find/$book, not exercised here")
    schedule = ctx.need(ctx.subjects.schedule, "Schedule (fixtures)")
    patient = ctx.need(ctx.subjects.patient, "Patient (fixtures)")
    schedule_ref = f"Schedule/{schedule['id']}"
    day = fixture_day(ctx.run_id).isoformat()
    slot = await create(
        ctx,
        {
            "resourceType": "Slot",
            "meta": {"tag": [ctx.tag()]},
            "schedule": {"reference": schedule_ref},
            "status": "free",
            "start": f"{day}T18:00:00Z",
            "end": f"{day}T18:30:00Z",
        },
    )
    free = await ctx.fhir.search_page("Slot", {"schedule": schedule_ref, "status": "free"})
    fail_unless(slot["id"] in {s.get("id") for s in free.resources}, "new slot not found free")
    actors = refs(schedule.get("actor"))
    practitioner = actors[0] if actors else None
    participants = [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"}]
    if practitioner:
        participants.append({"actor": {"reference": practitioner}, "status": "accepted"})
    appointment = await create(
        ctx,
        {
            "resourceType": "Appointment",
            "meta": {"tag": [ctx.tag()]},
            "status": "booked",
            "slot": [{"reference": f"Slot/{slot['id']}"}],
            "start": slot["start"],
            "end": slot["end"],
            "participant": participants,
        },
    )
    notes = [f"Appointment/{appointment['id']} booked on Slot/{slot['id']}"]
    stored_slot = await ctx.fhir.read("Slot", slot["id"])
    if profile.client_marks_slot_busy and stored_slot.get("status") == "free":
        await ctx.fhir.update({**stored_slot, "status": "busy"}, if_match=version(stored_slot))
        notes.append("slot marked busy with If-Match (the server leaves it free)")
    stored_slot = await ctx.fhir.read("Slot", slot["id"])
    fail_unless(stored_slot.get("status") == "busy", f"slot is {stored_slot.get('status')}")
    free = await ctx.fhir.search_page("Slot", {"schedule": schedule_ref, "status": "free"})
    fail_unless(
        slot["id"] not in {s.get("id") for s in free.resources}, "a busy slot is still found free"
    )
    booked = await ctx.fhir.read("Appointment", appointment["id"])
    cancelled = {
        **booked,
        "status": "cancelled",
        "cancelationReason": {"text": "conformance kit round trip"},
    }
    await ctx.fhir.update(cancelled, if_match=version(booked))
    after = await ctx.fhir.read("Appointment", appointment["id"])
    fail_unless(after.get("status") == "cancelled", f"appointment is {after.get('status')}")
    notes.append("appointment cancelled with If-Match")
    return notes
