"""POST /v1/coverage-checks through the app: auth, X12 routing, headers, audit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from prometheus_client import generate_latest

from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import MemoryCache
from gateway.security import hash_api_key
from gateway.settings import ApiClientConfig, PayerConfig, Settings
from mappers.x12 import parse_271

from .coverage_fakes import tenant, x12_271

KEY = "coverage-test-key"


class Clearinghouse:
    def __init__(self) -> None:
        self.calls = 0
        self.aaa: str | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        text = request.content.decode()
        member = text.split("*MI*", 1)[1].split("~", 1)[0]
        return httpx.Response(200, text=x12_271(member, copay="35", aaa=self.aaa))


@pytest.fixture
def house() -> Clearinghouse:
    return Clearinghouse()


@pytest.fixture
async def api(
    house: Clearinghouse, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-test-hash-key")
    settings = Settings(
        tenants=[tenant()],
        api_clients=[
            ApiClientConfig(
                id="desk", tenant="t1", scopes=["coverage:check"], key_sha256=hash_api_key(KEY)
            ),
            ApiClientConfig(
                id="reader", tenant="t1", scopes=["patients:read"], key_sha256=hash_api_key("r")
            ),
        ],
    )

    def payer_transport(payer: PayerConfig) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(house.handler)

    app = create_app(
        settings,
        cache=MemoryCache(),
        audit=MemoryAuditSink(),
        eligibility_transport_factory=payer_transport,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://gw",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


BODY = {
    "member_id": "W1234",
    "payer_id": "ACME01",
    "first_name": "Ana",
    "last_name": "Rivera",
    "birth_date": "1980-04-02",
    "service_types": ["98"],
    "date_of_service": "2025-03-11",
}


def test_fixture_271_parses() -> None:
    result = parse_271(x12_271("W1234"))[0]
    assert result.status == "active"
    assert result.member_id == "W1234"


async def test_check_returns_copay_from_the_271(
    api: httpx.AsyncClient, house: Clearinghouse
) -> None:
    response = await api.post("/v1/coverage-checks", json=BODY)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["status"] == "active"
    assert data["origin"] == "x12"
    copays = [b for b in data["benefits"] if b["kind"] == "copay"]
    assert [Decimal(str(b["amount"])) for b in copays] == [Decimal("35")]
    again = (await api.post("/v1/coverage-checks", json=BODY)).json()
    assert again["cached"] is True
    assert house.calls == 1


async def test_no_cache_header_forces_a_payer_call(
    api: httpx.AsyncClient, house: Clearinghouse
) -> None:
    await api.post("/v1/coverage-checks", json=BODY)
    response = await api.post(
        "/v1/coverage-checks", json=BODY, headers={"Cache-Control": "no-cache"}
    )
    assert response.json()["cached"] is False
    assert house.calls == 2


async def test_aaa_72_tells_the_psr_to_check_the_card(
    api: httpx.AsyncClient, house: Clearinghouse
) -> None:
    house.aaa = "72"
    data = (await api.post("/v1/coverage-checks", json=BODY)).json()
    assert data["status"] == "error"
    assert data["errors"][0]["code"] == "72"
    assert "check the insurance card" in data["errors"][0]["description"]


async def test_aaa_42_says_try_again_later(api: httpx.AsyncClient, house: Clearinghouse) -> None:
    house.aaa = "42"
    data = (await api.post("/v1/coverage-checks", json=BODY)).json()
    assert "try again in a few minutes" in data["errors"][0]["description"]
    await api.post("/v1/coverage-checks", json=BODY)
    assert house.calls == 2


async def test_scope_is_required(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/coverage-checks", json=BODY, headers={"Authorization": "Bearer r"}
    )
    assert response.status_code == 403


async def test_invalid_request_is_problem_json(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/coverage-checks", json={"member_id": "X"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"


async def test_check_is_audited_without_member_id_in_the_event(api: httpx.AsyncClient) -> None:
    await api.post("/v1/coverage-checks", json=BODY)
    sink = api.app.state.runtime.audit  # type: ignore[attr-defined]
    events = [e for e in sink.events if getattr(e, "action", None) == "coverage.check"]
    assert events
    assert "W1234" not in repr(events)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"member_id": "X", "service_types": []}', "service_types"),
        (b'{"patient_id": "has spaces"}', "patient_id"),
        (b'{"member_id": "X", "birth_date": "1980-13-40"}', "birth_date"),
        (b'{"member_id": "X", "shoe_size": 9}', "shoe_size"),
        (b'{"member_id": ', ""),
        (b"", ""),
    ],
)
async def test_a_bad_body_names_the_field_and_never_echoes_values(
    api: httpx.AsyncClient, content: bytes, field: str
) -> None:
    response = await api.post(
        "/v1/coverage-checks", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    locs = [e["loc"] for e in problem["errors"]]
    assert all(loc[0] == "body" for loc in locs)
    if field:
        assert any(field in loc for loc in locs)
    assert "1980-13-40" not in response.text


async def test_a_missing_or_unknown_key_is_401_before_the_body_is_read(
    api: httpx.AsyncClient,
) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
        response = await api.post("/v1/coverage-checks", content=b"not json", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_openapi_documents_the_check_body_header_and_bearer_auth(
    api: httpx.AsyncClient,
) -> None:
    spec = (await api.get("/openapi.json")).json()
    check = spec["paths"]["/v1/coverage-checks"]["post"]
    body = check["requestBody"]["content"]["application/json"]["schema"]
    assert {"patient_id", "member_id", "service_types"} <= set(body["properties"])
    assert [p["name"] for p in check["parameters"]] == ["Cache-Control"]
    assert check["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in spec["paths"]["/healthz"]["get"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_declared_json_is_refused_like_other_routes(
    api: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    raw = json.dumps(BODY).encode()
    response = await api.post("/v1/coverage-checks", content=raw, headers=headers)
    assert response.status_code == 422
    expected = {"loc": ["body"], "msg": "send the body as application/json"}
    assert response.json()["errors"] == [expected]
    ok = await api.post(
        "/v1/coverage-checks",
        content=raw,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


async def test_a_client_gone_mid_body_gets_a_400_problem_not_a_500(
    api: httpx.AsyncClient,
) -> None:
    app = api.app  # type: ignore[attr-defined]
    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/coverage-checks",
        "raw_path": b"/v1/coverage-checks",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gw"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {KEY}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("gw", 80),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["code"] == "body_incomplete"  # type: ignore[arg-type]


async def test_an_oversized_body_is_refused_and_still_logged_and_counted(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/v1/coverage-checks",
        content=b"{" + b" " * (1 << 20) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["x-request-id"]  # Observe saw it: the refusal has an id
    metrics = api.app.state.runtime.metrics  # type: ignore[attr-defined]
    text = generate_latest(metrics.registry).decode()
    assert 'status_class="4xx"' in text


async def test_a_plain_caller_request_id_is_kept_and_anything_else_replaced(
    api: httpx.AsyncClient,
) -> None:
    kept = await api.get("/healthz", headers={"X-Request-Id": "desk-7-abc"})
    assert kept.headers["x-request-id"] == "desk-7-abc"
    replaced = await api.get("/healthz", headers={"X-Request-Id": 'x"}\n{"forged": 1'})
    assert replaced.headers["x-request-id"] != 'x"}\n{"forged": 1'
    assert len(replaced.headers["x-request-id"]) == 32
