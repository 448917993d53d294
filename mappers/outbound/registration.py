"""Registering a new patient: the Patient to create, and the ``If-None-Exist`` query on
the desk-supplied identifier that makes a retried registration find the first one
(FHIR R4 conditional create, http.html#ccreate)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.patient import Patient as R4BPatient

from ..model import NewPatient
from ._elements import address, communication, contact_point, human_name, identifier
from ._rules import OutboundError, fhir_date, validated
from .booking import identifier_if_none_exist

__all__ = ["build_patient", "patient_if_none_exist"]


def build_patient(new: NewPatient) -> dict[str, Any]:
    """The Patient a desk registers: its identifier, names (the first official unless a
    use is given), birth date, gender, phones, emails, address and preferred language."""
    if not isinstance(new, NewPatient):
        raise OutboundError("NewPatient", "expected a NewPatient")
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [identifier(new.identifier, "NewPatient.identifier")],
        "active": True,
        "name": [
            human_name(new.name, "NewPatient.name", default_use="official"),
            *(human_name(n, f"NewPatient.other_names[{i}]") for i, n in enumerate(new.other_names)),
        ],
    }
    telecom = [
        contact_point(p, "phone", f"NewPatient.phones[{i}]") for i, p in enumerate(new.phones)
    ] + [contact_point(e, "email", f"NewPatient.emails[{i}]") for i, e in enumerate(new.emails)]
    if telecom:
        resource["telecom"] = telecom
    if new.gender is not None:
        resource["gender"] = new.gender
    if new.birth_date is not None:
        resource["birthDate"] = fhir_date(new.birth_date)
    if new.address is not None:
        resource["address"] = [address(new.address, "NewPatient.address")]
    if new.language is not None:
        resource["communication"] = [communication(new.language, "NewPatient.language")]
    return validated(R4BPatient, resource)


def patient_if_none_exist(new: NewPatient) -> str:
    """``identifier=system|value`` of the registration's identifier, for If-None-Exist."""
    built = identifier(new.identifier, "NewPatient.identifier")
    return identifier_if_none_exist(built["system"], built["value"])
