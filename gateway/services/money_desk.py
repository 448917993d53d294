"""The ports of one tenant's money questions: prices, coverage answers, good-faith
estimates and its EHRs; built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from ..settings import TenantConfig
from ..sources import TenantSources
from .business_days import BusinessCalendar
from .coverage import CoverageDesk
from .eligibility_cache import EligibilityStore
from .gfe_store import GfeStore
from .prices import PriceBook

__all__ = ["MoneyDesk"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MoneyDesk:
    tenant: TenantConfig
    sources: TenantSources
    coverage: CoverageDesk
    store: EligibilityStore
    book: PriceBook
    gfes: GfeStore
    calendar: BusinessCalendar
    deadline_seconds: float
    wall: Callable[[], datetime] = _utcnow
    # Counts what bookings did about good-faith estimates (opened, not_required, insured,
    # failed): a metric, by outcome only.
    on_gfe: Callable[[str], None] = lambda outcome: None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.time_zone)

    def today(self) -> date:
        return self.wall().astimezone(self.zone).date()
