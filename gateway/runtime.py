"""The composition root's product: everything a request needs, built once per app."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from .audit import AuditSink
from .cache import Cache, CacheKeys
from .metrics import GatewayMetrics
from .security import Authenticator
from .services.coverage_setup import CoverageRuntime
from .settings import Settings
from .sources import TenantSources

__all__ = ["Runtime"]


@dataclass
class Runtime:
    settings: Settings
    authenticator: Authenticator
    cache: Cache
    keys: CacheKeys
    audit: AuditSink
    metrics: GatewayMetrics
    tenants: dict[str, TenantSources]
    http_clients: list[httpx.AsyncClient] = field(default_factory=list)
    sandbox: bool = False
    coverage: CoverageRuntime | None = None
