"""A hospital with prices: settings with billing configured (the CMS-template price file,
visit types, holidays, facility), the payer simulator, and FHIR fixtures for the money
questions (insured, self-pay and uninsured patients; appointments on chosen days;
Accounts with balances)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette

from connectors import FhirClient
from gateway.app import create_app
from gateway.audit import MemoryAuditSink
from gateway.cache import Cache, MemoryCache
from gateway.security import hash_api_key
from gateway.settings import ApiClientConfig, Settings, SourceConfig, TenantConfig
from mappers import encode_id
from simulators.fhir_server import create_fhir_app
from simulators.payer import SIM_PAYER_ID, SIM_PAYER_NAME, MemberTable, create_payer_app
from simulators.payer.scenarios import scenario_members
from tests.support.asgi import running
from tests.support.gateway_env import settings_for
from tests.support.payer_env import sim_payer, to_simulator
from tests.support.sandbox_env import BASE_A, BASE_B

__all__ = [
    "HOLIDAYS",
    "MONEY_KEY",
    "ORACLE_BALANCE",
    "PRICE_FILE",
    "R5_BALANCE",
    "ZONE",
    "MoneyGateway",
    "account",
    "appointment_on",
    "billing",
    "money_gateway",
    "money_settings",
    "patient",
    "slot_on",
]

PRICE_FILE = (
    Path(__file__).parents[1] / "fixtures" / "prices" / "general-hospital-standard-charges.csv"
)
ZONE = ZoneInfo("America/New_York")
HOLIDAYS = ["2026-12-24", "2026-12-25", "2027-01-01"]
MONEY_KEY = "test-key-billing-desk"
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
NPI = "1234567893"


def billing(price_file: Path = PRICE_FILE) -> dict[str, Any]:
    return {
        "price_files": [{"path": str(price_file)}],
        "visit_types": [
            {
                "id": "office-established",
                "name": "Office visit, established patient",
                "codes": [{"code": "124"}],
                "service_type": "98",
                "items": [{"code": "99213"}],
            },
            {
                "id": "office-new",
                "name": "Office visit, new patient",
                "codes": [{"code": "NEWPT"}],
                "service_type": "98",
                "items": [{"code": "99203"}],
            },
            {
                "id": "lab-draw",
                "name": "Blood draw",
                "codes": [{"system": SERVICE_TYPE, "code": "LAB"}],
                "service_type": "5",
                "items": [{"code": "36415", "units": 2}],
            },
            {
                "id": "consult",
                "name": "Consultation with a physician",
                "codes": [{"code": "CONSULT"}],
                "service_type": "98",
                "items": [
                    {"code": "99213", "billed_by": "professional"},
                    {"code": "36415", "units": 2},
                ],
            },
        ],
        "holidays": HOLIDAYS,
        "facility": {
            "name": "General Hospital",
            "npi": NPI,
            "tin": "12-3456789",
            "address": "100 Main Street, Springfield, NY 12000",
            "state": "NY",
        },
        "professional_tin": "98-7654321",
    }


def money_settings(
    base_a: str = BASE_A, base_b: str = BASE_B, redis_url: str | None = None, **extra: Any
) -> Settings:
    """The tests' two tenants; "general" with the simulated payer, billing configured and a
    desk holding the billing scopes."""
    settings = settings_for(base_a, base_b, redis_url, **extra)
    general = TenantConfig.model_validate(
        {
            **settings.tenants[0].model_dump(),
            "payers": [sim_payer().model_dump()],
            "billing": billing(),
        }
    )

    desk = ApiClientConfig(
        id="billing-desk",
        tenant="general",
        key_sha256=hash_api_key(MONEY_KEY),
        scopes=[
            "patients:read",
            "patients:write",
            "slots:read",
            "appointments:read",
            "appointments:write",
            "coverage:check",
            "billing:read",
            "billing:write",
        ],
    )
    return settings.model_copy(
        update={
            "tenants": [general, *settings.tenants[1:]],
            "api_clients": [*settings.api_clients, desk],
        }
    )


def payer_app() -> Starlette:
    return create_payer_app(MemberTable(scenario_members(), payers={SIM_PAYER_ID: SIM_PAYER_NAME}))


@dataclass
class MoneyGateway:
    api: httpx.AsyncClient
    ehrs: dict[str, Starlette]
    audit: MemoryAuditSink
    payer: Starlette

    def transport(self, source: str) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.ehrs[source])

    def fhir(self, http: httpx.AsyncClient, source: str = "ehr-a") -> FhirClient:
        base = BASE_A if source == "ehr-a" else BASE_B
        return FhirClient(base, http=http, source="fixture")


@asynccontextmanager
async def money_gateway(
    cache: Cache | None = None, *, vendor_b: str = "hapi", **extra: Any
) -> AsyncIterator[MoneyGateway]:
    """The gateway over two in-memory EHRs (EHR B with ``vendor_b``'s profile) and the
    payer simulator, with billing."""
    ehr_a, ehr_b = create_fhir_app(name="ehr-a"), create_fhir_app(name="ehr-b")
    by_host = {"ehr-a.sandbox": ehr_a, "ehr-b.sandbox": ehr_b}

    def transport_factory(source: SourceConfig) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=by_host[source.base_url.host or ""])

    audit, payer = MemoryAuditSink(), payer_app()
    settings = money_settings(**extra)
    if vendor_b != "hapi":
        general = settings.tenants[0]
        sources = [
            s.model_copy(update={"vendor": vendor_b}) if s.id == "ehr-b" else s
            for s in general.sources
        ]
        settings = settings.model_copy(
            update={
                "tenants": [general.model_copy(update={"sources": sources}), *settings.tenants[1:]]
            }
        )
    app = create_app(
        settings,
        transport_factory=transport_factory,
        cache=cache or MemoryCache(),
        audit=audit,
        eligibility_transport_factory=to_simulator(payer),
    )
    async with running(app) as api:
        api.headers["Authorization"] = f"Bearer {MONEY_KEY}"
        yield MoneyGateway(api, {"ehr-a": ehr_a, "ehr-b": ehr_b}, audit, payer)


# --- FHIR fixtures --------------------------------------------------------------------


async def patient(
    fhir: FhirClient,
    *,
    family: str,
    given: str,
    birth_date: str,
    member_id: str | None = None,
    self_pay: bool = False,
    gender: str = "female",
) -> dict[str, Any]:
    """A patient; insured (a Coverage naming SIMPAYER and ``member_id``), self-pay (a
    Coverage the patient pays) or, with neither, uninsured."""
    made = await fhir.create(
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:test:mrn", "value": f"MRN-{uuid.uuid4().hex[:10]}"}],
            "name": [{"family": family, "given": [given]}],
            "birthDate": birth_date,
            "gender": gender,
        }
    )
    pid = made["id"]
    if member_id is not None:
        await fhir.create(
            {
                "resourceType": "Coverage",
                "status": "active",
                "identifier": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                    "code": "MB",
                                }
                            ]
                        },
                        "value": member_id,
                    }
                ],
                "subscriberId": member_id,
                "beneficiary": {"reference": f"Patient/{pid}"},
                "relationship": {"coding": [{"code": "self"}]},
                "payor": [
                    {
                        "identifier": {"value": SIM_PAYER_ID},
                        "display": SIM_PAYER_NAME,
                    }
                ],
                "class": [
                    {
                        "type": {"coding": [{"code": "plan"}]},
                        "value": "SIM-PPO",
                        "name": "SIM PPO GOLD",
                    }
                ],
            }
        )
    elif self_pay:
        await fhir.create(
            {
                "resourceType": "Coverage",
                "status": "active",
                "beneficiary": {"reference": f"Patient/{pid}"},
                "payor": [{"reference": f"Patient/{pid}"}],
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/coverage-selfpay",
                            "code": "pay",
                        }
                    ]
                },
            }
        )
    return made


async def appointment_on(
    fhir: FhirClient,
    source: str,
    patient_id: str,
    day: date,
    *,
    code: str = "124",
    system: str | None = None,
    npi: str | None = NPI,
    hour: int = 10,
) -> dict[str, Any]:
    """A booked appointment on ``day`` (tenant wall clock) with a practitioner (with an NPI
    unless ``npi`` is None) for the visit type ``code``; its gateway id under ``gid``."""
    identifiers = [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}] if npi else []
    practitioner = await fhir.create(
        {
            "resourceType": "Practitioner",
            "identifier": identifiers,
            "name": [{"family": "Rivera", "given": ["Ana"], "prefix": ["Dr"]}],
        }
    )
    start = datetime.combine(day, time(hour), ZONE)
    coding: dict[str, str] = {"code": code}
    if system:
        coding["system"] = system
    made = await fhir.create(
        {
            "resourceType": "Appointment",
            "status": "booked",
            "serviceType": [{"coding": [coding]}],
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "participant": [
                {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                {
                    "actor": {"reference": f"Practitioner/{practitioner['id']}"},
                    "status": "accepted",
                },
            ],
        }
    )
    return {**made, "gid": encode_id(source, "Appointment", made["id"])}


async def slot_on(fhir: FhirClient, day: date, *, code: str = "124", hour: int = 9) -> str:
    """A free 30-minute slot on ``day`` (tenant wall clock) for visit type ``code``; its
    upstream id."""
    practitioner = await fhir.create(
        {
            "resourceType": "Practitioner",
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": NPI}],
            "name": [{"family": "Okafor", "given": ["Ben"], "prefix": ["Dr"]}],
        }
    )
    schedule = await fhir.create(
        {
            "resourceType": "Schedule",
            "active": True,
            "actor": [{"reference": f"Practitioner/{practitioner['id']}"}],
            "serviceType": [{"coding": [{"code": code}]}],
        }
    )
    start = datetime.combine(day, time(hour), ZONE)
    slot = await fhir.create(
        {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{schedule['id']}"},
            "status": "free",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "serviceType": [{"coding": [{"code": code}]}],
        }
    )
    slot_id: str = slot["id"]
    return slot_id


R5_BALANCE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Account.balance"
ORACLE_BALANCE = "https://fhir-ehr.cerner.com/r4/StructureDefinition/account-balance"


def account(
    patient_id: str,
    *,
    patient_owes: str | None = None,
    insurance_owes: str | None = None,
    oracle_balance: str | None = None,
    oracle_type: str = "guarantor-balance",
    status: str = "active",
) -> dict[str, Any]:
    """An Account of the patient with its balances: the R5 cross-version extension (the
    patient's and the insurance's parts) and/or Oracle Health's account-balance."""
    extensions: list[dict[str, Any]] = []
    for who, amount in (("patient", patient_owes), ("insurance", insurance_owes)):
        if amount is None:
            continue
        extensions.append(
            {
                "url": R5_BALANCE,
                "extension": [
                    {
                        "url": "aggregate",
                        "valueCodeableConcept": {
                            "coding": [
                                {"system": "http://hl7.org/fhir/account-aggregate", "code": who}
                            ]
                        },
                    },
                    {
                        "url": "term",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "http://hl7.org/fhir/account-balance-term",
                                    "code": "current",
                                }
                            ]
                        },
                    },
                    {"url": "amount", "valueMoney": {"value": float(amount), "currency": "USD"}},
                ],
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Account",
        "status": status,
        "subject": [{"reference": f"Patient/{patient_id}"}],
        "extension": extensions,
    }
    if oracle_balance is not None:
        extensions.append(
            {
                "url": ORACLE_BALANCE,
                "valueMoney": {"value": float(oracle_balance), "currency": "USD"},
            }
        )
        resource["type"] = {"text": oracle_type}
    else:
        resource["type"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PBILLACCT"}
            ]
        }
    return resource
