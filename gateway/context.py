"""Per-request context: the request id, bound into logs and audit events."""

from __future__ import annotations

import secrets
from contextvars import ContextVar

__all__ = ["new_request_id", "request_id"]

_request_id: ContextVar[str] = ContextVar("frontdesk_request_id", default="-")


def new_request_id(incoming: str | None) -> str:
    # Accept a caller's id only when it is short and plain, so logs can't be injected.
    if incoming and len(incoming) <= 64 and incoming.replace("-", "").isalnum():
        value = incoming
    else:
        value = secrets.token_hex(16)
    _request_id.set(value)
    return value


def request_id() -> str:
    return _request_id.get()
