"""FHIR R4 Organization → canonical Organization.

``npi`` as for a Practitioner (NPI system, ten digits, valid check digit);
``phones`` are the organisation's own telecom phones (``contact`` persons are
not read); ``address`` is its current address, a work one like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._contacts import read_address, read_telecom
from ._primitives import Ctx, as_str, build, read_bool, read_identifiers, read_npi, record_head
from .model import Organization

__all__ = ["map_organization"]


def map_organization(resource: Mapping[str, Any], ctx: Ctx) -> Organization:
    fields = record_head(resource, ctx)
    fields["name"] = as_str(resource.get("name"))
    if fields["name"] is None:
        ctx.warn("name", "missing")
    identifiers = resource.get("identifier")
    fields["identifiers"] = read_identifiers(identifiers, ctx, "identifier")
    fields["npi"] = read_npi(identifiers, ctx)
    fields["active"] = read_bool(resource.get("active"), ctx, "active")
    fields["phones"] = read_telecom(resource.get("telecom"), ctx)[0]
    fields["address"] = read_address(resource.get("address"), ctx)
    return build(Organization, fields, ctx)
