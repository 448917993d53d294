"""An in-memory FHIR R4 server (ASGI) that behaves like HAPI FHIR JPA for what
frontdesk's connectors use; the contract suite in tests/contract keeps the two
in step. See app.py for how to reach it with httpx."""

from simulators.fhir_server.app import create_fhir_app, sandbox_server
from simulators.fhir_server.outcome import FhirError
from simulators.fhir_server.server import FhirServer
from simulators.fhir_server.store import FhirStore, Version

__all__ = ["FhirError", "FhirServer", "FhirStore", "Version", "create_fhir_app", "sandbox_server"]
