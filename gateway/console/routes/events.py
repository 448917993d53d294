"""The console's event stream: the tenant's events (offers, offers ending, bookings,
check-ins ...) as server-sent events, for the screens that update without a reload.

``GET /v1/events`` needs an API bearer; this stream is the console's own, behind its
session. It forwards each event's type and the ids it names, nothing else: the screen
reads what it shows through its own pages. It never renews the session (an open screen
is not a person working), and it ends when the session does, so a desk left alone is
signed out as usual; the browser's reconnect then meets the sign-in page and stops.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse

from ...events import EVENT_ID_PATTERN, EVENT_TYPES, Event
from ...problems import ProblemError
from ...state import StateUnavailable
from ..desk import Desk, WatchDeskDep, security_headers

router = APIRouter(prefix="/console", include_in_schema=False)
# How long one read of the stream waits before a keep-alive (and a look at the session).
BLOCK_SECONDS = 15.0
# What the browser waits before reconnecting (the SSE retry field).
_RETRY_MS = 3000

LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", pattern=EVENT_ID_PATTERN)]


def frame(event: Event) -> bytes | None:
    """The event as the console sends it: type and ids only; None for a type it doesn't
    know."""
    if event.type not in EVENT_TYPES:
        return None
    ids = {k: v for k, v in event.data.items() if k.endswith("_id") and isinstance(v, str)}
    body = json.dumps(ids, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.type}\ndata: {body}\n\n".encode()


@router.get("/events")
async def events(
    request: Request, desk: WatchDeskDep, last_event_id: LastEventId = None
) -> Response:
    runtime = desk.runtime
    client = f"{desk.user.tenant}/{desk.principal.client_id}"
    try:
        after = last_event_id or await runtime.events.latest(desk.user.tenant)
    except StateUnavailable:
        raise ProblemError(
            503, "state_unavailable", "Live updates are unavailable", "the page updates itself"
        ) from None
    if not runtime.event_streams.enter(client):
        raise ProblemError(429, "rate_limited", "Too many open screens", "close a few console tabs")
    response = StreamingResponse(
        _forward(request, desk, after, lambda: runtime.event_streams.exit(client)),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
    return security_headers(response)


async def _forward(
    request: Request, desk: Desk, after: str, done: Callable[[], None]
) -> AsyncIterator[bytes]:
    sessions = desk.console.sessions
    try:
        yield f"retry: {_RETRY_MS}\n\n".encode()
        while not await request.is_disconnected():
            if await sessions.load(desk.session.id, touch=False) is None:
                return  # signed out, or idle too long
            try:
                batch = await desk.runtime.events.read(
                    desk.user.tenant, after, block_seconds=BLOCK_SECONDS
                )
            except StateUnavailable:
                return  # the browser reconnects with Last-Event-ID
            if not batch:
                yield b": keep-alive\n\n"
                continue
            for event in batch:
                sent = frame(event)
                if sent is not None:
                    yield sent
                after = event.id
    finally:
        done()
