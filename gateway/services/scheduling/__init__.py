"""Scheduling behind one seam: a ``Scheduler`` per source, chosen from its vendor profile."""

from .find_book import PROPOSAL_TYPE, FindBookScheduler
from .port import BookingDetails, Offer, Scheduler, SlotWindow
from .proposals import PROPOSAL_TTL_SECONDS, ProposalStore
from .selection import scheduler_for
from .slot_create import SlotCreateScheduler

__all__ = [
    "PROPOSAL_TTL_SECONDS",
    "PROPOSAL_TYPE",
    "BookingDetails",
    "FindBookScheduler",
    "Offer",
    "ProposalStore",
    "Scheduler",
    "SlotCreateScheduler",
    "SlotWindow",
    "scheduler_for",
]
