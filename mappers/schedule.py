"""FHIR R4 Schedule → canonical Schedule.

``actors`` are the upstream references normalised to ``Type/id`` (as the model
documents): outbound booking copies them into Appointment participants, and
they never leave the source they came from. ``actor_refs`` holds the same actors
as gateway ids with their display, so a desk can name the practitioner and the
place; an actor given only as a display is kept there (no id), one given as a
contained resource is skipped with a warning. Inside a Bundle, an actor written
as an entry's fullUrl (``urn:uuid:...``) resolves to that entry.
``serviceType`` may be an R5-style CodeableReference (``{"concept": ...}``); its
concept is read. Codes stay in ``service_types``/``specialty``; the codings with
their words are in ``service_type_codings``/``specialty_codings``.
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
    build,
    read_concepts,
    read_datetime,
    record_head,
)
from .ids import InvalidId, reference_id
from .model import Schedule

__all__ = ["map_schedule", "service_codes"]


def map_schedule(resource: Mapping[str, Any], ctx: Ctx) -> Schedule:
    fields = record_head(resource, ctx)
    active = resource.get("active")
    fields["active"] = as_bool(active)
    if active is not None and fields["active"] is None:
        ctx.warn("active", "not a boolean; dropped")
    fields["actors"], fields["actor_refs"] = _actors(resource.get("actor"), ctx)
    fields["service_types"], fields["service_type_codings"] = read_concepts(
        resource.get("serviceType")
    )
    fields["specialty"], fields["specialty_codings"] = read_concepts(resource.get("specialty"))
    horizon = resource.get("planningHorizon")
    if isinstance(horizon, OBJECT):
        fields["planning_horizon_start"] = read_datetime(
            horizon.get("start"), ctx, "planningHorizon.start"
        )
        fields["planning_horizon_end"] = read_datetime(
            horizon.get("end"), ctx, "planningHorizon.end"
        )
    elif horizon is not None:
        ctx.warn("planningHorizon", "not an object")
    fields["comment"] = as_str(resource.get("comment"))
    return build(Schedule, fields, ctx)


def _actors(raw: Any, ctx: Ctx) -> tuple[list[str], list[dict[str, Any]]]:
    out: list[str] = []
    refs: list[dict[str, Any]] = []
    items = as_list(raw)
    for i, item in enumerate(items):
        parsed = ctx.resolve(item)
        display = as_str(item.get("display")) if isinstance(item, OBJECT) else None
        if parsed is None:
            if display is not None:
                rtype = as_str(item.get("type"))
                rtype = rtype if rtype is not None and rtype.isalpha() else None
                refs.append({"resource_type": rtype, "id": None, "display": display})
            ctx.warn(f"actor[{i}]", "not a resolvable reference; skipped")
            continue
        ref = f"{parsed[0]}/{parsed[1]}"
        if ref in out:
            continue
        out.append(ref)
        try:
            gid: str | None = reference_id(ctx.source, parsed[0], parsed[1])
        except InvalidId:
            gid = None
            ctx.warn(f"actor[{i}]", "reference id has an invalid format")
        refs.append({"resource_type": parsed[0], "id": gid, "display": display})
    if not items:
        ctx.warn("actor", "missing")
    return out, refs


def service_codes(raw: Any) -> list[str]:
    """Codes of a list of CodeableConcepts, or of R5 CodeableReferences (``concept``)."""
    return read_concepts(raw)[0]
