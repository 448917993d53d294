"""Build gateway settings and FHIR fixtures for tests against real servers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors import FhirClient
from gateway.security import hash_api_key
from gateway.settings import Settings

API_KEY = "test-key-all-scopes"
OPS_KEY = "test-key-operations"
# Another desk of the same hospital (a second API client with the same scopes).
SECOND_DESK_KEY = "test-key-second-desk"
# A supervisor: may book over a conflict and overbook, with a reason.
SUPERVISOR_KEY = "test-key-supervisor"
READ_ONLY_KEY = "test-key-read-only"
OTHER_TENANT_KEY = "test-key-other-tenant"


def settings_for(
    base_a: str,
    base_b: str,
    redis_url: str | None,
    *,
    watch: str = "off",
    watch_interval_seconds: float = 30.0,
    **extra: Any,
) -> Settings:
    """Two tenants: 'general' with EHR A and B, 'other' with EHR B only.

    Sources are not watched for changes unless a test asks (``watch``): a watcher polls
    or subscribes, traffic the other tests don't need."""
    watching = {"watch": watch, "watch_interval_seconds": watch_interval_seconds}
    data: dict[str, Any] = {
        "tenants": [
            {
                "id": "general",
                "name": "General Hospital",
                "time_zone": "America/New_York",
                "provider_npi": "1234567893",
                "sources": [
                    {
                        "id": "ehr-a",
                        "base_url": base_a,
                        "vendor": "hapi",
                        "time_zone": "America/New_York",
                        **watching,
                    },
                    {
                        "id": "ehr-b",
                        "base_url": base_b,
                        "vendor": "hapi",
                        "time_zone": "America/Chicago",
                        **watching,
                    },
                ],
            },
            {
                "id": "other",
                "name": "Other Clinic",
                "sources": [{"id": "ehr-c", "base_url": base_b, "vendor": "hapi", **watching}],
            },
        ],
        "api_clients": [
            {
                "id": "desk",
                "tenant": "general",
                "key_sha256": hash_api_key(API_KEY),
                "scopes": [
                    "patients:read",
                    "patients:write",
                    "slots:read",
                    "appointments:read",
                    "appointments:write",
                    "coverage:check",
                    "waitlist:read",
                    "waitlist:write",
                    "events:read",
                ],
            },
            {
                "id": "viewer",
                "tenant": "general",
                "key_sha256": hash_api_key(READ_ONLY_KEY),
                "scopes": ["patients:read", "slots:read", "appointments:read"],
            },
            {
                "id": "desk-2",
                "tenant": "general",
                "key_sha256": hash_api_key(SECOND_DESK_KEY),
                "scopes": [
                    "patients:read",
                    "slots:read",
                    "appointments:read",
                    "appointments:write",
                    "coverage:check",
                ],
            },
            {
                "id": "supervisor",
                "tenant": "general",
                "key_sha256": hash_api_key(SUPERVISOR_KEY),
                "scopes": [
                    "patients:read",
                    "slots:read",
                    "appointments:read",
                    "appointments:write",
                    "appointments:override",
                    "appointments:overbook",
                    "coverage:check",
                    "waitlist:read",
                    "waitlist:write",
                    "events:read",
                ],
            },
            {
                "id": "ops",
                "tenant": "general",
                "key_sha256": hash_api_key(OPS_KEY),
                "scopes": ["operations:read"],
            },
            {
                "id": "elsewhere",
                "tenant": "other",
                "key_sha256": hash_api_key(OTHER_TENANT_KEY),
                "scopes": [
                    "patients:read",
                    "slots:read",
                    "appointments:read",
                    "appointments:write",
                ],
            },
        ],
        "cache": {"redis_url": redis_url, "slots_ttl_seconds": 30},
    }
    data.update(extra)
    return Settings(**data)


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def clinic(
    base_url: str,
    *,
    slots: int = 3,
    family: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    hour: int = 14,
    service_type: str = "124",
) -> dict[str, Any]:
    """A practitioner, a schedule with free 30-minute slots tomorrow, and one patient.

    Every name and identifier is unique per call so tests never see each other's data.
    """
    run = uuid.uuid4().hex[:10]
    family = family or f"Testfam{run}"
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        fhir = FhirClient(base_url, http=http, source="fixture")
        prac = await fhir.create(
            {"resourceType": "Practitioner", "name": [{"family": f"Doc{run}", "given": ["Ada"]}]}
        )
        loc = await fhir.create({"resourceType": "Location", "name": f"Clinic {run}"})
        role = await fhir.create(
            {
                "resourceType": "PractitionerRole",
                "active": True,
                "practitioner": {"reference": f"Practitioner/{prac['id']}"},
                "location": [{"reference": f"Location/{loc['id']}"}],
                "specialty": [
                    {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "394814009",
                                "display": "General practice",
                            }
                        ]
                    }
                ],
            }
        )
        sched = await fhir.create(
            {
                "resourceType": "Schedule",
                "active": True,
                "actor": [
                    {"reference": f"Practitioner/{prac['id']}"},
                    {"reference": f"Location/{loc['id']}"},
                ],
                "serviceType": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/service-type",
                                "code": "124",
                                "display": "General Practice",
                            }
                        ]
                    }
                ],
            }
        )
        patient = await fhir.create(
            {
                "resourceType": "Patient",
                "identifier": [
                    {
                        "system": "urn:test:mrn",
                        "value": f"MRN-{run}",
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                    "code": "MR",
                                }
                            ]
                        },
                    }
                ],
                "name": [{"use": "official", "family": family, "given": ["Maria"]}],
                "gender": "female",
                "birthDate": "1984-03-09",
            }
        )
        start = (datetime.now(UTC) + timedelta(days=1)).replace(
            hour=hour, minute=0, second=0, microsecond=0
        )
        made = []
        for i in range(slots):
            s = start + timedelta(minutes=30 * i)
            made.append(
                await fhir.create(
                    {
                        "resourceType": "Slot",
                        "schedule": {"reference": f"Schedule/{sched['id']}"},
                        "status": "free",
                        "start": s.isoformat().replace("+00:00", "Z"),
                        "end": (s + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
                        "serviceType": [{"coding": [{"code": service_type}]}],
                    }
                )
            )
    return {
        "practitioner": prac,
        "location": loc,
        "role": role,
        "schedule": sched,
        "patient": patient,
        "slots": made,
        "family": family,
        "start": start,
        "run": run,
    }


async def patients(
    base_url: str, count: int, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[str]:
    """``count`` new patients in one transaction; their upstream ids, in order."""
    run = uuid.uuid4().hex[:10]
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:test:mrn", "value": f"MRN-{run}-{i}"}],
                "name": [{"family": f"Crowd{run}", "given": [f"Person{i}"]}],
                "birthDate": "1990-01-01",
            },
            "request": {"method": "POST", "url": "Patient"},
        }
        for i in range(count)
    ]
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        fhir = FhirClient(base_url, http=http, source="fixture")
        answer = await fhir.transaction(
            {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        )
    return [e["response"]["location"].split("/")[1] for e in answer["entry"]]
