"""FHIR errors as exceptions, and the OperationOutcome bodies they become.

Every failure inside the sandbox raises `FhirError` with the HTTP status HAPI
FHIR JPA answers for the same request; the app turns it into an
OperationOutcome once, at the edge.
"""

from __future__ import annotations

from typing import Any


class FhirError(Exception):
    """A request the server refuses: HTTP status plus an OperationOutcome issue."""

    def __init__(self, status: int, diagnostics: str, *, code: str = "processing") -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code

    def outcome(self) -> dict[str, Any]:
        return operation_outcome("error", self.code, self.diagnostics)


def operation_outcome(severity: str, code: str, diagnostics: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def bad_request(diagnostics: str) -> FhirError:
    return FhirError(400, diagnostics)


def not_found(diagnostics: str) -> FhirError:
    return FhirError(404, diagnostics, code="not-found")
