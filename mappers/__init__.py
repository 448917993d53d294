"""Pure translations between upstream wire formats and the canonical front-desk model.

No I/O, no settings, no logging of data: importing this package loads neither
httpx, redis, ``connectors`` nor ``gateway`` (a test pins that).

Entry points: ``from_fhir(resource, source=...)`` maps one FHIR R4 resource
(Patient, Schedule, Slot, Appointment, Coverage, CoverageEligibilityResponse) to
its canonical record; ``from_bundle(bundle, source=...)`` maps a Bundle page to a
``MappedBundle``. Both raise only ``MappingError`` (with the field path).
"""

from __future__ import annotations

from .bundle import SUPPORTED_TYPES, MappedBundle, from_bundle, from_fhir
from .errors import MappingError
from .ids import GatewayId, InvalidId, decode_id, encode_id
from .model import (
    Address,
    Appointment,
    Benefit,
    CanonicalRecord,
    ContactPoint,
    Coverage,
    EligibilityError,
    EligibilityRequest,
    EligibilityResult,
    HumanName,
    Identifier,
    Participant,
    Patient,
    Person,
    Record,
    Schedule,
    Slot,
    SourceRef,
)

__all__ = [
    "SUPPORTED_TYPES",
    "Address",
    "Appointment",
    "Benefit",
    "CanonicalRecord",
    "ContactPoint",
    "Coverage",
    "EligibilityError",
    "EligibilityRequest",
    "EligibilityResult",
    "GatewayId",
    "HumanName",
    "Identifier",
    "InvalidId",
    "MappedBundle",
    "MappingError",
    "Participant",
    "Patient",
    "Person",
    "Record",
    "Schedule",
    "Slot",
    "SourceRef",
    "decode_id",
    "encode_id",
    "from_bundle",
    "from_fhir",
]
