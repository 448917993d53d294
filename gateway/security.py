"""Who is calling: API keys (stored as SHA-256) or OAuth2 JWT bearer tokens.

A principal belongs to one tenant and holds scopes; everything it can see is
limited to its tenant's sources.
"""

from __future__ import annotations

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
        try:
            decoded = jwt.decode(token, keys, algorithms=["RS256", "RS384", "ES256", "ES384"])
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": config.issuer},
                aud={"essential": True, "value": config.audience},
                exp={"essential": True},
                now=int(time.time()),
                leeway=30,
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise NotAuthenticated("invalid token") from exc
        claims = decoded.claims
        tenant = claims.get("tenant")
        client_id = claims.get("client_id") or claims.get("sub")
        if not isinstance(tenant, str) or not isinstance(client_id, str):
            raise NotAuthenticated("token lacks tenant or client id")
        raw_scope = claims.get("scope", "")
        scopes: set[Scope] = {s for s in ALL_SCOPES if s in str(raw_scope).split()}
        return Principal(client_id, tenant, frozenset(scopes))
