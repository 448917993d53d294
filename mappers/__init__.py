"""Pure translations between upstream wire formats and the canonical front-desk model.

No I/O, no settings, no logging of data: importing this package loads neither
httpx, redis, ``connectors`` nor ``gateway`` (a test pins that).

Entry points: ``from_fhir(resource, source=...)`` maps one FHIR R4 resource
(Patient, Schedule, Slot, Appointment, Coverage, CoverageEligibilityResponse, the
directory: Practitioner, Organization, Location, PractitionerRole, HealthcareService,
Account with its balances and Invoice) to its canonical record; ``from_bundle(bundle,
source=...)`` maps a Bundle page to a ``MappedBundle``; ``from_bundle_pages(pages, source=...)``
maps the pages of one search together (``_include``d records of any page resolve
the matches' references). All raise only ``MappingError`` (with the field path).
``display_name`` is the one way a person's name is shown. What the gateway writes is
built strictly in ``mappers.outbound`` (from ``NewPatient``, ``PatientChanges``,
``NewCoverage``, ``EligibilityRequest`` and the records read).
"""

from __future__ import annotations

from .bundle import SUPPORTED_TYPES, MappedBundle, from_bundle, from_fhir
from .errors import MappingError
from .ids import GatewayId, InvalidId, decode_id, encode_id
from .model import (
    Account,
    Address,
    Appointment,
    Benefit,
    CanonicalRecord,
    Coding,
    ContactPoint,
    Coverage,
    EligibilityError,
    EligibilityRequest,
    EligibilityResult,
    HealthcareService,
    HumanName,
    Identifier,
    Invoice,
    Location,
    NewCoverage,
    NewPatient,
    Organization,
    Participant,
    Patient,
    PatientChanges,
    Person,
    Practitioner,
    PractitionerRole,
    Record,
    RecordRef,
    Schedule,
    Slot,
    SourceRef,
)
from .names import display_name
from .pages import MappedSearch, from_bundle_pages

__all__ = [
    "SUPPORTED_TYPES",
    "Account",
    "Address",
    "Appointment",
    "Benefit",
    "CanonicalRecord",
    "Coding",
    "ContactPoint",
    "Coverage",
    "EligibilityError",
    "EligibilityRequest",
    "EligibilityResult",
    "GatewayId",
    "HealthcareService",
    "HumanName",
    "Identifier",
    "InvalidId",
    "Invoice",
    "Location",
    "MappedBundle",
    "MappedSearch",
    "MappingError",
    "NewCoverage",
    "NewPatient",
    "Organization",
    "Participant",
    "Patient",
    "PatientChanges",
    "Person",
    "Practitioner",
    "PractitionerRole",
    "Record",
    "RecordRef",
    "Schedule",
    "Slot",
    "SourceRef",
    "decode_id",
    "display_name",
    "encode_id",
    "from_bundle",
    "from_bundle_pages",
    "from_fhir",
]
