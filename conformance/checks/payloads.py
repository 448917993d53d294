"""Every resource the server returned during the run, validated strictly with
fhir.resources.R4B and mapped with `mappers.from_fhir` (what the gateway would do).

These run after the other checks, over what the recorder saw.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

import mappers
from conformance.checks import registrar
from conformance.context import Resource, RunContext, fail_unless
from conformance.model import Check, CheckSkipped, Severity

__all__ = ["CHECKS"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "payloads")

# Envelopes, not data: HAPI's CapabilityStatement uses R4-only codes the R4B model refuses,
# and a Bundle's entries are validated one by one anyway.
_NOT_VALIDATED = frozenset({"Bundle", "CapabilityStatement"})


def _unique(ctx: RunContext) -> list[Resource]:
    seen: set[str] = set()
    out: list[Resource] = []
    for resource in ctx.recorder.resources:
        key = hashlib.sha1(
            json.dumps(resource, sort_keys=True).encode(), usedforsecurity=False
        ).hexdigest()
        if key not in seen:
            seen.add(key)
            out.append(resource)
    return out


def _name(resource: Resource) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def _errors(exc: ValidationError) -> str:
    # Locations and error types only: pydantic's message quotes the input (PHI).
    parts = [f"{'.'.join(str(p) for p in e['loc'])} ({e['type']})" for e in exc.errors()[:3]]
    return ", ".join(parts)


@check(
    "payloads.r4-valid",
    "Every returned resource validates as FHIR (fhir.resources.R4B)",
    Severity.ERROR,
    "json.html",
)
async def r4_valid(ctx: RunContext) -> list[str]:
    resources = [r for r in _unique(ctx) if r.get("resourceType") not in _NOT_VALIDATED]
    if not resources:
        raise CheckSkipped("no resources were returned")
    invalid: list[str] = []
    counts: Counter[str] = Counter()
    for resource in resources:
        rtype = str(resource.get("resourceType"))
        counts[rtype] += 1
        try:
            model: Any = get_fhir_model_class(rtype)
        except KeyError:
            invalid.append(f"{_name(resource)}: unknown resourceType")
            continue
        try:
            model.model_validate(resource)
        except ValidationError as exc:
            invalid.append(f"{_name(resource)}: {_errors(exc)}")
    fail_unless(not invalid, f"{len(invalid)} invalid resource(s): {'; '.join(invalid[:5])}")
    return [f"{len(resources)} resources valid: {dict(sorted(counts.items()))}"]


@check(
    "payloads.maps",
    "Every returned resource of a type the mappers read maps (warnings listed)",
    Severity.ERROR,
    "resourcelist.html",
)
async def maps(ctx: RunContext) -> list[str]:
    resources = [r for r in _unique(ctx) if r.get("resourceType") in mappers.SUPPORTED_TYPES]
    if not resources:
        raise CheckSkipped("no mappable resources were returned")
    failed: list[str] = []
    warnings: Counter[str] = Counter()
    for resource in resources:
        try:
            record = mappers.from_fhir(resource, source="conformance")
        except mappers.MappingError as exc:
            failed.append(f"{_name(resource)}: {exc}")
            continue
        for warning in getattr(record, "warnings", ()) or ():
            warnings[f"{resource.get('resourceType')}: {warning}"] += 1
    fail_unless(not failed, f"{len(failed)} unusable record(s): {'; '.join(failed[:5])}")
    notes = [f"{len(resources)} records mapped, {sum(warnings.values())} warning(s)"]
    notes += [f"{n}x {w}" for w, n in warnings.most_common(20)]
    return notes
