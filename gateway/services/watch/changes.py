"""What changed in one EHR since we last looked: Slot and Appointment by ``_lastUpdated``.

The cursor is the newest ``meta.lastUpdated`` seen (the server's clock, never ours),
kept in the shared state so another gateway process carries on where this one stopped.
The search asks ``ge`` the cursor and skips the versions already seen at that instant:
``gt`` would miss a record written in the same millisecond after the last read.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors import TooManyResults

from ...logs import get_logger
from ...sources import SourceHandle
from ...state import SharedState

__all__ = ["WATCHED", "ChangeFeed"]

log = get_logger(__name__)

WATCHED = ("Slot", "Appointment")
# A backlog longer than this (a long outage) is skipped: the slot cache is dropped and
# the feed starts again from now.
_MAX_CHANGES = 2000

Resource = dict[str, Any]


@dataclass(frozen=True)
class _Cursor:
    at: str
    seen: frozenset[str]


def _version_key(resource: Resource) -> str:
    meta = resource.get("meta") or {}
    return f"{resource.get('resourceType')}/{resource.get('id')}/{meta.get('versionId', '')}"


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass
class ChangeFeed:
    tenant: str
    handle: SourceHandle
    state: SharedState
    # Called with the changed resources (raw FHIR; one list per poll).
    on_change: Callable[[SourceHandle, list[Resource]], Awaitable[None]]
    on_backlog: Callable[[SourceHandle], Awaitable[None]]
    prefix: str = "fd"

    def _key(self) -> str:
        return f"{self.prefix}:watch-cursor:{self.tenant}"

    async def _cursor(self) -> _Cursor | None:
        raw = await self.state.hget(self._key(), self.handle.id)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return _Cursor(str(data["at"]), frozenset(map(str, data["seen"])))
        except (ValueError, KeyError, TypeError):
            return None

    async def _save(self, cursor: _Cursor) -> None:
        body = json.dumps({"at": cursor.at, "seen": sorted(cursor.seen)}).encode()
        await self.state.hset(self._key(), self.handle.id, body)

    async def start(self) -> None:
        """Begin at the newest change the EHR has (nothing before it is news)."""
        if await self._cursor() is None:
            await self._save(await self._newest())

    async def _newest(self) -> _Cursor:
        newest: tuple[datetime, str] | None = None
        seen: set[str] = set()
        for rtype in WATCHED:
            page = await self.handle.client.search_page(
                rtype, {"_sort": "-_lastUpdated", "_count": "1"}
            )
            for resource in page.resources:
                raw = (resource.get("meta") or {}).get("lastUpdated")
                at = _instant(raw)
                if at is None or not isinstance(raw, str):
                    continue
                if newest is None or at > newest[0]:
                    newest, seen = (at, raw), {_version_key(resource)}
                elif at == newest[0]:
                    seen.add(_version_key(resource))
        if newest is None:
            return _Cursor("1900-01-01T00:00:00Z", frozenset())
        return _Cursor(newest[1], frozenset(seen))

    async def poll(self) -> int:
        """Read what changed since the cursor and hand it on; the number of changes."""
        cursor = await self._cursor()
        if cursor is None:
            await self.start()
            return 0
        floor = _instant(cursor.at)
        changed: list[Resource] = []
        newest_at, newest_raw, at_newest = floor, cursor.at, set(cursor.seen)
        try:
            for rtype in WATCHED:
                async for resource in self.handle.client.search(
                    rtype,
                    {"_lastUpdated": f"ge{cursor.at}", "_sort": "_lastUpdated", "_count": "100"},
                    max_resources=_MAX_CHANGES,
                ):
                    key = _version_key(resource)
                    raw = (resource.get("meta") or {}).get("lastUpdated")
                    at = _instant(raw)
                    if key in cursor.seen or at is None or not isinstance(raw, str):
                        continue
                    changed.append(resource)
                    if newest_at is None or at > newest_at:
                        newest_at, newest_raw, at_newest = at, raw, {key}
                    elif at == newest_at:
                        at_newest.add(key)
        except TooManyResults:
            log.warning("watch_backlog_skipped", source=self.handle.id)
            await self._save(await self._newest())
            await self.on_backlog(self.handle)
            return 0
        if changed:
            await self.on_change(self.handle, changed)
        await self._save(_Cursor(newest_raw, frozenset(at_newest)))
        return len(changed)
