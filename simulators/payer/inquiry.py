"""What any eligibility question asks, whatever the wire (X12 270 or FHIR), and the answer.

`decide` looks the question up in the member table the way a payer does and says
whom the answer is about, or which AAA reject reason (X12 element 901) at which
loop refuses it, with its follow-up action (element 889).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from simulators.payer.members import Member, MemberTable

__all__ = ["Decision", "Party", "Query", "Reject", "decide"]

Loop = Literal["payer", "subscriber", "dependent"]


@dataclass(frozen=True, slots=True)
class Party:
    """A person as the question names them."""

    last_name: str | None = None
    first_name: str | None = None
    member_id: str | None = None
    birth_date: date | None = None
    gender: str | None = None


@dataclass(frozen=True, slots=True)
class Query:
    payer_id: str
    subscriber: Party
    date_of_service: date
    dependent: Party | None = None
    service_types: tuple[str, ...] = ("30",)


@dataclass(frozen=True, slots=True)
class Reject:
    loop: Loop
    reason: str  # AAA03
    follow_up: str  # AAA04: C correct and resubmit, R resubmission allowed, N do not resubmit


@dataclass(frozen=True, slots=True)
class Decision:
    """The member the answer is about (``patient``), or why there is none."""

    reject: Reject | None = None
    subscriber: Member | None = None
    patient: Member | None = None
    # The answer goes in a 2000D dependent loop (the question had one).
    as_dependent: bool = False
    active: bool = False
    warnings: list[str] = field(default_factory=list)


def decide(query: Query, table: MemberTable, *, payer_down: bool = False) -> Decision:
    if payer_down:
        return Decision(reject=Reject("payer", "42", "R"))
    if not table.knows_payer(query.payer_id):
        # Unknown payer id at a clearinghouse: "invalid participant identification".
        return Decision(reject=Reject("payer", "79", "C"))
    sub = query.subscriber
    if sub.member_id:
        holders = table.holders(query.payer_id, sub.member_id)
        if not holders:
            return Decision(reject=Reject("subscriber", "72", "C"))
        # One id, several holders: the one the question names (else the first, the subscriber).
        found = next(
            (
                h
                for h in holders
                if h.answers_to(sub.last_name, sub.first_name)
                and _same_day(sub.birth_date, h.birth_date)
            ),
            holders[0],
        )
    else:
        if not (sub.last_name and sub.first_name and sub.birth_date):
            return Decision(reject=Reject("subscriber", "15", "C"))
        searched = table.find(query.payer_id, sub.last_name, sub.first_name, sub.birth_date)
        if searched is None:
            return Decision(reject=Reject("subscriber", "75", "C"))
        found = searched
    if found.reject_reason is not None:
        return Decision(reject=Reject("payer", found.reject_reason, "R"))
    if query.dependent is not None:
        return _dependent(query, table, found)
    if sub.last_name and not found.answers_to(sub.last_name, sub.first_name):
        # Payers often answer a dependent asked about under the subscriber's card.
        for dependent in table.dependents_of(query.payer_id, found.member_id):
            if dependent.answers_to(sub.last_name, sub.first_name) and _same_day(
                sub.birth_date, dependent.birth_date
            ):
                return _found(query, found, dependent, as_dependent=False)
        return Decision(reject=Reject("subscriber", "73", "C"), subscriber=found)
    if not _same_day(sub.birth_date, found.birth_date):
        return Decision(reject=Reject("subscriber", "71", "C"), subscriber=found)
    return _found(query, found, found, as_dependent=False)


def _dependent(query: Query, table: MemberTable, subscriber: Member) -> Decision:
    dep = query.dependent
    assert dep is not None
    for candidate in table.dependents_of(query.payer_id, subscriber.member_id):
        if candidate.answers_to(dep.last_name, dep.first_name) and _same_day(
            dep.birth_date, candidate.birth_date
        ):
            return _found(query, subscriber, candidate, as_dependent=True)
    return Decision(reject=Reject("dependent", "67", "C"), subscriber=subscriber, as_dependent=True)


def _found(query: Query, subscriber: Member, patient: Member, *, as_dependent: bool) -> Decision:
    return Decision(
        subscriber=subscriber,
        patient=patient,
        as_dependent=as_dependent,
        active=patient.is_active(query.date_of_service),
    )


def _same_day(asked: date | None, known: date | None) -> bool:
    # A question without a birth date is answered on the member id and name alone.
    return asked is None or known is None or asked == known
