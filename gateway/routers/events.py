"""The desk's event stream as server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse

from ..deps import CurrentPrincipal, RuntimeDep, require_scope
from ..events import EVENT_ID_PATTERN, EVENT_TYPES, EventLog
from ..logs import get_logger
from ..problems import ProblemError
from ..state import StateUnavailable

router = APIRouter(prefix="/v1/events", tags=["events"])
log = get_logger(__name__)
# A comment line this often keeps proxies from closing a quiet stream.
_KEEP_ALIVE_SECONDS = 15.0
# What a client that lost the stream waits before reconnecting (the SSE retry field).
_RETRY_MS = 2000

LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        pattern=EVENT_ID_PATTERN,
        description="The id of the last event received: the stream resumes after it.",
    ),
]

_STREAM = {
    200: {
        "description": "A `text/event-stream`: `id`, `event` (one of "
        + ", ".join(EVENT_TYPES)
        + ") and `data` (JSON with ids only: slot_id, entry_id, appointment_id, "
        "expires_at ...); comment lines keep it alive.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "",
    dependencies=[Depends(require_scope("events:read"))],
    operation_id="streamEvents",
    response_class=StreamingResponse,
    responses=_STREAM,  # type: ignore[arg-type]
)
async def stream_events(
    request: Request,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    """Offers, offers expiring, bookings of offers, check-ins, no-shows, cancellations and
    conflicts, as they happen, to every gateway replica's clients. Reconnect with
    ``Last-Event-ID`` to receive what was missed (the stream keeps the latest events;
    a gateway restart loses none)."""
    client = f"{principal.tenant}/{principal.client_id}"
    log_ = runtime.events
    try:
        after = last_event_id or await log_.latest(principal.tenant)
    except StateUnavailable:
        raise ProblemError(
            503, "state_unavailable", "The event stream is unavailable", "retry shortly"
        ) from None
    if not runtime.event_streams.enter(client):
        raise ProblemError(
            429,
            "rate_limited",
            "Too many event streams",
            "this client has too many event streams open",
            headers={"Retry-After": "5"},
        )
    return StreamingResponse(
        _events(request, log_, principal.tenant, after, lambda: runtime.event_streams.exit(client)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request, events: EventLog, tenant: str, after: str, done: object
) -> AsyncIterator[bytes]:
    try:
        yield f"retry: {_RETRY_MS}\n: stream of {tenant}\n\n".encode()
        while not await request.is_disconnected():
            try:
                batch = await events.read(tenant, after, block_seconds=_KEEP_ALIVE_SECONDS)
            except StateUnavailable as exc:
                log.warning("event_stream_interrupted", error=str(exc))
                return  # the client reconnects with Last-Event-ID
            if not batch:
                yield b": keep-alive\n\n"
                continue
            for event in batch:
                yield event.sse()
                after = event.id
    finally:
        if callable(done):
            done()
