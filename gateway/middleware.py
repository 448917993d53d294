"""Cross-cutting HTTP concerns: request ids, metrics, audit events, body limits."""

from __future__ import annotations

import time
import traceback
from pathlib import PurePath
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .audit import AuditEvent, Outcome
from .context import begin_index_reads, new_request_id, request_id
from .logs import access_log, get_logger
from .problems import problem_response
from .runtime import Runtime
from .scope_headers import header

__all__ = [
    "BodyLimit",
    "ContainErrors",
    "Observe",
    "frame_names",
    "install_middleware",
    "note_audit",
]

log = get_logger(__name__)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def note_audit(
    request: Request,
    action: str,
    *,
    patient_ids: list[str] | None = None,
    sources: list[str] | None = None,
    reason: str | None = None,
) -> None:
    """Mark this request as touching PHI; the audit middleware writes the event.

    ``reason``: why the actor did something out of the ordinary (an override)."""
    # Straight into the scope's state dict that Observe reads (request.state wraps it).
    state = request.scope.setdefault("state", {})
    state["audit_action"] = action
    state["audit_patients"] = tuple(patient_ids or ())
    state["audit_sources"] = tuple(sources or ())
    state["audit_reason"] = reason


def _outcome(status: int, partial: bool) -> Outcome:
    if status < 400:
        return "partial" if partial else "success"
    if status in (401, 403):
        return "denied"
    if status == 404:
        return "not_found"
    return "error"


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (declared or streamed) with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            "Request body too large",
            f"request bodies are limited to {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class Observe:
    """Request ids, the access log, latency metrics and audit events, as plain ASGI.

    Plain ASGI rather than ``@app.middleware("http")``: that wrapper runs every request
    through an extra task and stream, a measurable cost on the cached hot path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._latency: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        rid = new_request_id(incoming.decode("latin-1") if incoming else None)
        index_reads = begin_index_reads()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._after(scope, rid, status, time.perf_counter() - started, index_reads)

    def _after(
        self, scope: Scope, rid: str, status: int, elapsed: float, index_reads: list[str]
    ) -> None:
        # A client picks the method: anything unusual is one label, not a new series each.
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        # The route template, never the raw path or query: both can carry PHI.
        route = getattr(scope.get("route"), "path", "unmatched")
        access_log()(method, route, status, round(elapsed * 1000, 1))
        runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
        if runtime is None:
            return
        labels = (method, route, f"{status // 100}xx")
        latency = self._latency.get(labels)
        if latency is None:  # bounded: known methods x route templates x status classes
            latency = self._latency[labels] = runtime.metrics.request_latency.labels(*labels)
        latency.observe(elapsed)
        state = scope.get("state", {})
        action = state.get("audit_action")
        principal = state.get("principal")
        route_name = f"{method} {route}"
        audited = action is not None and principal is not None
        if audited:
            runtime.audit.write(
                AuditEvent(
                    client_id=principal.client_id,
                    tenant=principal.tenant,
                    action=action,
                    outcome=_outcome(status, bool(state.get("audit_partial", False))),
                    request_id=rid,
                    patient_ids=state.get("audit_patients", ()),
                    sources=state.get("audit_sources", ()),
                    route=route_name,
                    reason=state.get("audit_reason"),
                )
            )
        if index_reads and principal is not None:
            runtime.audit.write(
                AuditEvent(
                    client_id=principal.client_id,
                    tenant=principal.tenant,
                    action="patient.index.read",
                    outcome="success",
                    request_id=rid,
                    patient_ids=tuple(index_reads),
                    route=route_name,
                )
            )
        if not audited and status in (401, 403) and route.startswith("/v1/"):
            # A refused attempt at patient data is what an access log is for (HIPAA access
            # reports, IHE BALP record failures too): who tried, where, and why not.
            runtime.audit.write(
                AuditEvent(
                    client_id=principal.client_id if principal is not None else "unknown",
                    tenant=principal.tenant if principal is not None else "unknown",
                    action="access.denied",
                    outcome="denied",
                    request_id=rid,
                    route=route_name,
                    reason=state.get("denied") or f"http {status}",
                )
            )


class ContainErrors:
    """The last line: an exception no handler took answers a bare 500 problem here.

    Starlette's own server-error middleware re-raises after answering, and the server then
    logs the whole traceback, source lines and install paths included; an exception's
    message may quote PHI. Here only the exception's type and its frames' names are logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:  # noqa: BLE001 - the outermost boundary: answer, never crash
            log.error("unhandled_error", error=type(exc).__name__, frames=frame_names(exc)[-8:])
            if not started:
                response = problem_response(
                    500,
                    "internal_error",
                    "Internal error",
                    "an unexpected error occurred; quote the request id",
                    request_id=request_id(),
                )
                await response(scope, receive, send)


def frame_names(exc: BaseException) -> list[str]:
    """``module.function`` of each frame: where, never what (no source lines, no paths)."""
    return [
        f"{PurePath(f.filename).stem}.{f.name}" for f in traceback.extract_tb(exc.__traceback__)
    ]


def install_middleware(app: FastAPI) -> None:
    app.add_middleware(Observe)
    # Added after Observe, so outside it: Observe still logs the 500 it answers.
    app.add_middleware(ContainErrors)
