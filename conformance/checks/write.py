"""Write semantics (write mode only): create, conditional create, versions, If-Match,
delete, and a booking round trip the way the gateway books.

Everything created here is tagged with the run id and registered for cleanup.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from conformance.checks import registrar
from conformance.context import Resource, RunContext, fail_unless
from conformance.fixtures import MRN_SYSTEM, fixture_day, refs
from conformance.model import Check, CheckFailed, CheckSkipped, Severity
from connectors import BookingStyle, SearchParams

__all__ = ["CHECKS"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "write")

FHIR_JSON = "application/fhir+json"
# Elements a server sets or may rewrite; the rest must come back as sent.
_SERVER_OWNED = frozenset({"id", "meta", "text"})


def _patient(ctx: RunContext, key: str) -> Resource:
    return {
        "resourceType": "Patient",
        "meta": {"tag": [ctx.tag()]},
        "identifier": [{"system": MRN_SYSTEM, "value": f"{ctx.run_id}-{key}"}],
        "name": [{"family": "Zzwrite", "given": [key.capitalize()]}],
        "gender": "unknown",
        "birthDate": "1975-05-05",
        "active": True,
    }


async def _create(ctx: RunContext, resource: Resource, **kw: Any) -> Resource:
    created = await ctx.fhir.create(resource, **kw)
    rid = created.get("id")
    fail_unless(isinstance(rid, str) and bool(rid), "create answered no id")
    if (resource["resourceType"], rid) not in ctx.created:
        ctx.created.append((resource["resourceType"], str(rid)))
    return created


def _version(resource: Resource) -> str:
    vid = (resource.get("meta") or {}).get("versionId")
    if not isinstance(vid, str) or not vid:
        raise CheckFailed(f"{resource.get('resourceType')}/{resource.get('id')} has no versionId")
    return vid


def _differences(sent: Any, got: Any, path: str = "") -> list[str]:
    """Where `got` lacks or changes what was `sent` (extra elements are fine)."""
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            return [path or "/"]
        return [
            d
            for k, v in sent.items()
            if not (path == "" and k in _SERVER_OWNED)
            for d in _differences(v, got.get(k), f"{path}.{k}" if path else k)
        ]
    if isinstance(sent, list):
        if not isinstance(got, list) or len(got) != len(sent):
            return [path]
        return [
            d
            for i, (a, b) in enumerate(zip(sent, got, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if sent == got else [path]


@check(
    "write.create-read",
    "POST creates a resource that reads back as sent",
    Severity.ERROR,
    "http.html#create",
    write_only=True,
)
async def create_read(ctx: RunContext) -> list[str]:
    sent = _patient(ctx, "created")
    created = await _create(ctx, sent)
    stored = await ctx.fhir.read("Patient", created["id"])
    diffs = _differences(sent, stored)
    fail_unless(not diffs, f"read back differs at {diffs}")
    fail_unless(
        any(t.get("code") == ctx.run_id for t in (stored.get("meta") or {}).get("tag") or ()),
        "meta.tag was dropped",
    )
    return [f"Patient/{created['id']} read back equal (version {_version(stored)})"]


@check(
    "write.conditional-create",
    "Conditional create (If-None-Exist) is idempotent",
    Severity.ERROR,
    "http.html#ccreate",
    write_only=True,
)
async def conditional_create(ctx: RunContext) -> list[str]:
    resource = _patient(ctx, "conditional")
    condition = SearchParams().where(identifier=f"{MRN_SYSTEM}|{ctx.run_id}-conditional")
    first = await _create(ctx, resource, if_none_exist=condition)
    second = await _create(ctx, resource, if_none_exist=condition)
    fail_unless(
        first["id"] == second["id"],
        f"the second conditional create made Patient/{second['id']} besides {first['id']}",
    )
    page = await ctx.fhir.search_page("Patient", condition)
    fail_unless(len(page.resources) == 1, f"{len(page.resources)} patients match the condition")
    return [f"both creates answered Patient/{first['id']}"]


@check(
    "write.version-increase",
    "Each update gives a new, increasing versionId",
    Severity.ERROR,
    "http.html#versioning",
    write_only=True,
)
async def version_increase(ctx: RunContext) -> list[str]:
    current = await _create(ctx, _patient(ctx, "versioned"))
    current = await ctx.fhir.read("Patient", current["id"])
    versions = [_version(current)]
    for given in ("Second", "Third"):
        changed = {**current, "name": [{"family": "Zzwrite", "given": [given]}]}
        current = await ctx.fhir.update(changed, if_match=versions[-1])
        if "meta" not in current or "name" not in current:
            current = await ctx.fhir.read("Patient", changed["id"])
        versions.append(_version(current))
    numeric = all(v.isdigit() for v in versions)
    increasing = (
        all(int(a) < int(b) for a, b in itertools.pairwise(versions))
        if numeric
        else len(set(versions)) == len(versions)
    )
    fail_unless(increasing, f"versionIds do not increase: {versions}")
    old = await ctx.fhir.vread("Patient", current["id"], versions[0])
    fail_unless(_version(old) == versions[0], "vread of the first version answered another")
    return [f"versions {' < '.join(versions)}; vread of {versions[0]} works"]


@check(
    "write.stale-if-match",
    "An update with a stale If-Match is refused with 412 Precondition Failed",
    Severity.ERROR,
    "http.html#concurrency",
    write_only=True,
)
async def stale_if_match(ctx: RunContext) -> list[str]:
    created = await _create(ctx, _patient(ctx, "contended"))
    original = await ctx.fhir.read("Patient", created["id"])
    stale = _version(original)
    await ctx.fhir.update({**original, "active": False}, if_match=stale)
    # Raw PUT: the status code itself is what is checked.
    response = await ctx.http.put(
        f"{ctx.base}/Patient/{original['id']}",
        content=json.dumps({**original, "gender": "other"}).encode(),
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "If-Match": f'W/"{stale}"'},
    )
    fail_unless(
        response.status_code == 412,
        f'PUT with stale If-Match W/"{stale}" answered {response.status_code}, not 412',
    )
    after = await ctx.fhir.read("Patient", original["id"])
    fail_unless(after.get("gender") != "other", "the stale update was applied anyway")
    return [f'stale If-Match W/"{stale}" -> 412; resource unchanged']


@check(
    "write.delete",
    "After DELETE, a read answers 410 Gone or 404 Not Found",
    Severity.ERROR,
    "http.html#delete",
    write_only=True,
)
async def delete(ctx: RunContext) -> list[str]:
    created = await _create(ctx, _patient(ctx, "deleted"))
    url = f"{ctx.base}/Patient/{created['id']}"
    response = await ctx.http.delete(url, headers={"Accept": FHIR_JSON})
    fail_unless(response.status_code in (200, 202, 204), f"DELETE answered {response.status_code}")
    after = await ctx.get(url)
    fail_unless(after.status_code in (404, 410), f"read after delete answered {after.status_code}")
    return [f"DELETE {response.status_code}, then read {after.status_code}"]


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
    slot = await _create(
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
    appointment = await _create(
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
        await ctx.fhir.update({**stored_slot, "status": "busy"}, if_match=_version(stored_slot))
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
    await ctx.fhir.update(cancelled, if_match=_version(booked))
    after = await ctx.fhir.read("Appointment", appointment["id"])
    fail_unless(after.get("status") == "cancelled", f"appointment is {after.get('status')}")
    notes.append("appointment cancelled with If-Match")
    return notes
