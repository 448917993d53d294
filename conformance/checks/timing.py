"""Latency per interaction, from the recorder. Informational: never fails."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.checks import registrar
from conformance.context import RunContext
from conformance.model import Check, Exchange, Severity

__all__ = ["CHECKS", "Latency", "latencies"]

CHECKS: list[Check] = []
check = registrar(CHECKS, "timing")


@dataclass(frozen=True)
class Latency:
    interaction: str
    count: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def _percentile(ordered: list[float], p: float) -> float:
    # Nearest rank: a value that was actually observed.
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def latencies(exchanges: list[Exchange]) -> list[Latency]:
    groups: dict[str, list[float]] = {}
    for e in exchanges:
        if e.status is not None:
            groups.setdefault(e.interaction, []).append(e.elapsed_ms)
    out = []
    for interaction, values in sorted(groups.items()):
        ordered = sorted(values)

        def pct(p: float, ordered: list[float] = ordered) -> float:
            return round(_percentile(ordered, p), 1)

        out.append(
            Latency(
                interaction,
                len(ordered),
                p50_ms=pct(50),
                p90_ms=pct(90),
                p95_ms=pct(95),
                p99_ms=pct(99),
                max_ms=round(ordered[-1], 1),
            )
        )
    return out


@check(
    "timing.latency",
    "Latency percentiles per interaction (informational)",
    Severity.INFO,
    "http.html",
)
async def latency(ctx: RunContext) -> list[str]:
    return [
        f"{t.interaction}: n={t.count} p50={t.p50_ms}ms p95={t.p95_ms}ms max={t.max_ms}ms"
        for t in latencies(ctx.recorder.exchanges)
    ]
