"""The seed loader: counts what each transaction entry did; reloading changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from connectors import FhirClient
from frontdesk.cli import app
from simulators.fhir_server import create_fhir_app
from simulators.seed import SeedError, build_bundles, load
from simulators.seed.loader import entry_outcome
from simulators.seed.run import format_report

TODAY = date(2026, 3, 2)
NO_CHANGE = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "information",
            "code": "informational",
            "details": {
                "coding": [
                    {
                        "system": "https://hapifhir.io/fhir/CodeSystem/hapi-fhir-storage-response-code",
                        "code": "SUCCESSFUL_UPDATE_NO_CHANGE",
                    }
                ]
            },
        }
    ],
}


class ScriptedServer:
    """Answers each transaction entry with the next scripted `response` object."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = responses
        self.sent: list[Mapping[str, Any]] = []

    async def transaction(self, bundle: Mapping[str, Any]) -> Mapping[str, Any]:
        self.sent.append(bundle)
        n = len(bundle["entry"])
        answer, self.responses = self.responses[:n], self.responses[n:]
        return {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [{"response": r} for r in answer],
        }


def bundle_of(*resource_types: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "PUT", "url": f"{t}/x-{i}"}, "resource": {"resourceType": t}}
            for i, t in enumerate(resource_types)
        ],
    }


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        ({"status": "201 Created", "lastModified": "2026-01-01T00:00:00Z"}, "created"),
        ({"status": "200 OK", "etag": 'W/"2"', "lastModified": "2026-01-01T00:00:00Z"}, "updated"),
        (
            {
                "status": "200 OK",
                "etag": 'W/"1"',
                "lastModified": "2026-01-01T00:00:00Z",
                "outcome": NO_CHANGE,
            },
            "unchanged",
        ),
        ({"status": "200 OK", "etag": 'W/"1"'}, "unchanged"),
    ],
)
def test_entry_outcome(response: dict[str, Any], outcome: str) -> None:
    assert entry_outcome(response) == outcome


def test_entry_outcome_refuses_an_error_status() -> None:
    with pytest.raises(SeedError, match="400"):
        entry_outcome({"status": "400 Bad Request"})


async def test_load_counts_per_type_and_outcome() -> None:
    server = ScriptedServer(
        [
            {"status": "201 Created", "lastModified": "x"},
            {"status": "200 OK", "lastModified": "x"},
            {"status": "200 OK", "outcome": NO_CHANGE},
            {"status": "201 Created", "lastModified": "x"},
        ]
    )
    report = await load(server, [bundle_of("Patient", "Patient", "Slot"), bundle_of("Slot")])
    assert report.bundles == 2 and len(server.sent) == 2
    assert report.counts == {"Patient": 2, "Slot": 2}
    assert report.created == {"Patient": 1, "Slot": 1}
    assert report.updated == {"Patient": 1}
    assert report.unchanged == {"Slot": 1}


async def test_load_refuses_a_short_transaction_response() -> None:
    server = ScriptedServer([{"status": "201 Created"}])
    with pytest.raises(SeedError, match="1 entries for 2 sent"):
        await load(server, [bundle_of("Patient", "Patient")])


async def test_seeding_the_sandbox_twice_creates_nothing_the_second_time() -> None:
    fhir_app = create_fhir_app(name="ehr-b")
    bundles = build_bundles("ehr-b", today=TODAY)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fhir_app), base_url="http://ehr-b.sandbox"
    ) as http:
        fhir = FhirClient("http://ehr-b.sandbox/fhir", http=http, source="ehr-b")
        first = await load(fhir, bundles)
        second = await load(fhir, bundles)
        patient = await fhir.read("Patient", "p-1001")
    sent = sum(len(b["entry"]) for b in bundles)
    assert first.total == first.created.total() == sent
    assert second.created.total() == 0 and second.updated.total() == 0
    assert second.unchanged.total() == sent
    assert patient["meta"]["versionId"] == "1"
    text = format_report(second)
    assert "Patient" in text and f"{sent}" in text


def test_cli_seed_reports_an_unreachable_server_without_a_traceback() -> None:
    result = CliRunner().invoke(
        app, ["seed", "--base-url", "http://127.0.0.1:9/fhir", "--profile", "ehr-a"]
    )
    assert result.exit_code == 1
    assert "127.0.0.1:9" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_seed_refuses_an_unknown_profile() -> None:
    result = CliRunner().invoke(app, ["seed", "--base-url", "http://x/fhir", "--profile", "ehr-q"])
    assert result.exit_code == 2
    assert "unknown profile" in result.output
