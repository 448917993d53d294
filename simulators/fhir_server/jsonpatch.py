"""JSON Patch (RFC 6902) for PATCH with `application/json-patch+json`, by the ``jsonpatch``
library; its refusals become the 400 OperationOutcome HAPI answers ("no such path in
target JSON document", a failed ``test``, an unknown operation)."""

from __future__ import annotations

from typing import Any

import jsonpatch

from simulators.fhir_server.outcome import bad_request

__all__ = ["apply_patch"]


def apply_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """A patched copy of `document`; FhirError(400) for a malformed or failing patch."""
    if not isinstance(operations, list):
        raise bad_request("A JSON Patch document must be a JSON array of operations")
    if not all(isinstance(op, dict) for op in operations):
        raise bad_request("A JSON Patch operation must be a JSON object")
    try:
        result = jsonpatch.JsonPatch(operations).apply(document, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise bad_request(f"Invalid JSON Patch: {type(exc).__name__}") from None
    except (TypeError, KeyError, IndexError, ValueError):
        # The library lets a few shapes through unchecked (e.g. "path" not a string).
        raise bad_request("Invalid JSON Patch operation") from None
    if not isinstance(result, dict):
        raise bad_request("A JSON Patch must leave a resource (a JSON object)")
    return result
