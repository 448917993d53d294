"""Vendor profiles: small declarative facts about how a source behaves.

Each profile encodes only what the vendor (or server) documentation says, cited next to
the field. `check_capabilities` compares a profile with a server's CapabilityStatement
and fails early, naming what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from connectors.errors import CapabilityMismatch

__all__ = [
    "EPIC",
    "GENERIC",
    "HAPI",
    "ORACLE_HEALTH",
    "PROFILES",
    "BalanceRoute",
    "BookingStyle",
    "FindBookNames",
    "VendorProfile",
    "check_capabilities",
    "missing_capabilities",
]


class BookingStyle(StrEnum):
    # Search free Slots, then create an Appointment (status booked, one slot, patient accepted).
    SLOT_CREATE = "slot-create"
    # Argonaut Scheduling: Appointment/$find proposes appointments, $book books one.
    FIND_BOOK = "find-book"


@dataclass(frozen=True)
class FindBookNames:
    """Operation and parameter names for $find/$book; Argonaut names by default
    (argonautproject/scheduling OperationDefinition-appointment-find/book)."""

    find: str = "$find"
    book: str = "$book"
    hold: str = "$hold"
    start: str = "start"
    end: str = "end"
    service_type: str = "service-type"
    practitioner: str = "practitioner"
    location: str = "location-reference"
    patient: str = "patient-reference"
    appointment_id: str = "appt-id"
    appointment_resource: str = "appt-resource"
    cancelled_appointment_id: str = "cancelled-appt-id"


@dataclass(frozen=True)
class BalanceRoute:
    """How an EHR tells a patient's self-pay balance through FHIR (Account).

    - ``patient``: ``GET Account?patient=Patient/{id}``, balances read from the R5
      cross-version ``Account.balance`` extension (or the vendor's);
    - ``encounter``: Oracle Health searches accounts of a type by encounter only
      (``-encounter`` with ``type=guarantor-balance``; op-account-get.html), so the
      patient's encounters are read first (``GET Encounter?patient=``), at most
      ``max_encounters`` of them, then each one's ``account_type`` accounts.
    """

    search: str  # "patient" | "encounter"
    account_type: str | None = None
    encounter_param: str = "encounter"
    max_encounters: int = 20


def _frozen(d: Mapping[str, frozenset[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class VendorProfile:
    name: str
    booking: BookingStyle
    find_book: FindBookNames | None = None
    # Interactions per resource type the connectors rely on (CapabilityStatement codes).
    interactions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Search parameters per resource type the connectors send.
    search_params: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Type-level operations, e.g. {"Appointment": {"find", "book"}} (names without "$").
    operations: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Largest `_count` the server honours; None when undocumented.
    max_page_size: int | None = None
    # After booking, must the client mark the Slot busy itself?
    client_marks_slot_busy: bool = False
    # What a desk's check-in writes: "arrived" (FHIR R4) or "checked-in".
    check_in_status: str = "arrived"
    # Which table of Appointment status moves the EHR follows: "r4" (FHIR R4's) or
    # "oracle-health" (its documented moves; mappers.outbound.appointment_status).
    status_moves: str = "r4"
    required_headers: Mapping[str, str] = field(default_factory=dict)
    # How the EHR tells a patient's self-pay balance; None: it doesn't (through FHIR).
    balance: BalanceRoute | None = None
    # Whether the EHR keeps the patient's bills as FHIR Invoices (totalNet, totalGross).
    invoices: bool = False
    # How changes made in the EHR itself can be seen: "subscription" (FHIR R4 rest-hook,
    # falling back to a poll where the server doesn't run them), "poll" (Slot and
    # Appointment searched by _lastUpdated) or "none" (neither is offered).
    watch: str = "poll"

    def page_size(self, wanted: int) -> int:
        return wanted if self.max_page_size is None else min(wanted, self.max_page_size)


_R4_SEARCH = _frozen(
    {
        "Patient": frozenset({"identifier", "family", "given", "birthdate", "phone"}),
        "Slot": frozenset({"start", "status", "schedule"}),
        "Appointment": frozenset({"patient", "date", "status"}),
        "Coverage": frozenset({"beneficiary"}),
    }
)

_SLOT_CREATE_INTERACTIONS = _frozen(
    {
        "Patient": frozenset({"read", "search-type"}),
        "Slot": frozenset({"read", "search-type"}),
        "Appointment": frozenset({"read", "create", "update", "search-type"}),
    }
)

GENERIC = VendorProfile(
    name="generic",
    booking=BookingStyle.SLOT_CREATE,
    interactions=_SLOT_CREATE_INTERACTIONS,
    search_params=_R4_SEARCH,
    # A plain R4 server has no reason to flip the Slot itself; if it does, our If-Match
    # update of the Slot fails with 412 and the gateway re-reads it.
    client_marks_slot_busy=True,
)

HAPI = VendorProfile(
    name="hapi",
    booking=BookingStyle.SLOT_CREATE,
    interactions=_frozen(
        {**_SLOT_CREATE_INTERACTIONS, "Slot": frozenset({"read", "update", "search-type"})}
    ),
    search_params=_R4_SEARCH,
    # hapi-fhir-jpaserver-starter application.yaml: default_page_size 20, max_page_size 200.
    max_page_size=200,
    # HAPI JPA stores Appointments as given; it does not change Slot.status (DESIGN.md).
    client_marks_slot_busy=True,
    # A plain R4 store: whatever writes Accounts and Invoices into it (a hospital's
    # billing feed, our tests) states the balance with the R5 cross-version extension.
    balance=BalanceRoute(search="patient"),
    invoices=True,
    # JPA servers run rest-hook Subscriptions once enabled, and search _lastUpdated.
    watch="subscription",
)

EPIC = VendorProfile(
    name="epic",
    booking=BookingStyle.FIND_BOOK,
    # Epic sandbox $find takes startTime/endTime and service-type, not the Argonaut
    # start/end (StackOverflow q 71430024).
    find_book=FindBookNames(start="startTime", end="endTime"),
    # Epic lists Appointment.$find and $book (STU3) and only *read* for Schedule and Slot
    # (Epic API list, via phoenix.careforce.ai): no Slot search is relied on.
    interactions=_frozen(
        {
            "Patient": frozenset({"read", "search-type"}),
            "Appointment": frozenset({"read"}),
        }
    ),
    search_params=_frozen({"Patient": frozenset({"identifier", "family", "given", "birthdate"})}),
    operations=_frozen({"Appointment": frozenset({"find", "book"})}),
    # No Slot search and no Subscription for a backend client: only the cache's time.
    watch="none",
)

ORACLE_HEALTH = VendorProfile(
    name="oracle-health",
    booking=BookingStyle.SLOT_CREATE,
    interactions=_frozen(
        {
            "Patient": frozenset({"read", "search-type"}),
            "Slot": frozenset({"read", "search-type"}),
            "Appointment": frozenset({"read", "create", "search-type"}),
        }
    ),
    search_params=_frozen(
        {
            "Patient": frozenset({"identifier", "family", "given", "birthdate"}),
            # GET /Slot returns only free slots; filters -location, schedule.actor,
            # service-type (docs.oracle.com .../mfrap/op-slot-get.html).
            "Slot": frozenset({"service-type", "schedule.actor", "-location"}),
            "Appointment": frozenset({"patient", "date"}),
        }
    ),
    # Booked appointments need exactly one slot and an accepted patient participant; the
    # slot then no longer appears in GET /Slot (op-appointment-post.html, op-slot-get.html).
    client_marks_slot_busy=False,
    # booked -> arrived|checked-in|cancelled, checked-in -> fulfilled|cancelled; no no-show
    # move (docs.oracle.com .../mfrap/api-appointment.html): check-in is checked-in.
    check_in_status="checked-in",
    status_moves="oracle-health",
    # "guarantor-balance - Self pay balance account", searched with -encounter and
    # type=guarantor-balance; its balance is the account-balance extension
    # (fhir.cerner.com/millennium/r4/financial/general/account).
    balance=BalanceRoute(
        search="encounter", account_type="guarantor-balance", encounter_param="-encounter"
    ),
    # Its Slot and Appointment searches take no _lastUpdated (the docs above).
    watch="none",
)

PROFILES: Mapping[str, VendorProfile] = MappingProxyType(
    {p.name: p for p in (GENERIC, HAPI, EPIC, ORACLE_HEALTH)}
)


def missing_capabilities(profile: VendorProfile, capability: Mapping[str, Any]) -> list[str]:
    """What `profile` needs that `capability` (a CapabilityStatement) doesn't declare,
    as "Type.interaction", "Type?param" and "Type/$operation" strings."""
    resources: dict[str, Mapping[str, Any]] = {}
    for rest in capability.get("rest") or ():
        if isinstance(rest, dict) and rest.get("mode", "server") == "server":
            for res in rest.get("resource") or ():
                if isinstance(res, dict) and isinstance(res.get("type"), str):
                    resources[res["type"]] = res
    missing: list[str] = []
    for rtype, wanted in sorted(profile.interactions.items()):
        have = {
            i.get("code")
            for i in resources.get(rtype, {}).get("interaction") or ()
            if isinstance(i, dict)
        }
        missing += [f"{rtype}.{code}" for code in sorted(wanted - have)]
    for rtype, wanted in sorted(profile.search_params.items()):
        have = {
            p.get("name")
            for p in resources.get(rtype, {}).get("searchParam") or ()
            if isinstance(p, dict)
        }
        missing += [f"{rtype}?{name}" for name in sorted(wanted - have)]
    for rtype, wanted in sorted(profile.operations.items()):
        have = {
            str(o.get("name", "")).lstrip("$")
            for o in resources.get(rtype, {}).get("operation") or ()
            if isinstance(o, dict)
        }
        missing += [f"{rtype}/${name}" for name in sorted(wanted - have)]
    return missing


def check_capabilities(
    profile: VendorProfile, capability: Mapping[str, Any], *, source: str
) -> None:
    """Raise `CapabilityMismatch` naming everything the server lacks for `profile`."""
    missing = missing_capabilities(profile, capability)
    if missing:
        raise CapabilityMismatch(
            f"server lacks what profile {profile.name!r} needs: {', '.join(missing)}",
            missing=missing,
            source=source,
            method="GET",
            url_template="/metadata",
        )
