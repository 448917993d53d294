"""Per-request context: the request id, bound into logs and audit events."""

from __future__ import annotations

import secrets
from contextvars import ContextVar

__all__ = ["begin_index_reads", "new_request_id", "note_index_read", "request_id"]

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


# Records the person index read live during this request: written to the audit stream
# as their own event (an index read is a PHI access in its own right).
_index_reads: ContextVar[list[str] | None] = ContextVar("frontdesk_index_reads", default=None)


def begin_index_reads() -> list[str]:
    reads: list[str] = []
    _index_reads.set(reads)
    return reads


def note_index_read(ids: list[str]) -> None:
    reads = _index_reads.get()
    if reads is not None:
        reads.extend(i for i in ids if i not in reads)
