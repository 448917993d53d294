"""The hospital's prices for the visits a desk books: visit types, their billing codes and
each code's standard charges (gross, cash, negotiated per payer and plan).

``build_price_book`` is called once, by the composition root: it reads every price file,
applies the hand edits of the configuration, and either returns a complete
``PriceBook`` or raises ``ConfigError`` naming what is wrong; nothing is half loaded.

Looking a price up never guesses: a code the list doesn't have, a payer it has no rate
for, or two rows that disagree (two gross charges, two rates for one plan) come back as
a reason in words (``Priced.reason``), never as zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from mappers.model import Coding

from ..billing_config import BillingConfig, ChargeEdit, VisitItem, VisitType
from ..settings import ConfigError, PayerConfig
from .money import cents, usd
from .price_file import FileCharge, FileRate, read_price_file

__all__ = [
    "ItemPrices",
    "PriceBook",
    "Priced",
    "Rate",
    "build_price_book",
    "item_label",
]

_Key = tuple[str, str, tuple[str, ...]]  # (code type, code, modifiers)


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip()).casefold()


def item_label(item: VisitItem) -> str:
    """``CPT 99213`` (``x2``, ``-25``): a billing code as the words show it."""
    label = f"{item.code_type} {item.code}"
    if item.modifiers:
        label += "-" + "-".join(item.modifiers)
    return label


@dataclass(frozen=True, slots=True)
class Rate:
    """A negotiated rate, with the configured payer it belongs to (None: a payer the
    tenant doesn't configure)."""

    payer_id: str | None
    payer_name: str
    plan_name: str | None
    dollar: Decimal | None
    percentage: Decimal | None
    algorithm: str | None
    estimated: Decimal | None
    origin: str


@dataclass(frozen=True, slots=True)
class Priced:
    """An amount, or why there is none."""

    amount: Decimal | None
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ItemPrices:
    """What the price list says about one billing code in one setting."""

    item: VisitItem
    description: str | None
    gross: Priced
    cash: Priced
    rates: tuple[Rate, ...]
    known: bool  # the list has the code at all

    def negotiated(self, payer_id: str, payer_name: str, plan: str | None) -> Priced:
        """The rate for ``payer_id`` (narrowed to ``plan`` when the list names it),
        for all units of the item."""
        label = item_label(self.item)
        if not self.known:
            return Priced(None, f"{label} is not in the hospital's price list")
        mine = [r for r in self.rates if r.payer_id == payer_id]
        if not mine:
            return Priced(
                None, f"the price list has no negotiated rate for {payer_name} for {label}"
            )
        if plan:
            same_plan = [r for r in mine if _norm(r.plan_name) == _norm(plan)]
            mine = same_plan or mine
        amounts: set[Decimal] = set()
        notes: set[str] = set()
        for rate in mine:
            amount, note = self._amount(rate)
            if amount is None:
                return Priced(
                    None,
                    f"{payer_name}'s rate for {label} is an algorithm, not an amount "
                    f"({(rate.algorithm or '')[:120]})",
                )
            amounts.add(amount)
            if note:
                notes.add(note)
        if len(amounts) > 1:
            plans = sorted({r.plan_name or "(no plan)" for r in mine})
            return Priced(
                None,
                f"the price list has {len(amounts)} different rates for {payer_name} for "
                f"{label} (plans: {', '.join(plans)}); which one applies can't be told",
            )
        unit = amounts.pop()
        return Priced(cents(unit * self.item.units), note="; ".join(sorted(notes)) or None)

    def _amount(self, rate: Rate) -> tuple[Decimal | None, str | None]:
        if rate.dollar is not None:
            return rate.dollar, None
        if rate.percentage is not None and self.gross.amount is not None:
            unit_gross = self.gross.amount / self.item.units
            return (
                cents(unit_gross * rate.percentage / 100),
                f"{rate.percentage}% of the gross charge {usd(unit_gross)}",
            )
        if rate.estimated is not None:
            return rate.estimated, "the hospital's estimated allowed amount"
        return None, None


@dataclass
class _Entry:
    setting: str
    description: str
    gross: Decimal | None
    cash: Decimal | None
    rates: list[Rate] = field(default_factory=list)


class PriceBook:
    """Visit types and the standard charges of their codes, for one tenant."""

    def __init__(
        self,
        visit_types: Sequence[VisitType],
        entries: Mapping[_Key, Sequence[_Entry]],
        edits: Mapping[_Key, Sequence[ChargeEdit]],
        payers: Mapping[str, str],
        unmatched_payers: Iterable[str] = (),
    ) -> None:
        self.visit_types = list(visit_types)
        self._entries = {k: list(v) for k, v in entries.items()}
        self._edits = {k: list(v) for k, v in edits.items()}
        self._payer_names = dict(payers)  # configured payer id -> display name
        # Payer names in the files that no configured payer claims (for the words).
        self.unmatched_payers = sorted(set(unmatched_payers))

    @property
    def codes(self) -> int:
        return len(self._entries.keys() | self._edits.keys())

    def visit(self, codings: Iterable[Coding]) -> VisitType | None:
        """The configured visit type one of ``codings`` names (system-specific entries
        first, then entries for any system)."""
        listed = list(codings)
        for exact in (True, False):
            for coding in listed:
                for visit in self.visit_types:
                    for code in visit.codes:
                        if code.code != coding.code:
                            continue
                        if (exact and code.system is not None and code.system == coding.system) or (
                            not exact and code.system is None
                        ):
                            return visit
        return None

    def visit_by_id(self, visit_id: str) -> VisitType | None:
        return next((v for v in self.visit_types if v.id == visit_id), None)

    def prices(self, item: VisitItem, setting: str) -> ItemPrices:
        key: _Key = (item.code_type, item.code, tuple(item.modifiers))
        entries = [e for e in self._entries.get(key, ()) if e.setting in (setting, "both")]
        edits = [e for e in self._edits.get(key, ()) if e.setting in (setting, "both")]
        label = item_label(item)
        gross = _one(
            label, "gross charge", [e.gross for e in entries], [e.gross for e in edits], item
        )
        cash = _one(label, "cash price", [e.cash for e in entries], [e.cash for e in edits], item)
        edited_payers = {n.payer for e in edits for n in e.negotiated}
        rates = [r for e in entries for r in e.rates if r.payer_id not in edited_payers]
        for edit in edits:
            for n in edit.negotiated:
                rates.append(
                    Rate(
                        n.payer,
                        self._payer_names.get(n.payer, n.payer),
                        n.plan,
                        n.amount,
                        n.percentage,
                        None,
                        None,
                        "configuration (billing.charges)",
                    )
                )
        description = next(
            (e.description for e in edits if e.description),
            next((e.description for e in entries), None),
        )
        return ItemPrices(
            item=item,
            description=description,
            gross=gross,
            cash=cash,
            rates=tuple(rates),
            known=bool(entries or edits),
        )


def _one(
    label: str,
    what: str,
    listed: list[Decimal | None],
    edited: list[Decimal | None],
    item: VisitItem,
) -> Priced:
    """The one amount the list gives (an edit wins), for all units; or why not."""
    for pool in ([a for a in edited if a is not None], [a for a in listed if a is not None]):
        distinct = set(pool)
        if len(distinct) == 1:
            return Priced(cents(distinct.pop() * item.units))
        if len(distinct) > 1:
            return Priced(
                None,
                f"the price list has {len(distinct)} different {what}s for {label}; "
                "which one applies can't be told",
            )
    return Priced(None, f"the price list has no {what} for {label}")


def _payer_resolver(billing: BillingConfig, payers: Sequence[PayerConfig]) -> Mapping[str, str]:
    """Normalised price-file payer name -> configured payer id."""
    out: dict[str, str] = {}
    for payer in payers:
        out.setdefault(_norm(payer.name), payer.id)
    for payer_id, names in billing.payer_names.items():
        for name in names:
            out[_norm(name)] = payer_id
    return out


def build_price_book(billing: BillingConfig, payers: Sequence[PayerConfig]) -> PriceBook:
    """Every price file read and the hand edits applied; ``ConfigError`` otherwise."""
    wanted = frozenset(
        (item.code_type, item.code) for visit in billing.visit_types for item in visit.items
    ) | frozenset((c.code_type, c.code) for c in billing.charges)
    resolve = _payer_resolver(billing, payers)
    entries: dict[_Key, list[_Entry]] = {}
    edits: dict[_Key, list[ChargeEdit]] = {}
    unmatched: set[str] = set()
    file_edits: list[ChargeEdit] = []
    for config in billing.price_files:
        contents = read_price_file(config, wanted)
        file_edits.extend(contents.edits)
        for charge in contents.charges:
            _index(charge, entries, resolve, unmatched)
    for edit in [*file_edits, *billing.charges]:
        key: _Key = (edit.code_type, edit.code, tuple(edit.modifiers))
        edits.setdefault(key, []).append(edit)
    # A later edit of the same code and setting replaces an earlier one, field by field.
    merged = {key: _merge_edits(found) for key, found in edits.items()}
    for visit in billing.visit_types:
        for item in visit.items:
            if len(set(item.modifiers)) != len(item.modifiers):
                raise ConfigError(
                    f"billing.visit_types {visit.id}: {item_label(item)} repeats a modifier"
                )
    return PriceBook(
        billing.visit_types,
        entries,
        merged,
        {p.id: p.name for p in payers},
        unmatched,
    )


def _index(
    charge: FileCharge,
    entries: dict[_Key, list[_Entry]],
    resolve: Mapping[str, str],
    unmatched: set[str],
) -> None:
    rates: list[Rate] = []
    for rate in charge.rates:
        payer_id = resolve.get(_norm(rate.payer_name))
        if payer_id is None:
            unmatched.add(rate.payer_name)
        rates.append(_rate(rate, payer_id, charge.origin))
    for code_type, code in charge.codes:
        entries.setdefault((code_type, code, charge.modifiers), []).append(
            _Entry(charge.setting, charge.description, charge.gross, charge.cash, rates)
        )


def _rate(rate: FileRate, payer_id: str | None, origin: str) -> Rate:
    return Rate(
        payer_id,
        rate.payer_name,
        rate.plan_name,
        rate.dollar,
        rate.percentage,
        rate.algorithm,
        rate.estimated,
        origin,
    )


def _merge_edits(found: list[ChargeEdit]) -> list[ChargeEdit]:
    by_setting: dict[str, ChargeEdit] = {}
    for edit in found:
        before = by_setting.get(edit.setting)
        if before is None:
            by_setting[edit.setting] = edit
            continue
        payers = {n.payer for n in edit.negotiated}
        by_setting[edit.setting] = edit.model_copy(
            update={
                "description": edit.description or before.description,
                "gross": edit.gross if edit.gross is not None else before.gross,
                "cash": edit.cash if edit.cash is not None else before.cash,
                "negotiated": [
                    *(n for n in before.negotiated if n.payer not in payers),
                    *edit.negotiated,
                ],
            }
        )
    return list(by_setting.values())
