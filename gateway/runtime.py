"""The composition root's product (``bootstrap``): everything a request needs, built once
per app and handed to routers through ``deps``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from saq import Worker

from connectors import CircuitBreaker

from .audit import AuditSink
from .batch_queue import BatchQueue, batch_worker
from .cache import Cache, CacheKeys
from .client_limit import ClientSlots
from .console.runtime import ConsoleRuntime
from .events import EventLog, StreamSlots
from .identity.build_job import index_build_function, index_cron_job
from .identity.index import PersonIndex
from .metrics import GatewayMetrics
from .security import Authenticator
from .services.booking import BookingPorts
from .services.coverage import CoverageDesk
from .services.coverage_batch import item_function
from .services.directory import Directory
from .services.eligibility_cache import EligibilityStore
from .services.money_desk import MoneyDesk
from .services.patient_records import RecordPorts
from .services.slots import SlotSearch
from .services.waitlist import OfferDesk
from .services.watch import SourceWatch
from .settings import Settings
from .sources import TenantSources

__all__ = ["BatchRuntime", "CoverageRuntime", "Runtime"]


@dataclass(frozen=True)
class BatchRuntime:
    """Batch verification: its queue, and a desk per tenant whose payers are paced as batch
    work (``gateway.pacing``)."""

    queue: BatchQueue
    desks: dict[str, CoverageDesk]
    tries: int
    heartbeat: int
    concurrency: int
    # The person index of each tenant, built by a job on this queue (on demand, and on
    # ``index_cron`` when set).
    indexes: dict[str, PersonIndex] = field(default_factory=dict)
    index_cron: str | None = None

    def worker(self, name: str = "") -> Worker[Any]:
        """A saq worker for the batch's items and the person index's builds (in `frontdesk
        worker`, or in the API)."""
        function = item_function(self.queue.store, self.desks, heartbeat=self.heartbeat)
        build = index_build_function(self.indexes) if self.indexes else None
        return batch_worker(
            self.queue,
            function,
            concurrency=self.concurrency,
            name=name,
            extra=[build] if build else [],
            cron=[index_cron_job(build, self.index_cron)] if build and self.index_cron else [],
        )


@dataclass(frozen=True)
class CoverageRuntime:
    """The coverage check's ports: a desk per tenant, the shared store, and batch
    verification (None without Redis: the queue lives there)."""

    desks: dict[str, CoverageDesk]
    store: EligibilityStore
    batch: BatchRuntime | None
    # Each tenant's payers with a real-time service, by payer id: their circuit breakers.
    payer_breakers: dict[str, dict[str, CircuitBreaker]] = field(default_factory=dict)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    authenticator: Authenticator
    cache: Cache
    keys: CacheKeys
    audit: AuditSink
    metrics: GatewayMetrics
    tenants: dict[str, TenantSources]
    booking: dict[str, BookingPorts]
    directory: dict[str, Directory]
    records: dict[str, RecordPorts]
    slots: dict[str, SlotSearch]
    coverage: CoverageRuntime
    client_slots: ClientSlots
    events: EventLog
    event_streams: StreamSlots
    waitlists: dict[str, OfferDesk]
    # (tenant, source) -> its watcher; the hook endpoint pokes it.
    watches: dict[tuple[str, str], SourceWatch]
    # Estimates, what to collect, good-faith estimates, balances: per tenant.
    money: dict[str, MoneyDesk]
    # The desk console's sessions, accounts and templates.
    console: ConsoleRuntime | None = None
    # The person index per tenant (empty when settings.identity.enabled is off).
    identity: dict[str, PersonIndex] = field(default_factory=dict)

    @property
    def sandbox(self) -> bool:
        return self.settings.sandbox
