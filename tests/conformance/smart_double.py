"""A FHIR app behind a SMART Backend Services authorization server (an ASGI wrapper).

- GET {base}/.well-known/smart-configuration: token endpoint, client_credentials,
  private_key_jwt, RS384 and ES384;
- POST /auth/token: a client_credentials grant with a private_key_jwt assertion, checked
  as client-confidential-asymmetric.html says (signature by the registered key, kid,
  iss = sub = client_id, aud = the token URL, exp at most five minutes ahead, jti never
  seen before); otherwise 401 `invalid_client`;
- every other request but GET metadata needs a token it issued, else 401.

Each `SmartDefect` breaks one of these duties.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

__all__ = ["SmartDefect", "SmartGuard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_PATH = "/auth/token"


class SmartDefect(StrEnum):
    CONFIG_WITHOUT_PRIVATE_KEY_JWT = "config-without-private-key-jwt"
    REPLAY_ACCEPTED = "replay-accepted"  # jti never remembered
    ANY_KEY_ACCEPTED = "any-key-accepted"  # signature never verified
    OPEN_WITHOUT_TOKEN = "open-without-token"  # the FHIR API answers anyone
    TOKEN_WITHOUT_EXPIRY = "token-without-expiry"  # no expires_in: the client can't plan


class SmartGuard:
    def __init__(
        self,
        app: App,
        *,
        client_id: str,
        public_key: RSAKey | ECKey,
        kid: str,
        base_path: str = "/fhir",
        defect: SmartDefect | None = None,
    ) -> None:
        self.app = app
        self.client_id = client_id
        self.public_key = public_key
        self.kid = kid
        self.base_path = base_path
        self.defect = defect
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self.jtis: set[str] = set()
        self.refused: list[str] = []  # why each refused assertion was refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        origin = f"{scope['scheme']}://{_header(scope, 'host')}"
        if path == f"{self.base_path}/.well-known/smart-configuration":
            await _json(send, 200, self._configuration(origin))
        elif path == TOKEN_PATH and method == "POST":
            form = dict(parse_qsl((await _body(receive)).decode()))
            status, answer = self._token(form, f"{origin}{TOKEN_PATH}")
            await _json(send, status, answer)
        elif path.endswith("/metadata") or self._authorised(scope):
            await self.app(scope, receive, send)
        else:
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "login", "diagnostics": "token required"}],
            }
            await _json(
                send,
                401,
                outcome,
                ((b"www-authenticate", b"Bearer"),),
                content_type=b"application/fhir+json",
            )

    def _configuration(self, origin: str) -> dict[str, Any]:
        methods = ["private_key_jwt"]
        if self.defect is SmartDefect.CONFIG_WITHOUT_PRIVATE_KEY_JWT:
            methods = ["client_secret_basic"]
        return {
            "token_endpoint": f"{origin}{TOKEN_PATH}",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": ["system/*.rs"],
            "capabilities": ["client-confidential-asymmetric"],
        }

    def _authorised(self, scope: Scope) -> bool:
        if self.defect is SmartDefect.OPEN_WITHOUT_TOKEN:
            return True
        kind, _, token = _header(scope, "authorization").partition(" ")
        return kind.lower() == "bearer" and self.tokens.get(token, 0.0) > time.time()

    def _token(self, form: dict[str, str], token_url: str) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        why = self._invalid(form, token_url)
        if why is not None:
            self.refused.append(why)
            return 401, {"error": "invalid_client", "error_description": why}
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + 300
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 300,
            "scope": form.get("scope", ""),
        }
        if self.defect is SmartDefect.TOKEN_WITHOUT_EXPIRY:
            del answer["expires_in"]
        return 200, answer

    def _invalid(self, form: dict[str, str], token_url: str) -> str | None:
        """Why the client assertion is not acceptable, or None."""
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return "client_assertion_type"
        assertion = form.get("client_assertion", "")
        try:
            if self.defect is SmartDefect.ANY_KEY_ACCEPTED:
                header, claims = _unverified(assertion)
            else:
                token = jwt.decode(assertion, self.public_key, algorithms=["RS384", "ES384"])
                header, claims = token.header, token.claims
        except (JoseError, ValueError):
            return "signature"
        now = time.time()
        checks = {
            "kid": header.get("kid") == self.kid,
            "iss": claims.get("iss") == self.client_id == claims.get("sub"),
            "aud": claims.get("aud") == token_url,
            "exp": isinstance(claims.get("exp"), int) and now < claims["exp"] <= now + 305,
            "jti": bool(claims.get("jti")),
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            return ", ".join(failed)
        if claims["jti"] in self.jtis and self.defect is not SmartDefect.REPLAY_ACCEPTED:
            return "jti replayed"
        self.jtis.add(claims["jti"])
        return None


def _unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = assertion.split(".")

    def part(text: str) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        )
        return decoded

    return part(header), part(payload)


def _header(scope: Scope, name: str) -> str:
    wanted = name.encode()
    for key, value in scope.get("headers") or ():
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return ""


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: tuple[tuple[bytes, bytes], ...] = (),
    content_type: bytes = b"application/json",
) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
