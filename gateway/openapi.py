"""The OpenAPI document says what the API does: every operation lists the problems it can
answer, each as ``application/problem+json`` with the ``Problem`` schema and the codes it
may carry, and every /v1 operation its bearer credential.

FastAPI documents only a 422 with its own shape; this adds what the error handlers,
dependencies and middleware really answer (``gateway.errors``, ``deps``, ``client_limit``,
``middleware``), so a generated client and a contract test see the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from .problems import PROBLEM_JSON
from .schemas import CandidateOut, SlotOut

__all__ = ["install_openapi"]

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details with a stable code.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable; switch on this, not on words."},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "validation_error: where and what.",
            "items": {"type": "object"},
        },
        "alternatives": {
            "type": "array",
            "description": "slot_taken, slot_held: up to three free slots to offer instead.",
            "items": {"$ref": "#/components/schemas/SlotOut"},
        },
        "conflicts": {
            "type": "array",
            "description": "patient_conflict: the patient's other appointments then "
            "(id, source, status, start, end, location).",
            "items": {"type": "object"},
        },
        "candidates": {
            "type": "array",
            "description": "possible_duplicate: the records that may be this patient, "
            "each with its grade and the fields that agree.",
            "items": {"$ref": "#/components/schemas/CandidateOut"},
        },
        "held_until": {
            "type": "string",
            "format": "date-time",
            "description": "slot_held: when the other desk's hold ends.",
        },
    },
    "additionalProperties": True,
}

# status -> (description, codes) for what every /v1 operation may answer.
_EVERY_V1: dict[str, tuple[str, list[str]]] = {
    "401": ("No usable credentials.", ["unauthorized"]),
    "403": ("The client lacks the scope, or its tenant is not configured.", ["forbidden"]),
    "422": (
        "The request is not valid (shape, range or combination of its parts).",
        ["validation_error", "date_out_of_range", "overbook_unsupported"],
    ),
    "429": (
        "The client has too many requests in progress; retry after Retry-After.",
        ["rate_limited"],
    ),
    "500": ("A bug on our side; quote the request id.", ["internal_error"]),
}
_UPSTREAM: dict[str, tuple[str, list[str]]] = {
    "502": (
        "An EHR or payer refused, garbled or sent unusable data.",
        ["upstream_error", "upstream_invalid", "upstream_auth", "reschedule_incomplete"],
    ),
    "503": ("An EHR or payer is unavailable.", ["upstream_unavailable", "rate_limited"]),
    "504": ("An EHR did not answer in time.", ["upstream_timeout"]),
}
_WITH_BODY: dict[str, tuple[str, list[str]]] = {
    "400": ("The body could not be read (not JSON, cut short).", ["http_error", "body_incomplete"]),
    "413": ("The body is larger than allowed.", ["payload_too_large"]),
}
_NOT_FOUND = ("Not found: no such record (or not this tenant's).", ["not_found"])
# Refusals only some operations give, by operation id.
_CONFLICTS: dict[str, list[str]] = {
    "bookAppointment": [
        "slot_taken",
        "slot_held",
        "slot_unavailable",
        "patient_conflict",
        "overbook_limit",
        "idempotency_conflict",
        "concurrent_update",
    ],
    "rescheduleAppointment": [
        "slot_taken",
        "slot_held",
        "slot_unavailable",
        "patient_conflict",
        "idempotency_conflict",
        "concurrent_update",
    ],
    "cancelAppointment": ["concurrent_update"],
    "checkInAppointment": ["invalid_transition", "version_conflict"],
    "noShowAppointment": ["invalid_transition", "version_conflict"],
    "holdSlot": ["slot_taken", "slot_held", "slot_unavailable"],
    "registerPatient": ["possible_duplicate"],
    "updatePatient": ["version_conflict"],
    "addPatientCoverage": ["version_conflict"],
}


def _problem(description: str, codes: list[str]) -> dict[str, Any]:
    return {
        "description": f"{description} Codes: {', '.join(codes)}.",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _document(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM_SCHEMA
    # Models only problems carry (no operation answers them on success).
    for model in (CandidateOut, SlotOut):
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in extra.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, extra)
    for name in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(name, None)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key issued to the client, or an OAuth2 JWT.",
        }
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if not path.startswith("/v1/"):
                continue
            operation["security"] = [{"bearer": []}]
            wanted = dict(_EVERY_V1) | _UPSTREAM
            if "requestBody" in operation:
                wanted |= _WITH_BODY
            if "{" in path or method == "get" or "requestBody" in operation:
                wanted["404"] = _NOT_FOUND
            conflicts = _CONFLICTS.get(operation.get("operationId", ""))
            if conflicts:
                wanted["409"] = ("The request conflicts with the record's state.", conflicts)
            for status, (description, codes) in wanted.items():
                responses[status] = _problem(description, codes)
            if "429" in responses:
                responses["429"]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
                }
    return schema


def install_openapi(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
