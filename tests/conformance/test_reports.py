"""Reports and redaction, on a real run against the sandbox plus one forced failure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

import httpx
from typer.testing import CliRunner

from conformance import CheckResult, Report, Severity, Status
from conformance.checks import all_checks
from conformance.command import auth_headers
from conformance.recorder import interaction_of
from conformance.redact import MASK, Redactor
from conformance.report_html import to_html
from conformance.report_json import SCHEMA, to_json
from conformance.report_junit import to_junit
from frontdesk.cli import app


def _with_failure(report: Report) -> Report:
    """The sandbox report with one error-severity and one warning failure added."""
    base = report.results[0]
    failed = replace(
        base, id="x.broken", status=Status.FAIL, reason="it broke", severity=Severity.ERROR
    )
    warned = CheckResult(
        "x.warn", "x", "a warning", Severity.WARNING, base.spec_url, Status.FAIL, "meh"
    )
    return replace(report, results=[*report.results, failed, warned])


def test_json_report_has_a_stable_schema(sandbox_report):
    doc = json.loads(to_json(sandbox_report))
    assert doc["schema"] == SCHEMA
    assert doc["passed"] is True
    assert doc["summary"]["pass"] + doc["summary"]["skip"] == len(doc["checks"])
    assert len(doc["checks"]) == len(all_checks())
    check = next(c for c in doc["checks"] if c["id"] == "search.patient-identifier")
    assert set(check) == {
        "id",
        "group",
        "title",
        "severity",
        "status",
        "reason",
        "spec",
        "duration_ms",
        "notes",
        "exchanges",
    }
    assert check["spec"] == "https://hl7.org/fhir/R4/search.html#token"
    assert check["exchanges"] and check["exchanges"][0]["method"] == "GET"
    assert {t["interaction"] for t in doc["timing"]} >= {"search Patient", "create Patient"}


def test_reports_carry_no_phi_by_default(sandbox_report):
    text = to_json(sandbox_report) + to_html(sandbox_report) + to_junit(sandbox_report)
    # Fixture names, birth dates and identifier values never appear.
    for secret in ("Zzconf", "1961-03-14", f"{sandbox_report.run_id}-1", "TestB"):
        assert secret not in text
    assert MASK in text


def test_junit_has_one_testcase_per_check_and_fails_only_errors(sandbox_report):
    report = _with_failure(sandbox_report)
    root = ET.fromstring(to_junit(report))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(report.results)
    failed = [c.get("name", "") for c in cases if c.find("failure") is not None]
    assert len(failed) == 1 and failed[0].startswith("x.broken")
    assert suite.get("failures") == "1"
    warn = next(c for c in cases if c.get("name", "").startswith("x.warn"))
    assert "WARNING" in (warn.findtext("system-out") or "")


def test_html_puts_failures_first_with_the_request(sandbox_report):
    page = to_html(_with_failure(sandbox_report))
    assert "NOT READY" in page
    first_check = page.index("<details")
    assert page.index("x.broken") < page.index("search.paging")
    assert page.index("x.broken") > first_check
    assert "GET http://sandbox.test/fhir/metadata" in page


def test_redactor_masks_query_values_and_person_elements():
    r = Redactor()
    url = r.url("http://h/fhir/Patient?family=Smith&birthdate=1970-01-01&_count=5")
    assert "Smith" not in url and "1970" not in url and "_count=5" in url
    body = r.body(b'{"resourceType":"Patient","id":"7","name":[{"family":"Smith"}]}')
    assert body is not None and "Smith" not in body and '"id":"7"' in body
    assert Redactor(show_phi=True).body(b'{"name":"Smith"}') == '{"name":"Smith"}'
    assert r.text(f"found {r.phi('Smith')}") == f"found {MASK}"


def test_interaction_labels():
    assert interaction_of("GET", httpx.URL("http://h/fhir/Slot?status=free")) == "search Slot"
    assert interaction_of("GET", httpx.URL("http://h/fhir/Slot/1")) == "read Slot"
    assert interaction_of("PUT", httpx.URL("http://h/fhir/Slot/1")) == "update Slot"
    assert interaction_of("GET", httpx.URL("http://h/fhir?_getpages=x")) == "search (next page)"
    assert interaction_of("GET", httpx.URL("http://h/fhir/metadata")) == "capabilities"


def test_auth_options(monkeypatch):
    assert auth_headers("bearer:abc") == {"Authorization": "Bearer abc"}
    monkeypatch.setenv("FRONTDESK_CONFORMANCE_TOKEN", "t0k")
    assert auth_headers("bearer:env") == {"Authorization": "Bearer t0k"}
    assert auth_headers("basic:u:p")["Authorization"].startswith("Basic ")
    assert auth_headers(None) == {}


def test_cli_refuses_an_unknown_vendor():
    result = CliRunner().invoke(
        app, ["conformance", "--base-url", "http://127.0.0.1:9/fhir", "--vendor", "nope"]
    )
    assert result.exit_code == 2
    assert "unknown vendor" in result.output


def test_kit_does_not_import_the_gateway():
    import subprocess
    import sys

    code = "import sys, conformance.command; print('gateway' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
