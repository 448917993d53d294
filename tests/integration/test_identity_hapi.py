"""The person index on real HAPI FHIR servers and a real Redis: built by $export and by
paged search, updated incrementally, used by search and registration, and people's
decisions kept across rebuilds."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from mappers import encode_id
from simulators.seed.corruption import Rates, corrupted_pair, keyboard_typo
from tests.support.asgi import running
from tests.support.identity_env import (
    SUPERVISOR_KEY,
    NoExport,
    auth,
    by_id,
    forget_tenant,
    gateway_ids,
    identity_settings,
    load,
)

pytestmark = [pytest.mark.hapi, pytest.mark.redis]

# Stable ids: loading again changes nothing; every run sees the same people.
PAIR = corrupted_pair(
    60,
    shared=0.5,
    seed=18,
    prefix="idx",
    rates=Rates(
        family_typo=0.3,
        given_typo=0.2,
        swapped_names=0.1,
        nickname=0.2,
        dob_transposed=0.1,
        dob_mistyped=0.1,
        missing_phone=0.3,
        missing_sex=0.3,
        missing_dob=0.0,
        moved_address=0.3,
    ),
)


@pytest.fixture(autouse=True)
def hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "identity-secret")


@pytest.fixture(scope="module")
def loaded(hapi_base_urls: tuple[str, str]) -> tuple[str, str]:
    base_a, base_b = hapi_base_urls
    asyncio.run(load(base_a, PAIR.ehr_a))
    asyncio.run(load(base_b, PAIR.ehr_b))
    return base_a, base_b


@pytest.fixture
async def tenant(redis_url: str) -> AsyncIterator[str]:
    name = f"idx-{uuid.uuid4().hex[:8]}"
    yield name
    await forget_tenant(redis_url, name)


def _app(tenant: str, bases: tuple[str, str], redis_url: str, **kw: Any) -> Any:
    return create_app(identity_settings(tenant, *bases, redis_url), audit=MemoryAuditSink(), **kw)


async def _build(app: Any, tenant: str, *, full: bool = False) -> Any:
    from gateway.identity.build import build_index

    return await build_index(app.state.runtime.identity[tenant], full=full)


def _person_of(items: list[dict[str, Any]], record_id: str) -> dict[str, Any] | None:
    for item in items:
        if record_id in {link["id"] for link in item["links"]}:
            return item
    return None


def _found(items: list[dict[str, Any]], a: str, b: str) -> str | None:
    """'linked', 'flagged' or None: how the search shows EHR B's record of A's person."""
    person = _person_of(items, a)
    if person is None:
        return None
    if b in {link["id"] for link in person["links"]}:
        return "linked"
    other = _person_of(items, b)
    if other is not None and other["id"] in person["possible_duplicates"]:
        return "flagged"
    return None


async def test_export_build_links_the_corrupted_people_and_search_finds_them(
    loaded, redis_url, tenant
):
    app = _app(tenant, loaded, redis_url)
    records_a = by_id(PAIR.ehr_a)
    async with running(app) as api:
        report = await _build(app, tenant, full=True)
        assert report.methods == {"ehr-a": "export", "ehr-b": "export"}
        assert report.records >= len(PAIR.ehr_a) + len(PAIR.ehr_b)
        index = app.state.runtime.identity[tenant]
        pairs = gateway_ids(PAIR)
        linked = 0
        for a, b, _ in pairs:
            linked += b in await index.linked_ids([a])
        assert linked >= 0.9 * len(pairs)

        outcomes: dict[str, list[str | None]] = {"fgb": [], "fb": []}
        for (a, b, _), (a_up, _b_up, _k) in zip(pairs, PAIR.same_person, strict=True):
            person = records_a[a_up]
            name = person["name"][0]
            for kind, params in (
                (
                    "fgb",
                    {
                        "family": name["family"],
                        "given": name["given"][0],
                        "birthdate": person["birthDate"],
                    },
                ),
                ("fb", {"family": name["family"], "birthdate": person["birthDate"]}),
            ):
                r = await api.get("/v1/patients", params=params, headers=auth())
                assert r.status_code == 200, r.text
                outcomes[kind].append(_found(r.json()["items"], a, b))
        for kind, seen in outcomes.items():
            surfaced = sum(1 for s in seen if s is not None) / len(seen)
            assert surfaced >= 0.95, (kind, seen)
        linked_share = sum(1 for s in outcomes["fgb"] if s == "linked") / len(pairs)
        assert linked_share >= 0.85, outcomes["fgb"]
        # Each link says why: the model's fields and probability.
        r = await api.get(
            "/v1/patients",
            params={
                "family": records_a[PAIR.same_person[0][0]]["name"][0]["family"],
                "birthdate": records_a[PAIR.same_person[0][0]]["birthDate"],
            },
            headers=auth(),
        )
        links = [link for item in r.json()["items"] for link in item["links"] if link.get("match")]
        assert links and {f["field"] for f in links[0]["match"]["fields"]} >= {"surname", "dob"}
        assert 0 < links[0]["match"]["match_probability"] <= 1


async def test_paged_search_build_and_incremental_update(loaded, redis_url, tenant):
    app = _app(tenant, loaded, redis_url, transport_factory=lambda source: NoExport())
    async with running(app):
        report = await _build(app, tenant)
        assert report.full and report.methods == {"ehr-a": "search", "ehr-b": "search"}
        index = app.state.runtime.identity[tenant]
        a, b, _ = gateway_ids(PAIR)[0]
        assert b in await index.linked_ids([a])

        # Someone registered in EHR B since (typed with a typo) joins their EHR A person.
        shared_a = {x for x, _y, _k in PAIR.same_person}
        lonely = next(r for r in PAIR.ehr_a if r["id"] not in shared_a)
        copy = {**lonely, "id": f"idx-new-{uuid.uuid4().hex[:8]}"}
        copy["name"] = [
            {
                **lonely["name"][0],
                "family": keyboard_typo(random.Random(3), lonely["name"][0]["family"]),
            }
        ]
        await load(loaded[1], [copy])
        again = await _build(app, tenant)
        assert not again.full
        assert 1 <= again.records < report.records
        assert encode_id("ehr-b", "Patient", copy["id"]) in await index.linked_ids(
            [encode_id("ehr-a", "Patient", lonely["id"])]
        )


async def test_registration_with_a_surname_typo_is_a_possible_duplicate(loaded, redis_url, tenant):
    app = _app(tenant, loaded, redis_url)
    shared_a = {x for x, _y, _k in PAIR.same_person}
    known = next(r for r in PAIR.ehr_a if r["id"] not in shared_a)
    async with running(app) as api:
        await _build(app, tenant, full=True)
        name = known["name"][0]
        body = {
            "source": "ehr-b",
            "identifier": {"system": "urn:test:desk", "value": f"D-{uuid.uuid4().hex[:8]}"},
            "name": {
                "family": keyboard_typo(random.Random(5), name["family"]),
                "given": name["given"][:1],
            },
            "birth_date": known["birthDate"],
        }
        r = await api.post("/v1/patients", json=body, headers=auth())
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["code"] == "possible_duplicate"
        wanted = encode_id("ehr-a", "Patient", known["id"])
        [candidate] = [c for c in problem["candidates"] if c["patient"]["id"] == wanted]
        assert candidate["match"]["match_probability"] >= 0.5


async def test_not_the_same_person_survives_a_rebuild_and_same_person_links(
    loaded, redis_url, tenant
):
    app = _app(tenant, loaded, redis_url)
    records_a = by_id(PAIR.ehr_a)
    async with running(app) as api:
        await _build(app, tenant, full=True)
        index = app.state.runtime.identity[tenant]
        pairs = gateway_ids(PAIR)
        linked = [(a, b) for a, b, _ in pairs if b in await index.linked_ids([a])]
        a, b = linked[0]
        up_a = next(x for x, _y, _k in PAIR.same_person if encode_id("ehr-a", "Patient", x) == a)
        person = records_a[up_a]
        params = {"family": person["name"][0]["family"], "birthdate": person["birthDate"]}

        r = await api.post(
            f"/v1/patients/{a}/not-same",
            json={"other_id": b, "reason": "different mother"},
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        assert r.json()["verdict"] == "different"

        async def shown() -> str | None:
            r = await api.get("/v1/patients", params=params, headers=auth())
            return _found(r.json()["items"], a, b)

        assert await shown() is None
        await _build(app, tenant, full=True)
        assert b not in await index.linked_ids([a])
        assert await shown() is None

        # "Same person" needs the supervisor's scope, and then links them.
        r = await api.post(
            f"/v1/patients/{a}/same", json={"other_id": b, "reason": "ID card"}, headers=auth()
        )
        assert r.status_code == 403
        r = await api.post(
            f"/v1/patients/{a}/same",
            json={"other_id": b, "reason": "ID card"},
            headers=auth(SUPERVISOR_KEY),
        )
        assert r.status_code == 200, r.text
        await _build(app, tenant, full=True)
        assert b in await index.linked_ids([a])
        r = await api.get("/v1/patients", params=params, headers=auth())
        person_out = _person_of(r.json()["items"], a)
        assert person_out is not None
        [link] = [link for link in person_out["links"] if link["id"] == b]
        assert link["decided_by_person"] is True


async def test_batch_workers_build_the_index_on_their_cron_and_on_demand(loaded, redis_url, tenant):
    from saq import Status

    from gateway.identity.build_job import enqueue_index_build

    settings = identity_settings(
        tenant, loaded[0], loaded[1], redis_url, identity={"build_cron": "* * * * * *"}
    )
    app = create_app(settings, audit=MemoryAuditSink())
    async with running(app):
        runtime = app.state.runtime
        index = runtime.identity[tenant]
        batch = runtime.coverage.batch
        assert await index.store.current(tenant) == []
        # Two workers, as two `frontdesk worker` processes: one build per cron tick.
        workers = [batch.worker("-idx-1"), batch.worker("-idx-2")]
        tasks = [asyncio.create_task(w.start()) for w in workers]
        try:
            async with asyncio.timeout(180):
                # A build's meta is written when it switches searches to its generation.
                while not await index.store.meta(tenant):  # noqa: ASYNC110 (Redis, polled)
                    await asyncio.sleep(0.5)
            [first, *_] = await index.store.current(tenant)
            a, b, _ = gateway_ids(PAIR)[0]
            assert b in await index.linked_ids([a])
            for w in workers:
                await w.stop()
            await asyncio.gather(*tasks)

            # On demand (`frontdesk index build --queue`): one job per key while queued.
            job = await enqueue_index_build(batch.queue, tenant=tenant, full=True)
            assert job is not None
            assert await enqueue_index_build(batch.queue, tenant=tenant, full=True) is None
            worker = batch.worker("-idx-3")
            task = asyncio.create_task(worker.start())
            tasks = [task]
            workers = [worker]
            await job.refresh(until_complete=180)
            assert job.status == Status.COMPLETE, job.error
            assert (await index.store.current(tenant))[0] != first
        finally:
            for w in workers:
                await w.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            leftover = await batch.queue.job("cron:index_build")
            if leftover is not None:
                await batch.queue.abort(leftover, "test over")


async def test_export_reads_every_patient_past_a_page_of_results(loaded, redis_url, tenant):
    """More Patients than HAPI's largest page (500): the export reads them all."""
    from datetime import UTC, datetime

    from gateway.identity.harvest import harvest

    run = uuid.uuid4().hex[:8]
    many = [
        {
            "resourceType": "Patient",
            "id": f"bulk-{run}-{n}",
            "name": [{"family": f"Bulkexport{run}", "given": [f"N{n}"]}],
            "birthDate": "1970-01-01",
        }
        for n in range(650)
    ]
    await load(loaded[0], many)
    app = _app(tenant, loaded, redis_url)
    async with running(app):
        [handle] = [h for h in app.state.runtime.identity[tenant].sources.all() if h.id == "ehr-a"]
        until = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        read = await harvest(handle, since=None, until=until)
        assert read.method == "export"
        ids = {p.id for p in read.patients}
        assert {encode_id("ehr-a", "Patient", f"bulk-{run}-{n}") for n in range(650)} <= ids
