"""FHIR R4 Slot → canonical Slot.

A Slot is only usable with a start that is an instant: a ``start`` with no UTC
offset ("2025-03-01T09:00:00") can't be placed on a timeline without guessing the
server's zone, and booking the wrong hour is worse than not offering the slot, so
it is a ``MappingError`` (``Slot.start``). A missing or offset-less ``end`` is
only a warning (``end`` None): the slot can be shown, not booked. A missing
``status`` is an error too: we can't tell free from busy.

Service types, specialties and the appointment type keep their codes in the
contract fields (``service_types``, ``specialty``, ``appointment_type``) and their
words in ``*_codings``, so a desk shows "New patient visit", not a code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import (
    Ctx,
    as_bool,
    as_str,
    build,
    datetime_problem,
    parse_datetime,
    read_code,
    read_concept,
    read_concepts,
    read_datetime,
    record_head,
)
from .model import Slot

__all__ = ["map_slot"]

_STATUSES = frozenset({"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"})


def map_slot(resource: Mapping[str, Any], ctx: Ctx) -> Slot:
    fields = record_head(resource, ctx)
    raw_start = resource.get("start")
    if raw_start is None:
        raise ctx.fail("start", "missing")
    start = parse_datetime(raw_start)
    if start is None:
        raise ctx.fail("start", datetime_problem(raw_start))
    fields["start"] = start
    if resource.get("status") is None:
        raise ctx.fail("status", "missing")
    fields["status"] = read_code(resource.get("status"), ctx, "status", _STATUSES)
    if fields["status"] is None:
        raise ctx.fail("status", "not a code string")
    end = read_datetime(resource.get("end"), ctx, "end")
    if end is None and resource.get("end") is None:
        ctx.warn("end", "missing")
    elif end is not None and end < start:
        ctx.warn("end", "before start; dropped")
        end = None
    fields["end"] = end
    schedule = resource.get("schedule")
    fields["schedule_id"] = ctx.ref_id(schedule, "schedule", "Schedule")
    if schedule is None:
        ctx.warn("schedule", "missing")
    fields["service_types"], fields["service_type_codings"] = read_concepts(
        resource.get("serviceType")
    )
    fields["specialty"], fields["specialty_codings"] = read_concepts(resource.get("specialty"))
    fields["appointment_type"], fields["appointment_type_coding"] = read_concept(
        resource.get("appointmentType")
    )
    overbooked = resource.get("overbooked")
    fields["overbooked"] = as_bool(overbooked)
    if overbooked is not None and fields["overbooked"] is None:
        ctx.warn("overbooked", "not a boolean; dropped")
    fields["comment"] = as_str(resource.get("comment"))
    return build(Slot, fields, ctx)
