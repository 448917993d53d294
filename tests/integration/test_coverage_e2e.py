"""Coverage checks end to end: gateway + Redis + payer simulator + the seeded HAPI EHRs.

The gateway runs in process; its payer traffic goes to the payer simulator through
httpx.ASGITransport; EHR reads go to the two real HAPI servers, seeded here (idempotent)
with the same anchor day as ``test_seed_hapi`` so the member table the simulator builds
from the seed agrees with what the EHRs hold.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import encode_id
from simulators.payer import (
    SIM_PAYER_ID,
    MemberTable,
    SimulatorControl,
    create_payer_app,
    default_members,
    simulator_control,
)
from simulators.seed import build_resources
from simulators.seed.run import seed_server
from tests.support.gateway_env import auth, settings_for
from tests.support.payer_env import sim_payer, to_simulator, with_payers

pytestmark = [pytest.mark.hapi, pytest.mark.redis]

# The seed's anchor day (as in test_seed_hapi): re-seeding with it changes nothing.
TODAY = date(2026, 3, 2)
SEED = 7
CHECKS = "/v1/coverage-checks"
ZONE = ZoneInfo("America/New_York")  # the "general" tenant's time zone
_SKIP = {"cancelled", "noshow", "entered-in-error"}

JANE = {
    "member_id": "SIM-ACTIVE-1",
    "payer_id": SIM_PAYER_ID,
    "first_name": "Jane",
    "last_name": "Doe",
    "birth_date": "1980-01-15",
    "service_types": ["98"],
    "date_of_service": TODAY.isoformat(),
}


@pytest.fixture(scope="module")
def seeded(hapi_base_urls: tuple[str, str]) -> tuple[str, str]:
    base_a, base_b = hapi_base_urls

    async def seed() -> None:
        for base_url, profile in ((base_a, "ehr-a"), (base_b, "ehr-b")):
            await seed_server(base_url, profile, seed=SEED, today=TODAY)

    asyncio.run(seed())
    return base_a, base_b


@pytest.fixture(scope="module")
def members() -> MemberTable:
    return default_members(seed=SEED, today=TODAY)


@pytest.fixture(autouse=True)
def fresh_keyspace(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new hash key per test: the same subject hashes to new keys, so tests don't share.
    monkeypatch.setenv("FRONTDESK_HASH_KEY", uuid.uuid4().hex)


class Stack:
    """A running gateway and the simulator behind it."""

    def __init__(self, client: httpx.AsyncClient, payer: Starlette) -> None:
        self.client = client
        self.payer = payer

    @property
    def control(self) -> SimulatorControl:
        return simulator_control(self.payer)

    async def check(self, body: dict[str, Any], *, fresh: bool = False) -> dict[str, Any]:
        headers = {"Cache-Control": "no-cache"} if fresh else {}
        response = await self.client.post(CHECKS, json=body, headers=headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@asynccontextmanager
async def stack(
    bases: tuple[str, str], redis_url: str, table: MemberTable, **settings: Any
) -> AsyncIterator[Stack]:
    payer = create_payer_app(table)
    config = with_payers(settings_for(*bases, redis_url, **settings), "general", [sim_payer()])
    app = create_app(
        config, audit=MemoryAuditSink(), eligibility_transport_factory=to_simulator(payer)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway.test",
            headers=auth(),
            timeout=60,
        ) as client,
    ):
        yield Stack(client, payer)


def _copays(answer: dict[str, Any], service_type: str) -> set[Decimal]:
    return {
        Decimal(b["amount"])
        for b in answer["benefits"]
        if b["kind"] == "copay"
        and b.get("service_type") == service_type
        and b.get("in_network") is not False
        and b.get("amount") is not None
    }


def _covered_patient(table: MemberTable) -> tuple[str, Decimal]:
    """A seeded EHR A patient, sole policy holder of an active card: (patient id, 98 copay)."""
    resources = build_resources("ehr-a", seed=SEED, today=TODAY)
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        if r["resourceType"] == "Coverage":
            by_patient.setdefault(r["beneficiary"]["reference"], []).append(r)
    for ref, coverages in sorted(by_patient.items()):
        if len(coverages) != 1:
            continue
        cov = coverages[0]
        relationship = cov["relationship"]["coding"][0]["code"]
        period = cov.get("period") or {}
        if cov["status"] != "active" or relationship != "self":
            continue
        if period.get("end") and date.fromisoformat(period["end"]) < TODAY:
            continue
        if date.fromisoformat(period.get("start", "2000-01-01")) > TODAY:
            continue
        payer_id = cov["payor"][0]["identifier"]["value"]
        member = table.get(payer_id, cov["subscriberId"])
        if member is None or not member.is_active(TODAY) or member.reject_reason:
            continue
        copay = member.benefits.copays.get("98")
        if copay is not None:
            return encode_id("ehr-a", "Patient", ref.removeprefix("Patient/")), copay
    raise AssertionError("the seed has no EHR A patient with one active card")


async def test_seeded_patient_gets_the_copay_the_payer_holds(
    seeded: tuple[str, str], redis_url: str, members: MemberTable
) -> None:
    patient_id, copay = _covered_patient(members)
    async with stack(seeded, redis_url, members) as gw:
        answer = await gw.check(
            {
                "patient_id": patient_id,
                "service_types": ["98"],
                "date_of_service": TODAY.isoformat(),
            }
        )
        again = await gw.check(
            {
                "patient_id": patient_id,
                "service_types": ["98"],
                "date_of_service": TODAY.isoformat(),
            }
        )
        assert gw.control.requests == 1
    assert answer["status"] == "active", answer
    assert answer["origin"] == "x12"
    assert answer["stale"] is False and answer["cached"] is False
    assert _copays(answer, "98") == {copay}
    # The second check is the cached answer, about the same member.
    assert again["cached"] is True
    assert again["member_id"] == answer["member_id"]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"member_id": "SIM-NOBODY-9"}, "72", "check the insurance card"),
        ({"last_name": "Dough"}, "73", "check the spelling"),
        (
            {
                "member_id": "SIM-DOWN-1",
                "first_name": "Dana",
                "last_name": "Down",
                "birth_date": "1970-01-01",
            },
            "42",
            "try again",
        ),
    ],
    ids=["unknown-member-72", "wrong-name-73", "payer-down-42"],
)
async def test_payer_rejections_tell_the_desk_what_to_do(
    seeded: tuple[str, str],
    redis_url: str,
    members: MemberTable,
    change: dict[str, str],
    code: str,
    words: str,
) -> None:
    async with stack(seeded, redis_url, members) as gw:
        answer = await gw.check({**JANE, **change})
    assert answer["status"] == "error"
    assert [e["code"] for e in answer["errors"]] == [code]
    assert words in answer["errors"][0]["description"]


async def test_100_concurrent_identical_checks_make_one_payer_request(
    seeded: tuple[str, str], redis_url: str, members: MemberTable
) -> None:
    async with stack(seeded, redis_url, members) as gw:
        gw.control.latency = 0.3  # long enough for every check to join the first
        before = gw.control.requests
        answers = await asyncio.gather(*(gw.check(JANE) for _ in range(100)))
        assert gw.control.requests - before == 1
    assert {a["status"] for a in answers} == {"active"}
    assert all(_copays(a, "98") == {Decimal(25)} for a in answers)


async def test_payer_down_serves_the_last_good_answer_as_stale(
    seeded: tuple[str, str], redis_url: str, members: MemberTable
) -> None:
    async with stack(seeded, redis_url, members) as gw:
        good = await gw.check(JANE)
        gw.control.down = True
        stale = await gw.check(JANE, fresh=True)
        assert gw.control.faults["unavailable"] >= 1
    assert good["status"] == "active" and good["stale"] is False
    assert stale["stale"] is True
    assert stale["status"] == "active"
    assert stale["checked_at"] == good["checked_at"]
    assert _copays(stale, "98") == {Decimal(25)}


async def test_past_the_budget_the_answer_is_stale_or_a_clear_error_and_on_time(
    seeded: tuple[str, str], redis_url: str, members: MemberTable
) -> None:
    budget = 1.0
    async with stack(seeded, redis_url, members, coverage_budget_seconds=budget) as gw:
        good = await gw.check(JANE)
        gw.control.latency = 6.0
        started = time.monotonic()
        stale = await gw.check(JANE, fresh=True)
        never_seen = await gw.check({**JANE, "member_id": "SIM-DEDMET-1", "last_name": "Roe"})
        elapsed = time.monotonic() - started
    # Two checks, each bounded by the budget; the payer would take 6 s for either.
    assert elapsed < 2 * budget + 3.0
    assert stale["stale"] is True
    assert stale["checked_at"] == good["checked_at"]
    assert never_seen["status"] == "error"
    assert never_seen["errors"][0]["code"] == "payer_timeout"
    assert "try again" in never_seen["errors"][0]["description"]


async def _patients_booked_on(base_url: str, source: str, day: date) -> set[str]:
    start = datetime.combine(day, datetime.min.time(), ZONE)
    end = start + timedelta(days=1)
    found: set[str] = set()
    params: dict[str, Any] | None = {
        "date": [f"ge{start.isoformat()}", f"lt{end.isoformat()}"],
        "_count": "200",
    }
    url: str | None = f"{base_url}/Appointment"
    async with httpx.AsyncClient(timeout=30) as http:
        while url is not None:
            bundle = (await http.get(url, params=params)).raise_for_status().json()
            params = None
            for entry in bundle.get("entry", []):
                resource = entry["resource"]
                if resource.get("status") in _SKIP:
                    continue
                for participant in resource.get("participant", []):
                    ref = participant.get("actor", {}).get("reference", "")
                    if ref.startswith("Patient/"):
                        found.add(f"{source}/{ref}")
            url = next(
                (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
            )
    return found


async def test_the_batch_checks_everyone_booked_that_day(
    seeded: tuple[str, str], redis_url: str, members: MemberTable
) -> None:
    day = TODAY + timedelta(days=1)
    expected = await _patients_booked_on(seeded[0], "ehr-a", day) | await _patients_booked_on(
        seeded[1], "ehr-b", day
    )
    assert expected, "the seed books appointments on the day after its anchor"
    async with stack(seeded, redis_url, members, coverage_batch_workers=1) as gw:
        started = await gw.client.post(f"{CHECKS}/batch", json={"date": day.isoformat()})
        assert started.status_code == 202, started.text
        job = started.json()
        deadline = time.monotonic() + 120
        status = job
        while status["state"] != "done":
            assert time.monotonic() < deadline, f"batch still running: {status['done']}"
            await asyncio.sleep(0.2)
            status = (await gw.client.get(f"{CHECKS}/batch/{job['id']}")).raise_for_status().json()
        payer_requests = gw.control.requests
    assert {s["status"] for s in job["sources"]} <= {"ok"}, job["sources"]
    assert status["total"] == status["done"] == len(expected)
    summary = status["summary"]
    assert summary["active"] + summary["inactive"] + summary["needs_attention"] == len(expected)
    assert summary["active"] > 0
    # Everyone with a card the payer serves was asked about at most once.
    assert 0 < payer_requests <= len(expected)
