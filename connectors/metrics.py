"""A hook called once per HTTP attempt; the gateway plugs Prometheus in behind it.

Labels are low-cardinality and PHI-free: source id, FHIR interaction, resource type and
status class — never ids, query values or bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["MetricsHook", "NullMetrics", "RequestObserved", "status_class"]


@dataclass(frozen=True)
class RequestObserved:
    source: str
    interaction: str  # read, vread, search, create, update, patch, delete, transaction, operation
    resource_type: str  # "" for system-level calls
    status_class: str  # "2xx".."5xx", or "error" when no response arrived
    latency: float  # seconds, this attempt only
    attempt: int  # 1 for the first try


class MetricsHook(Protocol):
    def request_observed(self, event: RequestObserved) -> None: ...


class NullMetrics:
    def request_observed(self, event: RequestObserved) -> None:
        return None


def status_class(status: int | None) -> str:
    return "error" if status is None else f"{status // 100}xx"
