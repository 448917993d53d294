"""Who is calling: API keys (stored as SHA-256) or OAuth2 JWT bearer tokens.

A principal belongs to one tenant and holds scopes; everything it can see is
limited to its tenant's sources.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .settings import ALL_SCOPES, ApiClientConfig, JwtConfig, Scope

__all__ = ["Authenticator", "NotAuthenticated", "Principal", "hash_api_key"]


_LEEWAY = 30


def _has_duplicate_members(token: str) -> bool:
    """True when the JWT's header or claims repeat a member name (or can't be read)."""

    def refuse_twice(pairs: list[tuple[str, object]]) -> dict[str, object]:
        names = [name for name, _ in pairs]
        if len(names) != len(set(names)):
            raise ValueError("duplicate member")
        return dict(pairs)

    for segment in token.split(".")[:2]:
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            json.loads(raw, object_pairs_hook=refuse_twice)
        except (ValueError, binascii.Error):
            return True
    return False


class NotAuthenticated(Exception):
    """No usable credentials; the message is safe to show."""


@dataclass(frozen=True)
class Principal:
    client_id: str
    tenant: str
    scopes: frozenset[str]


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Authenticator:
    def __init__(self, clients: list[ApiClientConfig], jwt_config: JwtConfig | None = None) -> None:
        # Principals built once: authentication runs on every request.
        self._by_hash = {
            c.key_sha256: Principal(c.id, c.tenant, frozenset(c.scopes)) for c in clients
        }
        # The JWT settings and their key set, together or not at all.
        self._jwt: tuple[JwtConfig, KeySet] | None = None
        if jwt_config is not None:
            keys = KeySet.import_key_set(json.loads(Path(jwt_config.jwks_file).read_text()))
            self._jwt = (jwt_config, keys)

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise NotAuthenticated("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthenticated("Authorization must be 'Bearer <token>'")
        principal = self._by_hash.get(hash_api_key(token))
        if principal is not None:
            return principal
        if self._jwt is not None and token.count(".") == 2:
            return self._from_jwt(token, *self._jwt)
        raise NotAuthenticated("unknown API key or token")

    def _from_jwt(self, token: str, config: JwtConfig, keys: KeySet) -> Principal:
        # json.loads keeps the last of two equal keys; a signer and a reader that disagree
        # on which one counts is how a duplicated claim smuggles a tenant.
        if _has_duplicate_members(token):
            raise NotAuthenticated("invalid token")
        now = int(time.time())
        try:
            decoded = jwt.decode(token, keys, algorithms=["RS256", "RS384", "ES256", "ES384"])
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": config.issuer},
                aud={"essential": True, "value": config.audience},
                exp={"essential": True},
                iat={"essential": True},
                now=now,
                leeway=_LEEWAY,
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise NotAuthenticated("invalid token") from exc
        claims = decoded.claims
        issued, expires = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(issued, int)
            or not isinstance(expires, int)
            or expires - issued > config.max_lifetime_seconds
            or issued > now + _LEEWAY
        ):
            raise NotAuthenticated("invalid token: lifetime longer than allowed")
        tenant = claims.get("tenant")
        client_id = claims.get("client_id") or claims.get("sub")
        if not isinstance(tenant, str) or not isinstance(client_id, str):
            raise NotAuthenticated("token lacks tenant or client id")
        raw_scope = claims.get("scope", "")
        scopes: set[Scope] = {s for s in ALL_SCOPES if s in str(raw_scope).split()}
        return Principal(client_id, tenant, frozenset(scopes))
