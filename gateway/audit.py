"""Audit trail of PHI access: one JSON line per event, on its own stream.

Kept apart from the application log on purpose: the audit stream holds who
touched which patient (gateway ids only, no demographics) and is retained
and protected differently from operational logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import orjson

from .deferred_flush import LoopFlushedStream
from .timestamps import utc_now_iso

__all__ = ["AuditEvent", "AuditSink", "FileAuditSink", "MemoryAuditSink"]

Outcome = Literal["success", "denied", "not_found", "error", "partial"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    client_id: str
    tenant: str
    action: str
    outcome: Outcome
    request_id: str
    patient_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    # "METHOD /route/{template}": never the path itself (it can carry ids) or the query.
    route: str = ""
    # Why a request was refused (a stable code and words with no PHI), for denials.
    reason: str | None = None
    at: str = field(default_factory=utc_now_iso)


class AuditSink(Protocol):
    def write(self, event: AuditEvent) -> None: ...


class FileAuditSink:
    """Appends JSON lines to a file, flushed at the end of the event loop's pass (at once
    outside a loop): under load one write call carries the events of many requests."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = LoopFlushedStream(path.open("a", encoding="utf-8"))

    def write(self, event: AuditEvent) -> None:
        self._file.write(orjson.dumps(event).decode() + "\n")  # orjson reads dataclasses
        self._file.flush()

    def flush(self) -> None:
        self._file.flush_now()

    def close(self) -> None:
        self._file.close()


class MemoryAuditSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def write(self, event: AuditEvent) -> None:
        self.events.append(event)
