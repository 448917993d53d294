"""Search semantics the connectors rely on: GET [base]/{type}?params.

In write mode the subjects are the kit's own fixtures, so each search has an exactly known
answer (`exact`). In read-only mode they are records found on the server: a search must
return the subject, and everything it returns must satisfy the criterion.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from conformance.checks import registrar
from conformance.context import Resource, RunContext, fail_unless
from conformance.fixtures import (
    MRN_SYSTEM,
    OTHER_SYSTEM,
    family_of,
    identifier_of,
    patient_of,
    phone_of,
    refs,
)
from conformance.model import Check, CheckFailed, CheckSkipped, Severity
from connectors.search import check_next_link
from mappers.fhir_dates import interval

__all__ = ["CHECKS"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "search")

Params = list[tuple[str, str]]


def _ids(resources: list[Resource]) -> set[str]:
    return {str(r.get("id")) for r in resources}


async def _expect(
    ctx: RunContext,
    rtype: str,
    params: Params,
    *,
    includes: set[str],
    matches: Callable[[Resource], bool],
    exact: set[str] | None = None,
) -> str:
    """Search one page and compare it with what the criterion says; returns a note."""
    page = await ctx.page(rtype, [*params, ("_count", "200")])
    found = _ids(page.resources)
    shown = "&".join(f"{k}={ctx.phi(v)}" for k, v in params)
    if exact is not None and ctx.subjects.owned:
        missing, extra = exact - found, found - exact
        fail_unless(
            not missing and not extra,
            f"{rtype}?{shown}: expected {sorted(exact)}, "
            f"missing {sorted(missing)}, unexpected {sorted(extra)}",
        )
    else:
        fail_unless(includes <= found, f"{rtype}?{shown}: {sorted(includes - found)} not returned")
        wrong = sorted(str(r.get("id")) for r in page.resources if not matches(r))
        fail_unless(not wrong, f"{rtype}?{shown}: returned non-matching {wrong[:10]}")
    return f"{rtype}?{shown}: {len(found)} result(s) as expected"


def _ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _has_identifier(system: str | None, value: str) -> Callable[[Resource], bool]:
    def ok(r: Resource) -> bool:
        return any(
            isinstance(i, dict)
            and i.get("value") == value
            and (system is None or i.get("system") == system)
            for i in r.get("identifier") or ()
        )

    return ok


@check(
    "search.patient-identifier",
    "Patient?identifier=system|value matches on system and value (token semantics)",
    Severity.ERROR,
    "search.html#token",
)
async def patient_identifier(ctx: RunContext) -> list[str]:
    patient = ctx.need(ctx.subjects.patient, "Patient with an identifier")
    ident = identifier_of(patient)
    if ident is None:
        raise CheckSkipped("the subject Patient has no identifier with a system")
    system, value = ident
    pid = str(patient["id"])
    notes = [
        await _expect(
            ctx,
            "Patient",
            [("identifier", f"{system}|{value}")],
            includes={pid},
            matches=_has_identifier(system, value),
            exact={pid},
        )
    ]
    # The same value in another system must not match: `system|value` is not `value`.
    other_system = OTHER_SYSTEM if ctx.subjects.owned else f"{MRN_SYSTEM}:nonexistent"
    namesake = [str(p["id"]) for p in ctx.subjects.namesakes if p is not patient][:1]
    notes.append(
        await _expect(
            ctx,
            "Patient",
            [("identifier", f"{other_system}|{value}")],
            includes=set(),
            matches=_has_identifier(other_system, value),
            exact=set(namesake),
        )
    )
    if ctx.subjects.owned:
        # Without a system, any system matches.
        notes.append(
            await _expect(
                ctx,
                "Patient",
                [("identifier", value)],
                includes={pid},
                matches=_has_identifier(None, value),
                exact={pid, *namesake},
            )
        )
    return notes


@check(
    "search.patient-name",
    "Patient?name= finds patients by the start of a name part",
    Severity.ERROR,
    "search.html#string",
)
async def patient_name(ctx: RunContext) -> list[str]:
    patient = ctx.need(ctx.subjects.patient, "Patient with a name")
    family = family_of(patient)
    if family is None:
        raise CheckSkipped("the subject Patient has no family name")

    def ok(r: Resource) -> bool:
        # String search matches the start of any name part, case- and accent-insensitive.
        wanted = family.lower()
        for name in r.get("name") or ():
            parts = [name.get("family"), name.get("text"), *(name.get("given") or ())]
            if any(isinstance(p, str) and p.lower().startswith(wanted) for p in parts):
                return True
        return False

    return [
        await _expect(
            ctx,
            "Patient",
            [("name", family)],
            includes={str(patient["id"])},
            matches=ok,
            exact=_ids(ctx.subjects.namesakes),
        )
    ]


@check(
    "search.patient-birthdate",
    "Patient?birthdate=YYYY-MM-DD matches that day only",
    Severity.ERROR,
    "search.html#date",
)
async def patient_birthdate(ctx: RunContext) -> list[str]:
    patient = ctx.need(ctx.subjects.patient, "Patient with a birth date")
    birth = str(patient.get("birthDate", ""))
    params: Params = [("birthdate", birth)]
    if ctx.subjects.owned:
        # A fixture born the next day must not match; the family name keeps it to our run.
        params.append(("family", family_of(patient) or ""))
    return [
        await _expect(
            ctx,
            "Patient",
            params,
            includes={str(patient["id"])},
            matches=lambda r: r.get("birthDate") == birth,
            exact={str(patient["id"])},
        )
    ]


@check(
    "search.patient-phone",
    "Patient?phone= finds a patient by phone number",
    Severity.ERROR,
    "patient.html#search",
)
async def patient_phone(ctx: RunContext) -> list[str]:
    patient = ctx.need(ctx.subjects.patient, "Patient with a phone number")
    phone = phone_of(patient)
    if phone is None:
        raise CheckSkipped("the subject Patient has no phone number")
    return [
        await _expect(
            ctx,
            "Patient",
            [("phone", phone)],
            includes={str(patient["id"])},
            matches=lambda r: phone_of_any(r, phone),
            exact={str(patient["id"])},
        )
    ]


def phone_of_any(resource: Resource, phone: str) -> bool:
    return any(
        isinstance(t, dict) and t.get("system") == "phone" and t.get("value") == phone
        for t in resource.get("telecom") or ()
    )


def _slots(ctx: RunContext) -> tuple[Resource, list[Resource]]:
    schedule = ctx.need(ctx.subjects.schedule, "Schedule with Slots")
    if not ctx.subjects.slots:
        raise CheckSkipped("the subject Schedule has no Slots")
    return schedule, ctx.subjects.slots


@check(
    "search.slot-schedule-status",
    "Slot?schedule=&status=free returns the free slots of that schedule",
    Severity.ERROR,
    "slot.html#search",
)
async def slot_schedule_status(ctx: RunContext) -> list[str]:
    schedule, slots = _slots(ctx)
    ref = _ref(schedule)
    free = {str(s["id"]) for s in slots if s.get("status") == "free"}
    return [
        await _expect(
            ctx,
            "Slot",
            [("schedule", ref), ("status", "free")],
            includes=free if ctx.subjects.owned else set(),
            matches=lambda r: r.get("status") == "free" and refs(r.get("schedule")) == [ref],
            exact=free,
        )
    ]


def _instant(value: str) -> datetime:
    return interval(value)[0]


@check(
    "search.slot-date-prefixes",
    "Slot?start=ge… and start=lt… split a schedule's slots at the right instant",
    Severity.ERROR,
    "search.html#prefix",
)
async def slot_date_prefixes(ctx: RunContext) -> list[str]:
    schedule, slots = _slots(ctx)
    if len(slots) < 2:
        raise CheckSkipped("need a Schedule with at least two Slots")
    ordered = sorted(slots, key=lambda s: _instant(s["start"]))
    pivot = ordered[len(ordered) // 2]["start"]
    at = _instant(pivot)
    ref = _ref(schedule)
    notes = []
    for prefix in ("ge", "lt"):
        expected = {str(s["id"]) for s in slots if (_instant(s["start"]) >= at) == (prefix == "ge")}
        page = await ctx.page(
            "Slot", [("schedule", ref), ("start", f"{prefix}{pivot}"), ("_count", "200")]
        )
        found = _ids(page.resources)
        if found != expected:
            raise CheckFailed(
                f"Slot?schedule={ref}&start={prefix}{pivot}: expected {len(expected)} slot(s), "
                f"got {len(found)}; missing {sorted(expected - found)[:10]}, "
                f"unexpected {sorted(found - expected)[:10]}"
            )
        notes.append(f"start={prefix}{pivot}: {len(found)} slot(s) as expected")
    return notes


@check(
    "search.slot-include-schedule",
    "Slot?_include=Slot:schedule returns the Schedule as an included entry",
    Severity.ERROR,
    "search.html#include",
)
async def slot_include(ctx: RunContext) -> list[str]:
    schedule, _ = _slots(ctx)
    ref = _ref(schedule)
    page = await ctx.fhir.search_page(
        "Slot", {"schedule": ref, "_include": "Slot:schedule", "_count": "5"}
    )
    fail_unless(bool(page.resources), f"Slot?schedule={ref} returned no slots")
    included = {_ref(r) for r in page.included if "id" in r}
    fail_unless(ref in included, f"{ref} not among the included entries {sorted(included)}")
    return [f"{len(page.resources)} slot(s), included {sorted(included)}"]


@check(
    "search.schedule-actor",
    "Schedule?actor= finds a practitioner's schedules",
    Severity.ERROR,
    "schedule.html#search",
)
async def schedule_actor(ctx: RunContext) -> list[str]:
    schedule = ctx.need(ctx.subjects.schedule, "Schedule with an actor")
    actor = refs(schedule.get("actor"))[0]
    return [
        await _expect(
            ctx,
            "Schedule",
            [("actor", actor)],
            includes={str(schedule["id"])},
            matches=lambda r: actor in refs(r.get("actor")),
            exact={str(schedule["id"])},
        )
    ]


@check(
    "search.appointment-patient-date",
    "Appointment?patient=&date= finds a patient's appointments on a day",
    Severity.ERROR,
    "appointment.html#search",
)
async def appointment_patient_date(ctx: RunContext) -> list[str]:
    appointment = ctx.need(ctx.subjects.appointment, "Appointment with a patient")
    patient = patient_of(appointment)
    if patient is None:
        raise CheckSkipped("the subject Appointment has no patient participant")
    day = str(appointment["start"])[:10]
    return [
        await _expect(
            ctx,
            "Appointment",
            [("patient", patient), ("date", day)],
            includes={str(appointment["id"])},
            matches=lambda r: patient_of_any(r, patient),
            exact={str(appointment["id"])},
        )
    ]


def patient_of_any(appointment: Resource, patient: str) -> bool:
    return any(
        str(((p or {}).get("actor") or {}).get("reference", "")) == patient
        for p in appointment.get("participant") or ()
    )


@check(
    "search.coverage-beneficiary",
    "Coverage?beneficiary= finds a patient's coverage",
    Severity.ERROR,
    "coverage.html#search",
)
async def coverage_beneficiary(ctx: RunContext) -> list[str]:
    coverage = ctx.need(ctx.subjects.coverage, "Coverage with a beneficiary")
    beneficiary = refs(coverage.get("beneficiary"))[0]
    return [
        await _expect(
            ctx,
            "Coverage",
            [("beneficiary", beneficiary)],
            includes={str(coverage["id"])},
            matches=lambda r: refs(r.get("beneficiary")) == [beneficiary],
            exact={str(coverage["id"])},
        )
    ]


def _paging_subject(ctx: RunContext) -> tuple[str, Params, set[str]]:
    """A search with a known answer of at least three records: (type, params, ids)."""
    s = ctx.subjects
    if s.owned and len(s.namesakes) >= 3 and s.patient is not None:
        return "Patient", [("name", family_of(s.patient) or "")], _ids(s.namesakes)
    if s.schedule is not None and len(s.slots) >= 3:
        return "Slot", [("schedule", _ref(s.schedule))], _ids(s.slots)
    raise CheckSkipped("no search with a known answer of three or more records")


@check(
    "search.count",
    "_count limits the page size",
    Severity.ERROR,
    "search.html#count",
)
async def count(ctx: RunContext) -> list[str]:
    rtype, params, expected = _paging_subject(ctx)
    page = await ctx.page(rtype, [*params, ("_count", "2")])
    fail_unless(
        len(page.resources) == 2,
        f"_count=2 over {len(expected)} matches gave {len(page.resources)} entries",
    )
    return [f"{rtype}: _count=2 gave 2 of {len(expected)}"]


@check(
    "search.paging",
    "Paging: every page walked, no duplicates, no gaps, total consistent, next links usable",
    Severity.ERROR,
    "http.html#paging",
)
async def paging(ctx: RunContext) -> list[str]:
    rtype, params, expected = _paging_subject(ctx)
    size = max(1, len(expected) // 3)
    url: str | None = f"{ctx.base}/{rtype}?{urlencode([*params, ('_count', str(size))])}"
    seen: list[str] = []
    totals: set[int] = set()
    pages = 0
    while url is not None:
        pages += 1
        if pages > 50:
            raise CheckFailed("more than 50 pages: the next links loop")
        response = await ctx.get(url)
        fail_unless(response.status_code == 200, f"page {pages} answered {response.status_code}")
        bundle: dict[str, Any] = json.loads(response.content)
        entries = [
            e["resource"]
            for e in bundle.get("entry") or ()
            if (e.get("search") or {}).get("mode", "match") == "match" and "resource" in e
        ]
        fail_unless(len(entries) <= size, f"page {pages} has {len(entries)} entries, _count={size}")
        seen += [str(r.get("id")) for r in entries]
        if isinstance(bundle.get("total"), int):
            totals.add(bundle["total"])
        links = [
            link["url"]
            for link in bundle.get("link") or ()
            if link.get("relation") == "next" and isinstance(link.get("url"), str)
        ]
        url = links[0] if links else None
        if url is not None:
            parts = urlsplit(url)
            fail_unless(
                bool(parts.scheme and parts.netloc), f"page {pages}: next link is not absolute"
            )
            problem = check_next_link(ctx.base, url)
            fail_unless(problem is None, f"page {pages}: {problem}")
    duplicates = sorted(i for i, n in Counter(seen).items() if n > 1)
    gaps = sorted(expected - set(seen))
    extra = sorted(set(seen) - expected) if ctx.subjects.owned else []
    problems = []
    if duplicates:
        problems.append(f"duplicates across pages: {duplicates[:10]}")
    if gaps:
        problems.append(f"{len(gaps)} record(s) never returned (gaps): {gaps[:10]}")
    if extra:
        problems.append(f"unexpected records: {extra[:10]}")
    if len(totals) > 1:
        problems.append(f"total changes between pages: {sorted(totals)}")
    elif totals and totals != {len(expected)}:
        problems.append(f"total is {totals.pop()}, {len(expected)} records match")
    fail_unless(not problems, "; ".join(problems))
    return [f"{rtype}: {pages} page(s) of {size}, {len(seen)} records, total {sorted(totals)}"]


@check(
    "search.unknown-param",
    "An unknown search parameter is refused (strict) or visibly ignored (lenient)",
    Severity.ERROR,
    "search.html#errors",
)
async def unknown_param(ctx: RunContext) -> list[str]:
    name = "frontdesk-no-such-param"
    url = f"{ctx.base}/Patient?{name}=1&_count=1"
    notes = []
    strict = await ctx.http.get(
        url, headers={"Accept": "application/fhir+json", "Prefer": "handling=strict"}
    )
    fail_unless(
        400 <= strict.status_code < 500 and _is_outcome(strict.content),
        f"with Prefer: handling=strict the server answered {strict.status_code} "
        "(expected 4xx with an OperationOutcome)",
    )
    notes.append(f"strict: {strict.status_code} with an OperationOutcome")
    lenient = await ctx.http.get(
        url, headers={"Accept": "application/fhir+json", "Prefer": "handling=lenient"}
    )
    if 400 <= lenient.status_code < 500:
        fail_unless(_is_outcome(lenient.content), "lenient: a 4xx without an OperationOutcome")
        notes.append(f"lenient: refused too ({lenient.status_code})")
    else:
        fail_unless(lenient.status_code == 200, f"lenient: answered {lenient.status_code}")
        bundle = json.loads(lenient.content)
        self_links = [
            link.get("url", "")
            for link in bundle.get("link") or ()
            if link.get("relation") == "self"
        ]
        # An ignored parameter must not appear in the self link: that is how a client
        # learns which parameters were applied (search.html#errors).
        fail_unless(
            bool(self_links) and all(name not in s for s in self_links),
            "lenient: the ignored parameter is not visible (missing or echoed self link)",
        )
        notes.append("lenient: 200, parameter left out of the self link")
    return notes


def _is_outcome(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("resourceType") == "OperationOutcome"
