"""Auth for upstream calls, as `httpx.Auth` flows.

- `NoAuth`: nothing (public sandboxes, HAPI in tests).
- `BearerAuth`: a static token.
- `SmartBackendAuth`: SMART Backend Services — the token endpoint is discovered from
  `{fhir_base}/.well-known/smart-configuration`; a `client_credentials` grant authenticated
  by a private_key_jwt assertion (RS384 or ES384, with `kid`, one-time `jti`, `exp` at most
  5 minutes ahead). Source: hl7.org/fhir/smart-app-launch/backend-services.html.
- `ClientSecretAuth`: `client_credentials` with HTTP Basic client_id:secret, as Oracle
  Health system accounts use (field-facts §7: groups.google.com/g/cerner-fhir-developers).

Both token flows cache the access token until `refresh_margin` seconds before it expires,
refresh under one lock (twenty concurrent requests share one token request), and on a 401
from the resource server refresh once and replay the request once.

The token endpoint is called through the `http` client given here, not through the FHIR
client's auth flow (that would recurse).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from connectors.clock import Clock, SystemClock
from connectors.errors import ProtocolError, Unauthorized, error_for_response, error_for_transport

__all__ = [
    "BearerAuth",
    "ClientSecretAuth",
    "NoAuth",
    "SmartBackendAuth",
]

# SMART: "exp ... no more than five minutes in the future". Stay a little under.
ASSERTION_LIFETIME = 240.0


class NoAuth(httpx.Auth):
    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        yield request


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # on the monotonic clock


class _ClientCredentialsAuth(httpx.Auth):
    """Token cache + single-flight refresh + replay-on-401; subclasses fetch the token."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        scope: str,
        clock: Clock | None,
        refresh_margin: float,
        source: str,
    ) -> None:
        self._http = http
        self._scope = scope
        self._clock = clock or SystemClock()
        self._margin = refresh_margin
        self._source = source
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.token_requests = 0  # visible for tests and metrics

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._current_token(stale=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            # The server may have revoked or expired the token early: one fresh token, one replay.
            token = await self._current_token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def _current_token(self, *, stale: str | None) -> str:
        cached = self._token
        if cached is not None and self._usable(cached, stale):
            return cached.value
        async with self._lock:
            # Another request may have refreshed while we waited for the lock.
            cached = self._token
            if cached is not None and self._usable(cached, stale):
                return cached.value
            self.token_requests += 1
            value, expires_in = await self._fetch_token()
            self._token = _Token(value, self._clock.monotonic() + expires_in)
            return value

    def _usable(self, token: _Token, stale: str | None) -> bool:
        return token.value != stale and self._clock.monotonic() < token.expires_at - self._margin

    async def _fetch_token(self) -> tuple[str, float]:
        raise NotImplementedError

    async def _post_token(self, url: str, data: dict[str, str], **kw: Any) -> tuple[str, float]:
        template = "{token_endpoint}"
        try:
            response = await self._http.post(
                url, data=data, headers={"Accept": "application/json"}, **kw
            )
        except httpx.HTTPError as exc:
            raise error_for_transport(
                exc, source=self._source, method="POST", url_template=template, body_started=False
            ) from None
        if response.status_code >= 400:
            error = error_for_response(
                response,
                response.content,
                source=self._source,
                method="POST",
                url_template=template,
                now=self._clock.wall(),
            )
            if response.status_code in (400, 401, 403):
                # OAuth answers invalid_client / invalid_grant with 400 or 401.
                raise Unauthorized(
                    "token request refused",
                    source=self._source,
                    method="POST",
                    url_template=template,
                    status=response.status_code,
                ) from error
            raise error
        try:
            doc = response.json()
            value = str(doc["access_token"])
            expires_in = float(doc.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise ProtocolError(
                "token response without access_token",
                source=self._source,
                method="POST",
                url_template=template,
                status=response.status_code,
            ) from None
        return value, expires_in


class SmartBackendAuth(_ClientCredentialsAuth):
    def __init__(
        self,
        *,
        client_id: str,
        private_key: RSAKey | ECKey,
        kid: str,
        scope: str,
        http: httpx.AsyncClient,
        fhir_base_url: str | None = None,
        token_endpoint: str | None = None,
        algorithm: Literal["RS384", "ES384"] | None = None,
        jku: str | None = None,
        clock: Clock | None = None,
        refresh_margin: float = 30.0,
        source: str = "default",
    ) -> None:
        if fhir_base_url is None and token_endpoint is None:
            raise ValueError(
                "give fhir_base_url (to discover the token endpoint) or token_endpoint"
            )
        super().__init__(
            http=http, scope=scope, clock=clock, refresh_margin=refresh_margin, source=source
        )
        self._client_id = client_id
        self._key = private_key
        self._kid = kid
        self._alg = algorithm or ("ES384" if isinstance(private_key, ECKey) else "RS384")
        self._jku = jku
        self._fhir_base = fhir_base_url.rstrip("/") if fhir_base_url else None
        self._token_endpoint = token_endpoint

    async def token_endpoint(self) -> str:
        if self._token_endpoint is None:
            self._token_endpoint = await self._discover()
        return self._token_endpoint

    async def _discover(self) -> str:
        template = "/.well-known/smart-configuration"
        try:
            response = await self._http.get(
                f"{self._fhir_base}{template}", headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise error_for_transport(
                exc, source=self._source, method="GET", url_template=template, body_started=False
            ) from None
        if response.status_code >= 400:
            raise error_for_response(
                response,
                response.content,
                source=self._source,
                method="GET",
                url_template=template,
                now=self._clock.wall(),
            )
        try:
            endpoint = response.json()["token_endpoint"]
        except (ValueError, KeyError, TypeError):
            endpoint = None
        if not isinstance(endpoint, str):
            raise ProtocolError(
                "smart-configuration without token_endpoint",
                source=self._source,
                method="GET",
                url_template=template,
                status=response.status_code,
            )
        return endpoint

    def assertion(self, audience: str) -> str:
        """A fresh one-time client assertion JWT for `audience` (the token endpoint)."""
        now = int(self._clock.wall())
        header: dict[str, Any] = {"alg": self._alg, "kid": self._kid, "typ": "JWT"}
        if self._jku:
            header["jku"] = self._jku
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": audience,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + int(ASSERTION_LIFETIME),
        }
        return jwt.encode(header, claims, self._key, algorithms=[self._alg])

    async def _fetch_token(self) -> tuple[str, float]:
        endpoint = await self.token_endpoint()
        return await self._post_token(
            endpoint,
            {
                "grant_type": "client_credentials",
                "scope": self._scope,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.assertion(endpoint),
            },
        )


class ClientSecretAuth(_ClientCredentialsAuth):
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_endpoint: str,
        scope: str | Sequence[str],
        http: httpx.AsyncClient,
        clock: Clock | None = None,
        refresh_margin: float = 30.0,
        source: str = "default",
    ) -> None:
        scope_text = scope if isinstance(scope, str) else " ".join(scope)
        super().__init__(
            http=http, scope=scope_text, clock=clock, refresh_margin=refresh_margin, source=source
        )
        self._basic = httpx.BasicAuth(client_id, client_secret)
        self._token_endpoint = token_endpoint

    async def _fetch_token(self) -> tuple[str, float]:
        return await self._post_token(
            self._token_endpoint,
            {"grant_type": "client_credentials", "scope": self._scope},
            auth=self._basic,
        )
