"""FHIR R4 Schedule → canonical Schedule.

``actors`` are the upstream references normalised to ``Type/id`` (as the model
documents): outbound booking copies them into Appointment participants, and
they never leave the source they came from. Actors given only as a display or
a contained resource are not addressable and are skipped with a warning.
``serviceType`` may be an R5-style CodeableReference (``{"concept": ...}``); its
concept is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import (
    OBJECT,
    Ctx,
    as_bool,
    as_list,
    as_str,
    codeable_codes,
    parse_reference,
    read_datetime,
    record_head,
)
from .model import Schedule

__all__ = ["map_schedule", "service_codes"]


def map_schedule(resource: Mapping[str, Any], ctx: Ctx) -> Schedule:
    fields = record_head(resource, ctx)
    active = resource.get("active")
    fields["active"] = as_bool(active)
    if active is not None and fields["active"] is None:
        ctx.warn("active", "not a boolean; dropped")
    fields["actors"] = _actors(resource.get("actor"), ctx)
    fields["service_types"] = service_codes(resource.get("serviceType"))
    fields["specialty"] = codeable_codes(resource.get("specialty"))
    horizon = resource.get("planningHorizon")
    if isinstance(horizon, OBJECT):
        fields["planning_horizon_start"] = read_datetime(
            horizon.get("start"), ctx, "planningHorizon.start"
        )
        fields["planning_horizon_end"] = read_datetime(
            horizon.get("end"), ctx, "planningHorizon.end"
        )
    fields["comment"] = as_str(resource.get("comment"))
    fields["warnings"] = ctx.warnings
    return Schedule.model_validate(fields)


def _actors(raw: Any, ctx: Ctx) -> list[str]:
    out: list[str] = []
    items = as_list(raw)
    for i, item in enumerate(items):
        parsed = parse_reference(item)
        if parsed is None:
            ctx.warn(f"actor[{i}]", "not a resolvable reference; skipped")
            continue
        ref = f"{parsed[0]}/{parsed[1]}"
        if ref not in out:
            out.append(ref)
    if not items:
        ctx.warn("actor", "missing")
    return out


def service_codes(raw: Any) -> list[str]:
    """Codes of a list of CodeableConcepts, or of R5 CodeableReferences (``concept``)."""
    items = as_list(raw)
    if any(isinstance(x, OBJECT) and "concept" in x for x in items):
        items = [x.get("concept") if isinstance(x, OBJECT) and "concept" in x else x for x in items]
    return codeable_codes(items)
