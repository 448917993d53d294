"""Prometheus metrics of one gateway app (its own registry: no process globals).

Labels are configuration ids, routes and status classes — never PHI.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_latency = Histogram(
            "frontdesk_request_seconds",
            "API request latency by route",
            ["method", "route", "status_class"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "frontdesk_upstream_seconds",
            "Upstream call latency by source",
            ["source", "interaction", "resource_type", "status_class"],
            registry=self.registry,
        )
        self.cache_requests = Counter(
            "frontdesk_cache_requests_total",
            "Cache lookups by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.cache_errors = Counter(
            "frontdesk_cache_errors_total",
            "Cache operations that failed because Redis was unavailable",
            ["op"],
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "frontdesk_breaker_open",
            "1 when the source's circuit breaker is open, 0.5 half-open, 0 closed",
            ["source"],
            registry=self.registry,
        )
        self.bookings = Counter(
            "frontdesk_bookings_total",
            "Booking attempts by outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.gfe_bookings = Counter(
            "frontdesk_gfe_bookings_total",
            "Bookings by what they did about a good-faith estimate "
            "(open, not_required, insured, failed)",
            ["outcome"],
            registry=self.registry,
        )
