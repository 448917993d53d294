"""CapabilityStatement checks: GET [base]/metadata and what it declares.

The vendor profile (connectors.profiles) says which interactions, search parameters and
booking route frontdesk relies on for that kind of server.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.checks import directory, registrar
from conformance.context import RunContext, fail_unless
from conformance.model import Check, CheckFailed, CheckSkipped, Severity
from connectors import BookingStyle
from connectors.profiles import missing_capabilities

__all__ = ["CHECKS", "REQUIRED_TYPES"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "capability")

# The resource types a front desk works with, whatever the vendor.
REQUIRED_TYPES = ("Patient", "Appointment", "Coverage", "Schedule", "Slot")


def _statement(ctx: RunContext) -> dict[str, Any]:
    if ctx.capability is None:
        raise CheckSkipped("no CapabilityStatement (see capability.metadata)")
    return ctx.capability


def _resources(statement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for rest in statement.get("rest") or ():
        if isinstance(rest, dict) and rest.get("mode", "server") == "server":
            for res in rest.get("resource") or ():
                if isinstance(res, dict) and isinstance(res.get("type"), str):
                    found[res["type"]] = res
    return found


@check(
    "capability.metadata",
    "GET /metadata answers a CapabilityStatement as FHIR JSON",
    Severity.ERROR,
    "http.html#capabilities",
)
async def metadata(ctx: RunContext) -> list[str]:
    response = await ctx.get(f"{ctx.base}/metadata")
    fail_unless(response.status_code == 200, f"GET /metadata answered {response.status_code}")
    ctype = response.headers.get("content-type", "")
    fail_unless("json" in ctype, f"Content-Type is {ctype!r}, not FHIR JSON")
    try:
        doc = json.loads(response.content)
    except ValueError:
        raise CheckFailed("the body is not JSON") from None
    fail_unless(
        isinstance(doc, dict) and doc.get("resourceType") == "CapabilityStatement",
        "the body is not a CapabilityStatement",
    )
    ctx.capability = doc
    return [f"Content-Type: {ctype}"]


@check(
    "capability.fhir-version",
    "fhirVersion is 4.0.x (R4)",
    Severity.ERROR,
    "capabilitystatement-definitions.html#CapabilityStatement.fhirVersion",
)
async def fhir_version(ctx: RunContext) -> list[str]:
    version = str(_statement(ctx).get("fhirVersion", ""))
    fail_unless(version.startswith("4.0."), f"fhirVersion is {version!r}, not 4.0.x")
    return [f"fhirVersion {version}"]


@check(
    "capability.resources",
    "Patient, Appointment, Coverage, Schedule and Slot are declared with the needed interactions",
    Severity.ERROR,
    "capabilitystatement-definitions.html#CapabilityStatement.rest.resource.interaction",
)
async def resources(ctx: RunContext) -> list[str]:
    declared = _resources(_statement(ctx))
    problems = [f"{t} not declared" for t in REQUIRED_TYPES if t not in declared]
    missing = [
        m
        for m in missing_capabilities(ctx.config.profile, ctx.capability or {})
        if "." in m and "?" not in m and "/$" not in m
    ]
    problems += [f"{m} not declared" for m in missing]
    fail_unless(not problems, "; ".join(problems))
    notes = []
    for t in REQUIRED_TYPES:
        codes = sorted(i.get("code", "?") for i in declared[t].get("interaction") or ())
        notes.append(f"{t}: {', '.join(codes)}")
    return notes


@check(
    "capability.search-params",
    "The search parameters the vendor profile sends are declared",
    Severity.ERROR,
    "capabilitystatement-definitions.html#CapabilityStatement.rest.resource.searchParam",
)
async def search_params(ctx: RunContext) -> list[str]:
    statement = _statement(ctx)
    missing = [m for m in missing_capabilities(ctx.config.profile, statement) if "?" in m]
    fail_unless(not missing, f"not declared: {', '.join(missing)}")
    wanted = ctx.config.profile.search_params
    return [f"{t}: {', '.join(sorted(p))}" for t, p in sorted(wanted.items())]


@check(
    "capability.booking-route",
    "The profile's booking route is possible (Appointment create, or $find and $book)",
    Severity.ERROR,
    "appointment.html#statuses",
)
async def booking_route(ctx: RunContext) -> list[str]:
    statement = _statement(ctx)
    profile = ctx.config.profile
    appointment = _resources(statement).get("Appointment", {})
    if profile.booking is BookingStyle.FIND_BOOK:
        names = profile.find_book
        ops = {
            str(o.get("name", "")).lstrip("$")
            for o in appointment.get("operation") or ()
            if isinstance(o, dict)
        }
        wanted = {"find", "book"} if names is None else {names.find[1:], names.book[1:]}
        missing = sorted(wanted - ops)
        fail_unless(not missing, f"Appointment operations not declared: {missing}")
        return [f"booking by Appointment/${' and $'.join(sorted(wanted))}"]
    codes = {i.get("code") for i in appointment.get("interaction") or () if isinstance(i, dict)}
    fail_unless("create" in codes, "Appointment create is not declared")
    notes = ["booking by Appointment create"]
    if profile.client_marks_slot_busy:
        slot = _resources(statement).get("Slot", {})
        slot_codes = {i.get("code") for i in slot.get("interaction") or () if isinstance(i, dict)}
        fail_unless(
            bool({"update", "patch"} & slot_codes),
            "the profile marks the Slot busy itself, but Slot update/patch is not declared",
        )
        notes.append("client marks the Slot busy (Slot update declared)")
    return notes


@check(
    "capability.directory",
    "Practitioner, Location and PractitionerRole are declared searchable by the parameters "
    "the directory checks send",
    Severity.ERROR,
    "capabilitystatement-definitions.html#CapabilityStatement.rest.resource.searchParam",
)
async def directory_declared(ctx: RunContext) -> list[str]:
    declared = _resources(_statement(ctx))
    problems: list[str] = []
    notes: list[str] = []
    for rtype, wanted in sorted(directory.declared_parameters().items()):
        resource = declared.get(rtype)
        if resource is None:
            problems.append(f"{rtype} not declared")
            continue
        codes = {i.get("code") for i in resource.get("interaction") or () if isinstance(i, dict)}
        if "search-type" not in codes:
            problems.append(f"{rtype} search-type not declared")
        params = {p.get("name") for p in resource.get("searchParam") or () if isinstance(p, dict)}
        problems += [f"{rtype}?{name} not declared" for name in sorted(wanted - params)]
        notes.append(f"{rtype}: {', '.join(sorted(wanted))}")
    fail_unless(not problems, "; ".join(problems))
    return notes
