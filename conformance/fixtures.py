"""The subjects of the search checks.

Write mode creates its own records in one transaction, tagged with the run id
(`meta.tag` urn:frontdesk:conformance|<run>) and with run-unique identifiers, family
names and phone numbers, so each search has an exactly known answer; `cleanup` deletes
them in reverse dependency order. Read-only mode picks records the server already has.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from conformance.context import TAG_SYSTEM, Resource, RunContext, Subjects
from connectors import FhirClient, SearchParams, UpstreamError

__all__ = [
    "MRN_SYSTEM",
    "OTHER_SYSTEM",
    "cleanup",
    "delete_tagged",
    "discover",
    "family_of",
    "fixture_day",
    "identifier_of",
    "load_fixtures",
    "patient_of",
    "phone_of",
    "refs",
]

MRN_SYSTEM = "urn:frontdesk:conformance:mrn"
OTHER_SYSTEM = "urn:frontdesk:conformance:other"

# Dependents first: a server with referential integrity refuses to delete a referenced record.
_DELETE_ORDER = (
    "Appointment",
    "Coverage",
    "PractitionerRole",
    "Slot",
    "Schedule",
    "Patient",
    "Practitioner",
    "Location",
)

SNOMED = "http://snomed.info/sct"
# Two specialties a front desk books by (SNOMED CT practice settings).
CARDIOLOGY = {"system": SNOMED, "code": "394579002", "display": "Cardiology"}
GENERAL_PRACTICE = {"system": SNOMED, "code": "394814009", "display": "General practice"}


def fixture_day(run_id: str) -> date:
    """A future day unique-ish to the run, far from any real schedule."""
    offset = int(hashlib.sha256(run_id.encode()).hexdigest()[:6], 16) % 3000
    return date(2031, 1, 1) + timedelta(days=offset)


def family_name(run_id: str, prefix: str = "Zzconf") -> str:
    # Letters only: name search matching is on normalised letters.
    return prefix + "".join(chr(ord("a") + int(c, 16) % 26) for c in run_id[:8])


def phone_number(run_id: str) -> str:
    return "555" + str(int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16) % 10_000_000)


def _urn(run_id: str, key: str) -> str:
    """A transaction entry's fullUrl: FHIR's urn:uuid must hold a real (lowercase) UUID."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:frontdesk:conformance:{run_id}:{key}')}"


def _fixture_bundle(ctx: RunContext) -> dict[str, Any]:
    run, meta = ctx.run_id, {"tag": [ctx.tag()]}
    family = family_name(run)
    day = fixture_day(run)
    entries: list[tuple[str, Resource]] = []

    def add(key: str, resource: Resource) -> None:
        entries.append((key, {**resource, "meta": meta}))

    # The directory: practitioner 1 (the Schedule's actor) works at location 1 as a
    # cardiologist; practitioner 2, with another name, at location 2 in general practice.
    # Each search then has a record it must return and one it must not.
    other = family_name(run, "Zzother")
    for n, (pfamily, place, specialty) in enumerate(
        ((family, "Clinic", CARDIOLOGY), (other, "Annex", GENERAL_PRACTICE)), start=1
    ):
        suffix = "" if n == 1 else str(n)
        add(
            f"prac{suffix}",
            {
                "resourceType": "Practitioner",
                "identifier": [{"system": MRN_SYSTEM, "value": f"{run}-prac{suffix}"}],
                "name": [{"family": pfamily, "given": ["Doc"]}],
            },
        )
        add(
            f"loc{n}",
            {"resourceType": "Location", "status": "active", "name": f"{pfamily} {place}"},
        )
        add(
            f"role{n}",
            {
                "resourceType": "PractitionerRole",
                "active": True,
                "practitioner": {"reference": _urn(run, f"prac{suffix}")},
                "location": [{"reference": _urn(run, f"loc{n}")}],
                "specialty": [{"coding": [specialty]}],
            },
        )
    # Patient 1 is the main subject. Patient 2 carries the same identifier *value* in
    # another system (token system|value semantics); patient 3 is born the next day
    # (date precision). All five share the family name (name search, paging).
    births = ["1961-03-14", "1970-01-01", "1961-03-15", "1980-07-07", "1990-12-31"]
    for n in range(1, 6):
        identifiers = [{"system": MRN_SYSTEM, "value": f"{run}-{n}"}]
        if n == 2:
            identifiers.append({"system": OTHER_SYSTEM, "value": f"{run}-1"})
        patient: Resource = {
            "resourceType": "Patient",
            "identifier": identifiers,
            "name": [{"family": family, "given": [f"Test{chr(ord('A') + n)}"]}],
            "birthDate": births[n - 1],
            "gender": "unknown",
        }
        if n == 1:
            patient["telecom"] = [{"system": "phone", "value": phone_number(run), "use": "home"}]
        add(f"pat{n}", patient)
    # Someone with another family name: a name search must leave them out.
    add(
        "pat6",
        {
            "resourceType": "Patient",
            "identifier": [{"system": MRN_SYSTEM, "value": f"{run}-6"}],
            "name": [{"family": other, "given": ["Outsider"]}],
            "birthDate": "1975-05-05",
            "gender": "unknown",
        },
    )
    next_day = (day + timedelta(days=1)).isoformat()
    add(
        "sched",
        {
            "resourceType": "Schedule",
            "active": True,
            "actor": [{"reference": _urn(run, "prac")}],
        },
    )
    # Practitioner 2's schedule with one free slot the next day: a search by actor or by
    # schedule must leave them out (and no date search of the day sees the slot).
    add(
        "sched2",
        {
            "resourceType": "Schedule",
            "active": True,
            "actor": [{"reference": _urn(run, "prac2")}],
        },
    )
    add(
        "slot-other",
        {
            "resourceType": "Slot",
            "schedule": {"reference": _urn(run, "sched2")},
            "status": "free",
            "start": f"{next_day}T09:00:00Z",
            "end": f"{next_day}T09:30:00Z",
        },
    )
    # Hourly slots from 09:00Z; the fourth is busy (status filter), the rest free.
    for hour in range(5):
        start = f"{day.isoformat()}T{9 + hour:02d}:00:00Z"
        end = f"{day.isoformat()}T{9 + hour:02d}:30:00Z"
        add(
            f"slot{hour}",
            {
                "resourceType": "Slot",
                "schedule": {"reference": _urn(run, "sched")},
                "status": "busy" if hour == 3 else "free",
                "start": start,
                "end": end,
            },
        )
    # Patient 1 has a booked appointment on the day and a cancelled one the next day;
    # patient 2 one on the same day: date, patient and status each narrow the answer.
    for key, pat, when, status in (
        ("appt", "pat1", f"{day.isoformat()}T15:00", "booked"),
        ("appt2", "pat1", f"{next_day}T15:00", "cancelled"),
        ("appt3", "pat2", f"{day.isoformat()}T16:00", "booked"),
    ):
        add(
            key,
            {
                "resourceType": "Appointment",
                "status": status,
                "start": f"{when}:00Z",
                "end": f"{when[:-2]}30:00Z",
                "participant": [
                    {"actor": {"reference": _urn(run, pat)}, "status": "accepted"},
                    {"actor": {"reference": _urn(run, "prac")}, "status": "accepted"},
                ],
            },
        )
    for key, pat in (("cov", "pat1"), ("cov2", "pat2")):
        # Patient 2's coverage: a search by beneficiary must leave it out.
        add(
            key,
            {
                "resourceType": "Coverage",
                "status": "active",
                "subscriberId": f"{run}-member-{pat}",
                "beneficiary": {"reference": _urn(run, pat)},
                "payor": [{"display": "Conformance Test Payer"}],
            },
        )
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": _urn(run, key),
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for key, resource in entries
        ],
    }


async def load_fixtures(ctx: RunContext) -> None:
    """Create the fixtures in one transaction and read them back as the subjects."""
    bundle = _fixture_bundle(ctx)
    try:
        answer = await ctx.fhir.transaction(bundle)
    except UpstreamError as exc:
        ctx.subjects = Subjects(owned=True, problems=[f"fixture transaction failed: {exc}"])
        return
    ids: list[tuple[str, str]] = []
    for entry in answer.get("entry") or ():
        location = (entry.get("response") or {}).get("location", "")
        parts = location.split("/_history")[0].split("/")
        if len(parts) >= 2:
            ids.append((parts[-2], parts[-1]))
    ctx.created.extend(ids)
    # Read the stored versions: what the server made of them is what searches return.
    stored: dict[str, list[Resource]] = {}
    for resource in await asyncio.gather(*(ctx.fhir.read(rtype, rid) for rtype, rid in ids)):
        stored.setdefault(str(resource["resourceType"]), []).append(resource)
    patients = stored.get("Patient", [])
    if patients:
        patients[0] = await _touch(ctx, patients[0])
    schedule = _first(stored.get("Schedule"))
    schedule_ref = f"Schedule/{schedule['id']}" if schedule is not None else None
    family = family_of(patients[0]) if patients else None
    ctx.subjects = Subjects(
        owned=True,
        patient=_first(patients),
        namesakes=[p for p in patients if family_of(p) == family],
        recent=_first(patients),
        schedule=schedule,
        slots=[
            s
            for s in stored.get("Slot", [])
            if (s.get("schedule") or {}).get("reference") == schedule_ref
        ],
        appointment=_first(stored.get("Appointment")),
        coverage=_first(stored.get("Coverage")),
        practitioner=_first(stored.get("Practitioner")),
        location=_first(stored.get("Location")),
        role=_first(stored.get("PractitionerRole")),
        known=stored,
    )


async def _touch(ctx: RunContext, patient: Resource) -> Resource:
    """Update patient 1 after the others were created, so incremental reads
    (_lastUpdated, _history?_since) have a record changed after a known instant."""
    # Servers stamp lastUpdated to the millisecond: make sure the clock has moved on.
    await asyncio.sleep(0.01)
    version = str((patient.get("meta") or {}).get("versionId", ""))
    await ctx.fhir.update({**patient, "active": True}, if_match=version or None)
    return await ctx.fhir.read("Patient", str(patient["id"]))


async def cleanup(ctx: RunContext) -> list[str]:
    """Delete what the kit created; returns what could not be deleted.

    One transaction of DELETEs (references among the fixtures are checked at its end);
    should the server refuse it, one DELETE at a time, dependents first."""
    leftovers: list[str] = []
    order = {t: i for i, t in enumerate(_DELETE_ORDER)}
    targets = sorted(reversed(ctx.created), key=lambda item: order.get(item[0], len(order)))
    if not targets:
        return leftovers
    if await _delete_together(ctx, targets):
        ctx.created.clear()
        return leftovers
    for rtype, rid in targets:
        try:
            await ctx.fhir.delete(rtype, rid)
        except UpstreamError as exc:
            if exc.status not in (404, 410):
                leftovers.append(f"{rtype}/{rid}: {exc}")
    ctx.created.clear()
    return leftovers


async def _delete_together(ctx: RunContext, targets: list[tuple[str, str]]) -> bool:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "DELETE", "url": f"{rtype}/{rid}"}} for rtype, rid in targets
        ],
    }
    try:
        await ctx.fhir.transaction(bundle)
    except UpstreamError:
        return False  # the caller deletes one at a time and reports each failure
    return True


async def delete_tagged(fhir: FhirClient, run_id: str) -> int:
    """Delete every resource tagged with `run_id` (fixtures kept with keep_fixtures)."""
    deleted = 0
    for rtype in _DELETE_ORDER:
        page = await fhir.search_page(
            rtype, SearchParams((("_tag", f"{TAG_SYSTEM}|{run_id}"), ("_count", "200")))
        )
        for resource in page.resources:
            await fhir.delete(rtype, str(resource["id"]))
            deleted += 1
    return deleted


async def discover(ctx: RunContext) -> None:
    """Read-only mode: pick records already on the server that have what the checks need."""
    subjects = Subjects(owned=False)
    problems = subjects.problems

    scope = [("_tag", ctx.config.scope_tag)] if ctx.config.scope_tag else []

    async def first(rtype: str, params: list[tuple[str, str]], ok: Any) -> Resource | None:
        params = [*params, *scope]
        try:
            page = await ctx.fhir.search_page(rtype, SearchParams(tuple(params)))
        except UpstreamError as exc:
            problems.append(f"{rtype} search failed: {exc}")
            return None
        found = next((r for r in page.resources if ok(r)), None)
        if found is None:
            problems.append(f"no usable {rtype} on the first page")
        return found

    subjects.patient = await first(
        "Patient",
        [("phone:missing", "false"), ("_count", "50")],
        lambda r: (
            has_all(r, "identifier", "name", "birthDate", "telecom")
            and phone_of(r) is not None
            and identifier_of(r) is not None
            and family_of(r) is not None
        ),
    )
    subjects.schedule = await first(
        "Schedule", [("_count", "50")], lambda r: bool(refs(r.get("actor")))
    )
    if subjects.schedule is not None:
        ref = f"Schedule/{subjects.schedule['id']}"
        try:
            page = await ctx.fhir.search_page(
                "Slot", SearchParams((("schedule", ref), ("_count", "200")))
            )
            subjects.slots = [s for s in page.resources if isinstance(s.get("start"), str)]
        except UpstreamError as exc:
            problems.append(f"Slot search failed: {exc}")
    subjects.appointment = await first(
        "Appointment",
        [("_count", "50")],
        lambda r: isinstance(r.get("start"), str) and patient_of(r) is not None,
    )
    subjects.coverage = await first(
        "Coverage",
        [("_count", "50")],
        lambda r: str((r.get("beneficiary") or {}).get("reference", "")).startswith("Patient/"),
    )
    subjects.practitioner = await first(
        "Practitioner", [("_count", "50")], lambda r: family_of(r) is not None
    )
    subjects.location = await first(
        "Location", [("_count", "50")], lambda r: isinstance(r.get("name"), str) and r["name"]
    )
    subjects.role = await first(
        "PractitionerRole",
        [("_count", "50")],
        lambda r: (
            bool(refs(r.get("practitioner")) and refs(r.get("location")))
            and _has_coding(r.get("specialty"))
        ),
    )
    # The last patient changed: incremental reads since its change stay short. On a
    # server in use, one left alone for a while, so other writers don't delete it mid-run
    # (records under --scope-tag are the caller's own).
    settled = [] if ctx.config.scope_tag else [("_lastUpdated", f"lt{_minutes_ago(1)}")]
    subjects.recent = await first(
        "Patient",
        [("family:missing", "false"), ("_sort", "-_lastUpdated"), ("_count", "20"), *settled],
        lambda r: family_of(r) is not None and bool((r.get("meta") or {}).get("lastUpdated")),
    )
    for found in (
        subjects.patient,
        subjects.recent,
        subjects.schedule,
        subjects.appointment,
        subjects.coverage,
        subjects.practitioner,
        subjects.location,
        subjects.role,
    ):
        if found is not None:
            same = subjects.known.setdefault(str(found["resourceType"]), [])
            if all(r.get("id") != found.get("id") for r in same):
                same.append(found)
    subjects.known["Slot"] = list(subjects.slots)
    ctx.subjects = subjects


# --- small readers shared by the checks ---------------------------------------------------


def _first(items: list[Resource] | None) -> Resource | None:
    return items[0] if items else None


def _minutes_ago(minutes: int) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.isoformat(timespec="seconds")


def _has_coding(concepts: Any) -> bool:
    return any(
        isinstance(c, dict) and c.get("system") and c.get("code")
        for concept in (concepts if isinstance(concepts, list) else [concepts])
        for c in (concept or {}).get("coding") or ()
    )


def has_all(resource: Resource, *keys: str) -> bool:
    return all(resource.get(k) for k in keys)


def refs(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(i["reference"]) for i in items if isinstance(i, dict) and i.get("reference")]


def identifier_of(patient: Resource) -> tuple[str, str] | None:
    for ident in patient.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") and ident.get("value"):
            return str(ident["system"]), str(ident["value"])
    return None


def family_of(patient: Resource) -> str | None:
    for name in patient.get("name") or ():
        if isinstance(name, dict) and isinstance(name.get("family"), str) and name["family"]:
            return str(name["family"])
    return None


def phone_of(patient: Resource) -> str | None:
    for tp in patient.get("telecom") or ():
        if isinstance(tp, dict) and tp.get("system") == "phone" and tp.get("value"):
            return str(tp["value"])
    return None


def patient_of(appointment: Resource) -> str | None:
    for part in appointment.get("participant") or ():
        ref = str(((part or {}).get("actor") or {}).get("reference", ""))
        if ref.startswith("Patient/"):
            return ref
    return None
