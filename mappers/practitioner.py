"""FHIR R4 Practitioner → canonical Practitioner.

- ``name``/``other_names``: as for a Patient (``mappers.names.read_names``).
- ``npi``: only from the NPI system ``http://hl7.org/fhir/sid/us-npi`` and only ten
  digits with a valid check digit; any other value stays in ``identifiers``, with a
  warning when it was in the NPI system.
- ``qualifications``: the codings of every ``qualification.code`` (degrees,
  licences, board certifications), with their words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._contacts import read_telecom
from ._primitives import (
    OBJECT,
    Ctx,
    as_list,
    build,
    read_bool,
    read_code,
    read_concepts,
    read_identifiers,
    read_npi,
    record_head,
)
from .model import Practitioner
from .names import read_names
from .patient import GENDERS

__all__ = ["map_practitioner"]


def map_practitioner(resource: Mapping[str, Any], ctx: Ctx) -> Practitioner:
    fields = record_head(resource, ctx)
    identifiers = resource.get("identifier")
    fields["identifiers"] = read_identifiers(identifiers, ctx, "identifier")
    fields["npi"] = read_npi(identifiers, ctx)
    fields["name"], fields["other_names"] = read_names(resource.get("name"), ctx)
    fields["active"] = read_bool(resource.get("active"), ctx, "active")
    fields["gender"] = read_code(resource.get("gender"), ctx, "gender", GENDERS)
    fields["phones"], fields["emails"] = read_telecom(resource.get("telecom"), ctx)
    qualifications: list[dict[str, Any]] = []
    for i, item in enumerate(as_list(resource.get("qualification"))):
        if not isinstance(item, OBJECT):
            ctx.warn(f"qualification[{i}]", "not an object")
            continue
        qualifications.extend(read_concepts(item.get("code"))[1])
    fields["qualifications"] = qualifications
    return build(Practitioner, fields, ctx)
