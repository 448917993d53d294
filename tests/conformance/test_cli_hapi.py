"""`frontdesk conformance` end to end against real HAPI: console, files, exit code."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from frontdesk.cli import app

pytestmark = pytest.mark.hapi


def test_cli_write_mode_writes_all_reports_and_exits_zero(hapi_base_urls, tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(
        app,
        [
            "conformance",
            "--base-url",
            hapi_base_urls[0],
            "--vendor",
            "hapi",
            "--write",
            "--report-json",
            str(out / "k.json"),
            "--junit",
            str(out / "k.xml"),
            "--html",
            str(out / "k.html"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "READY" in result.output
    assert json.loads((out / "k.json").read_text())["summary"]["blocking"] == 0
    assert len(ET.parse(out / "k.xml").getroot().iter("testcase").__next__().attrib) >= 2
    assert "<!doctype html>" in (out / "k.html").read_text()


def test_cli_exits_non_zero_when_an_error_check_fails(hapi_base_urls):
    # The epic profile needs Appointment/$find and $book, which HAPI does not declare.
    result = CliRunner().invoke(
        app,
        [
            "conformance",
            "--base-url",
            hapi_base_urls[0],
            "--vendor",
            "epic",
            "--only",
            "capability",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "capability.booking-route" in result.output
    assert "NOT READY" in result.output
