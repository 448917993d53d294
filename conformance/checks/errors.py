"""Error answers the connectors parse: the right 4xx status, and an OperationOutcome body.

The status checks are rows of `CASES` (a request and the statuses that count as right).
`errors.operation-outcome` then looks at every 4xx and 5xx the server gave during the
run, from any check, and requires an OperationOutcome with issues in each: that body is
what `connectors` turns into an error a person can act on (operationoutcome.html).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.checks import registrar
from conformance.context import RunContext, fail_unless
from conformance.model import Check, CheckSkipped, Exchange, Severity

__all__ = ["CASES", "CHECKS", "ErrorCase", "Probe"]

FHIR_JSON = "application/fhir+json"
CLIENT_ERRORS = tuple(range(400, 500))


@dataclass(frozen=True)
class Probe:
    """One request that must fail: `path` is relative to the base, `{run}` the run id."""

    method: str
    path: str
    expect: tuple[int, ...]
    body: Any = None  # bytes as sent, or a JSON document
    write: bool = False  # sends a write: write mode only

    def describe(self, run_id: str) -> str:
        wanted = "4xx" if self.expect == CLIENT_ERRORS else "/".join(map(str, self.expect))
        return f"{self.method} {self.path.format(run=run_id)} (expected {wanted})"


@dataclass(frozen=True)
class ErrorCase:
    id: str
    title: str
    spec: str
    probes: tuple[Probe, ...]
    severity: Severity = Severity.ERROR


CASES: list[ErrorCase] = [
    ErrorCase(
        "errors.unknown-id",
        "Reading an unknown id answers 404 Not Found",
        "http.html#read",
        (Probe("GET", "Patient/frontdesk-no-such-{run}", (404,)),),
    ),
    ErrorCase(
        "errors.unknown-type",
        "A resource type the server does not support answers 404 Not Found",
        "http.html#create",
        (
            Probe("GET", "FrontdeskNoSuchType/{run}", (404,)),
            Probe(
                "POST",
                "FrontdeskNoSuchType",
                (404,),
                body={"resourceType": "FrontdeskNoSuchType"},
                write=True,
            ),
        ),
    ),
    ErrorCase(
        "errors.malformed-request",
        "A malformed request answers 4xx",
        "search.html#errors",
        (
            Probe("GET", "Patient?birthdate=not-a-date", CLIENT_ERRORS),
            # A body that is not JSON: refused, never stored.
            Probe("POST", "Patient", CLIENT_ERRORS, b'{"resourceType": "Patient", "name": [', True),
        ),
    ),
    ErrorCase(
        "errors.type-mismatch",
        "A body whose resourceType is not the URL's is refused (4xx)",
        "http.html#create",
        (
            Probe(
                "POST",
                "Patient",
                CLIENT_ERRORS,
                body={
                    "resourceType": "Appointment",
                    "status": "proposed",
                    "participant": [{"status": "needs-action", "type": [{"text": "kit"}]}],
                },
                write=True,
            ),
        ),
    ),
]


def _case_body(case: ErrorCase) -> Callable[[RunContext], Any]:
    async def run(ctx: RunContext) -> list[str]:
        notes = []
        for probe in case.probes:
            if probe.write and not ctx.write:
                notes.append(f"{probe.describe(ctx.run_id)}: write mode only, not sent")
                continue
            content = (
                probe.body
                if isinstance(probe.body, bytes) or probe.body is None
                else json.dumps(probe.body).encode()
            )
            headers = {"Accept": FHIR_JSON}
            if content is not None:
                headers["Content-Type"] = FHIR_JSON
            response = await ctx.http.request(
                probe.method,
                f"{ctx.base}/{probe.path.format(run=ctx.run_id)}",
                content=content,
                headers=headers,
            )
            fail_unless(
                response.status_code in probe.expect,
                f"{probe.describe(ctx.run_id)} answered {response.status_code}",
            )
            notes.append(f"{probe.describe(ctx.run_id)}: {response.status_code}")
        return notes

    return run


CHECKS: list[Check] = [
    # A row whose every probe writes runs in write mode only.
    Check(
        c.id,
        "errors",
        c.title,
        c.severity,
        c.spec,
        _case_body(c),
        write_only=all(p.write for p in c.probes),
    )
    for c in CASES
]
check = registrar(CHECKS, "errors")

# Token endpoints answer OAuth errors (RFC 6749 §5.2), not FHIR ones.
_NOT_FHIR_CHECKS = ("smart.",)


def _fhir_error(ctx: RunContext, e: Exchange) -> bool:
    return (
        e.status is not None
        and e.status >= 400
        and e.url.startswith(ctx.base)
        and "/.well-known/" not in e.url
        and not (e.check_id or "").startswith(_NOT_FHIR_CHECKS)
    )


@check(
    "errors.operation-outcome",
    "Every 4xx and 5xx answer of the run carries an OperationOutcome with issues",
    Severity.ERROR,
    "operationoutcome.html",
)
async def operation_outcome(ctx: RunContext) -> list[str]:
    errors = [e for e in ctx.recorder.exchanges if _fhir_error(ctx, e)]
    if not errors:
        raise CheckSkipped("no error answer was seen in this run (run the errors group)")
    bare = [e for e in errors if not e.outcome_issues]
    fail_unless(
        not bare,
        f"{len(bare)} of {len(errors)} error answer(s) without an OperationOutcome with issues: "
        + "; ".join(f"{e.check_id}: {e.method} {e.url} -> {e.status}" for e in bare[:5]),
    )
    by_status: dict[int, int] = {}
    for e in errors:
        by_status[e.status or 0] = by_status.get(e.status or 0, 0) + 1
    return [
        f"{len(errors)} error answer(s), each with an OperationOutcome: "
        + ", ".join(f"{n}x {s}" for s, n in sorted(by_status.items()))
    ]
