"""Booking on `$find`/`$book` EHRs (Argonaut Scheduling; Epic).

These EHRs offer no Slot search: `Appointment/$find` returns *proposed*
Appointments, which the gateway shows as free Slots, and `Appointment/$book`
books one (argonautproject/scheduling OperationDefinition-appointment-find/book).
Epic lists only read for Slot and Schedule, and its sandbox names the `$find`
time parameters `startTime`/`endTime` (field-facts.md §2); parameter names come
from the source's `VendorProfile.find_book`, never from here.

The gateway slot id of a proposal
---------------------------------
`$book` needs the proposal back, but a proposal may have no persistent id:

- When `$find` gave the proposal an id (Epic's "temporary appointments"), the
  slot id is ``encode_id(source, "Appointment", <that id>)`` and `$book` sends
  ``appt-id``. Stateless: any gateway replica can book it, Redis or not.
- When it gave none (Argonaut allows an id-less proposed Appointment), the
  proposal is stored in the shared cache under a keyed digest of its content
  for ``PROPOSAL_TTL_SECONDS`` and the slot id is
  ``encode_id(source, "ProposedAppointment", <digest>)``; `$book` sends the stored
  resource as ``appt-resource``. The digest is keyed (``CacheKeys.digest``), so a
  client can't forge an id for a time `$find` never offered; an expired or
  unknown one answers slot_unavailable ("search again"). The same proposal
  always gets the same id, so a cached slot list and a fresh one agree.

Both are ordinary gateway ids (opaque, URL-safe, reversible to the source), so
POST /v1/appointments takes them unchanged.

Retries: `$find` is read-only and sent ``idempotent=True`` (the client may retry
it); `$book` is not idempotent and is sent once. A repeated POST with the same
Idempotency-Key is replayed by the gateway (``booking._idempotent``), not resent.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from connectors import Conflict, FhirClient, FindBookNames, ProtocolError, Rejected, UpstreamError
from connectors import NotFound as UpstreamNotFound
from mappers import GatewayId, InvalidId, MappingError, encode_id, from_fhir
from mappers.model import Appointment, RecordRef, Slot
from mappers.outbound import BOOKING_IDENTIFIER_SYSTEM, booking_identifier_value, cancel_patch
from mappers.outbound.appointment_status import status_patch

from ...logs import get_logger
from ..errors import InvalidRequest, OverbookUnsupported, SlotTaken, SlotUnavailable
from .port import BookingDetails, Offer, SlotWindow
from .proposals import ProposalStore
from .status_moves import status_moves

__all__ = ["PROPOSAL_TYPE", "FindBookScheduler", "find_parameters"]

log = get_logger(__name__)

# Tag of a gateway id whose upstream part is the digest of a stored, id-less proposal.
PROPOSAL_TYPE = "ProposedAppointment"
# Argonaut $book input for the patient (OperationDefinition-appointment-book, field-facts §2).
# TODO(profile): move to FindBookNames once a vendor is documented to name it differently.
BOOK_PATIENT_PARAM = "patient-id"
BOOK_COMMENT_PARAM = "comment"
# OperationOutcome issue codes (R4 issue-type) that mean "someone else has that time".
_TAKEN_CODES = frozenset({"conflict", "duplicate"})
_BOOKABLE = frozenset({"proposed"})


# --- $find ------------------------------------------------------------------------------


def find_parameters(
    names: FindBookNames,
    *,
    start: datetime,
    end: datetime,
    service_type: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """The Parameters body of `$find`, with the profile's parameter names."""
    params: list[dict[str, Any]] = [
        {"name": names.start, "valueDateTime": start.isoformat()},
        {"name": names.end, "valueDateTime": end.isoformat()},
    ]
    if service_type:
        # Appointment.serviceType is a CodeableConcept; the code alone is what we know.
        concept = {"coding": [{"code": service_type}]}
        params.append({"name": names.service_type, "valueCodeableConcept": concept})
    if actor is not None:
        name = names.practitioner if actor.startswith("Practitioner/") else names.location
        params.append({"name": name, "valueReference": {"reference": actor}})
    return {"resourceType": "Parameters", "parameter": params}


def _appointments_in(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Appointments of a `$find`/`$book` answer: a Bundle, a Parameters `return`, or one."""
    rtype = result.get("resourceType")
    if rtype == "Appointment":
        return [result]
    if rtype == "Parameters":
        out: list[dict[str, Any]] = []
        for p in result.get("parameter") or ():
            if isinstance(p, dict) and isinstance(p.get("resource"), dict):
                out += _appointments_in(p["resource"])
        return out
    if rtype == "Bundle":
        return [
            e["resource"]
            for e in result.get("entry") or ()
            if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "Appointment"
        ]
    return []


def _book_parameters(
    names: FindBookNames,
    *,
    appointment: dict[str, Any] | str,
    patient_upstream: str,
    comment: str | None,
    cancels: str | None,
) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    if isinstance(appointment, str):
        params.append({"name": names.appointment_id, "valueString": appointment})
    else:
        params.append({"name": names.appointment_resource, "resource": appointment})
    params.append({"name": BOOK_PATIENT_PARAM, "valueString": patient_upstream})
    if cancels is not None:
        params.append({"name": names.cancelled_appointment_id, "valueString": cancels})
    if comment:
        params.append({"name": BOOK_COMMENT_PARAM, "valueString": comment})
    return {"resourceType": "Parameters", "parameter": params}


def _with_patient(
    proposal: dict[str, Any],
    patient_upstream: str,
    *,
    identifier: tuple[str, str],
    reason: str | None,
    comment: str | None,
) -> dict[str, Any]:
    """The stored proposal with the patient (and our booking identifier) added."""
    resource = copy.deepcopy(proposal)
    resource.pop("id", None)
    participants = [
        p
        for p in resource.get("participant") or []
        if not (
            isinstance(p, dict)
            and str((p.get("actor") or {}).get("reference", "")).startswith("Patient/")
        )
    ]
    participants.append(
        {
            "actor": {"reference": f"Patient/{patient_upstream}"},
            "required": "required",
            "status": "accepted",
        }
    )
    resource["participant"] = participants
    # The booking identifier lets a PSR or a later reconciliation find this booking by
    # Idempotency-Key; it is a digest, never the client's key (mappers.outbound).
    resource["identifier"] = [
        *(resource.get("identifier") or []),
        {"system": identifier[0], "value": identifier[1]},
    ]
    if reason:
        resource["reasonCode"] = [{"text": reason}]
    if comment:
        resource["comment"] = comment
    return resource


def _taken(exc: UpstreamError) -> bool:
    return isinstance(exc, Conflict) or any(i.code in _TAKEN_CODES for i in exc.issues)


class FindBookScheduler:
    """`$find` proposals are the free slots; `$book` books one; cancel is a JSON Patch."""

    slot_types = frozenset({"Appointment", PROPOSAL_TYPE})

    def __init__(
        self,
        client: FhirClient,
        source: str,
        names: FindBookNames,
        proposals: ProposalStore,
        *,
        can_hold: bool = False,
    ) -> None:
        self._client = client
        self._source = source
        self._names = names
        self._proposals = proposals
        # Argonaut $hold, where the vendor profile declares it (Epic's does not).
        self._can_hold = can_hold
        # Argonaut `$book` takes ``cancelled-appt-id`` ("reschedule = cancel + rebook",
        # OperationDefinition-appointment-book); a profile opts out by naming it "".
        self.can_rebook = bool(names.cancelled_appointment_id)

    async def free_slots(self, window: SlotWindow) -> list[Offer]:
        """POST [base]/Appointment/$find; each proposed Appointment becomes a free Slot."""
        result = await self._client.operation(
            self._names.find,
            resource_type="Appointment",
            parameters=find_parameters(
                self._names,
                start=window.start,
                end=window.end,
                service_type=window.service_type,
                actor=window.actor,
            ),
            # $find changes nothing upstream (Argonaut: affectsState false): safe to retry.
            idempotent=True,
        )
        out: list[Offer] = []
        for proposal in _appointments_in(result):
            offer = await self._offer_of(proposal)
            if offer is not None and window.start <= offer.slot.start < window.end:
                out.append(offer)
            if len(out) >= window.limit:
                break
        return out

    async def _offer_of(self, proposal: dict[str, Any]) -> Offer | None:
        upstream = proposal.get("id")
        slot_id: str | None = None
        if isinstance(upstream, str):
            try:
                slot_id = encode_id(self._source, "Appointment", upstream)
            except InvalidId:
                slot_id = None
        mapped_json = proposal
        if slot_id is None:
            digest = await self._proposals.put(self._source, proposal)
            slot_id = encode_id(self._source, PROPOSAL_TYPE, digest)
            # The mapper needs an id to point back to; the digest is this proposal's name.
            mapped_json = {**proposal, "id": digest}
        try:
            record = from_fhir(mapped_json, source=self._source, expect=Appointment)
        except MappingError:
            return None
        if record.status not in _BOOKABLE or record.start is None or record.end is None:
            return None  # a time we can't place can't be offered (as mappers.slot does)
        slot = Slot(
            id=slot_id,
            source=record.source,
            # A proposal belongs to no Schedule the gateway could read (Epic: Schedule is
            # read-only and $find is the only availability mechanism, field-facts §2).
            schedule_id=None,
            start=record.start,
            end=record.end,
            status="free",
            service_types=record.service_types,
            appointment_type=record.appointment_type,
            comment=record.comment,
            warnings=record.warnings,
            service_type_codings=record.service_type_codings,
            appointment_type_coding=record.appointment_type_coding,
        )
        # The proposal names who and where (Argonaut $find output participants).
        people = tuple(
            RecordRef(resource_type="Practitioner", id=p.ref, display=p.display)
            for p in record.participants
            if p.kind == "practitioner"
        )
        place = next(
            (
                RecordRef(resource_type="Location", id=p.ref, display=p.display)
                for p in record.participants
                if p.kind == "location"
            ),
            None,
        )
        return Offer(slot, people, place)

    async def release(self, upstream: str) -> None:
        """Cancel the ``pending`` Appointment ``$hold`` made (Argonaut has no release
        operation; a cancelled hold frees the time), if it is still pending."""
        try:
            held = await self._client.read("Appointment", upstream)
            if held.get("status") != "pending":
                return  # booked with it meanwhile, or the EHR ended it
            meta = held.get("meta")
            version = meta.get("versionId") if isinstance(meta, dict) else None
            # Only while still pending (a JSON Patch test, and the version where the EHR
            # gives one): a booking with the hold's token may be landing this moment.
            await self._client.patch(
                "Appointment",
                upstream,
                [
                    {"op": "test", "path": "/status", "value": "pending"},
                    *cancel_patch("hold released"),
                ],
                if_match=version if isinstance(version, str) else None,
            )
        except (UpstreamError, MappingError) as exc:
            log.warning("hold_release_failed", source=self._source, error=type(exc).__name__)

    async def slot_time(self, slot: GatewayId) -> tuple[datetime, datetime] | None:
        """The proposal's period: the stored id-less one, or the temporary appointment read
        back (None when the EHR won't show it)."""
        try:
            proposal = await self._proposal(slot)
            if isinstance(proposal, str):
                proposal = await self._client.read("Appointment", proposal)
            record = from_fhir({**proposal, "id": slot.id}, source=self._source, expect=Appointment)
        except (UpstreamError, MappingError, SlotUnavailable):
            return None
        if record.start is None or record.end is None:
            return None
        return record.start, record.end

    async def hold(self, slot: GatewayId, minutes: int) -> str | None:
        """POST [base]/Appointment/$hold where the EHR has it: the proposal becomes a
        ``pending`` Appointment (Argonaut OperationDefinition-appointment-hold), whose id
        the booking then books. Elsewhere only the offer is checked: the gateway holds."""
        del minutes  # $hold takes no duration: the EHR keeps it as long as it allows
        appointment = await self._proposal(slot)
        if not self._can_hold:
            return None
        name = self._names.appointment_id if isinstance(appointment, str) else None
        parameter: dict[str, Any] = (
            {"name": name, "valueString": appointment}
            if name
            else {"name": self._names.appointment_resource, "resource": appointment}
        )
        try:
            result = await self._client.operation(
                self._names.hold,
                resource_type="Appointment",
                parameters={"resourceType": "Parameters", "parameter": [parameter]},
                idempotent=False,
            )
        except UpstreamNotFound:
            raise SlotUnavailable("the offered time has expired; search slots again") from None
        except (Conflict, Rejected) as exc:
            if _taken(exc):
                raise SlotTaken("another booking took this time first") from None
            raise SlotUnavailable("the EHR refused to hold this time") from None
        held = _appointments_in(result)
        pending = held[0].get("id") if held else None
        if not isinstance(pending, str) or not pending:
            raise ProtocolError(
                "$hold answered without an Appointment id",
                source=self._source,
                method="POST",
                url_template=f"/Appointment/{self._names.hold}",
                retryable=False,
            )
        return pending

    async def _proposal(self, slot: GatewayId) -> dict[str, Any] | str:
        """What `$hold`/`$book` are sent for ``slot``: the temporary appointment's id, or
        the stored id-less proposal."""
        if slot.resource_type == "Appointment":
            return slot.id
        if slot.resource_type == PROPOSAL_TYPE:
            stored = await self._proposals.get(self._source, slot.id)
            if stored is None:
                raise SlotUnavailable("the offered time has expired; search slots again")
            return stored
        raise InvalidRequest("slot is not a slot offered by this EHR")

    async def book(self, slot: GatewayId, details: BookingDetails) -> Appointment:
        """POST [base]/Appointment/$book for the proposal behind ``slot``; sent once, never
        retried.

        409, or 4xx with an issue ``conflict``/``duplicate``, means another booking has the
        time: slot_taken. A vanished temporary appointment or other refusal answers
        slot_unavailable (search again).
        """
        if details.overbook_limit is not None:
            # $book books what $find offered; no vendor profile documents an overbooking.
            raise OverbookUnsupported("this EHR books through $find/$book: overbook it there")
        # Epic's temporary appointment from $find (or a held one): $book takes its id; an
        # id-less proposal is sent whole, with the patient and our booking identifier.
        appointment = await self._proposal(slot)
        if not isinstance(appointment, str):
            appointment = _with_patient(
                appointment,
                details.patient,
                identifier=(
                    BOOKING_IDENTIFIER_SYSTEM,
                    booking_identifier_value(details.idempotency_digest),
                ),
                reason=details.reason,
                comment=details.comment,
            )
        body = _book_parameters(
            self._names,
            appointment=appointment,
            patient_upstream=details.patient,
            comment=details.comment,
            cancels=details.replaces if self.can_rebook else None,
        )
        try:
            result = await self._client.operation(
                self._names.book, resource_type="Appointment", parameters=body, idempotent=False
            )
        except UpstreamNotFound:
            raise SlotUnavailable("the offered time has expired; search slots again") from None
        except (Conflict, Rejected) as exc:
            if _taken(exc):
                raise SlotTaken("another booking took this time first") from None
            # Diagnostics may quote patient data: only the outcome reaches the client.
            raise SlotUnavailable("the EHR refused to book this time") from None
        booked = _appointments_in(result)
        if not booked:
            # The EHR may have booked it: this is not a refusal, and must not look like one.
            raise ProtocolError(
                "$book answered without an Appointment",
                source=self._source,
                method="POST",
                url_template=f"/Appointment/{self._names.book}",
                retryable=False,
            )
        try:
            return from_fhir(booked[0], source=self._source, expect=Appointment)
        except MappingError:
            raise SlotUnavailable("the EHR did not return an appointment") from None

    async def set_status(
        self, upstream_id: str, current: dict[str, Any], target: str
    ) -> dict[str, Any]:
        """PATCH [base]/Appointment/{id} with the status move, If-Match when versioned."""
        ops = status_patch(current, target, transitions=status_moves(self._client.profile))
        if not ops:
            return current
        meta = current.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        updated = await self._client.patch(
            "Appointment", upstream_id, ops, if_match=version if isinstance(version, str) else None
        )
        if "status" not in updated:  # Prefer: return=minimal answers carry no body
            updated = await self._client.read("Appointment", upstream_id)
        return updated

    async def cancel(
        self, upstream_id: str, current: dict[str, Any], reason: str
    ) -> dict[str, Any]:
        """PATCH [base]/Appointment/{id}: status cancelled with a reason (Argonaut cancel
        example, source/pages/_includes/cancel-examples.md), If-Match on the version read
        when the EHR gave one. A JSON Patch that sets the status is idempotent, so without a
        version it is still safe to send; it never overwrites fields we did not read, as a
        PUT would. These EHRs own their availability (Epic: Slot is read-only): nothing to
        free. Raises `PreconditionFailed` when the appointment changed since it was read.
        """
        meta = current.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        updated = await self._client.patch(
            "Appointment",
            upstream_id,
            cancel_patch(reason),
            if_match=version if isinstance(version, str) else None,
        )
        if "status" not in updated:  # Prefer: return=minimal answers carry no body
            updated = await self._client.read("Appointment", upstream_id)
        return updated
