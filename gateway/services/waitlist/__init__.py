"""The waitlist: patients waiting for a visit type, and freed slots offered to them."""

from .entries import EntryStore, Priority, WaitlistEntry
from .offers import Freed, OfferDesk, WaitlistOffer
from .roster import AlreadyWaitlisted, WaitlistAsk, WaitlistFilter, join, leave, listing

__all__ = [
    "AlreadyWaitlisted",
    "EntryStore",
    "Freed",
    "OfferDesk",
    "Priority",
    "WaitlistAsk",
    "WaitlistEntry",
    "WaitlistFilter",
    "WaitlistOffer",
    "join",
    "leave",
    "listing",
]
