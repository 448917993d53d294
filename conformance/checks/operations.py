"""Argonaut Scheduling operations, where the CapabilityStatement declares them:
`POST [base]/Appointment/$find` (proposed appointments in a window), `$hold` (one of them
held: pending) and `$book` (booked, after which `$find` no longer offers that time).

Parameter names come from the vendor profile (`FindBookNames`: Argonaut's by default,
Epic's `startTime`/`endTime`); a server that declares none of the operations (HAPI)
skips these checks with that reason. `$hold` and `$book` change the schedule: write mode
only, and what they create is registered for cleanup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conformance.checks import registrar
from conformance.context import Resource, RunContext, fail_unless
from conformance.fixtures import fixture_day, patient_of, refs
from conformance.model import Check, CheckFailed, CheckSkipped, Severity
from connectors import FindBookNames
from mappers.fhir_dates import interval

__all__ = ["CHECKS"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "operations")

ARGONAUT = "https://fhir.org/guides/argonaut/scheduling/release1/"
# Argonaut $book input naming the patient (OperationDefinition-appointment-book).
PATIENT_PARAM = "patient-id"
# Read-only mode looks this far ahead for proposals.
LOOKAHEAD = timedelta(days=14)


def _names(ctx: RunContext) -> FindBookNames:
    return ctx.config.profile.find_book or FindBookNames()


async def statement(ctx: RunContext) -> Resource:
    """The CapabilityStatement: the one capability.metadata read, or read now."""
    if ctx.capability is None:
        ctx.capability = await ctx.fhir.capabilities()
    return ctx.capability


async def _require(ctx: RunContext, *operations: str) -> None:
    declared: set[str] = set()
    for rest in (await statement(ctx)).get("rest") or ():
        for res in rest.get("resource") or ():
            if isinstance(res, dict) and res.get("type") == "Appointment":
                declared |= {
                    str(o.get("name", "")).lstrip("$")
                    for o in res.get("operation") or ()
                    if isinstance(o, dict)
                }
    missing = ["$" + op.lstrip("$") for op in operations if op.lstrip("$") not in declared]
    if missing:
        raise CheckSkipped(
            f"Appointment/{', '.join(missing)} not declared in the CapabilityStatement"
        )


def _window(ctx: RunContext) -> tuple[datetime, datetime]:
    """Write mode: the fixture day, where the kit's free Slots are; else the next weeks."""
    if ctx.write:
        day = fixture_day(ctx.run_id)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start, start + timedelta(days=1)
    now = datetime.now(UTC).replace(microsecond=0)
    return now, now + LOOKAHEAD


def _parameters(*pairs: tuple[str, dict[str, Any]]) -> Resource:
    return {"resourceType": "Parameters", "parameter": [{"name": n, **v} for n, v in pairs]}


def _appointments(result: Resource) -> list[Resource]:
    """The Appointments an operation answered: a Bundle's matches, the resource itself, or
    a Parameters `return`."""
    kind = result.get("resourceType")
    if kind == "Appointment":
        return [result]
    if kind == "Bundle":
        return [
            e["resource"]
            for e in result.get("entry") or ()
            if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "Appointment"
            and (e.get("search") or {}).get("mode", "match") == "match"
        ]
    if kind == "Parameters":
        return [
            a
            for p in result.get("parameter") or ()
            if isinstance(p, dict) and isinstance(p.get("resource"), dict)
            for a in _appointments(p["resource"])
        ]
    return []


async def _find(ctx: RunContext, start: datetime, end: datetime) -> list[Resource]:
    names = _names(ctx)
    result = await ctx.fhir.operation(
        names.find,
        resource_type="Appointment",
        parameters=_parameters(
            (names.start, {"valueDateTime": start.isoformat()}),
            (names.end, {"valueDateTime": end.isoformat()}),
        ),
        idempotent=True,
    )
    fail_unless(
        result.get("resourceType") == "Bundle",
        f"{names.find} answered {result.get('resourceType')}, not a Bundle",
    )
    return _appointments(result)


def _same_time(a: Resource, b: Resource) -> bool:
    """The same offer: start and the non-patient participants (practitioner, location)."""

    def actors(r: Resource) -> set[str]:
        return {
            ref
            for p in r.get("participant") or ()
            for ref in refs((p or {}).get("actor"))
            if not ref.startswith("Patient/")
        }

    return bool(
        a.get("start")
        and b.get("start")
        and interval(str(a["start"]))[0] == interval(str(b["start"]))[0]
        and actors(a) == actors(b)
    )


def _ref_params(names: FindBookNames, proposal: Resource) -> list[tuple[str, dict[str, Any]]]:
    """The proposal by id when $find gave one, else the resource itself."""
    if proposal.get("id"):
        return [(names.appointment_id, {"valueString": str(proposal["id"])})]
    return [(names.appointment_resource, {"resource": proposal})]


def _register(ctx: RunContext, appointment: Resource) -> None:
    if appointment.get("id") and ("Appointment", str(appointment["id"])) not in ctx.created:
        ctx.created.append(("Appointment", str(appointment["id"])))


def _inside(proposal: Resource, start: datetime, end: datetime) -> bool:
    try:
        lo, hi = interval(str(proposal["start"]))[0], interval(str(proposal["end"]))[0]
    except (KeyError, ValueError):
        return False
    return start <= lo and hi <= end


async def _proposals(ctx: RunContext) -> list[Resource]:
    """The proposals to hold or book: proposed, inside the window (operations.find judges
    the rest)."""
    start, end = _window(ctx)
    proposals = [
        p
        for p in await _find(ctx, start, end)
        if p.get("status") == "proposed" and _inside(p, start, end)
    ]
    if not proposals:
        raise CheckSkipped(f"$find proposed nothing between {start} and {end}")
    return proposals


@check(
    "operations.find",
    "Appointment/$find answers proposed appointments inside the requested window",
    Severity.ERROR,
    ARGONAUT + "OperationDefinition-appointment-find.html",
)
async def find(ctx: RunContext) -> list[str]:
    await _require(ctx, "find")
    start, end = _window(ctx)
    proposals = await _find(ctx, start, end)
    problems = []
    for n, p in enumerate(proposals):
        name = f"proposal {p.get('id') or n}"
        if p.get("status") != "proposed":
            problems.append(f"{name} is {p.get('status')}, not proposed")
        if not _inside(p, start, end):
            problems.append(f"{name} ({p.get('start')} - {p.get('end')}) is not inside the window")
    fail_unless(not problems, "; ".join(problems[:5]))
    return [f"{len(proposals)} proposal(s) between {start.isoformat()} and {end.isoformat()}"]


@check(
    "operations.hold",
    "Appointment/$hold holds a proposed appointment (status pending)",
    Severity.ERROR,
    ARGONAUT + "OperationDefinition-appointment-hold.html",
    write_only=True,
)
async def hold(ctx: RunContext) -> list[str]:
    await _require(ctx, "find", _names(ctx).hold)
    names = _names(ctx)
    proposal = (await _proposals(ctx))[0]
    result = await ctx.fhir.operation(
        names.hold,
        resource_type="Appointment",
        parameters=_parameters(*_ref_params(names, proposal)),
    )
    held = _appointments(result)
    fail_unless(bool(held), f"{names.hold} answered no Appointment")
    for appointment in held:
        _register(ctx, appointment)
    fail_unless(held[0].get("status") == "pending", f"the hold is {held[0].get('status')}")
    fail_unless(_same_time(held[0], proposal), "the hold is not for the proposed time")
    return [f"held {proposal.get('start')}: Appointment/{held[0].get('id', '(no id)')} pending"]


@check(
    "operations.book",
    "Appointment/$book books a proposal; $find no longer offers that time; cancel works",
    Severity.ERROR,
    ARGONAUT + "OperationDefinition-appointment-book.html",
    write_only=True,
)
async def book(ctx: RunContext) -> list[str]:
    names = _names(ctx)
    await _require(ctx, "find", names.book)
    patient = ctx.subject("patient")
    proposals = await _proposals(ctx)
    proposal = proposals[-1]
    result = await ctx.fhir.operation(
        names.book,
        resource_type="Appointment",
        parameters=_parameters(
            *_ref_params(names, proposal), (PATIENT_PARAM, {"valueString": str(patient["id"])})
        ),
    )
    booked = _appointments(result)
    fail_unless(bool(booked), f"{names.book} answered no Appointment")
    for appointment in booked:
        _register(ctx, appointment)
    appointment = booked[0]
    fail_unless(
        appointment.get("status") == "booked", f"the booking is {appointment.get('status')}"
    )
    fail_unless(_same_time(appointment, proposal), "the booking is not for the proposed time")
    fail_unless(
        patient_of(appointment) == f"Patient/{patient['id']}",
        "the booked Appointment does not name the patient",
    )
    notes = [f"booked {proposal.get('start')}: Appointment/{appointment.get('id')}"]
    again = await _find(ctx, *_window(ctx))
    fail_unless(
        not any(_same_time(p, proposal) for p in again),
        f"{names.find} still offers {proposal.get('start')} after it was booked",
    )
    notes.append(f"{names.find} no longer offers that time")
    if not appointment.get("id"):
        raise CheckFailed("the booked Appointment has no id: it cannot be cancelled")
    # Argonaut cancels with PATCH (cancel-examples.md).
    await ctx.fhir.patch(
        "Appointment",
        str(appointment["id"]),
        [{"op": "replace", "path": "/status", "value": "cancelled"}],
    )
    after = await ctx.fhir.read("Appointment", str(appointment["id"]))
    fail_unless(
        after.get("status") == "cancelled", f"after cancel the status is {after.get('status')}"
    )
    notes.append("cancelled with PATCH")
    return notes
