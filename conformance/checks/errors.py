"""Error answers the connectors parse: status codes with an OperationOutcome body."""

from __future__ import annotations

import json

from conformance.checks import registrar
from conformance.context import RunContext, fail_unless
from conformance.model import Check, Severity

__all__ = ["CHECKS"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "errors")


def _outcome(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return (
        isinstance(doc, dict)
        and doc.get("resourceType") == "OperationOutcome"
        and bool(doc.get("issue"))
    )


@check(
    "errors.unknown-id",
    "Reading an unknown id answers 404 with an OperationOutcome",
    Severity.ERROR,
    "http.html#read",
)
async def unknown_id(ctx: RunContext) -> list[str]:
    response = await ctx.get(f"{ctx.base}/Patient/frontdesk-no-such-{ctx.run_id}")
    fail_unless(response.status_code == 404, f"answered {response.status_code}, not 404")
    fail_unless(_outcome(response.content), "the 404 has no OperationOutcome with issues")
    return ["404 with an OperationOutcome"]


@check(
    "errors.malformed-request",
    "A malformed request answers 4xx with an OperationOutcome",
    Severity.ERROR,
    "operationoutcome.html",
)
async def malformed(ctx: RunContext) -> list[str]:
    response = await ctx.get(f"{ctx.base}/Patient?birthdate=not-a-date")
    fail_unless(
        400 <= response.status_code < 500,
        f"GET Patient?birthdate=not-a-date answered {response.status_code}, not 4xx",
    )
    fail_unless(_outcome(response.content), "the 4xx has no OperationOutcome with issues")
    notes = [f"bad date parameter: {response.status_code} with an OperationOutcome"]
    if ctx.write:
        # A body that is not JSON: refused, never stored.
        bad = await ctx.http.post(
            f"{ctx.base}/Patient",
            content=b'{"resourceType": "Patient", "name": [',
            headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
        )
        fail_unless(
            400 <= bad.status_code < 500, f"POST of truncated JSON answered {bad.status_code}"
        )
        fail_unless(_outcome(bad.content), "the 4xx has no OperationOutcome with issues")
        notes.append(f"truncated JSON body: {bad.status_code} with an OperationOutcome")
    return notes
