"""Names, birth dates and MRNs never reach application logs, audit events or cache keys."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import uuid
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.events import EventLog
from gateway.logs import configure_logging
from gateway.state import RedisState
from mappers import encode_id
from tests.support.asgi import running
from tests.support.gateway_env import auth, clinic, settings_for

pytestmark = [pytest.mark.hapi, pytest.mark.redis]


def _unhashed(text: str) -> str:
    return re.sub(r"[0-9a-f]{16,}", "#", text)


async def test_logs_audit_and_cache_keys_carry_no_phi(
    hapi_base_urls, redis_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "phi-secret")
    base_a, base_b = hapi_base_urls
    visit = f"phi{uuid.uuid4().hex[:8]}"
    c = await clinic(base_a, slots=2, service_type=visit)
    mrn = f"MRN-{c['run']}"
    phi = [c["family"], "Maria", "1984-03-09", "19840309", mrn]
    logs = io.StringIO()
    configure_logging("DEBUG", stream=logs)
    audit = MemoryAuditSink()
    app = create_app(
        settings_for(base_a, base_b, redis_url, audit_path=tmp_path / "a.jsonl"), audit=audit
    )
    pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
    try:
        async with running(app) as api:
            h = auth()
            assert (
                await api.get(
                    "/v1/patients",
                    params={"family": c["family"], "given": "Maria", "birthdate": "1984-03-09"},
                    headers=h,
                )
            ).status_code == 200
            assert (
                await api.get(
                    "/v1/patients", params={"identifier": f"urn:test:mrn|{mrn}"}, headers=h
                )
            ).status_code == 200
            assert (await api.get(f"/v1/patients/{pid}", headers=h)).status_code == 200
            start = c["start"] - timedelta(hours=1)
            r = await api.get(
                "/v1/slots",
                params={
                    "start": start.isoformat(),
                    "source": "ehr-a",
                    "end": (start + timedelta(hours=4)).isoformat(),
                },
                headers=h,
            )
            assert r.status_code == 200 and r.json()["items"]
            r = await api.post(
                "/v1/appointments",
                json={
                    "slot_id": encode_id("ehr-a", "Slot", c["slots"][0]["id"]),
                    "patient_id": pid,
                },
                headers={**h, "Idempotency-Key": f"phi-{c['run']}"},
            )
            assert r.status_code == 201, r.text
            # errors are logged too: a bad upstream id and a bad query
            await api.get(
                "/v1/patients", params={"family": c["family"], "birthdate": "bad"}, headers=h
            )
            await api.post("/v1/coverage-checks", json={"patient_id": pid}, headers=h)
            # The desk's day: worklist, directory, registration (and its duplicate refusal),
            # corrections, insurance, holds, check-in, conflicts.
            day = c["start"].date().isoformat()
            for path, params in (
                ("/v1/appointments", {"date": day, "include": "coverage"}),
                ("/v1/practitioners", {"name": f"Doc{c['run']}"}),
                ("/v1/locations", {"name": f"Clinic {c['run']}"}),
                ("/v1/visit-types", {}),
                ("/v1/slots/next-available", {"source": "ehr-a"}),
                (f"/v1/patients/{pid}/conflicts", {"from": day, "to": day}),
                (f"/v1/patients/{pid}/coverages", {}),
            ):
                assert (await api.get(path, params=params, headers=h)).status_code == 200, path
            registration = {
                "source": "ehr-b",
                "identifier": {"system": "urn:test:desk", "value": f"PHI-{mrn}"},
                "name": {"family": c["family"], "given": ["Maria"]},
                "birth_date": "1984-03-09",
                "phones": [{"value": "555-0142"}],
            }
            refused = await api.post("/v1/patients", json=registration, headers=h)
            assert refused.json()["code"] == "possible_duplicate"
            phi.append("555-0142")
            patched = await api.patch(
                f"/v1/patients/{pid}", json={"phones": [{"value": "555-0143"}]}, headers=h
            )
            assert patched.status_code == 200, patched.text
            phi.append("555-0143")
            covered = await api.post(
                f"/v1/patients/{pid}/coverages",
                json={"payer_id": "ACME01", "member_id": f"MEMBER-{c['run']}"},
                headers=h,
            )
            assert covered.status_code == 201, covered.text
            phi.append(f"MEMBER-{c['run']}")
            slot = encode_id("ehr-a", "Slot", c["slots"][1]["id"])
            assert (await api.post(f"/v1/slots/{slot}/hold", json={}, headers=h)).status_code == 201
            checked = await api.post(f"/v1/appointments/{r.json()['id']}/check-in", headers=h)
            assert checked.status_code == 200, checked.text
            # The waitlist and its offers, with a note a desk filled with PHI.
            note = "call 555-0144 after five"
            phi.append("555-0144")
            joined = await api.post(
                "/v1/waitlist",
                json={
                    "patient_id": pid,
                    "service_type": visit,
                    "earliest": day,
                    "latest": day,
                    "min_notice_hours": 0,
                    "note": note,
                },
                headers=h,
            )
            assert joined.status_code == 201, joined.text
            cancelled = await api.post(
                f"/v1/appointments/{r.json()['id']}/cancel", json={"reason": "unwell"}, headers=h
            )
            assert cancelled.status_code == 200, cancelled.text
            await app.state.runtime.waitlists["general"].drain()
            offers = (await api.get("/v1/waitlist/offers", headers=h)).json()["items"]
            mine = [o for o in offers if o["patient_id"] == pid]
            assert mine, "the freed slot is offered"
            assert (await api.get("/v1/waitlist", headers=h)).status_code == 200
            declined = await api.post(
                f"/v1/waitlist/offers/{mine[0]['slot_id']}/decline", headers=h
            )
            assert declined.status_code == 204
            assert (
                await api.delete(f"/v1/waitlist/{joined.json()['id']}", headers=h)
            ).status_code == 204
        client = aioredis.Redis.from_url(redis_url)
        try:
            keys = [k.decode() async for k in client.scan_iter(match="fd:*", count=1000)]
            # Waitlist entries and offers are sealed at rest; the event stream has ids only.
            stored = [
                v
                for key in ("fd:waitlist:general", "fd:wl-offers:general")
                for v in (await client.hgetall(key)).values()  # type: ignore[misc]
            ]
            stream = await EventLog(RedisState(client)).read(
                "general", "0", block_seconds=0.01, count=10_000
            )
        finally:
            await client.aclose()
    finally:
        configure_logging()
    text = logs.getvalue()
    events = [json.loads(line)["event"] for line in text.splitlines()]
    assert events.count("request") >= 6, "expected one access line per request"
    assert keys, "expected cache keys in Redis"
    audit_text = json.dumps([dataclasses.asdict(e) for e in audit.events])
    stream_text = json.dumps([[e.id, e.type, e.data] for e in stream])
    assert '"waitlist.offer"' in stream_text
    for value in phi:
        assert value not in text, "PHI in application logs"
        assert not any(value in k for k in keys), "PHI in a cache key"
        assert value not in audit_text, "PHI in audit events"
        assert not any(value.encode() in v for v in stored), "PHI in clear in the waitlist"
        assert value not in stream_text, "PHI in the event stream"
    assert pid not in stream_text, "patient ids stay out of the event stream"


async def test_seeded_names_birth_dates_and_mrns_never_reach_logs_or_cache_keys(
    redis_url, tmp_path, monkeypatch
):
    """The sandbox's seeded EHRs, a real Redis, and a PSR session over many patients."""
    from datetime import date

    from gateway.cache import RedisCache
    from simulators.sandbox import build_sandbox
    from simulators.seed import build_resources

    monkeypatch.setenv("FRONTDESK_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "phi-seed-secret")
    today = date(2026, 11, 26)
    patients = [
        r
        for src in ("ehr-a", "ehr-b")
        for r in build_resources(src, seed=7, today=today)
        if r["resourceType"] == "Patient"
    ]
    phi: set[str] = set()
    for p in patients:
        phi.add(p["birthDate"])
        phi.update(i["value"] for i in p.get("identifier", []))
        for name in p.get("name", []):
            if len(name.get("family", "")) >= 4:
                phi.add(name["family"])
    logs = io.StringIO()
    configure_logging("DEBUG", stream=logs)
    sandbox = build_sandbox(api_key="phi-key", today=today)
    cache = RedisCache.from_url(redis_url)
    app = create_app(
        sandbox.settings,
        transport_factory=sandbox.transport_factory,
        eligibility_transport_factory=sandbox.payer_transport_factory,
        prepare=sandbox.prepare,
        cache=cache,
        audit=MemoryAuditSink(),
    )
    h = {"Authorization": "Bearer phi-key"}
    try:
        async with running(app) as api:
            for p in patients[:40:4]:
                name = p["name"][0]
                r = await api.get(
                    "/v1/patients",
                    params={"family": name["family"], "birthdate": p["birthDate"]},
                    headers=h,
                )
                assert r.status_code == 200
                mrn = p["identifier"][0]
                await api.get(
                    "/v1/patients",
                    params={"identifier": f"{mrn['system']}|{mrn['value']}"},
                    headers=h,
                )
                pid = encode_id("ehr-a" if p in patients[:200] else "ehr-b", "Patient", p["id"])
                await api.post("/v1/coverage-checks", json={"patient_id": pid}, headers=h)
        client = aioredis.Redis.from_url(redis_url)
        try:
            keys = [k.decode() async for k in client.scan_iter(match="fd:*", count=1000)]
        finally:
            await client.aclose()
    finally:
        await cache.aclose()
        configure_logging()
    text = logs.getvalue()
    assert "request" in [json.loads(line)["event"] for line in text.splitlines()]
    assert keys
    # Digests and request ids are long hex runs: an eight-digit MRN turns up inside one
    # by chance now and then; a value written in the clear stands apart from them.
    text, keys = _unhashed(text), [_unhashed(k) for k in keys]
    leaked = sorted(v for v in phi if v in text or any(v in k for k in keys))
    assert leaked == [], f"{len(leaked)} PHI values leaked"
