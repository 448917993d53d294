from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.security import Authenticator, NotAuthenticated, hash_api_key
from gateway.settings import ApiClientConfig, JwtConfig
from tests.support.jwt_tokens import signed_raw


def _clients() -> list[ApiClientConfig]:
    return [
        ApiClientConfig(
            id="desk",
            tenant="general",
            scopes=["patients:read"],
            key_sha256=hash_api_key("k-123"),
        )
    ]


def test_api_key_maps_to_client_tenant_and_scopes():
    principal = Authenticator(_clients()).authenticate("Bearer k-123")
    assert (principal.client_id, principal.tenant) == ("desk", "general")
    assert principal.scopes == frozenset({"patients:read"})


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer wrong"])
def test_bad_credentials_are_refused(header: str | None):
    with pytest.raises(NotAuthenticated):
        Authenticator(_clients()).authenticate(header)


def _jwt_setup(tmp_path: Path) -> tuple[RSAKey, Authenticator]:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    cfg = JwtConfig(jwks_file=path, issuer="https://idp.test", audience="frontdesk")
    return key, Authenticator([], cfg)


def _token(key: RSAKey, **claims: object) -> str:
    base: dict[str, object] = {
        "iss": "https://idp.test",
        "aud": "frontdesk",
        "iat": int(time.time()),
        "exp": int(time.time()) + 300,
        "sub": "console",
        "tenant": "general",
        "scope": "slots:read appointments:write other:thing",
    }
    base.update(claims)
    return jwt.encode({"alg": "RS256", "kid": "k1"}, base, key)


def test_jwt_bearer_is_validated_against_jwks(tmp_path: Path):
    key, auth = _jwt_setup(tmp_path)
    principal = auth.authenticate("Bearer " + _token(key))
    assert principal.tenant == "general"
    assert principal.scopes == frozenset({"slots:read", "appointments:write"})


@pytest.mark.parametrize(
    "claims",
    [{"iss": "https://evil.test"}, {"aud": "someone-else"}, {"exp": -3600}],
)
def test_jwt_with_wrong_issuer_audience_or_expired_is_refused(tmp_path: Path, claims):
    if "exp" in claims:
        claims = {"exp": int(time.time()) + claims["exp"]}
    key, auth = _jwt_setup(tmp_path)
    with pytest.raises(NotAuthenticated):
        auth.authenticate("Bearer " + _token(key, **claims))


def test_jwt_signed_by_another_key_is_refused(tmp_path: Path):
    _, auth = _jwt_setup(tmp_path)
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(NotAuthenticated):
        auth.authenticate("Bearer " + _token(other))


@pytest.mark.parametrize(
    "offsets",
    [
        {"exp": 3600 * 24 * 365 * 975},  # the year-3000 token
        {"iat": -60, "exp": 3600},  # just over an hour
        {"iat": 600, "exp": 900},  # issued in the future
    ],
)
def test_jwt_lifetime_is_capped(tmp_path: Path, offsets):
    # Times from now, taken when the test runs (a long suite outlasts collection time).
    now = int(time.time())
    key, auth = _jwt_setup(tmp_path)
    with pytest.raises(NotAuthenticated):
        auth.authenticate("Bearer " + _token(key, **{k: now + v for k, v in offsets.items()}))


def test_jwt_without_an_issue_time_is_refused(tmp_path: Path):
    key, auth = _jwt_setup(tmp_path)
    now = int(time.time())
    claims = '"iss":"https://idp.test","aud":"frontdesk","exp":{},"sub":"x","tenant":"general"'
    assert auth.authenticate(
        "Bearer " + signed_raw(key, f'{{"iat":{now},' + claims.format(now + 300) + "}")
    )
    with pytest.raises(NotAuthenticated):
        auth.authenticate("Bearer " + signed_raw(key, "{" + claims.format(now + 300) + "}"))


def test_jwt_with_a_duplicated_claim_is_refused(tmp_path: Path):
    """A signed payload naming its tenant twice: readers disagree on which one counts."""
    key, auth = _jwt_setup(tmp_path)
    now = int(time.time())
    head = f'"iss":"https://idp.test","aud":"frontdesk","iat":{now},"exp":{now + 300},"sub":"x"'
    once = signed_raw(key, "{" + head + ',"tenant":"general"}')
    twice = signed_raw(key, "{" + head + ',"tenant":"other","tenant":"general"}')
    assert auth.authenticate("Bearer " + once).tenant == "general"
    with pytest.raises(NotAuthenticated):
        auth.authenticate("Bearer " + twice)
