from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
from starlette.applications import Starlette

from mappers.model import EligibilityRequest, Person
from simulators.payer import SCENARIO_MEMBERS, MemberTable, create_payer_app

NOW = datetime(2026, 1, 5, 14, 30, 15, tzinfo=UTC)
DOS = date(2026, 1, 5)
NPI = "1234567893"


class FakeSleep:
    """Records the delays asked for instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def scenario_table() -> MemberTable:
    return MemberTable(SCENARIO_MEMBERS, payers={"SIMPAYER": "SIMULATED PAYER"})


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def app(fake_sleep: FakeSleep) -> Starlette:
    return create_payer_app(scenario_table(), sleep=fake_sleep, clock=lambda: NOW)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://payer.test"
    ) as http:
        yield http


def inquiry(
    member_id: str | None = "SIM-ACTIVE-1",
    last: str = "DOE",
    first: str = "JANE",
    born: date | None = date(1980, 1, 15),
    *,
    payer_id: str = "SIMPAYER",
    service_types: tuple[str, ...] = ("30", "98"),
    dependent: Person | None = None,
    trace: str = "TRACE-1",
) -> EligibilityRequest:
    return EligibilityRequest(
        payer_id=payer_id,
        provider_npi=NPI,
        provider_name="SANDBOX CLINIC",
        subscriber=Person(last_name=last, first_name=first, member_id=member_id, birth_date=born),
        dependent=dependent,
        service_types=list(service_types),
        date_of_service=DOS,
        trace_number=trace,
    )
