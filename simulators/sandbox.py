"""The sandbox: two simulated EHRs and a simulated payer, in process, no sockets.

``frontdesk serve`` without a config runs the real gateway against these: the
EHRs are simulators.fhir_server FHIR servers filled by the seed generator, the
payer is the payer simulator, reached through ``httpx.ASGITransport``. Nothing
here is used when a configuration file is given.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import date

import httpx
from starlette.types import ASGIApp

from connectors import FhirClient
from gateway.console.accounts import hash_password
from gateway.logs import get_logger
from gateway.security import hash_api_key
from gateway.settings import ALL_SCOPES, PayerConfig, Settings, SourceConfig

__all__ = ["SANDBOX_CONSOLE_USER", "SANDBOX_TENANT", "Sandbox", "build_sandbox"]

SANDBOX_TENANT = "sandbox-hospital"
_EHRS = {"ehr-a": "America/New_York", "ehr-b": "America/Chicago"}
_PAYER_HOST = "http://payer.sandbox"

log = get_logger(__name__)


@dataclass
class Sandbox:
    settings: Settings
    ehr_apps: dict[str, ASGIApp]
    payer_app: ASGIApp
    seed: int = 7
    today: date | None = None
    seeded: dict[str, dict[str, int]] = field(default_factory=dict)

    def transport_factory(self, source: SourceConfig) -> httpx.AsyncBaseTransport | None:
        return httpx.ASGITransport(app=self.ehr_apps[source.id])

    def payer_transport_factory(self, payer: PayerConfig) -> httpx.AsyncBaseTransport | None:
        return httpx.ASGITransport(app=self.payer_app)

    async def prepare(self) -> None:
        """Load the seed data into both simulated EHRs (idempotent)."""
        from simulators.seed import build_bundles, load
        from simulators.seed.accounts import build_account_bundle

        for source_id, app in self.ehr_apps.items():
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{source_id}.sandbox"
            ) as http:
                base_url = f"http://{source_id}.sandbox/fhir"
                fhir = FhirClient(base_url, http=http, source=source_id)
                bundles = build_bundles(
                    source_id, seed=self.seed, today=self.today, base_url=base_url
                )
                report = await load(
                    fhir, [*bundles, build_account_bundle(source_id, seed=self.seed)]
                )
                self.seeded[source_id] = dict(report.counts)
        log.info("sandbox_seeded", sources=list(self.seeded))


def _payers() -> list[PayerConfig]:
    from simulators.payer import SIM_PAYER_IDS

    return [
        PayerConfig(
            id="simulated-payers",
            name="Simulated payers (sandbox)",
            payer_ids=sorted(SIM_PAYER_IDS),
            transport="x12",
            endpoint=f"{_PAYER_HOST}/x12/270",
        )
    ]


_SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"


def _billing() -> dict[str, object]:
    """The sandbox hospital's prices: the seed's two visit types, priced by hand (a real
    hospital points ``price_files`` at its CMS machine-readable file)."""
    simulated = "simulated-payers"
    return {
        "visit_types": [
            {
                "id": "general-practice",
                "name": "Office visit, established patient",
                "codes": [{"system": _SERVICE_TYPE, "code": "124"}],
                "service_type": "98",
                "items": [{"code": "99213"}],
            },
            {
                "id": "immunization",
                "name": "Flu shot",
                "codes": [{"system": _SERVICE_TYPE, "code": "57"}],
                "service_type": "80",
                "items": [{"code": "90471"}, {"code": "90686"}],
            },
        ],
        "charges": [
            {
                "code": "99213",
                "description": "Office visit, established patient, 20 minutes",
                "gross": "250.10",
                "cash": "150.05",
                "negotiated": [{"payer": simulated, "amount": "123.45"}],
            },
            {
                "code": "90471",
                "description": "Immunization administration, one vaccine",
                "gross": "45.00",
                "cash": "30.00",
                "negotiated": [{"payer": simulated, "amount": "25.00"}],
            },
            {
                "code": "90686",
                "description": "Influenza vaccine, quadrivalent, preservative free",
                "gross": "60.00",
                "cash": "40.00",
                "negotiated": [{"payer": simulated, "amount": "32.10"}],
            },
        ],
        "holidays": ["2026-12-25", "2027-01-01", "2027-01-18", "2027-02-15"],
        "facility": {
            "name": "Sandbox Hospital",
            "npi": "1234567893",
            "tin": "12-3456789",
            "address": "1 Sandbox Way, Springfield, NY 12000",
            "state": "NY",
        },
    }


SANDBOX_CONSOLE_USER = "desk"


def build_sandbox(
    *,
    api_key: str,
    console_password: str | None = None,
    seed: int = 7,
    today: date | None = None,
) -> Sandbox:
    """The sandbox; with ``console_password``, a desk console user ``desk`` (a supervisor,
    so every screen shows) signs in with it."""
    from simulators.fhir_server import create_fhir_app
    from simulators.payer import create_payer_app
    from simulators.seed import PROFILES

    # The sandbox's cache-key secret is per process unless the operator sets one.
    os.environ.setdefault("FRONTDESK_HASH_KEY", secrets.token_hex(16))
    settings = Settings(
        sandbox=True,
        tenants=[
            {
                "id": SANDBOX_TENANT,
                "name": "Sandbox Hospital",
                "time_zone": "America/New_York",
                "provider_npi": "1234567893",
                "provider_name": "SANDBOX CLINIC",
                "sources": [
                    {
                        "id": sid,
                        "base_url": f"http://{sid}.sandbox/fhir",
                        "vendor": "hapi",
                        "time_zone": tz,
                        "mrn_system": PROFILES[sid].mrn_system,
                    }
                    for sid, tz in _EHRS.items()
                ],
                "payers": [p.model_dump(mode="json") for p in _payers()],
                "billing": _billing(),
            }
        ],
        api_clients=[
            {
                "id": "sandbox-desk",
                "tenant": SANDBOX_TENANT,
                # The sandbox's desk may do everything a desk can, supervisor's overrides too.
                "scopes": [s for s in ALL_SCOPES if s != "operations:read"],
                "key_sha256": hash_api_key(api_key),
            }
        ],
        console={
            "users": [
                {
                    "username": SANDBOX_CONSOLE_USER,
                    "display_name": "Sandbox desk",
                    "password_hash": hash_password(console_password),
                    "tenant": SANDBOX_TENANT,
                    "role": "supervisor",
                }
            ]
            if console_password
            else [],
            # The sandbox serves plain http on loopback.
            "secure_cookie": False,
        },
        audit_path=os.environ.get("FRONTDESK_AUDIT_PATH", ".run/sandbox-audit.jsonl"),
    )
    return Sandbox(
        settings=settings,
        ehr_apps={sid: create_fhir_app(name=sid) for sid in _EHRS},
        payer_app=create_payer_app(),
        seed=seed,
        today=today,
    )
