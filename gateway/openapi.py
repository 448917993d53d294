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


# Examples a desk app's developer starts from, by operation: parameter values and, for
# bodies whose model has none of its own, the body. The ids are sandbox-shaped.
_PATIENT = "ZWhyLWEvUGF0aWVudC9wLTEwMDE"
_SLOT = "ZWhyLWEvU2xvdC9zLWVoci1hLTAwMDE"
_APPOINTMENT = "ZWhyLWEvQXBwb2ludG1lbnQvYS0x"
_EXAMPLES: dict[str, dict[str, Any]] = {
    "startCoverageBatch": {"body": {"date": "2026-12-08"}},
    "getCoverageBatch": {"parameters": {"job_id": "k3Jp0x9QeVh2"}},
    "searchPatients": {
        "parameters": {"family": "Garcia", "given": "Patricia", "birthdate": "1961-07-22"}
    },
    "getPatient": {"parameters": {"patient_id": _PATIENT}},
    "markNotSamePerson": {
        "parameters": {"patient_id": _PATIENT},
        "body": {"other_id": "ZWhyLWIvUGF0aWVudC9wLTExNDU", "reason": "Different mother's name"},
    },
    "markSamePerson": {
        "parameters": {"patient_id": _PATIENT},
        "body": {"other_id": "ZWhyLWIvUGF0aWVudC9wLTExNDU", "reason": "Checked ID card at desk"},
    },
    "updatePatient": {"parameters": {"patient_id": _PATIENT, "If-Match": 'W/"2"'}},
    "patientConflicts": {
        "parameters": {"patient_id": _PATIENT, "from": "2026-12-07", "to": "2026-12-11"}
    },
    "listPatientCoverages": {"parameters": {"patient_id": _PATIENT}},
    "addPatientCoverage": {"parameters": {"patient_id": _PATIENT}},
    "findSlots": {
        "parameters": {"start": "2026-12-07", "end": "2026-12-11", "service_type": "124"}
    },
    "nextAvailableSlots": {"parameters": {"service_type": "124", "per_practitioner": 1}},
    "holdSlot": {"parameters": {"slot_id": _SLOT}, "body": {"minutes": 5}},
    "releaseSlotHold": {"parameters": {"slot_id": _SLOT, "Hold-Token": "Qm9va2VkQnlEZXNrNDI"}},
    "bookAppointment": {
        "parameters": {"Idempotency-Key": "desk-42-call-0815"},
        "body": {"slot_id": _SLOT, "patient_id": _PATIENT, "hold_token": "Qm9va2VkQnlEZXNrNDI"},
    },
    "listAppointments": {"parameters": {"date": "2026-12-07", "include": ["coverage"]}},
    "getAppointment": {"parameters": {"appointment_id": _APPOINTMENT}},
    "cancelAppointment": {
        "parameters": {"appointment_id": _APPOINTMENT},
        "body": {"reason": "patient called to cancel"},
    },
    "rescheduleAppointment": {
        "parameters": {"appointment_id": _APPOINTMENT, "Idempotency-Key": "desk-42-resched-1"},
        "body": {"slot_id": _SLOT, "reason": "patient asked for a later time"},
    },
    "checkInAppointment": {"parameters": {"appointment_id": _APPOINTMENT, "If-Match": 'W/"1"'}},
    "noShowAppointment": {"parameters": {"appointment_id": _APPOINTMENT}},
    "searchPractitioners": {"parameters": {"name": "Rivera", "specialty": "394814009"}},
    "searchLocations": {"parameters": {"name": "Main Street"}},
    "listVisitTypes": {"parameters": {"source": "ehr-a"}},
}


def _examples(operation: dict[str, Any]) -> None:
    wanted = _EXAMPLES.get(operation.get("operationId", ""), {})
    values = wanted.get("parameters", {})
    for parameter in operation.get("parameters", []):
        if parameter["name"] in values:
            parameter["example"] = values[parameter["name"]]
    if "body" in wanted and "requestBody" in operation:
        for content in operation["requestBody"].get("content", {}).values():
            content["example"] = wanted["body"]


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
            _examples(operation)
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
