"""The coverage service over fakes: flow, cache policy, single flight, stale answers."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from decimal import Decimal

import pytest

from connectors import CircuitOpen, Unavailable
from gateway.cache import MemoryCache
from gateway.services.coverage import CoverageQuery, check_coverage
from gateway.services.eligibility_cache import SingleFlight, Subject, demographics_fingerprint
from gateway.services.errors import InvalidRequest, NotFound
from mappers.model import EligibilityRequest, EligibilityResult, Person

from .coverage_fakes import (
    FakeEhr,
    FakePayer,
    active,
    coverage_json,
    desk,
    dos,
    patient_id,
    rejected,
)


def by_member(**changes: object) -> CoverageQuery:
    fields: dict[str, object] = {
        "member_id": "M-1",
        "payer_id": "ACME01",
        "first_name": "Ana",
        "last_name": "Rivera",
        "birth_date": date(1980, 4, 2),
        "date_of_service": dos(),
    }
    fields.update(changes)
    return CoverageQuery(**fields)  # type: ignore[arg-type]


async def test_active_answer_is_cached_and_marked_cached() -> None:
    payer = FakePayer(active(copay="25"))
    d = desk({"acme": payer})
    first = (await check_coverage(d, by_member())).result
    second = (await check_coverage(d, by_member())).result
    assert payer.calls == 1
    assert first.cached is False
    assert second.cached is True
    copays = [b.amount for b in second.benefits if b.kind == "copay"]
    assert copays == [Decimal("25")]


class CountingCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.adds = 0

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        self.adds += 1
        return await super().add(key, value, ttl_seconds)


@pytest.mark.parametrize("payer_id", ["ACME01", "acme"])
async def test_a_cached_answer_is_one_read_whatever_alias_names_the_payer(payer_id: str) -> None:
    cache = CountingCache()
    d = desk({"acme": FakePayer(active())}, cache=cache)
    await check_coverage(d, by_member())
    locks = cache.adds
    again = (await check_coverage(d, by_member(payer_id=payer_id))).result
    assert again.cached is True
    assert cache.adds == locks  # no single-flight lock taken: the first read answered


async def test_no_cache_forces_a_fresh_check() -> None:
    payer = FakePayer(active())
    d = desk({"acme": payer})
    await check_coverage(d, by_member())
    fresh = (await check_coverage(d, by_member(fresh=True))).result
    assert payer.calls == 2
    assert fresh.cached is False


async def test_request_carries_defaults_from_tenant() -> None:
    payer = FakePayer(active())
    d = desk({"acme": payer})
    await check_coverage(d, by_member(date_of_service=None))
    sent = payer.requests[0]
    assert sent.provider_npi == "1234567893"
    assert sent.service_types == ["30"]
    # 15:00 UTC on 10 March is still 10 March in New York.
    assert sent.date_of_service == date(2025, 3, 10)
    assert sent.subscriber.member_id == "M-1"


@pytest.mark.parametrize("code", ["72", "73", "75"])
async def test_data_problem_rejections_are_cached(code: str) -> None:
    payer = FakePayer(rejected(code))
    d = desk({"acme": payer})
    await check_coverage(d, by_member())
    again = (await check_coverage(d, by_member())).result
    assert payer.calls == 1
    assert again.status == "error"
    assert again.errors[0].code == code


@pytest.mark.parametrize("code", ["42", "80"])
async def test_payer_down_rejections_are_never_cached(code: str) -> None:
    payer = FakePayer(rejected(code))
    d = desk({"acme": payer})
    first = (await check_coverage(d, by_member())).result
    await check_coverage(d, by_member())
    assert payer.calls == 2
    assert first.status == "error"


async def test_transport_failure_without_history_says_payer_not_answering() -> None:
    payer = FakePayer(
        Unavailable("down", source="acme", method="POST", url_template="{clearinghouse}")
    )
    d = desk({"acme": payer})
    result = (await check_coverage(d, by_member())).result
    await check_coverage(d, by_member())
    assert payer.calls == 2  # failures are not cached
    assert result.status == "error"
    assert result.errors[0].code == "payer_unavailable"
    assert "try again in a few minutes" in result.errors[0].description


async def test_payer_down_serves_last_good_answer_as_stale() -> None:
    payer = FakePayer(active(copay="30"))
    d = desk({"acme": payer})
    good = (await check_coverage(d, by_member())).result
    payer.answer = CircuitOpen("open", source="acme", method="POST", url_template="{clearinghouse}")
    stale = (await check_coverage(d, by_member(fresh=True))).result
    assert stale.stale is True
    assert stale.status == "active"
    assert stale.checked_at == good.checked_at
    assert any("last answer" in m for m in stale.messages)


async def test_aaa_42_with_history_serves_stale() -> None:
    payer = FakePayer(active())
    d = desk({"acme": payer})
    await check_coverage(d, by_member())
    payer.answer = rejected("42")
    result = (await check_coverage(d, by_member(fresh=True))).result
    assert result.stale is True
    assert result.status == "active"


async def test_budget_exceeded_answers_stale() -> None:
    payer = FakePayer(active())
    d = desk({"acme": payer}, budget=0.5)
    await check_coverage(d, by_member())
    payer.delay = 30
    result = (await check_coverage(d, by_member(fresh=True))).result
    assert result.stale is True
    assert result.status == "active"


async def test_budget_exceeded_without_history_is_a_clear_error() -> None:
    payer = FakePayer(active(), delay=30)
    d = desk({"acme": payer}, budget=0.3)
    result = (await check_coverage(d, by_member())).result
    assert result.status == "error"
    assert result.errors[0].code == "payer_timeout"


async def test_concurrent_identical_checks_make_one_upstream_call() -> None:
    payer = FakePayer(active(), delay=0.05)
    d = desk({"acme": payer})
    results = await asyncio.gather(*(check_coverage(d, by_member()) for _ in range(100)))
    assert payer.calls == 1
    assert {r.result.status for r in results} == {"active"}


async def test_two_processes_share_one_flight_through_the_cache() -> None:
    # Two desks with their own SingleFlight (two processes) over one shared cache.
    shared = MemoryCache()
    payer = FakePayer(rejected("42"), delay=0.1)  # not cacheable: waiters need the flight
    d1 = desk({"acme": payer}, cache=shared)
    d2 = desk({"acme": payer}, cache=shared)
    results = await asyncio.gather(
        *(check_coverage(d, by_member()) for d in (d1, d2) for _ in range(10))
    )
    assert payer.calls == 1
    assert all(r.result.errors[0].code == "42" for r in results)


async def test_waiter_takes_over_when_the_lock_holder_vanishes() -> None:
    shared = MemoryCache()
    payer = FakePayer(active())
    d = desk({"acme": payer}, cache=shared)
    # A crashed process left its lock; it expires after its TTL and the next caller leads.
    who = demographics_fingerprint(
        Person(first_name="Ana", last_name="Rivera", birth_date=date(1980, 4, 2)), None
    )
    key = d.store.key(
        "elig-lock", Subject.member("t1", "acme", "M-1", ("30",), dos().isoformat(), who=who)
    )
    await shared.add(key, b"dead", 0.2)
    result = (await check_coverage(d, by_member())).result
    assert result.status == "active"
    assert payer.calls == 1


async def test_cache_keys_hold_no_member_id_or_name() -> None:
    cache = MemoryCache()
    d = desk({"acme": FakePayer(active(member_id="SECRET-MEMBER"))}, cache=cache)
    await check_coverage(d, by_member(member_id="SECRET-MEMBER"))
    keys = " ".join(cache.keys())
    assert keys
    for phi in ("SECRET-MEMBER", "Rivera", "1980", "2025-03-11"):
        assert phi not in keys


async def test_unknown_payer_is_refused() -> None:
    d = desk({"acme": FakePayer()})
    with pytest.raises(NotFound):
        await check_coverage(d, by_member(payer_id="NOPE"))


async def test_member_check_needs_name_and_birth_date() -> None:
    d = desk({"acme": FakePayer()})
    with pytest.raises(InvalidRequest):
        await check_coverage(d, by_member(birth_date=None))


async def test_bad_service_type_is_refused() -> None:
    d = desk({"acme": FakePayer()})
    with pytest.raises(InvalidRequest):
        await check_coverage(d, by_member(service_types=("30; DROP",)))


# --- by gateway patient id: the EHR's Coverage names payer and member ---------------


async def test_patient_id_uses_current_primary_coverage() -> None:
    ehr = FakeEhr(
        [
            coverage_json("old", "EXPIRED-1", order=1, end="2024-12-31"),
            coverage_json("sec", "SECOND-1", order=2),
            coverage_json("cur", "PRIMARY-1", order=1, end="2025-12-31"),
        ]
    )
    payer = FakePayer(active(member_id="PRIMARY-1"))
    d = desk({"acme": payer}, ehr=ehr)
    answer = await check_coverage(d, CoverageQuery(patient_id=patient_id(), date_of_service=dos()))
    sent = payer.requests[0]
    assert sent.subscriber.member_id == "PRIMARY-1"
    assert (sent.subscriber.last_name, sent.subscriber.first_name) == ("Rivera", "Ana")
    assert sent.subscriber.birth_date == date(1980, 4, 2)
    assert sent.group_number == "GRP-7"
    assert answer.result.status == "active"
    assert answer.patient_ids == (patient_id(),)


async def test_patient_id_cached_answer_skips_the_ehr() -> None:
    ehr = FakeEhr([coverage_json("cur", "PRIMARY-1")])
    payer = FakePayer(active(member_id="PRIMARY-1"))
    d = desk({"acme": payer}, ehr=ehr)
    query = CoverageQuery(patient_id=patient_id(), date_of_service=dos())
    await check_coverage(d, query)
    seen = len(ehr.requests)
    again = await check_coverage(d, query)
    assert len(ehr.requests) == seen
    assert again.result.cached is True


async def test_payer_without_real_time_service_answers_from_the_ehr() -> None:
    ehr = FakeEhr([coverage_json("cur", "PAPER-9", payer="PAPER1")])
    payer = FakePayer()
    d = desk({"acme": payer}, ehr=ehr)
    result = (
        await check_coverage(d, CoverageQuery(patient_id=patient_id(), date_of_service=dos()))
    ).result
    assert payer.calls == 0
    assert (result.status, result.origin) == ("unknown", "ehr")
    assert result.member_id == "PAPER-9"
    assert "not verified" in result.messages[0]


async def test_patient_without_current_coverage_is_told_to_ask_for_the_card() -> None:
    ehr = FakeEhr(
        [coverage_json("old", "X-1", end="2024-01-31"), coverage_json("c", "Y", status="cancelled")]
    )
    d = desk({"acme": FakePayer()}, ehr=ehr)
    result = (
        await check_coverage(d, CoverageQuery(patient_id=patient_id(), date_of_service=dos()))
    ).result
    assert result.status == "unknown"
    assert "ask the patient for their card" in result.messages[0]


async def test_forged_patient_id_is_refused() -> None:
    d = desk({"acme": FakePayer()})
    with pytest.raises(NotFound):
        await check_coverage(d, CoverageQuery(patient_id="not-an-id"))


async def test_single_flight_object_is_reusable_after_failure() -> None:
    payer = FakePayer(active())
    d = desk({"acme": payer})
    flights: SingleFlight = d.flights

    async def boom() -> object:
        raise RuntimeError("x")

    subject = __import__("gateway.services.eligibility_cache", fromlist=["Subject"]).Subject(
        "t1", ("z",)
    )
    with pytest.raises(RuntimeError):
        await flights.run(subject, boom, 1e12)  # type: ignore[arg-type]
    assert (await check_coverage(d, by_member())).result.status == "active"


async def test_a_leader_past_its_lock_ttl_leaves_the_next_holders_lock_alone() -> None:
    cache = MemoryCache()
    payer = FakePayer(active())
    d = desk({"acme": payer}, cache=cache)
    subject = Subject.member("t1", "acme", "M-1", ("30",), dos().isoformat(), who="x")
    key = d.store.key("elig-lock", subject)

    async def slow_produce() -> EligibilityResult:
        # Meanwhile our lock expired and another process took the subject over.
        await cache.set(key, b"someone-else", 30)
        return active()

    flights = SingleFlight(d.store, lock_ttl=10)
    await flights.run(subject, slow_produce, deadline=time.monotonic() + 5)
    assert await cache.get(key) == b"someone-else"


class MatchingPayer(FakePayer):
    """Answers active only for the member's own name and birth date, AAA 73 otherwise."""

    async def check(self, request: EligibilityRequest) -> EligibilityResult:
        self.calls += 1
        self.requests.append(request)
        who = request.subscriber
        if (who.last_name, who.first_name, who.birth_date) == ("Rivera", "Ana", date(1980, 4, 2)):
            return active()
        return rejected("73")


async def test_a_member_id_alone_never_unlocks_a_cached_answer() -> None:
    payer = MatchingPayer()
    d = desk({"acme": payer})
    assert (await check_coverage(d, by_member())).result.status == "active"
    assert (await check_coverage(d, by_member())).result.cached
    assert payer.calls == 1
    forged = by_member(first_name="Nobody", last_name="Attacker", birth_date=date(2001, 1, 1))
    answer = (await check_coverage(d, forged)).result
    assert payer.calls == 2, "a check naming someone else must go to the payer"
    assert answer.status == "error" and [e.code for e in answer.errors] == ["73"]
    assert answer.benefits == [] and answer.plan_name is None


async def test_a_wrong_check_does_not_poison_the_right_one() -> None:
    payer = MatchingPayer()
    d = desk({"acme": payer})
    wrong = by_member(last_name="Attacker", fresh=True)
    assert [e.code for e in (await check_coverage(d, wrong)).result.errors] == ["73"]
    # The refusal is cached, but only for the details that produced it ...
    assert (await check_coverage(d, by_member(last_name="Attacker"))).result.cached
    # ... so the member's own check still reaches the payer and is answered.
    right = (await check_coverage(d, by_member())).result
    assert right.status == "active" and not right.cached
    assert payer.calls == 2


async def test_names_are_compared_as_the_payer_reads_them() -> None:
    payer = MatchingPayer()
    d = desk({"acme": payer})
    await check_coverage(d, by_member())
    again = (await check_coverage(d, by_member(first_name="ANA", last_name="rivera"))).result
    assert again.cached and payer.calls == 1


async def test_cached_answers_are_sealed_at_rest() -> None:
    cache = MemoryCache()
    d = desk({"acme": FakePayer(active(member_id="SECRET-MEMBER"))}, cache=cache)
    first = (await check_coverage(d, by_member(member_id="SECRET-MEMBER"))).result
    assert first.plan_name == "GOLD PLAN"
    names = cache.keys()
    stored = [await cache.get(k) for k in names if ":elig" in k]
    assert len(stored) >= 2  # the fresh answer and the last good one at least
    for value in stored:
        assert value is not None
        for clear in (b"SECRET-MEMBER", b"GOLD PLAN", b"copay", b"active"):
            assert clear not in value
    # ... and they still answer the next check.
    again = (await check_coverage(d, by_member(member_id="SECRET-MEMBER"))).result
    assert again.cached and again.plan_name == "GOLD PLAN"
