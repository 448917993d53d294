"""Search semantics the connectors rely on: GET [base]/{type}?params.

Most checks are rows of `CASES`, run by `search_engine` (a new check is a row); the
paging protocol checks (`_count`, next links, unknown parameters) are written out below.
In write mode the subjects are the kit's own fixtures, so each search has an exactly
known answer; in read-only mode they are records found on the server.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import urlencode, urlsplit

from conformance.checks import picks, registrar
from conformance.checks.search_engine import (
    NAME_PARTS,
    SearchCase,
    as_checks,
    date,
    reference,
    string,
    token,
)
from conformance.context import Resource, RunContext, fail_unless
from conformance.fixtures import family_of
from conformance.model import Check, CheckFailed, CheckSkipped, Severity
from connectors.search import check_next_link

__all__ = ["CASES", "CHECKS"]

Params = list[tuple[str, str]]

CASES: list[SearchCase] = [
    SearchCase(
        "search.patient-identifier",
        "Patient?identifier=system|value matches on system and value (token semantics)",
        "search.html#token",
        "Patient",
        queries=(
            (token("identifier", "identifier", picks.identifier("patient")),),
            # The same value in another system must not match: `system|value` is not `value`.
            (token("identifier", "identifier", picks.identifier_elsewhere("patient")),),
            # Without a system, any system matches.
            (token("identifier", "identifier", picks.identifier_value("patient")),),
        ),
    ),
    SearchCase(
        "search.patient-name",
        "Patient?name= finds patients by the start of a name part",
        "search.html#string",
        "Patient",
        queries=((string("name", NAME_PARTS, picks.family("patient")),),),
    ),
    SearchCase(
        "search.patient-birthdate",
        "Patient?birthdate=YYYY-MM-DD matches that day only",
        "search.html#date",
        "Patient",
        # The family name keeps the answer small; a fixture born the next day shares it.
        queries=(
            (
                date("birthdate", "birthDate", picks.element("patient", "birthDate")),
                string("family", ("name.family",), picks.family("patient")),
            ),
        ),
        about=("birthdate",),
    ),
    SearchCase(
        "search.patient-phone",
        "Patient?phone= finds a patient by phone number",
        "patient.html#search",
        "Patient",
        queries=((token("phone", "telecom", picks.phone("patient"), where=("system", "phone")),),),
    ),
    SearchCase(
        "search.slot-schedule-status",
        "Slot?schedule=&status=free returns the free slots of that schedule",
        "slot.html#search",
        "Slot",
        queries=(
            (
                reference("schedule", "schedule", picks.ref("schedule")),
                token("status", "status", picks.literal("free"), shown=True),
            ),
        ),
    ),
    SearchCase(
        "search.slot-date-prefixes",
        "Slot?start=ge… and start=lt… split a schedule's slots at the right instant",
        "search.html#prefix",
        "Slot",
        queries=tuple(
            (
                reference("schedule", "schedule", picks.ref("schedule")),
                date("start", "start", picks.slot_pivot, prefix=prefix, shown=True),
            )
            for prefix in ("ge", "lt")
        ),
        about=("start",),
    ),
    SearchCase(
        "search.slot-include-schedule",
        "Slot?_include=Slot:schedule returns the Schedule as an included entry",
        "search.html#include",
        "Slot",
        queries=((reference("schedule", "schedule", picks.ref("schedule")),),),
        include=(("Slot:schedule", "schedule"),),
        about=("_include",),
    ),
    SearchCase(
        "search.schedule-actor",
        "Schedule?actor= finds a practitioner's schedules",
        "schedule.html#search",
        "Schedule",
        queries=((reference("actor", "actor", picks.first_ref("schedule", "actor")),),),
    ),
    SearchCase(
        "search.appointment-patient-date",
        "Appointment?patient=&date= finds a patient's appointments on a day",
        "appointment.html#search",
        "Appointment",
        queries=(
            (
                reference("patient", "participant.actor", picks.patient_participant("appointment")),
                date("date", "start", picks.day("appointment", "start")),
            ),
        ),
    ),
    SearchCase(
        "search.appointment-status",
        "Appointment?patient=&status= finds a patient's appointments in one status",
        "appointment.html#search",
        "Appointment",
        queries=(
            (
                reference("patient", "participant.actor", picks.patient_participant("appointment")),
                token("status", "status", picks.element("appointment", "status"), shown=True),
            ),
        ),
        about=("status",),
    ),
    SearchCase(
        "search.coverage-beneficiary",
        "Coverage?beneficiary= finds a patient's coverage",
        "coverage.html#search",
        "Coverage",
        queries=(
            (reference("beneficiary", "beneficiary", picks.first_ref("coverage", "beneficiary")),),
        ),
    ),
]

CHECKS: list[Check] = as_checks(CASES, "search")
check = registrar(CHECKS, "search")


def _ids(resources: list[Resource]) -> set[str]:
    return {str(r.get("id")) for r in resources}


def _ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


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
        400 <= strict.status_code < 500,
        f"with Prefer: handling=strict the server answered {strict.status_code} (expected 4xx)",
    )
    notes.append(f"strict: refused ({strict.status_code})")
    lenient = await ctx.http.get(
        url, headers={"Accept": "application/fhir+json", "Prefer": "handling=lenient"}
    )
    if 400 <= lenient.status_code < 500:
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
