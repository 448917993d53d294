"""Real processes for the scale benchmarks: gateways (``frontdesk serve``), batch workers
(``frontdesk worker``), the payer simulator and an in-memory FHIR server, with the YAML
configuration they share, and a clinic of bench data on a FHIR server."""

from __future__ import annotations

import os
import random
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from benchmarks._report import Child, free_port, out_dir, wait_http

KEY = "bench-scale-key"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
HAPI_A = os.environ.get("HAPI_BASE_URL_A", "http://127.0.0.1:8081/fhir")


def settings(
    source_url: str, payer_port: int | None, *, rate_limit: str | None = None, **extra: Any
) -> dict[str, Any]:
    from gateway.security import hash_api_key

    payers = []
    if payer_port is not None:
        payers.append(
            {
                "id": "sim",
                "name": "Simulated payer",
                "payer_ids": ["SIMPAYER"],
                "transport": "x12",
                "endpoint": f"http://127.0.0.1:{payer_port}/x12/270",
                "rate_limit": rate_limit,
            }
        )
    return {
        "tenants": [
            {
                "id": "bench",
                "name": "Bench Hospital",
                "time_zone": "America/New_York",
                "provider_npi": "1234567893",
                "sources": [{"id": "ehr-a", "base_url": source_url, "vendor": "hapi"}],
                "payers": payers,
            }
        ],
        "api_clients": [
            {
                "id": "bench",
                "tenant": "bench",
                "scopes": ["patients:read", "slots:read", "coverage:check"],
                "key_sha256": hash_api_key(KEY),
            }
        ],
        "cache": {"redis_url": REDIS_URL},
        "audit_path": str(out_dir() / "audit.jsonl"),
        # The load is the point: the per-client fairness limit must not shape it.
        "client_max_concurrent_requests": 10_000,
        **extra,
    }


def write_config(data: dict[str, Any], name: str) -> Path:
    path = out_dir() / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def gateway(config: Path, name: str, hash_key: str) -> tuple[Child, int]:
    port = free_port()
    child = Child.python(
        ["-m", "frontdesk", "serve", "--config", str(config), "--port", str(port)],
        name,
        {"FRONTDESK_HASH_KEY": hash_key},
    )
    return child, port


def ready(child: Child, port: int) -> None:
    wait_http(f"http://127.0.0.1:{port}/healthz", child)


def worker(config: Path, name: str, hash_key: str) -> Child:
    return Child.python(
        ["-m", "frontdesk", "worker", "--config", str(config)],
        name,
        {"FRONTDESK_HASH_KEY": hash_key},
    )


def uvicorn_app(factory: str, name: str) -> tuple[Child, int]:
    port = free_port()
    child = Child.python(
        [
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        name,
    )
    wait_http(
        f"http://127.0.0.1:{port}/healthz"
        if "payer" in factory
        else f"http://127.0.0.1:{port}/fhir/metadata",
        child,
    )
    return child, port


def unused_day() -> date:
    return date(2150, 1, 1) + timedelta(days=random.randrange(18_000))


def day_of_checks(base_url: str, patients: int) -> date:
    """``patients`` patients, each with a SIMPAYER card and one appointment on a day no one
    else books; one transaction."""
    day = unused_day()
    run = uuid.uuid4().hex[:8]
    entries: list[dict[str, Any]] = []
    for n in range(patients):
        ref = f"urn:uuid:{uuid.uuid4()}"
        start = f"{day.isoformat()}T{9 + n % 8:02d}:{(n // 8) % 60:02d}:00Z"
        entries += [
            {
                "fullUrl": ref,
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": f"Bench{run}", "given": [f"P{n}"]}],
                    "birthDate": "1980-01-15",
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": ref},
                    "subscriberId": f"BENCH-{run}-{n}",
                    "relationship": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                "code": "self",
                            }
                        ]
                    },
                    "payor": [{"identifier": {"value": "SIMPAYER"}}],
                },
                "request": {"method": "POST", "url": "Coverage"},
            },
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
            },
        ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    httpx.post(base_url, json=bundle, timeout=600).raise_for_status()
    return day


def clinic(base_url: str, slots: int, family: str) -> date:
    """A schedule with ``slots`` free slots on a day no one else uses, and five patients
    named ``family``; the day."""
    day = unused_day()
    schedule = f"urn:uuid:{uuid.uuid4()}"
    location = f"urn:uuid:{uuid.uuid4()}"
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": location,
            "resource": {"resourceType": "Location", "name": f"Bench clinic {family}"},
            "request": {"method": "POST", "url": "Location"},
        },
        {
            "fullUrl": schedule,
            "resource": {
                "resourceType": "Schedule",
                "active": True,
                "actor": [{"reference": location}],
            },
            "request": {"method": "POST", "url": "Schedule"},
        },
    ]
    for n in range(slots):
        start = f"{day.isoformat()}T{9 + n // 4:02d}:{(n % 4) * 15:02d}:00Z"
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Slot",
                    "schedule": {"reference": schedule},
                    "status": "free",
                    "start": start,
                    "end": start.replace(":00Z", ":14Z"),
                },
                "request": {"method": "POST", "url": "Slot"},
            }
        )
    for n in range(5):
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": family, "given": [f"Bench{n}"]}],
                    "birthDate": "1975-05-05",
                },
                "request": {"method": "POST", "url": "Patient"},
            }
        )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    httpx.post(base_url, json=bundle, timeout=120).raise_for_status()
    return day
