"""Who may sign in to the desk console, and what they may do.

Console users come from settings with an Argon2 hash of their password (argon2-cffi).
A role maps onto the API's scopes, so the console's actions pass the same checks as an
API client's: ``desk`` finds, registers, books, checks in and checks coverage;
``supervisor`` may also book over a conflict or overbook, and sees the payer's whole
answer and the sources' state. Failed sign-ins are counted in the shared cache, per user
name and per client address, so every replica refuses a guesser alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool

from ..cache import Cache, CacheKeys
from ..security import Principal
from ..settings import ConsoleConfig, ConsoleRole, ConsoleUserConfig, Scope

__all__ = ["ROLE_SCOPES", "Accounts", "ConsoleUser", "SignInLimiter", "hash_password"]

_DESK: tuple[Scope, ...] = (
    "patients:read",
    "patients:write",
    "slots:read",
    "appointments:read",
    "appointments:write",
    "coverage:check",
    "billing:read",
)
ROLE_SCOPES: dict[ConsoleRole, frozenset[str]] = {
    "desk": frozenset(_DESK),
    "supervisor": frozenset(
        (
            *_DESK,
            "appointments:override",
            "appointments:overbook",
            "operations:read",
            "billing:write",
        )
    ),
}
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id hash for ``console.users[].password_hash``."""
    return _HASHER.hash(password)


@dataclass(frozen=True)
class ConsoleUser:
    username: str
    display_name: str
    tenant: str
    role: ConsoleRole

    @property
    def principal(self) -> Principal:
        """The console user as the API's services and the audit stream see them."""
        return Principal(f"console:{self.username}", self.tenant, ROLE_SCOPES[self.role])

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


class Accounts:
    def __init__(self, users: list[ConsoleUserConfig]) -> None:
        self._users = {u.username: u for u in users}
        # Verified when the user name is unknown, so a miss costs what a hit costs.
        self._decoy = _HASHER.hash("decoy password, never valid")

    def __bool__(self) -> bool:
        return bool(self._users)

    def user(self, username: str) -> ConsoleUser | None:
        config = self._users.get(username)
        if config is None:
            return None
        return ConsoleUser(
            config.username, config.display_name or config.username, config.tenant, config.role
        )

    async def verify(self, username: str, password: str) -> ConsoleUser | None:
        """The user, if the password is theirs. Argon2 runs off the event loop."""
        config = self._users.get(username)
        encoded = config.password_hash if config is not None else self._decoy
        try:
            await run_in_threadpool(_HASHER.verify, encoded, password)
        except (VerificationError, InvalidHashError):
            return None
        return self.user(username) if config is not None else None


class SignInLimiter:
    """Failed sign-ins per user name and per client address, in a fixed window."""

    def __init__(self, cache: Cache, keys: CacheKeys, config: ConsoleConfig) -> None:
        self._cache = cache
        self._keys = keys
        self._max = config.max_failed_sign_ins
        self._window = config.lockout_minutes * 60

    @property
    def window_minutes(self) -> int:
        return self._window // 60

    def _keys_for(self, username: str, address: str) -> tuple[str, str]:
        return (
            self._keys.key("console-fail-user", "console", username),
            self._keys.key("console-fail-addr", "console", address),
        )

    async def locked(self, username: str, address: str) -> bool:
        user_key, addr_key = self._keys_for(username, address)
        by_user = int(await self._cache.get(user_key) or b"0")
        by_addr = int(await self._cache.get(addr_key) or b"0")
        return by_user >= self._max or by_addr >= self._max * 4

    async def failed(self, username: str, address: str) -> None:
        for key in self._keys_for(username, address):
            await self._cache.incr(key, self._window)

    async def succeeded(self, username: str) -> None:
        await self._cache.delete(self._keys_for(username, "")[0])
