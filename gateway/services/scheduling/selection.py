"""Which ``Scheduler`` a source gets: decided once, from its vendor profile."""

from __future__ import annotations

from connectors import BookingStyle, FhirClient

from .find_book import FindBookScheduler
from .port import Scheduler
from .proposals import ProposalStore
from .slot_create import SlotCreateScheduler

__all__ = ["scheduler_for"]


def scheduler_for(client: FhirClient, source: str, proposals: ProposalStore) -> Scheduler:
    profile = client.profile
    if profile.booking is BookingStyle.FIND_BOOK:
        if profile.find_book is None:
            raise ValueError(
                f"profile {profile.name!r} books by $find/$book but names no operations"
            )
        can_hold = "hold" in profile.operations.get("Appointment", frozenset())
        return FindBookScheduler(client, source, profile.find_book, proposals, can_hold=can_hold)
    return SlotCreateScheduler(client, source)
