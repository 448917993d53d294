"""X12 271 (005010X279A1) → one EligibilityResult per subscriber and dependent.

Inbound lenient: what cannot be used becomes a warning naming the segment
position and element; only input that is not a 271 interchange at all, or is
cut short, raises ``MappingError``. No other exception escapes.

Loops read:
- 2000A/2100A payer (HL 20): NM1*PR name and id, AAA.
- 2000B/2100B provider (HL 21): AAA only.
- 2000C/2100C subscriber (HL 22) and 2000D/2100D dependent (HL 23): TRN (our
  trace echoed as TRN01=2), NM1 member id (MI), REF plan/group, DTP coverage
  dates, AAA; then 2110C/D benefits: EB, with its MSG, REF, DTP and AAA.
- 2120C/D (LS … LE): benefit-related entities (a PCP, another payer); skipped,
  so their NM1 never overwrites the payer or the member.

Results: AAA at the payer or provider level applies to every result; when
there is no subscriber loop at all, one result carries those errors. A
subscriber loop that only parents dependents (no EB, no AAA of its own) gives
no result of its own; its dependents inherit its member id, plan and group.

Status: ``active`` if any EB01 is 1-5, else ``inactive`` if any is 6-8, else
``error`` if there are AAA rejections and no EB, else ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal, TypeVar

from ..errors import MappingError
from ..model import Benefit, EligibilityError, EligibilityResult, EligibilityStatus
from . import codes
from .envelope import Transaction, split_transactions
from .tokenizer import Segment, tokenize
from .values import parse_amount, parse_date_range, parse_percent, parse_stamp

__all__ = ["parse_271"]

T = TypeVar("T")
Level = Literal["payer", "provider", "subscriber", "dependent", "other"]
_LEVELS: dict[str, Level] = {"20": "payer", "21": "provider", "22": "subscriber", "23": "dependent"}
_YES_NO = {"Y": True, "N": False}
_GROUP_QUALIFIERS = ("6P", "1L", "IG")


@dataclass(slots=True, eq=False)
class _Party:
    """One 2000C subscriber or 2000D dependent loop, as read so far."""

    level: Literal["subscriber", "dependent"]
    parent: _Party | None
    member_id: str | None = None
    trace: str | None = None
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)
    benefit_refs: dict[str, tuple[str, str]] = field(default_factory=dict)
    dates: dict[str, tuple[date, date | None]] = field(default_factory=dict)
    benefit_dates: dict[str, tuple[date, date | None]] = field(default_factory=dict)
    benefits: list[Benefit] = field(default_factory=list)
    eb_codes: list[str] = field(default_factory=list)
    plan_from_eb: str | None = None
    errors: list[EligibilityError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dependents: int = 0


def parse_271(raw: str, *, now: datetime | None = None) -> list[EligibilityResult]:
    """Every subscriber/dependent answer in a 271 interchange.

    ``now`` (aware) is ``checked_at`` when a BHT carries no usable date.
    """
    if not isinstance(raw, str):
        raise MappingError("segment 1", "271 input is not text")
    try:
        segments, _ = tokenize(raw)
        transactions = split_transactions(segments)
        fallback = now or datetime.now(UTC)
        results: list[EligibilityResult] = []
        for transaction in transactions:
            results.extend(_TransactionReader(transaction, fallback).read())
        return results
    except MappingError:
        raise
    except (ValueError, LookupError, ArithmeticError):
        # Defence in depth for a reader bug: never a raw exception, never a value in it.
        raise MappingError("interchange", "unreadable 271") from None


class _TransactionReader:
    def __init__(self, transaction: Transaction, fallback: datetime) -> None:
        self.segments = transaction.segments
        self.warnings = list(transaction.warnings)
        self.checked_at = fallback
        self.payer_name: str | None = None
        self.payer_id: str | None = None
        self.shared_errors: list[EligibilityError] = []
        self.parties: list[_Party] = []
        self.by_hl: dict[str, _Party] = {}
        self.level: Level = "other"
        self.party: _Party | None = None
        self.in_benefit = False
        self.in_entity = False
        self.current: list[Benefit] = []
        # Segments not listed (N3, N4, DMG, INS, PER, PRV, HSD, III, ...) carry nothing we map.
        self.handlers: dict[str, Callable[[Segment], None]] = {
            "BHT": self._on_bht,
            "HL": self._on_hl,
            "NM1": self._on_nm1,
            "TRN": self._on_trn,
            "REF": self._on_ref,
            "DTP": self._on_dtp,
            "AAA": self._on_aaa,
            "EB": self._on_eb,
            "MSG": self._on_msg,
            "LS": self._on_ls,
            "LE": self._on_le,
        }

    def read(self) -> list[EligibilityResult]:
        for seg in self.segments[1:-1]:
            self._segment(seg)
        if self.in_entity:
            self.warnings.append(f"{self.segments[-1].path}: LS loop not closed by LE")
        return self._results()

    # --- segment dispatch -------------------------------------------------

    def _segment(self, seg: Segment) -> None:
        if self.in_entity:
            # 2120 loop: a related entity, not the member; only LE (or a new HL) ends it.
            if seg.tag == "LE":
                self.in_entity = False
                return
            if seg.tag != "HL":
                return
            self.warnings.append(f"{seg.path}: LS loop not closed by LE")
            self.in_entity = False
        handler = self.handlers.get(seg.tag)
        if handler is not None:
            handler(seg)

    def _on_bht(self, seg: Segment) -> None:
        stamp = parse_stamp(seg.get(4), seg.get(5))
        if stamp is None:
            self.warnings.append(f"{seg.path}: BHT04/BHT05 is not a valid date and time")
        else:
            self.checked_at = stamp

    def _on_hl(self, seg: Segment) -> None:
        self.in_benefit, self.current, self.party = False, [], None
        self.level = _LEVELS.get(seg.get(3), "other")
        if self.level == "other":
            self.warnings.append(f"{seg.path}: HL03 is not a 271 hierarchical level")
            return
        level = self.level
        if level != "subscriber" and level != "dependent":  # two tests narrow the Literal
            return
        parent = self.by_hl.get(seg.get(2)) if level == "dependent" else None
        if level == "dependent" and parent is None:
            # HL02 should name the subscriber; fall back on the last one read.
            parent = next((p for p in reversed(self.parties) if p.level == "subscriber"), None)
        if parent is not None:
            parent.dependents += 1
        party = _Party(level, parent)
        self.parties.append(party)
        self.by_hl[seg.get(1)] = party
        self.party = party

    def _on_nm1(self, seg: Segment) -> None:
        if self.level == "payer" and not self.in_benefit:
            self.payer_name = seg.get(3) or self.payer_name
            self.payer_id = seg.get(9) or self.payer_id
        elif (
            self.party is not None
            and not self.in_benefit
            and seg.get(1) in ("IL", "03")
            and seg.get(8) in ("MI", "II")
            and seg.get(9)
        ):
            self.party.member_id = seg.get(9)

    def _on_trn(self, seg: Segment) -> None:
        # TRN01=2 echoes the 270's trace; TRN01=1 is the payer's own.
        party = self.party
        if party is not None and seg.get(2) and (party.trace is None or seg.get(1) == "2"):
            party.trace = seg.get(2)

    def _on_ref(self, seg: Segment) -> None:
        if self.party is None or not seg.get(1) or not (seg.get(2) or seg.get(3)):
            return
        target = self.party.benefit_refs if self.in_benefit else self.party.refs
        target.setdefault(seg.get(1), (seg.get(2), seg.get(3)))

    def _on_dtp(self, seg: Segment) -> None:
        if self.party is None:
            return
        parsed = parse_date_range(seg.get(2), seg.get(3))
        if parsed is None:
            self.party.warnings.append(f"{seg.path}: DTP03 is not a valid {seg.get(2) or 'date'}")
            return
        target = self.party.benefit_dates if self.in_benefit else self.party.dates
        target.setdefault(seg.get(1), parsed)

    def _on_aaa(self, seg: Segment) -> None:
        reason, action = seg.get(3), seg.get(4)
        if not reason:
            self.warnings.append(f"{seg.path}: AAA03 reject reason missing")
        error = EligibilityError(
            code=reason or "unknown",
            description=codes.reject_reason_words(reason),
            follow_up=codes.follow_up_words(action),
            loop=self.level if self.level != "other" else "request",
        )
        if self.party is not None:
            self.party.errors.append(error)
        else:
            self.shared_errors.append(error)

    def _on_eb(self, seg: Segment) -> None:
        if self.party is None:
            self.warnings.append(f"{seg.path}: EB outside a subscriber or dependent loop")
            return
        self.in_benefit = True
        self.current = []
        eb01 = seg.get(1)
        if not eb01:
            self.party.warnings.append(f"{seg.path}: EB01 missing; benefit skipped")
            return
        self.party.eb_codes.append(eb01)
        if eb01 in codes.ACTIVE_CODES and self.party.plan_from_eb is None and seg.get(5):
            self.party.plan_from_eb = seg.get(5)
        template = _benefit(seg, self.party.warnings)
        service_types: list[str | None] = [*seg.repeats(3)] or [None]
        for service_type in service_types:
            # One Benefit per EB03 repetition, so "copay for 98" is a plain lookup.
            benefit = template.model_copy(
                update={
                    "service_type": service_type,
                    "service_type_display": codes.SERVICE_TYPES.get(service_type or ""),
                },
                deep=True,
            )
            self.current.append(benefit)
            self.party.benefits.append(benefit)

    def _on_msg(self, seg: Segment) -> None:
        if not self.current:
            self.warnings.append(f"{seg.path}: MSG without a preceding EB")
            return
        if text := seg.get(1):
            for benefit in self.current:
                benefit.messages.append(text)

    def _on_ls(self, seg: Segment) -> None:
        self.in_entity = True

    def _on_le(self, seg: Segment) -> None:
        self.warnings.append(f"{seg.path}: LE without LS")

    # --- results ----------------------------------------------------------

    def _results(self) -> list[EligibilityResult]:
        parties = [
            p
            for p in self.parties
            if not (p.level == "subscriber" and p.dependents and not p.benefits and not p.errors)
        ]
        if not parties:
            if not self.shared_errors:
                self.warnings.append("transaction has no subscriber or dependent loop")
            return [self._result(None)]
        return [self._result(p) for p in parties]

    def _result(self, party: _Party | None) -> EligibilityResult:
        chain = _chain(party)
        errors = list(self.shared_errors)
        warnings = list(self.warnings)
        for p in reversed(chain):
            errors.extend(p.errors)
            warnings.extend(p.warnings)
        benefits = party.benefits if party else []
        refs = _merged(chain, lambda p: (p.refs, p.benefit_refs))
        # The member's own dates (2100, then 2110) before its subscriber's.
        dates = [d for p in chain for d in (p.dates, p.benefit_dates)]
        group = next((refs[q] for q in _GROUP_QUALIFIERS if q in refs), None)
        plan_ref = refs.get("18")
        plan_name = next((p.plan_from_eb for p in chain if p.plan_from_eb), None)
        if plan_name is None and plan_ref is not None:
            plan_name = plan_ref[1] or plan_ref[0]
        eb_codes = set(party.eb_codes) if party else set()
        return EligibilityResult(
            status=_status(eb_codes, errors),
            checked_at=self.checked_at,
            payer_id=self.payer_id,
            payer_name=self.payer_name,
            member_id=next((p.member_id for p in chain if p.member_id), None),
            plan_name=plan_name or None,
            group_number=(group[0] or None) if group else None,
            group_name=(group[1] or None) if group else None,
            coverage_start=_first_of(dates, _coverage_start),
            coverage_end=_first_of(dates, _coverage_end),
            benefits=benefits,
            errors=errors,
            origin="x12",
            trace_number=next((p.trace for p in chain if p.trace), None),
            warnings=warnings,
        )


def _benefit(seg: Segment, warnings: list[str]) -> Benefit:
    """The EB fields shared by every service type the EB lists."""
    eb01 = seg.get(1)
    amount = parse_amount(seg.get(7)) if seg.get(7) else None
    if seg.get(7) and amount is None:
        warnings.append(f"{seg.path}: EB07 is not a valid amount")
    percent, rescaled = parse_percent(seg.get(8)) if seg.get(8) else (None, False)
    if seg.get(8) and percent is None:
        warnings.append(f"{seg.path}: EB08 is not a valid percentage")
    if rescaled:
        warnings.append(f"{seg.path}: EB08 above 1 read as a whole percentage")
    quantity = parse_amount(seg.get(10)) if seg.get(10) else None
    if seg.get(10) and quantity is None:
        warnings.append(f"{seg.path}: EB10 is not a valid quantity")
    return Benefit(
        kind=codes.benefit_kind(eb01),
        coverage_level=seg.get(2) or None,
        description=seg.get(5) or codes.ELIGIBILITY_CODE_NAMES.get(eb01),
        time_period=seg.get(6) or None,
        amount=amount,
        percent=percent,
        quantity_qualifier=seg.get(9) or None,
        quantity=quantity,
        # EB11 U (unknown) and EB12 W (not applicable) stay None.
        authorization_required=_YES_NO.get(seg.get(11)),
        in_network=_YES_NO.get(seg.get(12)),
    )


def _chain(party: _Party | None) -> list[_Party]:
    """The party, then its parent subscriber (a dependent inherits what it lacks)."""
    chain: list[_Party] = []
    while party is not None and all(p is not party for p in chain):
        chain.append(party)
        party = party.parent
    return chain


def _merged(
    chain: list[_Party], pick: Callable[[_Party], tuple[dict[str, T], dict[str, T]]]
) -> dict[str, T]:
    # 2100 values win over 2110 ones; the party's own win over its parent's.
    merged: dict[str, T] = {}
    for party in chain:
        for values in pick(party):
            for key, value in values.items():
                merged.setdefault(key, value)
    return merged


def _coverage_start(dates: dict[str, tuple[date, date | None]]) -> date | None:
    # Eligibility dates are about this member; plan dates about the plan.
    for qualifier in ("356", "307", "346", "291"):
        if qualifier in dates:
            return dates[qualifier][0]
    return None


def _coverage_end(dates: dict[str, tuple[date, date | None]]) -> date | None:
    # An end is a 357/347 date, or the end of an RD8 range under another qualifier.
    for qualifier in ("357", "356", "307", "347", "346", "291"):
        if qualifier in dates:
            start, stop = dates[qualifier]
            if qualifier in ("357", "347"):
                return start
            if stop is not None:
                return stop
    return None


def _first_of(
    sources: list[dict[str, tuple[date, date | None]]],
    pick: Callable[[dict[str, tuple[date, date | None]]], date | None],
) -> date | None:
    return next((d for d in map(pick, sources) if d is not None), None)


def _status(eb_codes: set[str], errors: list[EligibilityError]) -> EligibilityStatus:
    if eb_codes & codes.ACTIVE_CODES:
        return "active"
    if eb_codes & codes.INACTIVE_CODES:
        return "inactive"
    if errors and not eb_codes:
        return "error"
    return "unknown"
