"""Audit trail of PHI access: one JSON line per event, on its own stream.

Kept apart from the application log on purpose: the audit stream holds who
touched which patient (gateway ids only, no demographics) and is retained
and protected differently from operational logs.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal, Protocol

__all__ = ["AuditEvent", "AuditSink", "FileAuditSink", "MemoryAuditSink"]

Outcome = Literal["success", "denied", "not_found", "error", "partial"]


@dataclass(frozen=True)
class AuditEvent:
    client_id: str
    tenant: str
    action: str
    outcome: Outcome
    request_id: str
    patient_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class AuditSink(Protocol):
    def write(self, event: AuditEvent) -> None: ...


class FileAuditSink:
    """Appends JSON lines to a file; one write per event, flushed, under a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, event: AuditEvent) -> None:
        line = json.dumps(asdict(event), separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


class MemoryAuditSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def write(self, event: AuditEvent) -> None:
        self.events.append(event)
