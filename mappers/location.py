"""FHIR R4 Location → canonical Location.

- ``status``: active | suspended | inactive; another code is kept with a warning.
- ``managing_organization_id`` / ``part_of_id``: gateway ids of the references.
- ``latitude``/``longitude``: from ``position`` (WGS84 decimals); a value that is
  not a number or is out of range is dropped with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ._contacts import read_address, read_telecom
from ._primitives import OBJECT, Ctx, as_str, build, read_code, record_head
from .model import Location
from .names import read_strings

__all__ = ["map_location"]

_STATUSES = frozenset({"active", "suspended", "inactive"})


def map_location(resource: Mapping[str, Any], ctx: Ctx) -> Location:
    fields = record_head(resource, ctx)
    fields["name"] = as_str(resource.get("name"))
    if fields["name"] is None:
        ctx.warn("name", "missing")
    fields["aliases"] = read_strings(resource.get("alias"))
    fields["status"] = read_code(resource.get("status"), ctx, "status", _STATUSES)
    fields["address"] = read_address(resource.get("address"), ctx)
    fields["phones"] = read_telecom(resource.get("telecom"), ctx)[0]
    fields["managing_organization_id"] = ctx.ref_id(
        resource.get("managingOrganization"), "managingOrganization", "Organization"
    )
    fields["part_of_id"] = ctx.ref_id(resource.get("partOf"), "partOf", "Location")
    position = resource.get("position")
    if isinstance(position, OBJECT):
        fields["latitude"] = _degrees(position.get("latitude"), 90, ctx, "position.latitude")
        fields["longitude"] = _degrees(position.get("longitude"), 180, ctx, "position.longitude")
    elif position is not None:
        ctx.warn("position", "not an object")
    return build(Location, fields, ctx)


def _degrees(raw: Any, limit: int, ctx: Ctx, path: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        value = float(raw)
        if -limit <= value <= limit:
            return value
    ctx.warn(path, "not a number of degrees in range; dropped")
    return None
