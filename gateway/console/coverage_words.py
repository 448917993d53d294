"""A coverage answer in the words a desk says to the patient: covered or not, by whom,
what this visit costs them (copay, coinsurance), the deductible and what is left of it,
in or out of network, and what to do when the payer refused the question."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from mappers.model import Benefit, EligibilityResult

__all__ = ["DeskAnswer", "in_desk_words"]

_REMAINING = frozenset({"29", "33"})
_YEAR = frozenset({"21", "22", "23", "25"})


@dataclass(frozen=True)
class DeskAnswer:
    tone: str  # active | inactive | needs_attention | unknown | self_pay
    headline: str
    payer: str | None
    plan: str | None
    member_id: str | None
    group: str | None
    period: str | None
    network: str | None
    copay: Decimal | None
    coinsurance: Decimal | None
    deductible: Decimal | None
    deductible_left: Decimal | None
    out_of_pocket: Decimal | None
    out_of_pocket_left: Decimal | None
    actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked_at: str = ""
    cached: bool = False
    stale: bool = False


def _pick(benefits: Iterable[Benefit], service_type: str) -> list[Benefit]:
    """The benefits for the visit's service type, else the plan's general ones (30),
    in-network first."""
    items = list(benefits)
    for wanted in (service_type, "30", None):
        chosen = [b for b in items if b.service_type == wanted]
        if chosen:
            return sorted(
                chosen, key=lambda b: (b.in_network is not True, b.coverage_level != "IND")
            )
    return sorted(items, key=lambda b: b.in_network is not True)


def _first(
    benefits: list[Benefit], attr: str, periods: frozenset[str] | None = None
) -> Decimal | None:
    for benefit in benefits:
        value = getattr(benefit, attr)
        if value is None:
            continue
        if periods is not None and benefit.time_period not in periods:
            continue
        return value  # type: ignore[no-any-return]
    return None


def in_desk_words(result: EligibilityResult, service_type: str) -> DeskAnswer:
    by_kind: dict[str, list[Benefit]] = {}
    for benefit in result.benefits:
        by_kind.setdefault(benefit.kind, []).append(benefit)
    copays = _pick(by_kind.get("copay", []), service_type)
    coins = _pick(by_kind.get("coinsurance", []), service_type)
    deductibles = _pick(by_kind.get("deductible", []), "30")
    oop = _pick(by_kind.get("out_of_pocket", []), "30")
    flags = {b.in_network for b in (*copays[:1], *coins[:1]) if b.in_network is not None}
    network = None
    if flags == {True}:
        network = "In network"
    elif flags == {False}:
        network = "Out of network: the patient may pay more"
    actions = [
        f"{e.description}" + (f" ({e.follow_up})" if e.follow_up else "") for e in result.errors
    ]
    if result.self_pay:
        tone, headline = "self_pay", "Self-pay: no insurance on file for this date"
    elif result.stale:
        tone = "needs_attention"
        headline = f"Last known: {result.status} (the payer is not answering now)"
    elif result.status == "active":
        tone, headline = "active", "Covered: the plan is active on the date of service"
    elif result.status == "inactive":
        tone, headline = "inactive", "Not covered: the plan is not active on the date of service"
        actions.append("ask for current insurance, or offer self-pay")
    elif result.status == "error":
        tone, headline = "needs_attention", "The payer could not answer the question"
    else:
        tone, headline = "unknown", "Not verified with the payer"
    period = None
    if result.coverage_start or result.coverage_end:
        period = f"{result.coverage_start or '?'} to {result.coverage_end or 'open'}"
    return DeskAnswer(
        tone=tone,
        headline=headline,
        payer=result.payer_name or result.payer_id,
        plan=result.plan_name,
        member_id=result.member_id,
        group=result.group_number,
        period=period,
        network=network,
        copay=_first(copays, "amount"),
        coinsurance=_first(coins, "percent"),
        deductible=_first(deductibles, "amount", _YEAR) or _first(deductibles, "amount"),
        deductible_left=_first(deductibles, "amount", _REMAINING),
        out_of_pocket=_first(oop, "amount", _YEAR),
        out_of_pocket_left=_first(oop, "amount", _REMAINING),
        actions=actions,
        notes=list(result.messages),
        checked_at=result.checked_at.isoformat(),
        cached=result.cached,
        stale=result.stale,
    )
