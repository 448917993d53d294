"""Settings, data and clean-up for person-index tests against real HAPI and Redis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import redis.asyncio as aioredis

from connectors import FhirClient
from gateway.security import hash_api_key
from gateway.settings import Settings
from mappers import encode_id
from simulators.seed.corruption import CorruptedPair

DESK_KEY = "identity-desk"
SUPERVISOR_KEY = "identity-supervisor"


def identity_settings(
    tenant: str, base_a: str, base_b: str, redis_url: str, **extra: Any
) -> Settings:
    """One tenant of its own (its index keys are its own) with EHR A and EHR B."""
    return Settings(
        tenants=[
            {
                "id": tenant,
                "name": "Identity Hospital",
                "sources": [
                    {"id": "ehr-a", "base_url": base_a, "vendor": "hapi"},
                    {"id": "ehr-b", "base_url": base_b, "vendor": "hapi"},
                ],
            }
        ],
        api_clients=[
            {
                "id": "desk",
                "tenant": tenant,
                "key_sha256": hash_api_key(DESK_KEY),
                "scopes": ["patients:read", "patients:write", "appointments:read"],
            },
            {
                "id": "supervisor",
                "tenant": tenant,
                "key_sha256": hash_api_key(SUPERVISOR_KEY),
                "scopes": ["patients:read", "patients:write", "patients:link"],
            },
        ],
        cache={"redis_url": redis_url},
        **extra,
    )


def auth(key: str = DESK_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def load(base_url: str, resources: list[dict[str, Any]]) -> None:
    """PUT with the resources' own ids in one transaction (loading twice changes nothing)."""
    entries = [
        {
            "fullUrl": f"{base_url.rstrip('/')}/Patient/{r['id']}",
            "resource": r,
            "request": {"method": "PUT", "url": f"Patient/{r['id']}"},
        }
        for r in resources
    ]
    async with httpx.AsyncClient(timeout=120) as http:
        fhir = FhirClient(base_url, http=http, source="fixture")
        for start in range(0, len(entries), 250):
            await fhir.transaction(
                {
                    "resourceType": "Bundle",
                    "type": "transaction",
                    "entry": entries[start : start + 250],
                }
            )


def gateway_ids(pair: CorruptedPair) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (encode_id("ehr-a", "Patient", a), encode_id("ehr-b", "Patient", b), kinds)
        for a, b, kinds in pair.same_person
    ]


def by_id(resources: list[dict[str, Any]]) -> Mapping[str, dict[str, Any]]:
    return {r["id"]: r for r in resources}


async def forget_tenant(redis_url: str, tenant: str) -> None:
    """Remove every index key of ``tenant`` (tests use a tenant of their own)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        for pattern in (f"fd:idx:{tenant}:*", f"fd:{{idx:{tenant}}}:*"):
            async for key in client.scan_iter(match=pattern, count=1000):
                await client.unlink(key)
    finally:
        await client.aclose()


class NoExport(httpx.AsyncBaseTransport):
    """A real HAPI whose CapabilityStatement no longer declares ``$export`` (an EHR that
    only offers search), everything else passed through."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not request.url.path.endswith("/metadata"):
            return response
        body = await response.aread()
        import json

        doc = json.loads(body)
        for rest in doc.get("rest", []):
            rest["operation"] = [o for o in rest.get("operation", []) if o.get("name") != "export"]
            for resource in rest.get("resource", []):
                resource["operation"] = [
                    o for o in resource.get("operation", []) if o.get("name") != "export"
                ]
        return httpx.Response(200, json=doc, headers={"Content-Type": "application/fhir+json"})

    async def aclose(self) -> None:
        await self._inner.aclose()
