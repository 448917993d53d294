"""FHIR R4 Appointment → canonical Appointment.

- ``status`` is required (an appointment of unknown state can't be acted on);
  codes outside the R4 value set are kept, with a warning.
- Participants keep their kind, status and display even when the actor is only
  a display or a contained resource (``ref`` None then). The kind comes from the
  reference type, a contained resource's type, or ``actor.type``; else "other".
- ``patient_id`` is the first patient participant that resolves; PractitionerRole
  actors count as practitioners (their gateway id keeps the real type).
- ``cancellation_reason`` reads ``cancelationReason`` (R4B/R5, and R4 servers that
  backport it).
- Inside a Bundle, references written as an entry's fullUrl (``urn:uuid:...``)
  resolve to that entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import (
    OBJECT,
    Ctx,
    as_list,
    as_str,
    build,
    codeable_text,
    contained_index,
    read_code,
    read_concept,
    read_concepts,
    read_datetime,
    read_identifiers,
    record_head,
)
from .ids import InvalidId, reference_id
from .model import Appointment

__all__ = ["map_appointment"]

_STATUSES = frozenset(
    {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
)
_PARTICIPANT_STATUSES = frozenset({"accepted", "declined", "tentative", "needs-action"})
_REQUIRED = frozenset({"required", "optional", "information-only"})
_KINDS = {
    "Patient": "patient",
    "Practitioner": "practitioner",
    "PractitionerRole": "practitioner",
    "Location": "location",
    "Device": "device",
    "RelatedPerson": "related_person",
}


def map_appointment(resource: Mapping[str, Any], ctx: Ctx) -> Appointment:
    fields = record_head(resource, ctx)
    status = resource.get("status")
    if status is None:
        raise ctx.fail("status", "missing")
    fields["status"] = read_code(status, ctx, "status", _STATUSES)
    if fields["status"] is None:
        raise ctx.fail("status", "not a code string")
    start = read_datetime(resource.get("start"), ctx, "start")
    end = read_datetime(resource.get("end"), ctx, "end")
    if start is not None and end is not None and end < start:
        ctx.warn("end", "before start; dropped")
        end = None
    fields["start"], fields["end"] = start, end
    fields["minutes_duration"] = _minutes(resource.get("minutesDuration"), ctx)
    _participants(resource, fields, ctx)
    fields["service_types"], fields["service_type_codings"] = read_concepts(
        resource.get("serviceType")
    )
    fields["appointment_type"], fields["appointment_type_coding"] = read_concept(
        resource.get("appointmentType")
    )
    fields["reason"] = [
        text for c in as_list(resource.get("reasonCode")) if (text := codeable_text(c)) is not None
    ]
    fields["description"] = as_str(resource.get("description"))
    fields["comment"] = as_str(resource.get("comment"))
    fields["slot_ids"] = [
        sid
        for i, ref in enumerate(as_list(resource.get("slot")))
        if (sid := ctx.ref_id(ref, f"slot[{i}]", "Slot")) is not None
    ]
    fields["created"] = read_datetime(resource.get("created"), ctx, "created")
    fields["cancellation_reason"] = codeable_text(resource.get("cancelationReason"))
    fields["identifiers"] = read_identifiers(resource.get("identifier"), ctx, "identifier")
    return build(Appointment, fields, ctx)


def _minutes(raw: Any, ctx: Ctx) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and 0 < len(raw) < 7:
        # Oracle Health's examples send minutesDuration as a JSON string ("60").
        ctx.warn("minutesDuration", "a string where an integer was expected; read")
        minutes = int(raw)
        if minutes > 0:
            return minutes
    ctx.warn("minutesDuration", "not a positive integer; dropped")
    return None


def _participants(resource: Mapping[str, Any], fields: dict[str, Any], ctx: Ctx) -> None:
    participants: list[dict[str, Any]] = []
    patient_id: str | None = None
    practitioners: list[str] = []
    locations: list[str] = []
    contained: dict[str, Mapping[str, Any]] | None = None
    for i, item in enumerate(as_list(resource.get("participant"))):
        path = f"participant[{i}]"
        if not isinstance(item, OBJECT):
            ctx.warn(path, "not an object")
            continue
        actor = item.get("actor")
        if not isinstance(actor, OBJECT):
            if actor is not None:
                ctx.warn(f"{path}.actor", "not an object")
            # A role with no one in it yet (e.g. an unassigned attender).
            continue
        rtype: str | None = None
        ref: str | None = None
        parsed = ctx.resolve(actor)
        if parsed is not None:
            rtype = parsed[0]
            try:
                ref = reference_id(ctx.source, rtype, parsed[1])
            except InvalidId:
                ctx.warn(f"{path}.actor", "reference id has an invalid format")
        else:
            local = as_str(actor.get("reference"))
            if local is not None and local.startswith("#"):
                if contained is None:
                    contained = contained_index(resource)
                found = contained.get(local[1:])
                rtype = as_str(found.get("resourceType")) if found is not None else None
            elif local is not None:
                ctx.warn(f"{path}.actor.reference", "not resolvable")
            rtype = rtype or as_str(actor.get("type"))
        kind = _KINDS.get(rtype or "", "other")
        participants.append(
            {
                "kind": kind,
                "ref": ref,
                "display": as_str(actor.get("display")),
                "status": read_code(
                    item.get("status"), ctx, f"{path}.status", _PARTICIPANT_STATUSES
                ),
                "required": read_code(item.get("required"), ctx, f"{path}.required", _REQUIRED),
            }
        )
        if ref is None:
            continue
        if kind == "patient" and patient_id is None:
            patient_id = ref
        elif kind == "practitioner":
            practitioners.append(ref)
        elif kind == "location":
            locations.append(ref)
    fields["participants"] = participants
    fields["patient_id"] = patient_id
    fields["practitioner_ids"] = practitioners
    fields["location_ids"] = locations
