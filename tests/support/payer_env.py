"""Wire a gateway to the in-process payer simulator (X12 270/271 over httpx.ASGITransport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette

from gateway.settings import PayerConfig, Settings
from simulators.payer import SIM_PAYER_IDS, SIM_PAYER_NAME

__all__ = ["SIM_ENDPOINT", "sim_payer", "to_simulator", "with_payers"]

# Never resolved: the transport factory hands the request to the simulator in process.
SIM_ENDPOINT = "http://payer.test/x12/270"


def sim_payer(**overrides: Any) -> PayerConfig:
    """One configured payer answering for SIMPAYER and every seed payer (71001-71005)."""
    fields: dict[str, Any] = {
        "id": "sim",
        "name": SIM_PAYER_NAME,
        "payer_ids": sorted(SIM_PAYER_IDS),
        "transport": "x12",
        "endpoint": SIM_ENDPOINT,
    }
    fields.update(overrides)
    return PayerConfig(**fields)


def with_payers(settings: Settings, tenant: str, payers: list[PayerConfig]) -> Settings:
    """``settings`` with ``tenant``'s payers replaced."""
    tenants = [
        t.model_copy(update={"payers": payers}) if t.id == tenant else t for t in settings.tenants
    ]
    return settings.model_copy(update={"tenants": tenants})


def to_simulator(app: Starlette) -> Callable[[PayerConfig], httpx.AsyncBaseTransport]:
    """An ``eligibility_transport_factory`` sending every payer's traffic to ``app``."""

    def factory(payer: PayerConfig) -> httpx.AsyncBaseTransport:
        del payer
        return httpx.ASGITransport(app=app)

    return factory
