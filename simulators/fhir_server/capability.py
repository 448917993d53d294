"""The sandbox's CapabilityStatement (GET /metadata), built from the registry so
it lists exactly the types and search parameters the sandbox implements."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulators.fhir_server.registry import SUPPORTED_TYPES, reference_params, search_params
from simulators.fhir_server.store import format_instant

_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "create",
    "search-type",
    "history-instance",
    "history-type",
)


def capability_statement(name: str, base_url: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": format_instant(datetime.now(UTC)),
        "publisher": "frontdesk",
        "kind": "instance",
        "software": {"name": f"frontdesk FHIR sandbox ({name})"},
        "implementation": {
            "description": f"frontdesk in-memory FHIR sandbox {name}",
            "url": base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "resource": [_resource(t) for t in SUPPORTED_TYPES],
            }
        ],
    }


def _resource(resource_type: str) -> dict[str, Any]:
    params = search_params(resource_type)
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in _INTERACTIONS],
        # As HAPI: If-Match is honoured on update, so "versioned-update".
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalUpdate": True,
        "conditionalDelete": "not-supported",
        "searchInclude": [
            "*",
            *(f"{resource_type}:{p.name}" for p in reference_params(resource_type)),
        ],
        "searchParam": [{"name": p.name, "type": p.type} for p in params.values()],
    }
