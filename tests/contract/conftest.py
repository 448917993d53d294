"""The contract suite runs every test against the sandbox and against real HAPI.

The sandbox is reached through httpx.ASGITransport (no sockets); HAPI through
the local JPA server of EHR A. HAPI is the reference: when a test fails only on
the sandbox, fix the sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from simulators.fhir_server import create_fhir_app
from tests.contract.fhir import Fhir

SANDBOX_BASE_URL = "http://ehr-a.sandbox/fhir"


@pytest.fixture(params=["sandbox", pytest.param("hapi", marks=pytest.mark.hapi)])
async def fhir(request: pytest.FixtureRequest) -> AsyncIterator[Fhir]:
    if request.param == "sandbox":
        transport = httpx.ASGITransport(app=create_fhir_app(name="ehr-a"))
        client = httpx.AsyncClient(transport=transport, base_url=SANDBOX_BASE_URL)
        base_url = SANDBOX_BASE_URL
    else:
        base_url = request.getfixturevalue("hapi_base_urls")[0]
        client = httpx.AsyncClient(base_url=base_url, timeout=30.0)
    async with client:
        yield Fhir(client, base_url)
