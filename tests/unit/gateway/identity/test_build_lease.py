"""One build of a tenant's person index at a time: a second one (a cron tick while a
build started by hand runs) stops before it reads anything, and a build that lost its
lease never switches generations."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.identity.build import BuildRunning, build_index
from gateway.identity.build_job import index_build_function
from gateway.identity.index import PersonIndex
from gateway.identity.store import MemoryIndexStore
from tests.support.gateway_env import clinic
from tests.support.sandbox_env import BASE_A, SandboxGateway, sandbox_gateway

TENANT = "general"


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


def _index(gw: SandboxGateway) -> PersonIndex:
    index: PersonIndex = gw.runtime.identity[TENANT]
    assert isinstance(index.store, MemoryIndexStore)
    return index


async def _gateway_with_patients(gw: SandboxGateway) -> None:
    await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)


async def test_a_second_build_at_once_stops_and_the_first_one_lands() -> None:
    async with sandbox_gateway(identity={"enabled": True}) as gw:
        await _gateway_with_patients(gw)
        index = _index(gw)
        first, second = await asyncio.gather(
            build_index(index, full=True), build_index(index, full=True), return_exceptions=True
        )
        outcomes = sorted(type(o).__name__ for o in (first, second))
        assert outcomes == ["BuildReport", "BuildRunning"]
        [report] = [o for o in (first, second) if not isinstance(o, BaseException)]
        assert report.records >= 1
        assert await index.store.current(TENANT) == [report.generation]
        # The lease went back with the build: the next one runs.
        again = await build_index(index)
        assert again.generation == report.generation and not again.full


async def test_a_build_finding_the_lease_held_reads_and_writes_nothing() -> None:
    async with sandbox_gateway(identity={"enabled": True}) as gw:
        await _gateway_with_patients(gw)
        index = _index(gw)
        assert await index.store.claim_build(TENANT, "a-build-by-hand", 60)
        with pytest.raises(BuildRunning):
            await build_index(index, full=True)
        assert await index.store.current(TENANT) == []
        assert await index.store.meta(TENANT) == {}
        # The job a cron tick runs skips it quietly (the running build does the work) ...
        job = index_build_function({TENANT: index})
        await job({}, tenant=TENANT, full=True)
        assert await index.store.current(TENANT) == []
        # ... one asked for now fails, for saq to try it again after the running one.
        with pytest.raises(BuildRunning):
            await job({}, tenant=TENANT, full=True, wait=True)
        # Its holder ends it; another holder's end does not.
        await index.store.end_build(TENANT, "someone-else")
        assert not await index.store.claim_build(TENANT, "cron", 60)
        await index.store.end_build(TENANT, "a-build-by-hand")
        assert (await build_index(index, full=True)).generation is not None


async def test_a_build_that_lost_its_lease_keeps_the_live_generation() -> None:
    async with sandbox_gateway(identity={"enabled": True}) as gw:
        await _gateway_with_patients(gw)
        index = _index(gw)
        store = index.store
        assert isinstance(store, MemoryIndexStore)
        live = (await build_index(index, full=True)).generation
        assert live is not None
        writing: list[str] = []
        put = store.put

        async def stalled_put(tenant: str, gen: str, entries: Any) -> None:
            await put(tenant, gen, entries)
            writing.append(gen)
            # The build stalled past its lease and another one took it meanwhile.
            store.control[(tenant, "building")] = ("another-build", float("inf"))

        store.put = stalled_put  # type: ignore[method-assign]
        with pytest.raises(BuildRunning, match="lost"):
            await build_index(index, full=True)
        assert await store.current(TENANT) == [live]
        [abandoned] = writing
        assert not any(key[1] == abandoned for key in store.records)
        assert any(key[1] == live for key in store.records)
