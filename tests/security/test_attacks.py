"""Attacks a hostile or careless API client tries, against a gateway with two tenants on the
two real HAPI servers, the payer simulator, real Redis, API keys and JWTs.

Every answer is checked as it comes: no 5xx, a problem+json body on every refusal, no PHI
in an error body; at the end, none in the logs, the audit stream or Redis (keys or
values). EHR traffic goes through a recording transport, so a test can say "nothing of
this reached the EHR".
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.logs import configure_logging
from gateway.security import hash_api_key
from gateway.settings import ApiClientConfig, JwtConfig, Settings, SourceConfig
from mappers import encode_id
from mappers.outbound import PAYER_ID_SYSTEM
from simulators.payer import SIM_PAYER_ID, create_payer_app
from tests.support.asgi import running
from tests.support.gateway_env import (
    OTHER_TENANT_KEY,
    READ_ONLY_KEY,
    auth,
    clinic,
    settings_for,
)
from tests.support.jwt_tokens import signed_raw
from tests.support.payer_env import sim_payer, to_simulator, with_payers

pytestmark = [pytest.mark.hapi, pytest.mark.redis]

NO_SCOPE_KEY = "test-key-without-scopes"
ISSUER, AUDIENCE = "https://idp.test", "frontdesk"
# The payer simulator's fixed member (simulators/payer/scenarios.py).
JANE = {"member_id": "SIM-ACTIVE-1", "first": "Jane", "last": "Doe", "born": "1980-01-15"}


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport to HAPI, noting every request that went out."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._log.append((request.method, str(request.url)))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class Stage:
    api: httpx.AsyncClient
    app: Any
    ehr_calls: list[tuple[str, str]]
    audit: MemoryAuditSink
    logs: io.StringIO
    jwt_key: RSAKey
    phi: list[str] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.api.request(method, url, **kwargs)
        self.answers.append(response)
        assert response.status_code < 500, (method, url, response.status_code, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert isinstance(response.json().get("code"), str)
        return response

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
            "sub": "jwt-desk",
            "tenant": "general",
            "scope": "patients:read slots:read coverage:check",
        }
        body.update(claims)
        return jwt.encode({"alg": "RS256", "kid": "k1"}, body, self.jwt_key)


def _settings(base_a: str, base_b: str, redis_url: str, tmp_path: Path, key: RSAKey) -> Settings:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    settings = settings_for(
        base_a,
        base_b,
        redis_url,
        audit_path=str(tmp_path / "audit.jsonl"),
        jwt=JwtConfig(jwks_file=jwks, issuer=ISSUER, audience=AUDIENCE),
        # A small limit, so a burst of a few dozen requests shows the fairness rule.
        client_max_concurrent_requests=8,
        client_queue_seconds=0.5,
    )
    clients = [
        *settings.api_clients,
        ApiClientConfig(
            id="no-scope", tenant="general", scopes=[], key_sha256=hash_api_key(NO_SCOPE_KEY)
        ),
    ]
    settings = settings.model_copy(update={"api_clients": clients})
    return with_payers(settings, "general", [sim_payer()])


async def _jane(base_url: str) -> dict[str, Any]:
    """Jane Doe as EHR A holds her: the payer simulator's member SIM-ACTIVE-1, insured."""
    run = uuid.uuid4().hex[:10]
    async with httpx.AsyncClient() as http:

        async def create(resource: dict[str, Any]) -> dict[str, Any]:
            r = await http.post(
                f"{base_url}/{resource['resourceType']}",
                json=resource,
                headers={
                    "Content-Type": "application/fhir+json",
                    "Prefer": "return=representation",
                },
            )
            r.raise_for_status()
            created: dict[str, Any] = r.json()
            return created

        patient = await create(
            {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:test:mrn", "value": f"SEC-{run}"}],
                "name": [{"family": JANE["last"], "given": [JANE["first"]]}],
                "birthDate": JANE["born"],
                "gender": "female",
            }
        )
        await create(
            {
                "resourceType": "Coverage",
                "status": "active",
                "beneficiary": {"reference": f"Patient/{patient['id']}"},
                "subscriberId": JANE["member_id"],
                "relationship": {"coding": [{"code": "self"}]},
                "payor": [
                    {
                        "identifier": {"system": PAYER_ID_SYSTEM, "value": SIM_PAYER_ID},
                        "display": "SIMULATED PAYER",
                    }
                ],
            }
        )
    return patient


@pytest.fixture
def own_redis(redis_url: str) -> str:
    """A Redis database of this suite's own, emptied first, so what the leak check finds
    in it was written by the test that just ran (other tests share database 0)."""
    url = redis_url.rsplit("/", 1)[0] + "/7"

    async def empty() -> None:
        client = aioredis.Redis.from_url(url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()

    asyncio.run(empty())
    return url


@pytest.fixture
async def stage(hapi_base_urls, own_redis, tmp_path, monkeypatch) -> AsyncIterator[Stage]:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", f"security-{uuid.uuid4().hex}")
    redis_url = own_redis
    base_a, base_b = hapi_base_urls
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    ehr_calls: list[tuple[str, str]] = []
    logs = io.StringIO()
    configure_logging("DEBUG", stream=logs)
    audit = MemoryAuditSink()

    def transports(source: SourceConfig) -> httpx.AsyncBaseTransport:
        return RecordingTransport(ehr_calls)

    app = create_app(
        _settings(base_a, base_b, redis_url, tmp_path, key),
        transport_factory=transports,
        eligibility_transport_factory=to_simulator(create_payer_app()),
        audit=audit,
    )
    async with running(app) as api:
        s = Stage(api=api, app=app, ehr_calls=ehr_calls, audit=audit, logs=logs, jwt_key=key)
        yield s
        await _nothing_leaked(s, redis_url)
    configure_logging("INFO")


async def _nothing_leaked(s: Stage, redis_url: str) -> None:
    """No PHI in error bodies, logs, audit events, Redis keys or Redis values."""
    if not s.phi:
        return
    for response in s.answers:
        if response.status_code >= 400:
            for value in s.phi:
                assert value not in response.text, (response.request.url.path, value)
    logs = s.logs.getvalue()
    assert "Traceback" not in logs
    audit = json.dumps([asdict(e) for e in s.audit.events])
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match="fd:*")]
        values = [await client.get(k) for k in keys if await client.type(k) == b"string"]
    finally:
        await client.aclose()
    stored = b" ".join(keys + [v for v in values if v])
    for value in s.phi:
        assert value not in logs, value
        assert value not in audit, value
        assert value.encode() not in stored, value


# --- 1, 2: the coverage cache answers only the identity the payer matched ----------------


async def test_a_member_id_alone_unlocks_nothing_and_cannot_poison(stage: Stage, hapi_base_urls):
    patient = await _jane(hapi_base_urls[0])
    pid = encode_id("ehr-a", "Patient", patient["id"])
    stage.phi += [JANE["member_id"], "1980-01-15"]
    first = await stage.call(
        "POST", "/v1/coverage-checks", json={"patient_id": pid}, headers=auth()
    )
    assert first.json()["status"] == "active", first.text
    attacker = {
        "member_id": JANE["member_id"],
        "payer_id": SIM_PAYER_ID,
        "first_name": "Nobody",
        "last_name": "Attacker",
        "birth_date": "2001-01-01",
        "service_types": ["30"],
    }
    # Another client of the same tenant, with the member id alone.
    forged = await stage.call("POST", "/v1/coverage-checks", json=attacker, headers=auth())
    body = forged.json()
    assert body["status"] != "active" and not body["cached"]
    assert body["plan_name"] is None and body["benefits"] == []
    assert [e["code"] for e in body["errors"]] == ["73"]
    # Asked fresh, the refusal is cached ... under the attacker's details only.
    fresh = {"Cache-Control": "no-cache", **auth()}
    await stage.call("POST", "/v1/coverage-checks", json=attacker, headers=fresh)
    real = {**attacker, "first_name": "Jane", "last_name": "Doe", "birth_date": JANE["born"]}
    honest = await stage.call("POST", "/v1/coverage-checks", json=real, headers=auth())
    assert honest.json()["status"] == "active", honest.text


# --- 3: forged ids and bad search values never reach the EHR ------------------------------


def _forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


FORGED_PATIENTS = [_forged(f"ehr-a/Patient/{x}") for x in (".", "..", "a/..", "a%2F")]


async def test_forged_ids_and_bad_values_reach_no_ehr(stage: Stage, hapi_base_urls):
    c = await clinic(hapi_base_urls[0], slots=1)
    slot = encode_id("ehr-a", "Slot", c["slots"][0]["id"])
    h = auth()
    before = len(stage.ehr_calls)
    for bad in FORGED_PATIENTS:
        r = await stage.call("GET", f"/v1/patients/{bad}", headers=h)
        assert r.status_code in (404, 422)
        r = await stage.call(
            "POST",
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": bad},
            headers={**h, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code in (404, 422)
        r = await stage.call("POST", "/v1/coverage-checks", json={"patient_id": bad}, headers=h)
        assert r.status_code in (404, 422)
        r = await stage.call(
            "GET",
            "/v1/slots",
            params={"start": c["start"].isoformat(), "practitioner": bad},
            headers=h,
        )
        assert r.status_code in (404, 422)
    for params in (
        {"family": "Doe", "birthdate": "1955-12\n"},
        {"family": "Doe", "birthdate": "1980-13-45"},
        {"family": "Doe", "birthdate": "1980-02-30"},
        {"family": "Doe\r\nX-Injected: 1"},
        {"family": "Doe", "given": "Ja\x00ne"},
        {"identifier": "urn:test:mrn|1\n2"},
        {"phone": "555\u202e0100"},
    ):
        r = await stage.call("GET", "/v1/patients", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
    assert stage.ehr_calls[before:] == []


# --- 4: far-future and far-past dates are refused, not overflowed --------------------------


async def test_dates_out_of_range_answer_422_with_a_stable_code(stage: Stage):
    h = auth()
    for params in (
        {"start": "9999-12-31T00:00:00Z"},
        {"start": "9999-12-31T23:59:59+14:00", "end": "9999-12-31T23:59:59+14:00"},
        {"start": "0001-01-01T00:00:00-12:00"},
    ):
        r = await stage.call("GET", "/v1/slots", params=params, headers=h)
        assert r.status_code == 422 and r.json()["code"] in {
            "date_out_of_range",
            "validation_error",
        }
    r = await stage.call(
        "POST", "/v1/coverage-checks/batch", json={"date": "9999-12-31"}, headers=h
    )
    assert (r.status_code, r.json()["code"]) == (422, "date_out_of_range")
    r = await stage.call(
        "POST",
        "/v1/coverage-checks",
        json={**_member_check(), "date_of_service": "9999-12-31"},
        headers=h,
    )
    assert (r.status_code, r.json()["code"]) == (422, "date_out_of_range")
    assert "Traceback" not in stage.logs.getvalue()


def _member_check() -> dict[str, Any]:
    return {
        "member_id": JANE["member_id"],
        "payer_id": SIM_PAYER_ID,
        "first_name": JANE["first"],
        "last_name": JANE["last"],
        "birth_date": JANE["born"],
    }


# --- 5: refusals are audited ---------------------------------------------------------------


async def test_denied_requests_are_audited_without_phi(stage: Stage):
    pid = encode_id("ehr-a", "Patient", "some-patient")
    tries = [
        ("GET", "/v1/patients", {"params": {"family": "Doe"}}),
        ("GET", f"/v1/patients/{pid}", {}),
        ("POST", "/v1/coverage-checks", {"json": _member_check()}),
    ]
    for method, url, kwargs in tries:
        r = await stage.call(method, url, headers=auth(NO_SCOPE_KEY), **kwargs)
        assert r.status_code == 403
        r = await stage.call(method, url, **kwargs)
        assert r.status_code == 401
    denied = [e for e in stage.audit.events if e.outcome == "denied"]
    assert len(denied) == 2 * len(tries)
    by_client = {e.client_id for e in denied}
    assert by_client == {"no-scope", "unknown"}
    routes = {e.route for e in denied}
    assert routes == {
        "GET /v1/patients",
        "GET /v1/patients/{patient_id}",
        "POST /v1/coverage-checks",
    }
    assert all(e.reason and ("scope" in e.reason or "Authorization" in e.reason) for e in denied)
    stage.phi += ["Doe", JANE["member_id"], pid]


# --- 6: one client's burst is refused early; others are served ----------------------------


async def test_a_burst_from_one_client_is_refused_early_not_everyone(stage: Stage, hapi_base_urls):
    c = await clinic(hapi_base_urls[0], slots=1)
    start = c["start"] - timedelta(days=1)

    async def search(i: int) -> httpx.Response:
        window = start + timedelta(minutes=i)
        return await stage.call(
            "GET",
            "/v1/slots",
            params={"start": window.isoformat(), "end": (window + timedelta(days=2)).isoformat()},
            headers=auth(),
        )

    started = time.monotonic()
    burst = asyncio.gather(*(search(i) for i in range(60)))
    await asyncio.sleep(0.05)
    # Another client of the tenant is served during the burst.
    other = await stage.call(
        "GET", "/v1/slots", params={"start": start.isoformat()}, headers=auth(READ_ONLY_KEY)
    )
    answers = await asyncio.wait_for(burst, 60)
    assert other.status_code == 200
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 429}
    assert codes.count(429) > 0 and codes.count(200) >= 8
    assert all(r.headers.get("Retry-After") for r in answers if r.status_code == 429)
    served = [r for r in answers if r.status_code == 200]
    assert all(s["status"] == "ok" for r in served for s in r.json()["sources"])
    assert time.monotonic() - started < 60
    assert stage.app.state.runtime.client_slots.in_use() == {}


# --- 7: the smaller findings ---------------------------------------------------------------


async def test_cached_eligibility_is_sealed_in_redis(stage: Stage, own_redis: str):
    redis_url = own_redis
    r = await stage.call("POST", "/v1/coverage-checks", json=_member_check(), headers=auth())
    assert r.json()["status"] == "active" and r.json()["plan_name"]
    plan = r.json()["plan_name"]
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match="fd:elig*")]
        values = [await client.get(k) for k in keys]
    finally:
        await client.aclose()
    assert keys
    for value in values:
        assert value is not None
        for clear in (JANE["member_id"].encode(), plan.encode(), b"benefits"):
            assert clear not in value
    stage.phi += [JANE["member_id"], plan]


async def test_readyz_shows_tenants_and_sources_only_to_operators(stage: Stage):
    anyone = await stage.call("GET", "/readyz")
    assert anyone.json() == {"ready": True}
    desk = await stage.call("GET", "/readyz", headers=auth())
    assert desk.json() == {"ready": True}
    ops = await stage.call("GET", "/readyz", headers=auth("test-key-operations"))
    assert set(ops.json()["sources"]) == {"general", "other"}


async def test_jwts_with_long_lives_or_duplicate_claims_are_refused(stage: Stage):
    ok = await stage.call(
        "GET", "/v1/patients", params={"family": "Nobody"}, headers=_bearer(stage.token())
    )
    assert ok.status_code == 200
    year_3000 = int(datetime(3000, 1, 1, tzinfo=UTC).timestamp())
    for token in (
        stage.token(exp=year_3000),
        stage.token(iat=int(time.time()) - 10, exp=int(time.time()) + 7 * 86400),
        signed_raw(stage.jwt_key, _duplicated_tenant()),
    ):
        r = await stage.call(
            "GET", "/v1/patients", params={"family": "Nobody"}, headers=_bearer(token)
        )
        assert r.status_code == 401
    assert len([e for e in stage.audit.events if e.outcome == "denied"]) == 3


def _duplicated_tenant() -> str:
    now = int(time.time())
    return (
        f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","iat":{now},"exp":{now + 300},"sub":"x",'
        '"scope":"patients:read","tenant":"other","tenant":"general"}'
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tenants_cannot_reach_each_others_patients(stage: Stage, hapi_base_urls):
    c = await clinic(hapi_base_urls[0], slots=1)
    pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
    mine = await stage.call("GET", f"/v1/patients/{pid}", headers=auth())
    assert mine.status_code == 200
    theirs = await stage.call("GET", f"/v1/patients/{pid}", headers=auth(OTHER_TENANT_KEY))
    assert theirs.status_code == 404
    found = await stage.call(
        "GET", "/v1/patients", params={"family": c["family"]}, headers=auth(OTHER_TENANT_KEY)
    )
    assert found.json()["items"] == []
    stage.phi += [c["family"], f"MRN-{c['run']}"]


def test_settings_refuse_one_source_id_in_two_tenants():
    from gateway.settings import ConfigError, load_settings

    tenant = {"name": "X", "sources": [{"id": "ehr", "base_url": "http://a.test/fhir"}]}
    with pytest.raises(ConfigError, match="unique across tenants"):
        load_settings(tenants=[{"id": "t1", **tenant}, {"id": "t2", **tenant}])
