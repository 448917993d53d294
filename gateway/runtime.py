"""The composition root's product (``bootstrap``): everything a request needs, built once
per app and handed to routers through ``deps``."""

from __future__ import annotations

from dataclasses import dataclass, field

from .audit import AuditSink
from .cache import Cache, CacheKeys
from .client_limit import ClientSlots
from .identity.index import PersonIndex
from .jobs import JobQueue
from .metrics import GatewayMetrics
from .security import Authenticator
from .services.booking import BookingPorts
from .services.coverage import CoverageDesk
from .services.directory import Directory
from .services.eligibility_cache import EligibilityStore
from .services.patient_records import RecordPorts
from .services.slots import SlotSearch
from .settings import Settings
from .sources import TenantSources

__all__ = ["CoverageRuntime", "Runtime"]


@dataclass(frozen=True)
class CoverageRuntime:
    """The coverage check's ports: a desk per tenant, the shared store, the batch queue."""

    desks: dict[str, CoverageDesk]
    store: EligibilityStore
    queue: JobQueue


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
    # The person index per tenant (empty when settings.identity.enabled is off).
    identity: dict[str, PersonIndex] = field(default_factory=dict)

    @property
    def sandbox(self) -> bool:
        return self.settings.sandbox
