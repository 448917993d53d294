"""Console sessions: kept server-side in the shared cache, named by a signed cookie.

The cookie holds only a random session id and its HMAC (a key derived from the cache-key
secret); the session itself lives in the shared cache (Redis in production), sealed with
AES-GCM because a saved form may hold patient data, so every replica sees the same
session and signing out anywhere ends it everywhere. Its TTL is the idle timeout and each
request a person makes renews it; automatic refreshes don't. A sign-in always starts a
new session id (no fixation) and drops the one the browser came with.

Each session has its CSRF token (compared in constant time on every state-changing
request) and remembers the slot holds it placed (their tokens never reach the browser).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..cache import Cache, CacheKeys
from ..sealing import Sealer, derive_key

__all__ = ["COOKIE", "PRE_COOKIE", "ConsoleSession", "CookieSigner", "SessionStore"]

COOKIE = "fd_console"
# Set with the sign-in form, before there is a session: binds the form's CSRF token.
PRE_COOKIE = "fd_console_pre"


@dataclass
class ConsoleSession:
    id: str
    username: str
    tenant: str
    csrf: str
    created: float
    last_seen: float
    # slot gateway id -> (hold token, expires at ISO): this session's holds.
    holds: dict[str, list[str]] = field(default_factory=dict)
    # A form saved when the session ended under it: {"path": ..., "fields": {...}}.
    draft: dict[str, Any] | None = None
    # One message for the next page (post/redirect/get without JavaScript).
    flash: str | None = None


class CookieSigner:
    """``<value>.<HMAC-SHA256>``: a cookie the gateway wrote, unaltered."""

    def __init__(self, secret: str) -> None:
        self._key = derive_key(secret, purpose="console cookie")

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}\x1f{value}".encode(), hashlib.sha256).hexdigest()

    def sign(self, value: str, purpose: str = "session") -> str:
        return f"{value}.{self._mac(purpose, value)}"

    def unsign(self, signed: str | None, purpose: str = "session") -> str | None:
        if not signed or "." not in signed or len(signed) > 200:
            return None
        value, _, mac = signed.rpartition(".")
        return value if hmac.compare_digest(mac, self._mac(purpose, value)) else None

    def token_for(self, value: str, purpose: str) -> str:
        """A token derived from ``value`` (a form's CSRF token from its pre-session cookie)."""
        return self._mac(purpose, value)


class SessionStore:
    def __init__(
        self,
        cache: Cache,
        keys: CacheKeys,
        secret: str,
        *,
        idle_seconds: int,
        max_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._keys = keys
        self._sealer = Sealer([("cs", derive_key(secret, purpose="console session"))])
        self.idle_seconds = idle_seconds
        self._max = max_seconds
        # Public: tests move it forward to end a session by idleness.
        self.clock = clock

    def _key(self, session_id: str) -> str:
        return self._keys.key("console-session", "console", session_id)

    async def start(self, username: str, tenant: str) -> ConsoleSession:
        now = self.clock()
        session = ConsoleSession(
            id=secrets.token_urlsafe(32),
            username=username,
            tenant=tenant,
            csrf=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
        )
        await self.save(session)
        return session

    async def load(self, session_id: str, *, touch: bool = True) -> ConsoleSession | None:
        """The live session, renewed unless ``touch`` is False (an automatic refresh)."""
        key = self._key(session_id)
        plain = self._sealer.open(await self._cache.get(key), context=key)
        if plain is None:
            return None
        session = ConsoleSession(**json.loads(plain))
        now = self.clock()
        if now - session.last_seen > self.idle_seconds or now - session.created > self._max:
            await self._cache.delete(key)
            return None
        if touch:
            session.last_seen = now
            await self.save(session)
        return session

    async def save(self, session: ConsoleSession) -> None:
        key = self._key(session.id)
        sealed = self._sealer.seal(json.dumps(asdict(session)).encode(), context=key)
        remaining = self.idle_seconds - (self.clock() - session.last_seen)
        await self._cache.set(key, sealed, max(remaining, 1))

    async def end(self, session_id: str) -> None:
        await self._cache.delete(self._key(session_id))

    @staticmethod
    def csrf_ok(session: ConsoleSession, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(session.csrf, token)
