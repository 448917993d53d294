"""Cross-cutting HTTP concerns: request ids, metrics, audit events, body limits."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .audit import AuditEvent, Outcome
from .context import new_request_id
from .logs import access_log
from .problems import problem_response
from .runtime import Runtime
from .scope_headers import header

__all__ = ["BodyLimit", "Observe", "install_middleware", "note_audit"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def note_audit(
    request: Request,
    action: str,
    *,
    patient_ids: list[str] | None = None,
    sources: list[str] | None = None,
) -> None:
    """Mark this request as touching PHI; the audit middleware writes the event."""
    # Straight into the scope's state dict that Observe reads (request.state wraps it).
    state = request.scope.setdefault("state", {})
    state["audit_action"] = action
    state["audit_patients"] = tuple(patient_ids or ())
    state["audit_sources"] = tuple(sources or ())


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
            self._after(scope, rid, status, time.perf_counter() - started)

    def _after(self, scope: Scope, rid: str, status: int, elapsed: float) -> None:
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
        if action is not None and principal is not None:
            runtime.audit.write(
                AuditEvent(
                    client_id=principal.client_id,
                    tenant=principal.tenant,
                    action=action,
                    outcome=_outcome(status, bool(state.get("audit_partial", False))),
                    request_id=rid,
                    patient_ids=state.get("audit_patients", ()),
                    sources=state.get("audit_sources", ()),
                )
            )


def install_middleware(app: FastAPI) -> None:
    app.add_middleware(Observe)
