"""The one engine behind the table-driven write checks: a check is a row, `WriteCase`.

A row creates its own fixture (tagged with the run, cleaned up afterwards) and runs its
steps, each one interaction and the answer the server must give::

    WriteCase(
        "write.appointment-noshow", "booked -> noshow, as a guarded update",
        "appointment.html#status-flow", booked_appointment(17),
        steps=(Update({"status": "noshow"}),),
    )

creates a booked Appointment, sends ``PUT [base]/Appointment/{id}`` with
``If-Match: W/"<version read>"`` and the new status, and reads it back: an accepted
update must be stored as sent under a new, greater versionId; a refused one must leave
the stored resource as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.context import Resource, RunContext, fail_unless
from conformance.fixtures import MRN_SYSTEM, fixture_day, patient_of
from conformance.model import Check, CheckFailed, Severity
from connectors import PreconditionFailed, SearchParams

__all__ = [
    "AmbiguousCreate",
    "CreateAgain",
    "Delete",
    "ReadBack",
    "Update",
    "VReadFirst",
    "WriteCase",
    "as_checks",
    "booked_appointment",
    "patient",
]

FHIR_JSON = "application/fhir+json"
# Elements a server sets or may rewrite; the rest must come back as sent.
_SERVER_OWNED = frozenset({"id", "meta", "text"})

Fixture = Callable[[RunContext], Resource]


@dataclass
class WriteState:
    """What a case's steps share: the fixture as sent and as stored, its versions."""

    sent: Resource
    current: Resource
    versions: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.current['resourceType']}/{self.current['id']}"


class Step(Protocol):
    async def run(self, ctx: RunContext, state: WriteState) -> str:
        """Do one interaction, raise CheckFailed when the answer is wrong; a note."""
        ...


@dataclass(frozen=True)
class WriteCase:
    id: str
    title: str
    spec: str
    fixture: Fixture
    steps: tuple[Step, ...]
    # Create the fixture with If-None-Exist on its identifier (registration).
    conditional: bool = False
    severity: Severity = Severity.ERROR


def as_checks(cases: list[WriteCase], group: str) -> list[Check]:
    def body(case: WriteCase) -> Callable[[RunContext], Any]:
        async def run(ctx: RunContext) -> list[str]:
            return await run_case(ctx, case)

        return run

    return [
        Check(c.id, group, c.title, c.severity, c.spec, body(c), write_only=True) for c in cases
    ]


async def run_case(ctx: RunContext, case: WriteCase) -> list[str]:
    sent = case.fixture(ctx)
    condition = _condition(sent) if case.conditional else None
    created = await create(ctx, sent, if_none_exist=condition)
    stored = await ctx.fhir.read(sent["resourceType"], created["id"])
    state = WriteState(sent, stored, [version(stored)])
    notes = [f"created {state.ref} (version {state.versions[0]})"]
    for step in case.steps:
        notes.append(await step.run(ctx, state))
    return notes


# --- fixtures ---------------------------------------------------------------------------


def patient(key: str) -> Fixture:
    """A Patient with a run-unique identifier `<run>-<key>`."""

    def build(ctx: RunContext) -> Resource:
        return {
            "resourceType": "Patient",
            "meta": {"tag": [ctx.tag()]},
            "identifier": [{"system": MRN_SYSTEM, "value": f"{ctx.run_id}-{key}"}],
            "name": [{"family": "Zzwrite", "given": [key.capitalize()]}],
            "gender": "unknown",
            "birthDate": "1975-05-05",
            "active": True,
        }

    return build


def booked_appointment(hour: int) -> Fixture:
    """A booked Appointment of the subject patient with the subject practitioner, on the
    fixture day at `hour`:00Z (no Slot: status moves don't need one)."""

    def build(ctx: RunContext) -> Resource:
        subject = ctx.subject("appointment")
        day = fixture_day(ctx.run_id).isoformat()
        participants = [
            {"actor": {"reference": p}, "status": "accepted"}
            for p in (patient_of(subject), _practitioner(subject))
            if p is not None
        ]
        return {
            "resourceType": "Appointment",
            "meta": {"tag": [ctx.tag()]},
            "status": "booked",
            "start": f"{day}T{hour:02d}:00:00Z",
            "end": f"{day}T{hour:02d}:20:00Z",
            "participant": participants,
        }

    return build


def _practitioner(appointment: Resource) -> str | None:
    for part in appointment.get("participant") or ():
        ref = str(((part or {}).get("actor") or {}).get("reference", ""))
        if ref.startswith("Practitioner/"):
            return ref
    return None


# --- steps ------------------------------------------------------------------------------

ACCEPTED = (200, 201)


@dataclass(frozen=True)
class Update:
    """PUT the current resource with `changes`, guarded by If-Match.

    `if_match`: "current" (the version last read), "stale" (the one before it) or None
    (no header). `expect`: the statuses that count as right; a 2xx must store the change
    under a new version, anything else must leave the resource unchanged."""

    changes: Mapping[str, Any]
    if_match: str | None = "current"
    expect: tuple[int, ...] = ACCEPTED
    label: str = ""

    async def run(self, ctx: RunContext, state: WriteState) -> str:
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        guard = ""
        if self.if_match is not None:
            if self.if_match == "stale":
                if len(state.versions) < 2:
                    raise CheckFailed("kit error: a stale If-Match needs an earlier update")
                vid = state.versions[-2]
            else:
                vid = state.versions[-1]
            guard = f' If-Match W/"{vid}"'
            headers["If-Match"] = f'W/"{vid}"'
        what = self.label or ", ".join(f"{k}={v}" for k, v in self.changes.items())
        response = await ctx.http.put(
            f"{ctx.base}/{state.ref}",
            content=json.dumps({**state.current, **self.changes}).encode(),
            headers=headers,
        )
        shown = f"PUT {state.ref}{guard} ({what})"
        fail_unless(
            response.status_code in self.expect,
            f"{shown} answered {response.status_code}, expected {_statuses(self.expect)}",
        )
        after = await ctx.fhir.read(state.current["resourceType"], state.current["id"])
        applied = all(after.get(k) == v for k, v in self.changes.items())
        if response.status_code in ACCEPTED:
            fail_unless(applied, f"{shown} answered {response.status_code} but was not stored")
            _increases(state.versions[-1], version(after))
            state.versions.append(version(after))
            state.current = after
            return f"{shown} -> {response.status_code}, now version {state.versions[-1]}"
        fail_unless(
            not applied and version(after) == state.versions[-1],
            f"{shown} answered {response.status_code} but the change was stored anyway",
        )
        return f"{shown} -> {response.status_code}, resource unchanged"


@dataclass(frozen=True)
class ReadBack:
    """The stored resource equals what was sent (server-owned elements aside)."""

    async def run(self, ctx: RunContext, state: WriteState) -> str:
        diffs = differences(state.sent, state.current)
        fail_unless(not diffs, f"read back differs at {diffs}")
        tags = (state.current.get("meta") or {}).get("tag") or ()
        fail_unless(any(t.get("code") == ctx.run_id for t in tags), "meta.tag was dropped")
        return f"{state.ref} read back equal"


@dataclass(frozen=True)
class CreateAgain:
    """The same conditional create again answers the first resource; no duplicate."""

    async def run(self, ctx: RunContext, state: WriteState) -> str:
        condition = _condition(state.sent)
        again = await create(ctx, state.sent, if_none_exist=condition)
        fail_unless(
            again["id"] == state.current["id"],
            f"the second conditional create made {state.current['resourceType']}/{again['id']} "
            f"besides {state.ref}",
        )
        page = await ctx.fhir.search_page(state.sent["resourceType"], condition)
        fail_unless(len(page.resources) == 1, f"{len(page.resources)} records match the condition")
        return f"If-None-Exist again -> {state.ref}, one record matches"


@dataclass(frozen=True)
class AmbiguousCreate:
    """With two records matching If-None-Exist, a conditional create is refused (412)."""

    async def run(self, ctx: RunContext, state: WriteState) -> str:
        twin = {**state.sent, "identifier": [{"system": MRN_SYSTEM, "value": f"{ctx.run_id}-dup"}]}
        for _ in range(2):
            await create(ctx, twin)
        condition = _condition(twin)
        try:
            made = await create(ctx, twin, if_none_exist=condition)
        except PreconditionFailed:
            return "If-None-Exist matching two records -> 412"
        raise CheckFailed(
            f"If-None-Exist matching two records created {twin['resourceType']}/{made['id']}"
        )


@dataclass(frozen=True)
class VReadFirst:
    """GET [base]/{type}/{id}/_history/{first version} answers that version."""

    async def run(self, ctx: RunContext, state: WriteState) -> str:
        first = state.versions[0]
        old = await ctx.fhir.vread(state.current["resourceType"], state.current["id"], first)
        fail_unless(version(old) == first, "vread of the first version answered another")
        return f"versions {' < '.join(state.versions)}; vread of {first} works"


@dataclass(frozen=True)
class Delete:
    """DELETE succeeds, then a read answers 410 Gone or 404 Not Found."""

    async def run(self, ctx: RunContext, state: WriteState) -> str:
        url = f"{ctx.base}/{state.ref}"
        response = await ctx.http.delete(url, headers={"Accept": FHIR_JSON})
        fail_unless(
            response.status_code in (200, 202, 204), f"DELETE answered {response.status_code}"
        )
        after = await ctx.get(url)
        fail_unless(
            after.status_code in (404, 410), f"read after delete answered {after.status_code}"
        )
        return f"DELETE {response.status_code}, then read {after.status_code}"


# --- shared -----------------------------------------------------------------------------


async def create(ctx: RunContext, resource: Resource, **kw: Any) -> Resource:
    """POST through the connector; every id it answers is registered for cleanup."""
    created = await ctx.fhir.create(resource, **kw)
    rid = created.get("id")
    fail_unless(isinstance(rid, str) and bool(rid), "create answered no id")
    if (resource["resourceType"], rid) not in ctx.created:
        ctx.created.append((resource["resourceType"], str(rid)))
    return created


def version(resource: Resource) -> str:
    vid = (resource.get("meta") or {}).get("versionId")
    if not isinstance(vid, str) or not vid:
        raise CheckFailed(f"{resource.get('resourceType')}/{resource.get('id')} has no versionId")
    return vid


def differences(sent: Any, got: Any, path: str = "") -> list[str]:
    """Where `got` lacks or changes what was `sent` (extra elements are fine)."""
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            return [path or "/"]
        return [
            d
            for k, v in sent.items()
            if not (path == "" and k in _SERVER_OWNED)
            for d in differences(v, got.get(k), f"{path}.{k}" if path else k)
        ]
    if isinstance(sent, list):
        if not isinstance(got, list) or len(got) != len(sent):
            return [path]
        return [
            d
            for i, (a, b) in enumerate(zip(sent, got, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    return [] if sent == got else [path]


def _increases(before: str, after: str) -> None:
    grew = int(after) > int(before) if before.isdigit() and after.isdigit() else after != before
    fail_unless(grew, f"versionId went from {before} to {after}")


def _condition(resource: Resource) -> SearchParams:
    ident = (resource.get("identifier") or [{}])[0]
    return SearchParams().where(identifier=f"{ident.get('system')}|{ident.get('value')}")


def _statuses(codes: tuple[int, ...]) -> str:
    if codes == ACCEPTED:
        return "2xx"
    if len(codes) > 10:
        return f"{codes[0]}-{codes[-1]}"
    return " or ".join(str(c) for c in codes)
