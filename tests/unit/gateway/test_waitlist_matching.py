"""Which waitlisted patients a freed slot fits, and in what order: a table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.schemas import Ref, SlotOut
from gateway.services.waitlist.entries import WaitlistEntry
from gateway.services.waitlist.matching import fits, in_line
from mappers.model import Coding, SourceRef

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/New_York")
# Tomorrow 09:00 in New York.
START = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)


def _slot(**fields: Any) -> SlotOut:
    base: dict[str, Any] = {
        "id": "slot-1",
        "source": SourceRef(source="ehr-a", resource_type="Slot", id="1"),
        "start": START,
        "end": START + timedelta(minutes=30),
        "status": "free",
        "service_types": ["124"],
        "practitioners": [Ref(id="dr-1", display="Dr One")],
        "location": Ref(id="loc-1", display="Main St"),
    }
    return SlotOut(**{**base, **fields})


def _entry(**fields: Any) -> WaitlistEntry:
    base: dict[str, Any] = {
        "id": "wl-1",
        "patient_id": "p-1",
        "service_type": "124",
        "earliest": date(2026, 12, 7),
        "latest": date(2026, 12, 14),
        "min_notice_hours": 0,
        "created_at": NOW - timedelta(days=1),
        "created_by": "desk",
    }
    return WaitlistEntry(**{**base, **fields})


CASES = [
    ("fits", _entry(), _slot(), None),
    (
        "visit type from the coding",
        _entry(service_type="57"),
        _slot(service_types=[], service_type_codings=[Coding(code="57")]),
        None,
    ),
    ("another visit type", _entry(service_type="57"), _slot(), "another visit type"),
    ("the practitioner asked for", _entry(practitioner_id="dr-1"), _slot(), None),
    ("another practitioner", _entry(practitioner_id="dr-2"), _slot(), "another practitioner"),
    ("the location asked for", _entry(location_id="loc-1"), _slot(), None),
    ("another location", _entry(location_id="loc-2"), _slot(), "another location"),
    ("no location known", _entry(location_id="loc-1"), _slot(location=None), "another location"),
    (
        "before the first day",
        _entry(earliest=date(2026, 12, 9)),
        _slot(),
        "outside the days asked for",
    ),
    ("after the last day", _entry(latest=date(2026, 12, 7)), _slot(), "outside the days asked for"),
    # 23:30 on the 8th in New York is the 9th in UTC: the desk's day counts.
    (
        "the desk's day, not UTC's",
        _entry(latest=date(2026, 12, 8)),
        _slot(start=datetime(2026, 12, 9, 4, 30, tzinfo=UTC)),
        None,
    ),
    ("enough notice", _entry(min_notice_hours=26), _slot(), None),
    ("too little notice", _entry(min_notice_hours=27), _slot(), "too soon"),
    ("an open offer already", _entry(offer_slot_id="slot-9"), _slot(), "has an open offer"),
    ("let this slot pass before", _entry(passed=["slot-1"]), _slot(), "let this slot pass"),
]


@pytest.mark.parametrize(
    ("entry", "slot", "why"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fits(entry: WaitlistEntry, slot: SlotOut, why: str | None) -> None:
    assert fits(entry, slot, now=NOW, zone=ZONE) == why


def test_the_line_is_priority_then_time_waited() -> None:
    day = timedelta(days=1)
    entries = [
        _entry(id="wl-routine-old", priority="routine", created_at=NOW - 9 * day),
        _entry(id="wl-urgent-new", priority="urgent", created_at=NOW - day),
        _entry(id="wl-soon", priority="soon", created_at=NOW - 5 * day),
        _entry(id="wl-urgent-old", priority="urgent", created_at=NOW - 3 * day),
        _entry(id="wl-other-visit", priority="urgent", service_type="57"),
    ]
    line = [e.id for e in in_line(entries, _slot(), now=NOW, zone=ZONE)]
    assert line == ["wl-urgent-old", "wl-urgent-new", "wl-soon", "wl-routine-old"]
