"""FHIR R4 rest-hook Subscriptions: the EHR tells the gateway a Slot or Appointment
changed, instead of the gateway asking every few seconds.

A notification only says "something changed": the hook endpoint then runs the change
feed (``changes``), which reads what changed from the EHR itself. So a notification
carries no payload (no patient data crosses for nothing), and a forged one can do no
more than cause a read. Whether the server runs Subscriptions is learnt by asking for
one: a server that does turns it ``active``; one that doesn't leaves it ``requested``
or marks it ``error``, and the source is polled instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from connectors import UpstreamError

from ...logs import get_logger
from ...sources import SourceHandle
from .changes import WATCHED

__all__ = ["RestHooks"]

log = get_logger(__name__)

# How long a server may take to activate a Subscription before we poll instead.
_ACTIVATION_SECONDS = 15.0


@dataclass
class RestHooks:
    handle: SourceHandle
    endpoint: str
    secret: str
    activation_seconds: float = _ACTIVATION_SECONDS
    # Subscriptions this process created (and deletes when it stops).
    created: list[str] = field(default_factory=list)

    def _subscription(self, rtype: str) -> dict[str, Any]:
        return {
            "resourceType": "Subscription",
            "status": "requested",
            "reason": f"frontdesk: {rtype} changes for the waitlist and the slot cache",
            "criteria": f"{rtype}?",
            "channel": {
                "type": "rest-hook",
                "endpoint": self.endpoint,
                "header": [f"Authorization: Bearer {self.secret}"],
            },
        }

    async def ensure(self) -> bool:
        """An active Subscription per watched type to our endpoint; False when the
        server won't run them (nothing of ours is left behind then)."""
        try:
            existing = [
                s
                async for s in self.handle.client.search(
                    "Subscription", {"url": self.endpoint}, max_resources=50
                )
            ]
        except UpstreamError as exc:
            log.info("subscriptions_unavailable", source=self.handle.id, error=type(exc).__name__)
            return False
        waiting: list[str] = []
        for rtype in WATCHED:
            mine = [
                s
                for s in existing
                if s.get("criteria") == f"{rtype}?" and s.get("status") in ("active", "requested")
            ]
            if mine:
                waiting.append(str(mine[0]["id"]))
                continue
            try:
                made = await self.handle.client.create(self._subscription(rtype))
            except UpstreamError as exc:
                log.info("subscription_refused", source=self.handle.id, error=type(exc).__name__)
                await self.remove()
                return False
            self.created.append(str(made["id"]))
            waiting.append(str(made["id"]))
        if await self._active(waiting):
            return True
        await self.remove()
        return False

    async def _active(self, ids: list[str]) -> bool:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.activation_seconds
        delay = 0.1
        while True:
            try:
                states = [
                    (await self.handle.client.read("Subscription", sid)).get("status")
                    for sid in ids
                ]
            except UpstreamError:
                return False
            if all(state == "active" for state in states):
                return True
            if any(state in ("error", "off") for state in states) or loop.time() >= give_up:
                log.info("subscription_not_active", source=self.handle.id)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def remove(self) -> None:
        """Delete the Subscriptions this process created."""
        for sid in self.created:
            try:
                await self.handle.client.delete("Subscription", sid)
            except UpstreamError as exc:
                log.warning(
                    "subscription_not_removed", source=self.handle.id, error=type(exc).__name__
                )
        self.created.clear()
