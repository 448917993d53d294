"""Eligibility answers in the shared cache: the TTL policy, the last good answer, single flight.

Keys (all parts hashed by ``CacheKeys``, so no member id, name or date appears in a key):

- ``elig``      fresh answer for a subject, TTL by status (``ttl_for``);
- ``elig-good`` the last active/inactive answer, kept longer to serve ``stale: true``
  when the payer is down or past the real-time budget;
- ``elig-lock`` the single-flight lock (value: the flight's token);
- ``elig-done`` the flight's outcome (``token\\n`` + JSON) for waiters in other processes,
  written even when the answer is not cacheable (42/80, transport failures).

A subject is (tenant, payer, member id, who was asked about, service types, date of
service) or, for checks asked by gateway patient id, (tenant, patient id, service types,
date of service). "Who" is the normalised name and birth date the payer matches the member
id against (``demographics_fingerprint``): a member id alone never finds an answer, and a
refusal (AAA 73: name not recognised) is cached only for the details that produced it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mappers.model import EligibilityResult, Person
from mappers.x12 import RETRY_LATER_REASONS

from ..cache import Cache, CacheKeys, Release, Write
from ..sealing import Sealer

__all__ = [
    "DATA_PROBLEM_REASONS",
    "EligibilityStore",
    "FlightTimeout",
    "SingleFlight",
    "Subject",
    "TtlPolicy",
    "demographics_fingerprint",
]

# AAA reasons that mean "the details sent are wrong": the same question gets the same
# answer until someone fixes the details, so a short TTL spares the payer repeat calls.
DATA_PROBLEM_REASONS = frozenset({"58", "64", "65", "67", "71", "72", "73", "75"})


@dataclass(frozen=True)
class Subject:
    """What an answer is about; ``parts`` are hashed, never stored in clear."""

    tenant: str
    parts: tuple[str, ...]

    @classmethod
    def member(
        cls,
        tenant: str,
        payer: str,
        member_id: str,
        service_types: tuple[str, ...],
        dos: str,
        *,
        who: str,
    ) -> Subject:
        return cls(
            tenant, ("m", payer, member_id.strip().upper(), who, ",".join(service_types), dos)
        )

    @classmethod
    def patient(
        cls,
        tenant: str,
        patient_id: str,
        service_types: tuple[str, ...],
        dos: str,
        *,
        generation: str = "0",
    ) -> Subject:
        # The generation moves when the patient's insurance on file changes: answers from
        # before are then never found again.
        return cls(tenant, ("p", patient_id, generation, ",".join(service_types), dos))


def _norm(text: str | None) -> str:
    """Letters and digits as a 270 carries them: accents dropped, upper case, one space."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join("".join(c if c.isalnum() else " " for c in ascii_text).upper().split())


def demographics_fingerprint(subscriber: Person, dependent: Person | None) -> str:
    """Who a question is about, as the payer matches it: names and birth dates, normalised.

    Part of the subject's hashed key parts, never stored in clear."""
    people = (subscriber, dependent) if dependent is not None else (subscriber,)
    return "|".join(
        f"{_norm(p.last_name)}/{_norm(p.first_name)}/{p.birth_date or ''}" for p in people
    )


@dataclass(frozen=True)
class TtlPolicy:
    active: float = 12 * 3600
    inactive: float = 3600
    data_error: float = 600
    # How long a good answer may be served as stale while the payer is away.
    last_good: float = 72 * 3600
    # Patient-id aliases follow the EHR's Coverage, which can change at the desk.
    patient_alias_max: float = 3600

    def ttl_for(self, result: EligibilityResult) -> float:
        """Seconds to cache ``result`` as fresh; 0 means never."""
        if result.stale or result.origin == "ehr":
            return 0
        if result.status == "active":
            return self.active
        if result.status == "inactive":
            return self.inactive
        if result.status == "error":
            codes = {e.code for e in result.errors}
            if codes and not codes & RETRY_LATER_REASONS and codes <= DATA_PROBLEM_REASONS:
                return self.data_error
        # Transport failures, 42/80, unknown answers: ask again next time.
        return 0


class EligibilityStore:
    """The eligibility cache of one app, over the shared Cache port."""

    def __init__(self, cache: Cache, keys: CacheKeys, policy: TtlPolicy, sealer: Sealer) -> None:
        self.cache = cache
        # Answers hold member ids, plans and benefits: sealed at rest (``gateway.sealing``).
        self.sealer = sealer
        self.keys = keys
        self.policy = policy

    def key(self, kind: str, subject: Subject) -> str:
        return self.keys.key(kind, subject.tenant, *subject.parts)

    async def get(self, subject: Subject) -> bytes | None:
        """The fresh answer's JSON (already marked ``cached: true``), or None."""
        key = self.key("elig", subject)
        return self.sealer.open(await self.cache.get(key), context=key)

    async def put(self, result: EligibilityResult, *subjects: Subject) -> None:
        """Cache ``result`` for ``subjects`` (fresh and last good, as the policy says)."""
        writes = self._writes(result, subjects)
        if writes:
            await self.cache.write(writes)

    async def publish(
        self,
        result: EligibilityResult,
        subject: Subject,
        done: Write,
        release: Release,
    ) -> bool:
        """A flight's outcome in one round trip: the ``done`` record, for a new answer (not
        one read back from the cache) its cache entries, then the lock ``release``d, last,
        so a waiter that sees the lock gone finds the outcome. True if applied."""
        writes = [] if result.cached else self._writes(result, (subject,))
        return await self.cache.write([done, *writes], releases=[release])

    def _writes(self, result: EligibilityResult, subjects: tuple[Subject, ...]) -> list[Write]:
        ttl = self.policy.ttl_for(result)
        good = (
            result.status in ("active", "inactive") and not result.stale and result.origin != "ehr"
        )
        if ttl <= 0 and not good:
            return []
        # Serialised once: the fresh entry and the last good one hold the same bytes.
        body = result.model_copy(update={"cached": True}).model_dump_json().encode()
        writes: list[Write] = []
        for subject in subjects:
            if ttl > 0:
                alias = subject.parts[0] == "p"
                ttl_here = min(ttl, self.policy.patient_alias_max) if alias else ttl
                writes.append(self._sealed(self.key("elig", subject), body, ttl_here))
            if good:
                key = self.key("elig-good", subject)
                writes.append(self._sealed(key, body, self.policy.last_good))
        return writes

    def _sealed(self, key: str, body: bytes, ttl: float) -> Write:
        return key, self.sealer.seal(body, context=key), ttl

    def outcome(self, done_key: str, token: str, result: EligibilityResult) -> bytes:
        """A flight's outcome for its waiters: the leader's token, then the sealed answer."""
        sealed = self.sealer.seal(result.model_dump_json().encode(), context=done_key)
        return token.encode() + b"\n" + sealed

    def read_outcome(self, done_key: str, raw: bytes) -> tuple[bytes, EligibilityResult | None]:
        """(token, answer) of an outcome; the answer is None when it does not open."""
        token, _, sealed = raw.partition(b"\n")
        plain = self.sealer.open(sealed, context=done_key)
        return token, EligibilityResult.model_validate_json(plain) if plain else None

    async def last_good(self, subject: Subject) -> EligibilityResult | None:
        key = self.key("elig-good", subject)
        raw = self.sealer.open(await self.cache.get(key), context=key)
        if raw is None:
            return None
        result = EligibilityResult.model_validate_json(raw)
        return result.model_copy(update={"stale": True, "cached": True})

    def _latest_key(self, tenant: str, patient_id: str) -> str:
        return self.keys.key("elig-latest", tenant, patient_id)

    async def put_latest(self, tenant: str, patient_id: str, result: EligibilityResult) -> None:
        """The patient's latest answer, whatever it said, for the day's worklist."""
        key = self._latest_key(tenant, patient_id)
        body = result.model_copy(update={"cached": True}).model_dump_json().encode()
        await self.cache.set(key, self.sealer.seal(body, context=key), self.policy.last_good)

    async def latest(self, tenant: str, patient_id: str) -> EligibilityResult | None:
        key = self._latest_key(tenant, patient_id)
        raw = self.sealer.open(await self.cache.get(key), context=key)
        return EligibilityResult.model_validate_json(raw) if raw is not None else None

    async def forget_latest(self, tenant: str, patient_id: str) -> None:
        await self.cache.delete(self._latest_key(tenant, patient_id))

    def _generation_key(self, tenant: str, patient_id: str) -> str:
        return self.keys.key("elig-gen", tenant, patient_id)

    async def patient_generation(self, tenant: str, patient_id: str) -> str:
        raw = await self.cache.get(self._generation_key(tenant, patient_id))
        return raw.decode() if raw is not None else "0"

    async def forget_patient(self, tenant: str, patient_id: str) -> None:
        """The patient's insurance changed: their cached answers (by patient id) are gone."""
        await self.cache.incr(self._generation_key(tenant, patient_id))
        await self.forget_latest(tenant, patient_id)

    async def forget(self, subject: Subject) -> None:
        await self.cache.delete(self.key("elig", subject))


class FlightTimeout(Exception):
    """The deadline passed while waiting for another caller's check."""


Produce = Callable[[], Awaitable[EligibilityResult]]


class SingleFlight:
    """One upstream call per subject at a time, within a process and across processes.

    The leader publishes what ``produce()`` returns: the outcome for waiters and, unless it
    came from the cache (``cached``), the answer's cache entries (``EligibilityStore.put``).
    In a process, callers of the same subject share one task. Across processes, a Redis
    lock (``add`` with a TTL slightly over the budget, so a crashed holder frees it) picks
    the leader; the others poll for the leader's outcome. Polling, not pub/sub, because
    the Cache port is all we rely on and a check takes seconds, not milliseconds.
    """

    def __init__(
        self,
        store: EligibilityStore,
        *,
        lock_ttl: float,
        done_ttl: float = 30.0,
        poll_initial: float = 0.01,
        poll_max: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._lock_ttl = lock_ttl
        self._done_ttl = done_ttl
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._clock = clock
        self._local: dict[str, asyncio.Future[EligibilityResult]] = {}

    async def run(
        self, subject: Subject, produce: Produce, deadline: float, *, use_cache: bool = True
    ) -> EligibilityResult:
        """``produce()`` once for ``subject``; raise FlightTimeout past ``deadline`` (clock)."""
        lock = self._store.key("elig-lock", subject)
        shared = self._local.get(lock)
        if shared is not None:
            return await self._wait_local(shared, deadline)
        future: asyncio.Future[EligibilityResult] = asyncio.get_running_loop().create_future()
        self._local[lock] = future
        try:
            result = await self._run_shared(subject, lock, produce, deadline, use_cache)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters re-raise it, nobody else needs to
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._local[lock]

    async def _wait_local(
        self, future: asyncio.Future[EligibilityResult], deadline: float
    ) -> EligibilityResult:
        remaining = deadline - self._clock()
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(remaining, 0))
        except TimeoutError:
            raise FlightTimeout("the shared check did not finish in time") from None

    async def _outcome_of(self, done: str, holder: bytes) -> EligibilityResult | None:
        """The outcome the lock ``holder`` published, if it has."""
        raw = await self._store.cache.get(done)
        if raw is None:
            return None
        token, answer = self._store.read_outcome(done, raw)
        return answer if token == holder else None

    async def _run_shared(
        self, subject: Subject, lock: str, produce: Produce, deadline: float, use_cache: bool
    ) -> EligibilityResult:
        cache = self._store.cache
        done = self._store.key("elig-done", subject)
        delay = self._poll_initial
        while True:
            token = secrets.token_hex(8)
            owner = token.encode()
            if await cache.add(lock, owner, self._lock_ttl):
                released = False
                try:
                    result = await produce()
                    body = self._store.outcome(done, token, result)
                    released = await self._store.publish(
                        result, subject, (done, body, self._done_ttl), release=(lock, owner)
                    )
                    return result
                finally:
                    if not released:
                        # Only while it is still ours: past its TTL another caller may hold it.
                        await cache.release(lock, owner)
            holder = await cache.get(lock)
            while holder is not None:
                if self._clock() >= deadline:
                    raise FlightTimeout("the shared check did not finish in time")
                await asyncio.sleep(min(delay, max(deadline - self._clock(), 0)))
                delay = min(delay * 2, self._poll_max)
                answer = await self._outcome_of(done, holder)
                if answer is not None:
                    return answer
                current = await cache.get(lock)
                if current != holder:
                    # The holder finished (or its lock expired): its outcome or a new round.
                    answer = await self._outcome_of(done, holder)
                    if answer is not None:
                        return answer
                    holder = current
            if self._clock() >= deadline:
                raise FlightTimeout("the shared check did not finish in time")
            # Nobody holds the lock: the leader cached its answer, or we lead the next round.
            cached = await self._store.get(subject) if use_cache else None
            if cached is not None:
                return EligibilityResult.model_validate_json(cached)
