"""The kit's vocabulary: a check's definition, its result, and the evidence behind it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.context import RunContext

__all__ = [
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "Exchange",
    "Mode",
    "Severity",
    "Status",
]

SPEC = "https://hl7.org/fhir/R4/"


class Severity(StrEnum):
    ERROR = "error"  # a failure makes the run fail (exit code, CI)
    WARNING = "warning"  # worth fixing, frontdesk copes
    INFO = "info"  # measurements, never fails


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


class Mode(StrEnum):
    READ_ONLY = "read-only"
    WRITE = "write"


class CheckFailed(Exception):
    """Raised by a check body: the server does not behave as the spec says."""


class CheckSkipped(Exception):
    """Raised by a check body: the check cannot run here (the reason says why)."""


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer as recorded (already redacted when built)."""

    check_id: str | None
    interaction: str
    method: str
    url: str
    status: int | None
    elapsed_ms: float
    request_excerpt: str | None = None
    response_excerpt: str | None = None
    error: str | None = None
    # The number of issues when the answer's body is an OperationOutcome, else None.
    outcome_issues: int | None = None


CheckBody = Callable[["RunContext"], Awaitable[list[str] | None]]


@dataclass(frozen=True)
class Check:
    id: str
    group: str
    title: str
    severity: Severity
    spec: str  # the FHIR R4 spec section the check enforces
    body: CheckBody
    write_only: bool = False  # runs only in write mode

    @property
    def spec_url(self) -> str:
        return self.spec if self.spec.startswith("http") else SPEC + self.spec


@dataclass
class CheckResult:
    id: str
    group: str
    title: str
    severity: Severity
    spec_url: str
    status: Status
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def blocking(self) -> bool:
        """A failed error-severity check: the run fails."""
        return self.status is Status.FAIL and self.severity is Severity.ERROR
