"""Fairness between API clients: a limit on each client's requests in progress.

Without it one client's burst (hundreds of concurrent searches) queues behind the
per-source limits until every request, everyone's, runs out of time. Here a client past
its limit waits briefly (``client_queue_seconds``, shorter than any request's deadline)
and is then refused early with ``429 rate_limited`` and ``Retry-After``, while the
requests it already has in progress, and every other client's, finish. The limit is per
gateway process; behind a load balancer each replica applies it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import problem_response
from .scope_headers import header
from .security import NotAuthenticated

__all__ = ["ClientLimit", "ClientSlots"]


@dataclass
class _Slot:
    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass
class ClientSlots:
    """Semaphores by client, created on first use and dropped when idle (bounded)."""

    default_limit: int
    limits: dict[str, int] = field(default_factory=dict)
    _slots: dict[str, _Slot] = field(default_factory=dict)

    def in_use(self) -> dict[str, int]:
        """Requests in progress or waiting, by client (for tests and metrics)."""
        return {client: slot.users for client, slot in self._slots.items()}

    async def enter(self, client: str, wait: float) -> bool:
        slot = self._slots.get(client)
        if slot is None:
            slot = self._slots[client] = _Slot(
                asyncio.Semaphore(self.limits.get(client, self.default_limit))
            )
        slot.users += 1
        try:
            async with asyncio.timeout(wait):
                await slot.semaphore.acquire()
        except TimeoutError:
            self._leave(client, slot, release=False)
            return False
        except BaseException:
            self._leave(client, slot, release=False)
            raise
        return True

    def exit(self, client: str) -> None:
        slot = self._slots.get(client)
        if slot is not None:
            self._leave(client, slot, release=True)

    def _leave(self, client: str, slot: _Slot, *, release: bool) -> None:
        if release:
            slot.semaphore.release()
        slot.users -= 1
        if slot.users == 0:
            del self._slots[client]


EVENTS = "/v1/events"


class ClientLimit:
    """ASGI middleware over /v1: identify the client, hold one of its slots while the
    request runs. An unidentified caller passes through to be refused by the route."""

    def __init__(self, app: ASGIApp, *, retry_after_seconds: int = 1) -> None:
        self.app = app
        self.retry_after = str(retry_after_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = getattr(scope["app"].state, "runtime", None) if scope["type"] == "http" else None
        # An event stream stays open for hours: it has its own cap (``events``), not a
        # request slot it would never give back.
        if runtime is None or not scope["path"].startswith("/v1/") or scope["path"] == EVENTS:
            await self.app(scope, receive, send)
            return
        raw = header(scope, b"authorization")
        try:
            principal = runtime.authenticator.authenticate(
                raw.decode("latin-1") if raw is not None else None
            )
        except NotAuthenticated:
            await self.app(scope, receive, send)
            return
        # deps.authenticate reuses this instead of checking the credentials again.
        scope.setdefault("state", {})["authenticated"] = principal
        client = f"{principal.tenant}/{principal.client_id}"
        slots: ClientSlots = runtime.client_slots
        if not await slots.enter(client, runtime.settings.client_queue_seconds):
            response = problem_response(
                429,
                "rate_limited",
                "Too many requests in progress",
                "this client has too many requests in progress; retry after the delay given",
                headers={"Retry-After": self.retry_after},
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            slots.exit(client)
