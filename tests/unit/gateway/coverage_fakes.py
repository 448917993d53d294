"""Fakes for the coverage service's ports: a scripted payer, a mock EHR, a 271 writer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx

from connectors import FhirClient, Policy
from gateway.cache import CacheKeys, MemoryCache
from gateway.sealing import Sealer, derive_key
from gateway.services.coverage import CoverageDesk
from gateway.services.eligibility_cache import EligibilityStore, SingleFlight, TtlPolicy
from gateway.services.payers import PayerPort
from gateway.services.scheduling import SlotCreateScheduler
from gateway.settings import PayerConfig, SourceConfig, TenantConfig
from gateway.sources import SourceHandle, TenantSources
from mappers import encode_id
from mappers.model import (
    Benefit,
    EligibilityError,
    EligibilityRequest,
    EligibilityResult,
)

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
NPI = "1234567893"


def active(member_id: str = "M-1", copay: str = "25") -> EligibilityResult:
    return EligibilityResult(
        status="active",
        checked_at=NOW,
        member_id=member_id,
        plan_name="GOLD PLAN",
        origin="x12",
        benefits=[
            Benefit(kind="active_coverage", service_type="30"),
            Benefit(kind="copay", service_type="98", amount=Decimal(copay), in_network=True),
        ],
    )


def rejected(code: str, status: Literal["error"] = "error") -> EligibilityResult:
    return EligibilityResult(
        status=status,
        checked_at=NOW,
        origin="x12",
        errors=[EligibilityError(code=code, description=f"reason {code}")],
    )


class FakePayer:
    """A payer answering from a script; counts calls and records the requests."""

    origin: Literal["x12", "fhir"] = "x12"

    def __init__(
        self,
        answer: EligibilityResult | Exception | Callable[[], EligibilityResult] | None = None,
        *,
        delay: float = 0.0,
    ) -> None:
        self.answer = answer if answer is not None else active()
        self.delay = delay
        self.calls = 0
        self.requests: list[EligibilityRequest] = []

    async def check(self, request: EligibilityRequest) -> EligibilityResult:
        self.calls += 1
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if isinstance(self.answer, Exception):
            raise self.answer
        if callable(self.answer):
            return self.answer()
        return self.answer


def tenant(payers: list[PayerConfig] | None = None) -> TenantConfig:
    return TenantConfig(
        id="t1",
        name="Test Hospital",
        time_zone="America/New_York",
        provider_npi=NPI,
        sources=[SourceConfig(id="ehr-a", base_url="http://ehr-a.test/fhir")],
        payers=payers
        if payers is not None
        else [
            PayerConfig(
                id="acme",
                name="Acme Health",
                payer_ids=["ACME01"],
                transport="x12",
                endpoint="http://clearinghouse.test/270",
            ),
            PayerConfig(id="paper", name="Paper Mutual", payer_ids=["PAPER1"], transport="none"),
        ],
    )


def patient_id(upstream: str = "p1") -> str:
    return encode_id("ehr-a", "Patient", upstream)


def coverage_json(
    cid: str,
    member: str,
    payer: str = "ACME01",
    *,
    order: int | None = 1,
    end: str | None = None,
    status: str = "active",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": cid,
        "status": status,
        "beneficiary": {"reference": "Patient/p1"},
        "subscriberId": member,
        "relationship": {"coding": [{"code": "self"}]},
        "payor": [{"identifier": {"value": payer}, "display": "Acme Health"}],
        "class": [{"type": {"coding": [{"code": "group"}]}, "value": "GRP-7"}],
    }
    if order is not None:
        resource["order"] = order
    if end is not None:
        resource["period"] = {"start": "2020-01-01", "end": end}
    return resource


class FakeEhr:
    """One FHIR source answering Patient reads, Coverage and Appointment searches."""

    def __init__(
        self,
        coverages: list[dict[str, Any]],
        *,
        by_patient: dict[str, list[dict[str, Any]]] | None = None,
        appointments: list[dict[str, Any]] | None = None,
    ) -> None:
        self.coverages = coverages
        self.by_patient = by_patient or {}
        self.appointments = appointments or []
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if "/Patient/" in path:
            return _json(
                {
                    "resourceType": "Patient",
                    "id": path.rsplit("/", 1)[-1],
                    "name": [{"family": "Rivera", "given": ["Ana"]}],
                    "birthDate": "1980-04-02",
                    "gender": "female",
                }
            )
        if path.endswith("/Coverage"):
            who = request.url.params.get("beneficiary", "").rsplit("/", 1)[-1]
            return _bundle(self.by_patient.get(who, self.coverages))
        if path.endswith("/Appointment"):
            return _bundle(self.appointments)
        return httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []})

    def sources(self, config: TenantConfig) -> TenantSources:
        source = config.sources[0]
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        client = FhirClient(
            str(source.base_url), http=http, source=source.id, policy=Policy(max_attempts=1)
        )
        scheduler = SlotCreateScheduler(client, source.id)
        return TenantSources(config, {source.id: SourceHandle(source, client, scheduler)})


def _bundle(resources: list[dict[str, Any]]) -> httpx.Response:
    return _json(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in resources],
        }
    )


def appointment(aid: str, patient: str, status: str = "booked") -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": aid,
        "status": status,
        "start": "2025-03-11T14:00:00Z",
        "end": "2025-03-11T14:30:00Z",
        "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}],
    }


def _json(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, content=json.dumps(body).encode(), headers={"Content-Type": "application/fhir+json"}
    )


def desk(
    payers: dict[str, PayerPort],
    *,
    cache: MemoryCache | None = None,
    ehr: FakeEhr | None = None,
    config: TenantConfig | None = None,
    budget: float = 20.0,
    flights: SingleFlight | None = None,
) -> CoverageDesk:
    config = config or tenant()
    store = EligibilityStore(
        cache or MemoryCache(),
        CacheKeys("test-secret"),
        TtlPolicy(),
        Sealer([("t1", derive_key("test-secret", purpose="cache"))]),
    )
    return CoverageDesk(
        tenant=config,
        sources=(ehr or FakeEhr([])).sources(config),
        payers=payers,
        store=store,
        flights=flights or SingleFlight(store, lock_ttl=budget + 5),
        budget_seconds=budget,
        wall=lambda: NOW,
    )


def dos() -> date:
    return date(2025, 3, 11)


_ISA = (
    "ISA*03*9876543210*01*9876543210*30*000000005      *30*12345          "
    "*131031*1147*^*00501*000000907*1*T*:~"
)


def x12_271(member_id: str, *, copay: str | None = "25", aaa: str | None = None) -> str:
    """A small 271: active coverage with an office-visit copay, or a subscriber AAA."""
    body = [
        "ST*271*4321*005010X279A1",
        "BHT*0022*11*10001234*20250310*1319",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH*****PI*ACME01",
        "HL*2*1*21*1",
        "NM1*1P*2*CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        "TRN*2*93175-012547*9877281234",
        f"NM1*IL*1*RIVERA*ANA****MI*{member_id}",
    ]
    if aaa is not None:
        body.append(f"AAA*N**{aaa}*C")
    else:
        body += ["REF*6P*GRP-7", "EB*1*IND*30**GOLD PLAN"]
        if copay is not None:
            body.append(f"EB*B*IND*98****{copay}*****Y")
    body.append(f"SE*{len(body) + 1}*4321")
    return (
        _ISA
        + "GS*HB*000000005*54321*20250310*1147*1*X*005010X279A1~"
        + "~".join(body)
        + "~GE*1*1~IEA*1*000000907~"
    )
