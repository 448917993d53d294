"""A day of appointments on a real FHIR server for batch tests: patients, each with a card
of the payer simulator's SIMPAYER and one appointment on a day no other test books (far
ahead, drawn per run)."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import httpx

from simulators.payer import SIM_PAYER_ID


async def unused_day(http: httpx.AsyncClient, base_url: str) -> date:
    """A far day no appointment on the server has: HAPI keeps every run's records, and
    a day drawn twice would hand a batch an earlier run's patients too."""
    for _ in range(20):
        # Within the years the gateway serves (to 2199), past every other test's days.
        day = date(2150, 1, 1) + timedelta(days=random.randrange(18_000))
        found = await http.get(
            f"{base_url}/Appointment",
            params={"date": day.isoformat(), "_summary": "count"},
            headers={"Cache-Control": "no-cache"},
        )
        found.raise_for_status()
        if found.json().get("total") == 0:
            return day
    raise RuntimeError("no unused day found in 20 draws")


async def booked_day(base_url: str, patients: int) -> tuple[date, list[str]]:
    """(the day, the patients' upstream ids): one transaction of ``patients`` x 3 creates."""
    async with httpx.AsyncClient(timeout=120) as http:
        day = await unused_day(http, base_url)
    run = uuid.uuid4().hex[:8]
    entries: list[dict[str, Any]] = []
    refs: list[str] = []
    for n in range(patients):
        ref = f"urn:uuid:{uuid.uuid4()}"
        refs.append(ref)
        entries.append(
            {
                "fullUrl": ref,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:test:batch", "value": f"{run}-{n}"}],
                    "name": [{"family": f"Batch{run}", "given": [f"P{n}"]}],
                    "birthDate": "1980-01-15",
                    "gender": "female",
                },
                "request": {"method": "POST", "url": "Patient"},
            }
        )
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": ref},
                    "subscriberId": f"BATCH-{run}-{n}",
                    "relationship": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                "code": "self",
                            }
                        ]
                    },
                    "payor": [{"identifier": {"value": SIM_PAYER_ID}}],
                },
                "request": {"method": "POST", "url": "Coverage"},
            }
        )
        start = f"{day.isoformat()}T{9 + n % 8:02d}:{(n // 8) % 60:02d}:00Z"
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Appointment",
                    "status": "booked",
                    "start": start,
                    "end": start.replace(":00Z", ":30Z"),
                    "participant": [{"actor": {"reference": ref}, "status": "accepted"}],
                },
                "request": {"method": "POST", "url": "Appointment"},
            }
        )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.post(base_url, json=bundle)
        response.raise_for_status()
        created = response.json()["entry"]
    ids = [
        e["response"]["location"].split("/")[1]
        for e in created
        if e["response"]["location"].startswith("Patient/")
    ]
    return day, ids
