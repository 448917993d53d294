"""Coverage check: is this patient covered on the date of service, and what will it cost them.

Flow: a cached answer when there is one (one cache read on the hot path); otherwise the
patient's Coverage in the EHR (primary first, expired ones skipped) names the payer and
member id; the payer's real-time service answers (X12 270/271 or FHIR
CoverageEligibilityRequest) under single flight and the real-time budget (CAQH CORE:
20 s). Past the budget or with the payer away, the last good answer is served marked
``stale`` or, with none, an error that says the payer isn't answering. A payer with no
real-time service gets the EHR's Coverage, status ``unknown``, origin ``ehr``.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from connectors import UpstreamError
from mappers import MappingError
from mappers.model import (
    Coverage,
    EligibilityError,
    EligibilityRequest,
    EligibilityResult,
    Patient,
    Person,
)
from mappers.npi import is_valid_npi
from mappers.x12 import RETRY_LATER_REASONS

from ..settings import PayerConfig, TenantConfig
from ..sources import TenantSources
from .eligibility_cache import (
    EligibilityStore,
    FlightTimeout,
    SingleFlight,
    Subject,
    demographics_fingerprint,
)
from .errors import InvalidRequest, NotFound
from .payers import PayerPort
from .validation import check_date, check_text

__all__ = [
    "PAYER_NOT_ANSWERING",
    "CoverageAnswer",
    "CoverageDesk",
    "CoverageQuery",
    "check_coverage",
    "primary_coverage",
]

PAYER_NOT_ANSWERING = "payer not answering: try again in a few minutes"
_NOT_VERIFIED = (
    "not verified with the payer: it has no real-time eligibility service here; "
    "plan and member id come from the EHR's insurance record"
)
_NO_COVERAGE = "no current insurance on file in the EHR: ask the patient for their card"
_SELF_PAY = (
    "self-pay: no insurance on file for this date; the patient pays (they are owed a "
    "good-faith estimate)"
)
_SERVICE_TYPE = re.compile(r"^[A-Z0-9]{1,2}$")
_MAX_COVERAGES = 20
_GENDERS: dict[str, Literal["male", "female", "unknown"]] = {
    "male": "male",
    "female": "female",
    "unknown": "unknown",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CoverageQuery:
    """Who and what to check: a gateway patient id, or member id + payer + name + birth date."""

    patient_id: str | None = None
    member_id: str | None = None
    payer_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    service_types: tuple[str, ...] = ("30",)
    date_of_service: date | None = None
    provider_npi: str | None = None
    # Cache-Control: no-cache: skip the cached answer and ask the payer.
    fresh: bool = False


@dataclass
class CoverageDesk:
    """The ports of one tenant's coverage checks; built once per app, shared by requests."""

    tenant: TenantConfig
    sources: TenantSources
    # Real-time services by PayerConfig.id; payers with transport "none" are absent.
    payers: Mapping[str, PayerPort]
    store: EligibilityStore
    flights: SingleFlight
    budget_seconds: float = 20.0
    source_deadline_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = _utcnow

    def payer_config(
        self, payer_id: str | None, payer_name: str | None = None
    ) -> PayerConfig | None:
        for payer in self.tenant.payers:
            if payer_id is not None and (payer_id == payer.id or payer_id in payer.payer_ids):
                return payer
        if payer_name:
            wanted = payer_name.strip().casefold()
            for payer in self.tenant.payers:
                if payer.name.strip().casefold() == wanted:
                    return payer
        return None

    def today(self) -> date:
        return self.wall().astimezone(ZoneInfo(self.tenant.time_zone)).date()


@dataclass
class CoverageAnswer:
    """The answer as JSON bytes (the cached path never parses), and who it was about."""

    body: bytes
    patient_ids: tuple[str, ...] = ()
    _result: EligibilityResult | None = field(default=None, repr=False)

    @classmethod
    def of(cls, result: EligibilityResult, patient_ids: tuple[str, ...] = ()) -> CoverageAnswer:
        return cls(result.model_dump_json().encode(), patient_ids, result)

    @property
    def result(self) -> EligibilityResult:
        if self._result is None:
            self._result = EligibilityResult.model_validate_json(self.body)
        return self._result


@dataclass(frozen=True)
class _Asked:
    """A validated query."""

    service_types: tuple[str, ...]
    dos: date
    npi: str

    @property
    def dos_text(self) -> str:
        return self.dos.isoformat()


@functools.lru_cache(maxsize=256)
def _service_types(asked: tuple[str, ...]) -> tuple[str, ...]:
    """Sorted, deduplicated, checked codes (cached: desks ask for the same few sets)."""
    codes = tuple(sorted({c.strip().upper() for c in asked}))
    if not codes or not all(_SERVICE_TYPE.match(c) for c in codes):
        raise InvalidRequest("service_types must be X12 service type codes such as 30 or 98")
    if len(codes) > 10:
        raise InvalidRequest("at most 10 service types per check")
    return codes


def _validate(desk: CoverageDesk, query: CoverageQuery) -> _Asked:
    if query.patient_id is None:
        if not (query.member_id and query.payer_id):
            raise InvalidRequest("give patient_id, or member_id with payer_id")
        if not (query.first_name and query.last_name and query.birth_date):
            raise InvalidRequest("a member id check needs first_name, last_name and birth_date")
    elif query.member_id or query.payer_id:
        raise InvalidRequest("give patient_id or member_id with payer_id, not both")
    for name, value in (
        ("member_id", query.member_id),
        ("payer_id", query.payer_id),
        ("first_name", query.first_name),
        ("last_name", query.last_name),
    ):
        check_text(name, value, max_length=80)
    check_date("birth_date", query.birth_date)
    check_date("date_of_service", query.date_of_service)
    codes = _service_types(query.service_types)
    if query.provider_npi is not None and not is_valid_npi(query.provider_npi):
        raise InvalidRequest("provider_npi is not an NPI: its check digit does not match")
    npi = query.provider_npi or desk.tenant.provider_npi
    if not npi:
        raise InvalidRequest("no provider NPI: give provider_npi or configure the tenant's")
    return _Asked(codes, query.date_of_service or desk.today(), npi)


@dataclass(frozen=True)
class _Target:
    """The resolved question: which payer, about whom."""

    payer: PayerConfig | None
    payer_id: str
    subscriber: Person
    dependent: Person | None
    group_number: str | None
    coverage: Coverage | None
    patient_ids: tuple[str, ...]


def _payer_subject(
    tenant: str, payer: PayerConfig, subscriber: Person, dependent: Person | None, asked: _Asked
) -> Subject:
    """Cache subject of a question to ``payer``: by its configured id, so every alias of a
    payer shares answers, and by who was asked about, so an answer is only ever served to
    a check naming the same member, name and birth date the payer matched."""
    return Subject.member(
        tenant,
        payer.id,
        subscriber.member_id or "",
        asked.service_types,
        asked.dos_text,
        who=demographics_fingerprint(subscriber, dependent),
    )


async def check_coverage(desk: CoverageDesk, query: CoverageQuery) -> CoverageAnswer:
    """Answer one coverage check; raises InvalidRequest/NotFound, or UpstreamError from the EHR."""
    asked = _validate(desk, query)
    started = desk.clock()
    deadline = started + desk.budget_seconds
    tenant = desk.tenant.id
    alias: Subject | None = None
    if query.patient_id is None:
        payer = _member_payer(desk, query)
        target = _member_target(query, payer)
        # The hot path: one cache read, keyed by everything the payer would match on.
        subject = _payer_subject(tenant, payer, target.subscriber, None, asked)
        if not query.fresh and (body := await desk.store.get(subject)) is not None:
            return CoverageAnswer(body)
    else:
        generation = await desk.store.patient_generation(tenant, query.patient_id)
        alias = Subject.patient(
            tenant, query.patient_id, asked.service_types, asked.dos_text, generation=generation
        )
        if not query.fresh and (body := await desk.store.get(alias)) is not None:
            return CoverageAnswer(body, (query.patient_id,))
        target_or_answer = await _patient_target(desk, query.patient_id, asked, deadline)
        if isinstance(target_or_answer, EligibilityResult):
            await desk.store.put_latest(tenant, query.patient_id, target_or_answer)
            return CoverageAnswer.of(target_or_answer, (query.patient_id,))
        target = target_or_answer

    asked_payer = target.payer
    port = desk.payers.get(asked_payer.id) if asked_payer is not None else None
    if asked_payer is None or port is None:
        answer = _ehr_answer(desk, target)
        if query.patient_id is not None:
            await desk.store.put_latest(tenant, query.patient_id, answer)
        return CoverageAnswer.of(answer, target.patient_ids)
    payer = asked_payer
    subject = _payer_subject(tenant, payer, target.subscriber, target.dependent, asked)
    request = EligibilityRequest(
        payer_id=target.payer_id,
        payer_name=payer.name,
        provider_npi=asked.npi,
        # The 270 must name the provider: the hospital's own name unless one is set.
        provider_name=desk.tenant.provider_name or desk.tenant.name,
        subscriber=target.subscriber,
        dependent=target.dependent,
        service_types=list(query.service_types) or list(asked.service_types),
        date_of_service=asked.dos,
        group_number=target.group_number,
        trace_number=secrets.token_hex(10),
    )
    reserve = min(0.5, desk.budget_seconds * 0.1)
    asking = _Asking(payer, port, target, subject)

    async def produce() -> EligibilityResult:
        if not query.fresh and (body := await desk.store.get(subject)) is not None:
            return EligibilityResult.model_validate_json(body)
        return await _ask_payer(desk, asking, request, deadline - reserve)

    try:
        result = await desk.flights.run(
            subject, produce, deadline - reserve, use_cache=not query.fresh
        )
    except FlightTimeout:
        result = await _fallback(desk, asking, "timeout")
    if alias is not None and query.patient_id is not None:
        await desk.store.put(result, alias)
        await desk.store.put_latest(tenant, query.patient_id, result)
    return CoverageAnswer.of(result, target.patient_ids)


@dataclass(frozen=True)
class _Asking:
    """A question on its way to a payer with a real-time service."""

    payer: PayerConfig
    port: PayerPort
    target: _Target
    subject: Subject


async def _ask_payer(
    desk: CoverageDesk, asking: _Asking, request: EligibilityRequest, deadline: float
) -> EligibilityResult:
    try:
        async with asyncio.timeout(max(deadline - desk.clock(), 0)):
            result = await asking.port.check(request)
    except TimeoutError:
        return await _fallback(desk, asking, "timeout")
    except UpstreamError:
        # Circuit open, 5xx, 429 past its retries, connection refused: the payer is away.
        return await _fallback(desk, asking, "unavailable")
    except MappingError:
        return await _fallback(desk, asking, "unreadable")
    result = _completed(result, asking.payer, request)
    if result.status == "error" and {e.code for e in result.errors} & RETRY_LATER_REASONS:
        # AAA 42/80 is the payer saying it is down: a good answer from before beats it.
        stale = await desk.store.last_good(asking.subject)
        if stale is not None:
            return _stale(stale)
    # The flight's leader caches the answer as it publishes the outcome (one round trip).
    return result


def _completed(
    result: EligibilityResult, payer: PayerConfig, request: EligibilityRequest
) -> EligibilityResult:
    """Fill what the payer left out from what we asked; the payer's words win."""
    update: dict[str, object] = {"cached": False, "stale": False}
    if not result.payer_id:
        update["payer_id"] = request.payer_id
    if not result.payer_name:
        update["payer_name"] = payer.name
    if not result.member_id:
        update["member_id"] = request.subscriber.member_id
    return result.model_copy(update=update)


def _stale(result: EligibilityResult) -> EligibilityResult:
    note = (
        f"{PAYER_NOT_ANSWERING}; this is the payer's last answer, from "
        f"{result.checked_at.isoformat()}"
    )
    return result.model_copy(update={"stale": True, "messages": [*result.messages, note]})


async def _fallback(
    desk: CoverageDesk, asking: _Asking, why: Literal["timeout", "unavailable", "unreadable"]
) -> EligibilityResult:
    stale = await desk.store.last_good(asking.subject)
    if stale is not None:
        return _stale(stale)
    detail = {
        "timeout": ("payer_timeout", f"{PAYER_NOT_ANSWERING} (no answer within the time limit)"),
        "unavailable": ("payer_unavailable", PAYER_NOT_ANSWERING),
        "unreadable": (
            "payer_unreadable",
            "the payer's answer could not be read: try again, or call the payer",
        ),
    }[why]
    return EligibilityResult(
        status="error",
        checked_at=desk.wall(),
        payer_id=asking.target.payer_id,
        payer_name=asking.payer.name,
        member_id=asking.target.subscriber.member_id,
        errors=[
            EligibilityError(
                code=detail[0], description=detail[1], follow_up="send the same request again"
            )
        ],
        origin=asking.port.origin,
    )


def _ehr_answer(desk: CoverageDesk, target: _Target) -> EligibilityResult:
    cov = target.coverage
    payer_name = (cov.payer_name if cov else None) or (target.payer.name if target.payer else None)
    return EligibilityResult(
        status="unknown",
        checked_at=desk.wall(),
        payer_id=target.payer_id,
        payer_name=payer_name,
        member_id=target.subscriber.member_id,
        plan_name=cov.plan_name if cov else None,
        group_number=target.group_number,
        group_name=cov.group_name if cov else None,
        coverage_start=cov.period_start if cov else None,
        coverage_end=cov.period_end if cov else None,
        messages=[_NOT_VERIFIED],
        origin="ehr",
        source=cov.source if cov else None,
    )


def _member_payer(desk: CoverageDesk, query: CoverageQuery) -> PayerConfig:
    payer = desk.payer_config(query.payer_id)
    if payer is None:
        raise NotFound("no such payer: payer_id is not among the tenant's configured payers")
    return payer


def _member_target(query: CoverageQuery, payer: PayerConfig) -> _Target:
    """The question a member-id check asks."""
    person = Person(
        first_name=query.first_name,
        last_name=query.last_name,
        birth_date=query.birth_date,
        member_id=query.member_id,
    )
    return _Target(
        payer=payer,
        payer_id=query.payer_id
        if query.payer_id and query.payer_id != payer.id
        else payer.payer_ids[0],
        subscriber=person,
        dependent=None,
        group_number=None,
        coverage=None,
        patient_ids=(),
    )


async def _patient_target(
    desk: CoverageDesk, patient_id: str, asked: _Asked, deadline: float
) -> _Target | EligibilityResult:
    handle, ref = desk.sources.resolve(patient_id, "Patient", "patient")
    limit = max(min(desk.source_deadline_seconds, deadline - desk.clock()), 0.01)
    params = {"beneficiary": f"Patient/{ref.id}", "_count": str(_MAX_COVERAGES)}
    async with asyncio.timeout(limit):
        (patient, _), coverages = await asyncio.gather(
            handle.read_mapped("Patient", ref.id, Patient, what="patient"),
            # An unusable Coverage is skipped; the others may still answer.
            handle.search_mapped("Coverage", params, Coverage, limit=_MAX_COVERAGES),
        )
    chosen = primary_coverage(coverages, asked.dos)
    if chosen is None:
        return EligibilityResult(
            status="unknown",
            checked_at=desk.wall(),
            messages=[_NO_COVERAGE],
            origin="ehr",
        )
    if chosen.self_pay:
        # Nothing to ask a payer: the answer is the EHR's own record, said plainly.
        return EligibilityResult(
            status="unknown",
            checked_at=desk.wall(),
            messages=[_SELF_PAY],
            origin="ehr",
            self_pay=True,
            coverage_start=chosen.period_start,
            coverage_end=chosen.period_end,
            source=chosen.source,
        )
    name = patient.name
    person = Person(
        first_name=(name.given[0] if name and name.given else None),
        last_name=name.family if name else None,
        birth_date=_date(patient.birth_date),
        gender=_GENDERS.get(patient.gender or ""),
    )
    member_id = chosen.member_id or chosen.subscriber_id
    if chosen.relationship in (None, "self"):
        subscriber, dependent = person.model_copy(update={"member_id": member_id}), None
    else:
        subscriber, dependent = Person(member_id=member_id), person
    payer = desk.payer_config(chosen.payer_id, chosen.payer_name)
    return _Target(
        payer=payer,
        payer_id=chosen.payer_id or (payer.payer_ids[0] if payer else ""),
        subscriber=subscriber,
        dependent=dependent,
        group_number=chosen.group_number,
        coverage=chosen,
        patient_ids=(patient_id,),
    )


def primary_coverage(coverages: list[Coverage], dos: date) -> Coverage | None:
    """The Coverage in force on ``dos`` with the lowest order (primary first)."""
    current = [
        c
        for c in coverages
        if c.status == "active"
        and (c.period_end is None or c.period_end >= dos)
        and (c.period_start is None or c.period_start <= dos)
        and (c.self_pay or c.member_id or c.subscriber_id)
    ]
    # Insurance before self-pay: a patient with both is billed to the payer first.
    current.sort(key=lambda c: (c.self_pay, c.order if c.order is not None else 1_000, c.id))
    return current[0] if current else None


def _date(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None  # a partial birth date (YYYY or YYYY-MM) can't go in a 270
