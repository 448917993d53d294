"""SMART Backend Services and client-secret token flows against a fake token endpoint."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from connectors import BearerAuth, ClientSecretAuth, SmartBackendAuth, Unauthorized
from tests.unit.connectors.fakes import BASE, FakeClock, fhir, make_client, patient

TOKEN_URL = "https://auth.example.org/token"
RSA = RSAKey.generate_key(2048)
EC = ECKey.generate_key("P-384")


class TokenServer:
    """Issues token-1, token-2, ... and records the forms it received."""

    def __init__(self, expires_in: int = 300) -> None:
        self.forms: list[dict[str, str]] = []
        self.auth_headers: list[str] = []
        self.expires_in = expires_in
        self.discoveries = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/smart-configuration"):
            self.discoveries += 1
            return httpx.Response(200, json={"token_endpoint": TOKEN_URL})
        await asyncio.sleep(0)  # let concurrent requests pile up on the lock
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        self.auth_headers.append(request.headers.get("Authorization", ""))
        return httpx.Response(
            200,
            json={
                "access_token": f"token-{len(self.forms)}",
                "expires_in": self.expires_in,
                "token_type": "bearer",
            },
        )


def smart(server: TokenServer, clock: FakeClock, key: RSAKey | ECKey = RSA) -> SmartBackendAuth:
    return SmartBackendAuth(
        client_id="frontdesk",
        private_key=key,
        kid="key-1",
        scope="system/Patient.rs system/Appointment.cruds",
        http=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        fhir_base_url=BASE,
        clock=clock,
    )


def resource_server(
    seen: list[str], *, reject: set[str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("Authorization", "")
        seen.append(token)
        if reject and token in reject:
            return fhir(401)
        return fhir(200, patient())

    return handler


async def test_token_is_discovered_signed_and_reused(clock: FakeClock) -> None:
    server = TokenServer()
    seen: list[str] = []
    client = make_client(resource_server(seen), clock=clock, auth=smart(server, clock))
    await client.read("Patient", "p1")
    await client.read("Patient", "p2")
    assert seen == ["Bearer token-1", "Bearer token-1"]
    assert len(server.forms) == 1
    assert server.discoveries == 1

    form = server.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert form["scope"] == "system/Patient.rs system/Appointment.cruds"
    token = jwt.decode(form["client_assertion"], RSA, algorithms=["RS384"])
    assert token.header["alg"] == "RS384"
    assert token.header["kid"] == "key-1"
    claims = token.claims
    assert claims["iss"] == claims["sub"] == "frontdesk"
    assert claims["aud"] == TOKEN_URL
    assert 0 < claims["exp"] - int(clock.wall()) <= 300


async def test_es384_keys_sign_es384_and_jti_is_never_reused(clock: FakeClock) -> None:
    auth = smart(TokenServer(), clock, key=EC)
    first = jwt.decode(auth.assertion(TOKEN_URL), EC, algorithms=["ES384"])
    second = jwt.decode(auth.assertion(TOKEN_URL), EC, algorithms=["ES384"])
    assert first.header["alg"] == "ES384"
    assert first.claims["jti"] != second.claims["jti"]


async def test_token_is_refreshed_shortly_before_it_expires(clock: FakeClock) -> None:
    server = TokenServer(expires_in=300)
    seen: list[str] = []
    client = make_client(resource_server(seen), clock=clock, auth=smart(server, clock))
    await client.read("Patient", "p1")
    clock.advance(260)  # 40 s left: still outside the 30 s margin
    await client.read("Patient", "p1")
    clock.advance(15)  # 25 s left: refresh now rather than risk expiry in flight
    await client.read("Patient", "p1")
    assert seen == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


async def test_twenty_concurrent_requests_share_one_refresh(clock: FakeClock) -> None:
    server = TokenServer()
    seen: list[str] = []
    client = make_client(resource_server(seen), clock=clock, auth=smart(server, clock))
    await asyncio.gather(*(client.read("Patient", str(i)) for i in range(20)))
    assert len(server.forms) == 1
    assert set(seen) == {"Bearer token-1"}
    clock.advance(290)
    await asyncio.gather(*(client.read("Patient", str(i)) for i in range(20)))
    assert len(server.forms) == 2
    assert seen[20:] == ["Bearer token-2"] * 20


async def test_401_refreshes_once_and_replays(clock: FakeClock) -> None:
    server = TokenServer()
    seen: list[str] = []
    client = make_client(
        resource_server(seen, reject={"Bearer token-1"}), clock=clock, auth=smart(server, clock)
    )
    assert (await client.read("Patient", "p1"))["id"] == "p1"
    assert seen == ["Bearer token-1", "Bearer token-2"]


async def test_a_second_401_is_an_unauthorized_error(clock: FakeClock) -> None:
    server = TokenServer()
    seen: list[str] = []
    always = {f"Bearer token-{i}" for i in range(1, 10)}
    client = make_client(
        resource_server(seen, reject=always), clock=clock, auth=smart(server, clock)
    )
    with pytest.raises(Unauthorized):
        await client.read("Patient", "p1")
    assert len(seen) == 2  # one replay, not a loop
    assert len(server.forms) == 2


async def test_refused_token_request_is_unauthorized(clock: FakeClock) -> None:
    token_http = httpx.AsyncClient(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(400, json={"error": "invalid_client"})
        )
    )
    auth = SmartBackendAuth(
        client_id="c", private_key=RSA, kid="k", scope="system/*.rs", http=token_http,
        token_endpoint=TOKEN_URL, clock=clock,
    )  # fmt: skip
    client = make_client(lambda r: fhir(200, patient()), clock=clock, auth=auth)
    with pytest.raises(Unauthorized) as caught:
        await client.read("Patient", "p1")
    assert caught.value.url_template == "{token_endpoint}"


async def test_client_secret_uses_http_basic(clock: FakeClock) -> None:
    server = TokenServer()
    auth = ClientSecretAuth(
        client_id="sys-acct",
        client_secret="s3cret",
        token_endpoint=TOKEN_URL,
        scope=["system/Patient.read", "system/Slot.read"],
        http=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        clock=clock,
    )
    seen: list[str] = []
    client = make_client(resource_server(seen), clock=clock, auth=auth)
    await client.read("Patient", "p1")
    await client.read("Patient", "p1")
    assert seen == ["Bearer token-1"] * 2
    assert server.auth_headers == ["Basic " + base64.b64encode(b"sys-acct:s3cret").decode()]
    assert server.forms[0] == {
        "grant_type": "client_credentials",
        "scope": "system/Patient.read system/Slot.read",
    }


async def test_static_bearer(clock: FakeClock) -> None:
    seen: list[str] = []
    client = make_client(resource_server(seen), clock=clock, auth=BearerAuth("abc"))
    await client.read("Patient", "p1")
    assert seen == ["Bearer abc"]
