"""FHIR R4 HealthcareService → canonical HealthcareService.

A service offered at locations (a clinic's "new-patient visit", a lab): its name, its
types and specialties (codings with their words), where it is offered (Location
gateway ids) and who provides it (``providedBy``, an Organization gateway id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import Ctx, as_str, build, read_bool, read_concepts, read_refs, record_head
from .model import HealthcareService

__all__ = ["map_healthcare_service"]


def map_healthcare_service(resource: Mapping[str, Any], ctx: Ctx) -> HealthcareService:
    fields = record_head(resource, ctx)
    fields["name"] = as_str(resource.get("name"))
    fields["types"] = read_concepts(resource.get("type"))[1]
    fields["specialties"] = read_concepts(resource.get("specialty"))[1]
    if fields["name"] is None and not fields["types"]:
        ctx.warn("name", "missing, and no type to name the service by")
    fields["location_ids"] = read_refs(resource.get("location"), ctx, "location", "Location")
    fields["provided_by_id"] = ctx.ref_id(resource.get("providedBy"), "providedBy", "Organization")
    fields["active"] = read_bool(resource.get("active"), ctx, "active")
    return build(HealthcareService, fields, ctx)
