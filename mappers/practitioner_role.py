"""FHIR R4 PractitionerRole → canonical PractitionerRole.

What a practitioner does, where and for whom: the practitioner (gateway id, and the
reference's display so a desk can name them without another read), the
organisation, the locations and healthcare services (gateway ids), the role codes
and specialties (codings with their words), and the role's own phones and emails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._contacts import read_telecom
from ._primitives import (
    OBJECT,
    Ctx,
    as_str,
    build,
    read_bool,
    read_concepts,
    read_refs,
    record_head,
)
from .model import PractitionerRole

__all__ = ["map_practitioner_role"]


def map_practitioner_role(resource: Mapping[str, Any], ctx: Ctx) -> PractitionerRole:
    fields = record_head(resource, ctx)
    practitioner = resource.get("practitioner")
    fields["practitioner_id"] = ctx.ref_id(practitioner, "practitioner", "Practitioner")
    fields["practitioner_display"] = (
        as_str(practitioner.get("display")) if isinstance(practitioner, OBJECT) else None
    )
    if practitioner is None:
        ctx.warn("practitioner", "missing")
    fields["organization_id"] = ctx.ref_id(
        resource.get("organization"), "organization", "Organization"
    )
    fields["location_ids"] = read_refs(resource.get("location"), ctx, "location", "Location")
    fields["healthcare_service_ids"] = read_refs(
        resource.get("healthcareService"), ctx, "healthcareService", "HealthcareService"
    )
    fields["codes"] = read_concepts(resource.get("code"))[1]
    fields["specialties"] = read_concepts(resource.get("specialty"))[1]
    fields["active"] = read_bool(resource.get("active"), ctx, "active")
    fields["phones"], fields["emails"] = read_telecom(resource.get("telecom"), ctx)
    return build(PractitionerRole, fields, ctx)
