"""The waitlist's store over a real Redis (and the in-memory state the sandbox uses): one
entry per patient and visit type, however many desks add them at once; entries outlive
a key rotation."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime

import pytest
import redis.asyncio as aioredis

from gateway.cache import CacheKeys
from gateway.sealing import Sealer, derive_key
from gateway.services.waitlist import WaitlistEntry
from gateway.services.waitlist.entries import EntryStore, new_entry_id
from gateway.state import MemoryState, RedisState, SharedState, StateUnavailable

PATIENT = "ehr-a~Patient~patient-claimed-0042"


@pytest.fixture
def state(redis_or_memory: aioredis.Redis | None) -> SharedState:
    return MemoryState() if redis_or_memory is None else RedisState(redis_or_memory)


OLD_KEY = ("k1", derive_key("claims secret", purpose="waitlist"))
NEW_KEY = ("k2", derive_key("rotated secret", purpose="waitlist"))


def _store(
    state: SharedState, ring: list[tuple[str, bytes]] | None = None, prefix: str | None = None
) -> tuple[EntryStore, str]:
    store = EntryStore(
        state,
        Sealer(ring or [OLD_KEY]),
        CacheKeys("claims secret"),
        prefix=prefix or f"claims-{uuid.uuid4().hex[:8]}",
    )
    return store, "general"


def _entry(patient: str = PATIENT, service_type: str = "124") -> WaitlistEntry:
    return WaitlistEntry(
        id=new_entry_id(),
        patient_id=patient,
        service_type=service_type,
        earliest=date(2026, 12, 7),
        latest=date(2026, 12, 20),
        created_at=datetime.now(UTC),
        created_by="desk",
    )


async def test_desks_adding_one_patient_at_once_make_one_entry(state: SharedState) -> None:
    store, tenant = _store(state)
    entries = [_entry() for _ in range(20)]
    answers = await asyncio.gather(*(store.add(tenant, e) for e in entries))
    won = [e.id for e, answer in zip(entries, answers, strict=True) if answer is None]
    assert len(won) == 1
    # Every other desk is told which entry already waits.
    assert {a for a in answers if a is not None} == set(won)
    assert [e.id for e in await store.all(tenant)] == won
    # Another visit type, or another patient, is an entry of its own.
    assert await store.add(tenant, _entry(service_type="125")) is None
    assert await store.add(tenant, _entry(patient=PATIENT + "-other")) is None
    assert len(await store.all(tenant)) == 3


async def test_a_patient_who_left_may_join_again(state: SharedState) -> None:
    store, tenant = _store(state)
    first = _entry()
    assert await store.add(tenant, first) is None
    assert await store.remove(tenant, first.id)
    assert not await store.remove(tenant, first.id)  # only one caller wins
    again = _entry()
    assert await store.add(tenant, again) is None
    assert [e.id for e in await store.all(tenant)] == [again.id]


async def test_a_claim_whose_entry_is_gone_does_not_block_a_join(state: SharedState) -> None:
    store, tenant = _store(state)
    lost = _entry()
    assert await store.add(tenant, lost) is None
    # The entry went without its claim: a process died between the two deletes.
    await state.hdel(store._key(tenant), lost.id)
    [(claim, held)] = (await state.hgetall(store._claims_key(tenant))).items()
    # While the claim is young it may be a join still writing its entry: a second
    # join is told the patient waits.
    assert await store.add(tenant, _entry()) == lost.id
    # Once it is old, it is stale: exactly one of the joins at once takes it over.
    await state.hset(store._claims_key(tenant), claim, lost.id.encode() + b"|0")
    joiners = [_entry() for _ in range(5)]
    answers = await asyncio.gather(*(store.add(tenant, e) for e in joiners))
    assert answers.count(None) == 1
    assert len(await store.all(tenant)) == 1
    assert held.startswith(lost.id.encode() + b"|")


async def test_a_losing_join_writes_nothing_and_a_failed_one_leaves_no_claim(
    state: SharedState,
) -> None:
    store, tenant = _store(state)
    first = _entry()
    assert await store.add(tenant, first) is None
    assert await store.add(tenant, _entry()) == first.id
    assert [e.id for e in await store.all(tenant)] == [first.id]

    class Failing(EntryStore):
        async def put(self, tenant: str, entry: WaitlistEntry) -> None:
            raise StateUnavailable("ConnectionError")

    failing = Failing(state, Sealer([OLD_KEY]), CacheKeys("claims secret"), prefix=store._prefix)
    other = _entry(service_type="125")
    with pytest.raises(StateUnavailable):
        await failing.add(tenant, other)
    # The desk's retry (Redis back) is not told the patient already waits.
    assert await store.add(tenant, other) is None


async def test_an_entry_changed_meanwhile_keeps_both_changes(state: SharedState) -> None:
    store, tenant = _store(state)
    entry = _entry()
    assert await store.add(tenant, entry) is None

    def offered(e: WaitlistEntry) -> WaitlistEntry:
        return e.model_copy(update={"offer_slot_id": "slot-1"})

    def passed(e: WaitlistEntry) -> WaitlistEntry:
        return e.model_copy(update={"passed": [*e.passed, "slot-0"]})

    await asyncio.gather(
        store.update(tenant, entry.id, offered), store.update(tenant, entry.id, passed)
    )
    now = await store.get(tenant, entry.id)
    assert now is not None and (now.offer_slot_id, now.passed) == ("slot-1", ["slot-0"])
    # An entry that left is never written back.
    assert await store.remove(tenant, entry.id)
    assert await store.update(tenant, entry.id, passed) is None
    assert await store.get(tenant, entry.id) is None


async def test_a_claim_says_nothing_of_who_waits(state: SharedState) -> None:
    store, tenant = _store(state)
    entry = _entry()
    assert await store.add(tenant, entry) is None
    claims = await state.hgetall(store._claims_key(tenant))
    assert [v.split(b"|")[0] for v in claims.values()] == [entry.id.encode()]
    # Named by a keyed digest alone: no patient id, no visit type.
    assert all(re.fullmatch(r"[0-9a-f]{32}", name) for name in claims)


async def test_compare_and_delete_leaves_a_field_that_changed(state: SharedState) -> None:
    key = f"claims-cad-{uuid.uuid4().hex[:8]}"
    await state.hset(key, "f", b"new")
    assert not await state.hdel_if(key, "f", b"old")
    assert await state.hget(key, "f") == b"new"
    assert await state.hdel_if(key, "f", b"new")
    assert await state.hget(key, "f") is None
    assert not await state.hdel_if(key, "f", b"new")


async def test_entries_outlive_a_key_rotation(state: SharedState) -> None:
    prefix = f"claims-{uuid.uuid4().hex[:8]}"
    before, tenant = _store(state, [OLD_KEY], prefix)
    waiting = [_entry(patient=f"{PATIENT}-{n}") for n in range(3)]
    for entry in waiting:
        assert await before.add(tenant, entry) is None
    # Every process now seals with the new key and still opens the old one ...
    during, _ = _store(state, [NEW_KEY, OLD_KEY], prefix)
    assert await during.reseal(tenant) == 3
    assert await during.reseal(tenant) == 0  # nothing left to do
    # ... so the old key can leave the ring and nobody falls off the waitlist.
    after, _ = _store(state, [NEW_KEY], prefix)
    assert sorted(e.id for e in await after.all(tenant)) == sorted(e.id for e in waiting)


async def test_compare_and_set_leaves_a_field_that_changed(state: SharedState) -> None:
    key = f"claims-cas-{uuid.uuid4().hex[:8]}"
    await state.hset(key, "f", b"changed meanwhile")
    assert not await state.hset_if(key, "f", b"as read", b"sealed again")
    assert await state.hget(key, "f") == b"changed meanwhile"
    assert await state.hset_if(key, "f", b"changed meanwhile", b"sealed again")
    assert await state.hget(key, "f") == b"sealed again"
    assert not await state.hset_if(key, "absent", b"x", b"y")
    assert await state.hget(key, "absent") is None
