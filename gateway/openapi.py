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
    "503": (
        "An EHR or payer is unavailable, or the gateway's shared state (Redis).",
        ["upstream_unavailable", "rate_limited", "state_unavailable"],
    ),
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
        "patient_not_in_source",
        "slot_taken",
        "slot_held",
        "slot_unavailable",
        "patient_conflict",
        "overbook_limit",
        "idempotency_conflict",
        "concurrent_update",
    ],
    "rescheduleAppointment": [
        "patient_not_in_source",
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
    "joinWaitlist": ["already_waitlisted"],
    "issueGoodFaithEstimate": ["gfe_incomplete", "gfe_not_issued"],
    "recordGfeBill": ["gfe_not_issued"],
    "printGoodFaithEstimate": ["gfe_not_issued"],
}
# Not-found answers beyond "no such record", by operation id.
_NOT_FOUND_CODES: dict[str, list[str]] = {
    "patientBalance": ["balance_unavailable"],
    "recordGfeBill": ["bill_unavailable"],
}
# The good-faith estimates live in Redis: when it is away they can't be reached.
_GFE_STORE = ("The good-faith estimate store is not answering.", ["gfe_unavailable"])


# Examples a desk app's developer starts from, by operation: parameter values and, for
# bodies whose model has none of its own, the body. The ids are sandbox-shaped.
_PATIENT = "ZWhyLWEvUGF0aWVudC9wLTEwMDE"
_SLOT = "ZWhyLWEvU2xvdC9zLWVoci1hLTAwMDE"
_APPOINTMENT = "ZWhyLWEvQXBwb2ludG1lbnQvYS0x"
_ENTRY = "wl-3f9a1c0d5e7b2a4c6d8e0f12"
_GFE = "gfe-Qm9va2VkRGVza0I0"
_EXAMPLES: dict[str, dict[str, Any]] = {
    "startCoverageBatch": {"body": {"date": "2026-12-08"}},
    "getCoverageBatch": {"parameters": {"job_id": "k3Jp0x9QeVh2"}},
    "cancelCoverageBatch": {"parameters": {"job_id": "k3Jp0x9QeVh2"}},
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
    "joinWaitlist": {
        "body": {
            "patient_id": _PATIENT,
            "service_type": "124",
            "earliest": "2026-12-07",
            "latest": "2026-12-31",
            "min_notice_hours": 24,
            "priority": "soon",
            "note": "mornings only",
        }
    },
    "listWaitlist": {"parameters": {"service_type": "124", "offered": False}},
    "getWaitlistEntry": {"parameters": {"entry_id": _ENTRY}},
    "leaveWaitlist": {"parameters": {"entry_id": _ENTRY}},
    "listWaitlistOffers": {"parameters": {"patient": _PATIENT}},
    "declineWaitlistOffer": {"parameters": {"slot_id": _SLOT}},
    "streamEvents": {"parameters": {"Last-Event-ID": "1796562000000-0"}},
    "receiveNotificationPost": {"parameters": {"tenant": "general", "source": "ehr-a"}},
    "listGoodFaithEstimates": {"parameters": {"due_before": "2026-12-09"}},
    "getGoodFaithEstimate": {"parameters": {"gfe_id": _GFE}},
    "issueGoodFaithEstimate": {"parameters": {"gfe_id": _GFE}},
    "printGoodFaithEstimate": {"parameters": {"gfe_id": _GFE}},
    "recordGfeBill": {"parameters": {"gfe_id": _GFE}},
    "patientBalance": {"parameters": {"patient_id": _PATIENT}},
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


def _optional_not_null(operation: dict[str, Any]) -> None:
    """An optional parameter is left out to say "none": it is never the text "null".
    (FastAPI writes ``X | None`` as anyOf [X, null], which a client may read as leave to
    send null.)"""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        branches = schema.get("anyOf")
        if parameter.get("required") or not isinstance(branches, list):
            continue
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(branches):
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            parameter["schema"] = {**kept[0], **rest}


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
            _optional_not_null(operation)
            wanted = dict(_EVERY_V1) | _UPSTREAM
            if "requestBody" in operation:
                wanted |= _WITH_BODY
            if "{" in path or method == "get" or "requestBody" in operation:
                wanted["404"] = _NOT_FOUND
            extra_not_found = _NOT_FOUND_CODES.get(operation.get("operationId", ""))
            if extra_not_found:
                wanted["404"] = (_NOT_FOUND[0], [*_NOT_FOUND[1], *extra_not_found])
            if path.startswith("/v1/gfe"):
                codes = [*wanted["503"][1], *_GFE_STORE[1]]
                wanted["503"] = (f"{wanted['503'][0]} {_GFE_STORE[0]}", codes)
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
