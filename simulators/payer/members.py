"""The payer's member file: who is covered, by which plan, and what a visit costs them.

A `Member` is one card (payer id + member id) with the names on file, birth date,
plan, group, coverage dates and plan economics (`PlanBenefits`). `MemberTable` looks
members up the ways a payer does: by member id, by name and birth date, and a
subscriber's dependents.

Economics for generated members come from a hash of payer id + member id
(`derive_benefits`), so every run of every process gives the same copays and
deductibles without storing them.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "Member",
    "MemberRow",
    "MemberTable",
    "PlanBenefits",
    "derive_benefits",
    "names_match",
    "normalize_id",
    "normalize_name",
]

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


@dataclass(frozen=True, slots=True)
class PlanBenefits:
    """In-network economics of one member's plan (USD; coinsurance as a fraction)."""

    copays: dict[str, Decimal]  # X12 service type code → copay per visit
    coinsurance: Decimal
    deductible_individual: Decimal
    deductible_individual_remaining: Decimal
    deductible_family: Decimal
    deductible_family_remaining: Decimal
    oop_individual: Decimal
    oop_individual_remaining: Decimal
    oop_family: Decimal
    oop_family_remaining: Decimal
    auth_required: frozenset[str] = frozenset()
    # PPO-style plans pay out of network (at higher cost); HMO/EPO/Medicaid do not.
    out_of_network: bool = True


@dataclass(frozen=True, slots=True)
class Member:
    payer_id: str
    member_id: str
    last_name: str
    first_name: str
    birth_date: date | None
    plan_name: str
    benefits: PlanBenefits
    group_number: str | None = None
    group_name: str | None = None
    gender: str | None = None  # administrative gender: male, female, other, unknown
    coverage_start: date = date(2000, 1, 1)
    coverage_end: date | None = None
    # Terminated by the payer (Coverage.status cancelled): inactive whatever the dates.
    terminated: bool = False
    # The subscriber's member id when this member is covered as a dependent.
    subscriber_id: str | None = None
    # Other (last, first) spellings the payer accepts, e.g. the same card in two EHRs.
    aliases: tuple[tuple[str, str], ...] = ()
    # A scenario member for which the payer always answers this AAA reject reason.
    reject_reason: str | None = None

    def is_active(self, on: date) -> bool:
        if self.terminated or on < self.coverage_start:
            return False
        return self.coverage_end is None or on <= self.coverage_end

    def answers_to(self, last: str | None, first: str | None) -> bool:
        """Whether the name asked about is this member's name (or an accepted alias)."""
        names = ((self.last_name, self.first_name), *self.aliases)
        return any(
            names_match(last, first, known_last, known_first) for known_last, known_first in names
        )


class MemberRow(NamedTuple):
    """The plain shape the table is built from (the seed adapter yields these)."""

    payer_id: str
    member_id: str
    last_name: str
    first_name: str
    birth_date: date | None
    plan_name: str
    group_number: str | None
    active: bool


def normalize_id(value: str | None) -> str:
    return (value or "").strip().upper()


def normalize_name(value: str | None) -> str:
    """Uppercase ASCII letters and digits only, as a 270 carries names (accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode()
    return _NOT_ALNUM.sub("", ascii_text.upper())


def names_match(last: str | None, first: str | None, known_last: str, known_first: str) -> bool:
    """Last names equal; first names equal or one a prefix of the other ("ANN"/"ANNE").

    A missing first name matches: a 270 may identify by member id, last name and DOB.
    """
    if normalize_name(last) != normalize_name(known_last) or not normalize_name(last):
        return False
    asked, known = normalize_name(first), normalize_name(known_first)
    return not asked or asked.startswith(known) or known.startswith(asked)


class MemberTable:
    """Card holders keyed by (payer id, member id), with a payer name per payer id."""

    def __init__(
        self, members: Iterable[Member] = (), *, payers: dict[str, str] | None = None
    ) -> None:
        self._by_id: dict[tuple[str, str], list[Member]] = {}
        self._dependents: dict[tuple[str, str], list[Member]] = {}
        self.payers: dict[str, str] = dict(payers or {})
        for member in members:
            self.add(member)

    @classmethod
    def from_rows(
        cls, rows: Iterable[MemberRow | tuple[object, ...]], *, payers: dict[str, str] | None = None
    ) -> MemberTable:
        """A table from plain rows; plan economics are derived from the member id."""
        table = cls(payers=payers)
        for raw in rows:
            row = MemberRow(*raw)
            table.add(
                Member(
                    payer_id=row.payer_id,
                    member_id=row.member_id,
                    last_name=row.last_name,
                    first_name=row.first_name,
                    birth_date=row.birth_date,
                    plan_name=row.plan_name,
                    group_number=row.group_number,
                    benefits=derive_benefits(row.payer_id, row.member_id, row.plan_name),
                    terminated=not row.active,
                )
            )
        return table

    def add(self, member: Member) -> None:
        """Add a card holder; the same person seen again (same birth date) is merged.

        Two people may share one member id (a subscriber and a spouse whose suffix
        equals the subscriber's last digits): they stay two holders of one card.
        """
        key = (normalize_id(member.payer_id), normalize_id(member.member_id))
        holders = self._by_id.setdefault(key, [])
        for i, previous in enumerate(holders):
            if previous.birth_date == member.birth_date:
                merged = _merged(previous, member)
                holders[i] = merged
                self._replace_dependent(key[0], previous, merged)
                return
        holders.append(member)
        self.payers.setdefault(member.payer_id, member.payer_id)
        if member.subscriber_id:
            holder = (key[0], normalize_id(member.subscriber_id))
            self._dependents.setdefault(holder, []).append(member)

    def _replace_dependent(self, payer: str, previous: Member, merged: Member) -> None:
        if previous.subscriber_id:
            family = self._dependents[(payer, normalize_id(previous.subscriber_id))]
            family[family.index(previous)] = merged

    def get(self, payer_id: str, member_id: str) -> Member | None:
        """The card's first holder (the subscriber, when a dependent shares the id)."""
        holders = self.holders(payer_id, member_id)
        return holders[0] if holders else None

    def holders(self, payer_id: str, member_id: str) -> list[Member]:
        """Everyone the payer has on file under this member id."""
        return list(self._by_id.get((normalize_id(payer_id), normalize_id(member_id)), ()))

    def knows_payer(self, payer_id: str) -> bool:
        return normalize_id(payer_id) in {normalize_id(p) for p in self.payers}

    def payer_name(self, payer_id: str) -> str:
        wanted = normalize_id(payer_id)
        return next((n for p, n in self.payers.items() if normalize_id(p) == wanted), payer_id)

    def dependents_of(self, payer_id: str, subscriber_id: str) -> list[Member]:
        return list(self._dependents.get((normalize_id(payer_id), normalize_id(subscriber_id)), ()))

    def find(
        self, payer_id: str, last: str | None, first: str | None, birth_date: date | None
    ) -> Member | None:
        """A demographic search (no member id): name and birth date must both match."""
        if birth_date is None or not first:
            return None
        wanted = normalize_id(payer_id)
        for (payer, _), holders in self._by_id.items():
            for member in holders:
                if (
                    payer == wanted
                    and member.birth_date == birth_date
                    and member.answers_to(last, first)
                ):
                    return member
        return None

    def __iter__(self) -> Iterator[Member]:
        return (member for holders in self._by_id.values() for member in holders)

    def __len__(self) -> int:
        return sum(len(holders) for holders in self._by_id.values())


def _merged(previous: Member, new: Member) -> Member:
    """The same card seen twice (two EHRs): keep the first, accept the other's spelling."""
    spelling = (new.last_name, new.first_name)
    known = {(previous.last_name, previous.first_name), *previous.aliases}
    if spelling in known:
        return previous
    return replace(previous, aliases=(*previous.aliases, spelling))


# --- derived economics -----------------------------------------------------------------

_COPAYS_98 = (20, 25, 30, 35, 40, 45, 50)
_DEDUCTIBLES = (500, 1000, 1500, 2000, 2500, 3000)
_OOP_MAXIMUMS = (3000, 4500, 6000, 8000)
_COINSURANCE = ("0.1", "0.15", "0.2", "0.25", "0.3")
_MANAGED = ("HMO", "EPO", "MEDICAID")


def derive_benefits(payer_id: str, member_id: str, plan_name: str) -> PlanBenefits:
    """Deterministic economics from a hash of the card: same member, same numbers, always.

    About a third of members have met their individual deductible (remaining 0).
    Medicaid plans have token copays and no deductible, as state plans do.
    """
    digest = hashlib.sha256(f"{normalize_id(payer_id)}:{normalize_id(member_id)}".encode())
    rng = random.Random(digest.digest())
    upper = plan_name.upper()
    managed = any(word in upper for word in _MANAGED)
    auth = frozenset({"62"}) if managed else frozenset()
    if "MEDICAID" in upper:
        copay = Decimal(rng.choice((0, 2, 4)))
        zero = Decimal(0)
        return PlanBenefits(
            copays={"98": copay, "UC": copay, "86": Decimal(8), "BZ": zero},
            coinsurance=zero,
            deductible_individual=zero,
            deductible_individual_remaining=zero,
            deductible_family=zero,
            deductible_family_remaining=zero,
            oop_individual=Decimal(500),
            oop_individual_remaining=Decimal(500),
            oop_family=Decimal(1000),
            oop_family_remaining=Decimal(1000),
            auth_required=auth,
            out_of_network=False,
        )
    office = rng.choice(_COPAYS_98)
    deductible = rng.choice(_DEDUCTIBLES)
    met = rng.random() < 0.35
    # Remaining amounts in $50 steps, as real accumulators rarely are round but tests like them.
    remaining = 0 if met else 50 * rng.randrange(1, deductible // 50 + 1)
    spent = deductible - remaining
    family_remaining = max(0, 2 * deductible - spent - 50 * rng.randrange(0, deductible // 50 + 1))
    oop = rng.choice(_OOP_MAXIMUMS)
    extra = 50 * rng.randrange(0, 20) if met else 0
    oop_remaining = max(0, oop - spent - extra)
    return PlanBenefits(
        copays={
            "98": Decimal(office),
            "UC": Decimal(office + 25),
            "86": Decimal(rng.choice((150, 250, 300))),
            "BZ": Decimal(0),
        },
        coinsurance=Decimal(rng.choice(_COINSURANCE)),
        deductible_individual=Decimal(deductible),
        deductible_individual_remaining=Decimal(remaining),
        deductible_family=Decimal(2 * deductible),
        deductible_family_remaining=Decimal(family_remaining),
        oop_individual=Decimal(oop),
        oop_individual_remaining=Decimal(oop_remaining),
        oop_family=Decimal(2 * oop),
        oop_family_remaining=Decimal(max(0, 2 * oop - spent - extra)),
        auth_required=auth,
        out_of_network=not managed,
    )
