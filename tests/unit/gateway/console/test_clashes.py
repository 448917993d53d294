"""The patient's other appointments as the console shows them: read from a refusal, and
the marks on the day's list (one check per patient, all at once, partial when an EHR or
the check itself doesn't answer)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.console.clashes import Clash, Mark, day_marks, from_refusal
from gateway.schemas import AppointmentOut
from gateway.services.fanout import SourceStatus
from mappers.model import Appointment, Participant, SourceRef

NINE = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
DAY = (NINE.replace(hour=5), NINE.replace(hour=5) + timedelta(days=1))


def _appointment(
    appointment_id: str, patient: str, source: str = "ehr-a", *, status: str = "booked", **kw: Any
) -> AppointmentOut:
    return AppointmentOut(
        id=appointment_id,
        source=SourceRef(source=source, resource_type="Appointment", id=appointment_id),
        status=status,
        start=kw.pop("start", NINE),
        end=kw.pop("end", NINE + timedelta(minutes=30)),
        patient_id=patient,
        **kw,
    )


def test_a_refusal_names_when_where_and_which_ehr():
    clashes = from_refusal(
        {
            "conflicts": [
                {
                    "id": "x",
                    "source": "ehr-b",
                    "status": "booked",
                    "start": "2026-12-07T14:15:00+00:00",
                    "end": "2026-12-07T14:45:00+00:00",
                    "location": "Clinic North",
                },
                {"source": "ehr-a", "start": "not a time", "location": ""},
                "garbage",
            ]
        }
    )
    assert clashes == [
        Clash(
            NINE + timedelta(minutes=15),
            NINE + timedelta(minutes=45),
            "Clinic North",
            "ehr-b",
            "booked",
        ),
        Clash(None, None, None, "ehr-a", ""),
    ]
    assert from_refusal({}) == []


async def test_each_patient_is_checked_once_and_their_rows_marked():
    elsewhere = Appointment(
        id="b-1",
        source=SourceRef(source="ehr-b", resource_type="Appointment", id="b-1"),
        status="booked",
        start=NINE + timedelta(minutes=15),
        end=NINE + timedelta(minutes=45),
        participants=[Participant(kind="location", ref="loc", display="Clinic North")],
    )
    listed = [
        _appointment("a-1", "p-clash"),
        _appointment("a-2", "p-clash", start=NINE + timedelta(hours=3)),
        _appointment("a-3", "p-partial"),
        _appointment("a-4", "p-slow"),
        _appointment("a-5", "p-gone", status="cancelled"),
        _appointment("a-6", "p-clear"),
    ]
    asked: list[str] = []

    async def check(sources: Any, patient_id: str, start: datetime, end: datetime, **kw: Any):
        asked.append(patient_id)
        assert (start, end) == DAY
        if patient_id == "p-slow":
            await asyncio.sleep(30)
        if patient_id == "p-clash":
            return [(listed[0], elsewhere)], [SourceStatus("ehr-a", "ok")]
        if patient_id == "p-partial":
            return [], [SourceStatus("ehr-a", "ok"), SourceStatus("ehr-b", "timeout")]
        return [], [SourceStatus("ehr-a", "ok"), SourceStatus("ehr-b", "ok")]

    marks = await day_marks(
        None,  # type: ignore[arg-type]
        listed,
        *DAY,
        max_days=31,
        deadline_seconds=0.2,
        check=check,
    )
    # Cancelled rows are not checked; each patient once, however many rows they have.
    assert sorted(asked) == ["p-clash", "p-clear", "p-partial", "p-slow"]
    assert marks == {
        "a-1": Mark(
            "conflict",
            [Clash(elsewhere.start, elsewhere.end, "Clinic North", "ehr-b", "booked")],
            [],
        ),
        "a-3": Mark("partial", missing=["ehr-b"]),
        "a-4": Mark("partial"),  # the check itself did not finish in time
    }


async def test_the_checks_run_at_the_same_time():
    patients = [f"p-{i}" for i in range(6)]
    started: set[str] = set()
    everyone = asyncio.Event()

    async def check(sources: Any, patient_id: str, *args: Any, **kw: Any):
        # Each check waits for all the others to have started: checked one after the
        # other, the first would wait past the deadline and every mark be partial.
        started.add(patient_id)
        if len(started) == len(patients):
            everyone.set()
        await everyone.wait()
        return [], [SourceStatus("ehr-b", "error")]

    marks = await day_marks(
        None,  # type: ignore[arg-type]
        [_appointment(f"a-{p}", p) for p in patients],
        *DAY,
        max_days=31,
        deadline_seconds=5,
        check=check,
    )
    assert list(marks.values()) == [Mark("partial", missing=["ehr-b"])] * len(patients)
