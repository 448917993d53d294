"""The HAPI FHIR instance validator, offline, for tests: an independent judge of what we send.

``hapi-server`` builds one jar holding both the test servers and ``OfflineValidator``,
a Java main that reads one FHIR R4 resource (JSON) per line on stdin and answers one
OperationOutcome per line on stdout: HAPI's ``FhirInstanceValidator`` over the R4 core
definitions, terminology from what ships with them, no network (a code system it does
not know is a warning, not an error). Loading the definitions takes seconds, so one
JVM serves the whole test session:

    def test_booking_is_valid(fhir_validator):
        report = fhir_validator.assert_valid(build_booking_appointment(...), "booking")

``assert_valid`` fails the test on any error (listing each with its location) and
prints the warnings; every warning is also listed, grouped, at the end of the run.
``validate`` returns the ``Report`` without judging it.

The JVM is started as soon as collection finds a test using the fixture (see
``tests/conftest.py``), so its start overlaps the tests that run before.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.servers import missing

HAPI_DIR = Path(__file__).resolve().parents[2] / "hapi-server"
JAR = HAPI_DIR / "target" / "hapi-server.jar"
MAIN_CLASS = "frontdesk.hapi.validator.OfflineValidator"
# Spring Boot's launcher runs another main of the same fat jar (-Dloader.main).
LAUNCHER = "org.springframework.boot.loader.launch.PropertiesLauncher"
# C1 only: the definitions load (most of the JVM's work here) sooner than with C2.
JAVA_OPTS = ("-Xms128m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# The first answer waits for the R4 definitions to load; the rest take milliseconds.
FIRST_ANSWER_TIMEOUT = 180.0
ANSWER_TIMEOUT = 120.0
_WARM_UP = {"resourceType": "Patient", "active": True}
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Issue:
    severity: str  # fatal | error | warning | information
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity} at {self.location or '(resource)'}: {self.message}"


@dataclass(frozen=True)
class Report:
    """What the validator said about one resource."""

    resource_type: str
    issues: tuple[Issue, ...]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity in ("fatal", "error")]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]


@dataclass
class WarningLog:
    """Every warning of the session, grouped for the summary at the end of the run."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, report: Report) -> None:
        for issue in report.warnings:
            # Bundle entries differ only by index and id: group them.
            where = _INDEX.sub("[n]", issue.location.split("/*")[0])
            self.counts[(where, issue.message)] += 1

    def lines(self, limit: int = 25) -> list[str]:
        ranked = self.counts.most_common()
        out = [f"{n:6d} x {where}: {message}" for (where, message), n in ranked[:limit]]
        if len(ranked) > limit:
            out.append(f"   ... and {len(ranked) - limit} more kinds")
        return out


class OfflineFhirValidator:
    """One OfflineValidator JVM; requests are answered in order, one at a time."""

    def __init__(self, process: subprocess.Popen[bytes], stderr_path: Path, jar: Path) -> None:
        self._process = process
        self._stderr_path = stderr_path
        self._jar = jar
        self._started = time.monotonic()
        self._validated = 0
        self._validating_seconds = 0.0
        self.ready_seconds: float | None = None
        self.warning_log = WarningLog()
        # Sent at once, so the definitions load while other tests run.
        self._send(_WARM_UP)

    @classmethod
    def start(cls) -> OfflineFhirValidator:
        """Build the jar if needed and start the JVM (returns before it is ready)."""
        if shutil.which("java") is None:
            raise RuntimeError("java not found (Java 17 is needed)")
        build = subprocess.run(
            ["bash", str(HAPI_DIR / "hapi.sh"), "build"],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if build.returncode != 0:
            raise RuntimeError(f"hapi.sh build failed: {build.stderr[-2000:]}")
        workdir = Path(tempfile.mkdtemp(prefix="frontdesk-fhir-validator-"))
        # A private link (or copy) of the jar: a rebuild during the run can't touch it.
        jar = workdir / "validator.jar"
        try:
            os.link(JAR, jar)
        except OSError:
            shutil.copyfile(JAR, jar)
        stderr_path = workdir / "validator.log"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                ["java", *JAVA_OPTS, f"-Dloader.main={MAIN_CLASS}", "-cp", str(jar), LAUNCHER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        return cls(process, stderr_path, jar)

    def wait_ready(self) -> float:
        """Seconds from start to the first answer (the definitions loaded)."""
        if self.ready_seconds is None:
            self._receive(FIRST_ANSWER_TIMEOUT)
            self.ready_seconds = time.monotonic() - self._started
        return self.ready_seconds

    def validate(self, resource: Mapping[str, Any] | str) -> Report:
        """Validate one resource (a dict, or JSON text exactly as it would be sent)."""
        self.wait_ready()
        text = resource if isinstance(resource, str) else json.dumps(resource)
        resource_type = str(json.loads(text).get("resourceType", "?"))
        started = time.monotonic()
        self._send(text)
        outcome = self._receive(ANSWER_TIMEOUT)
        self._validating_seconds += time.monotonic() - started
        self._validated += 1
        report = Report(resource_type, tuple(_issues(outcome)))
        self.warning_log.add(report)
        return report

    def assert_valid(self, resource: Mapping[str, Any] | str, label: str = "") -> Report:
        """Validate; fail the test on errors; print the warnings."""
        report = self.validate(resource)
        name = f"{report.resource_type} ({label})" if label else report.resource_type
        for issue in report.warnings:
            print(f"FHIR validator, {name}: {issue}")
        if report.errors:
            listed = "\n  ".join(str(e) for e in report.errors)
            pytest.fail(f"HAPI FHIR validator: {name} is not valid R4:\n  {listed}", pytrace=False)
        return report

    def figures(self) -> str:
        each = self._validating_seconds / self._validated * 1000 if self._validated else 0.0
        return (
            f"ready {self.ready_seconds or 0:.1f}s after start; {self._validated} validations "
            f"in {self._validating_seconds:.1f}s ({each:.0f} ms each on average)"
        )

    def close(self) -> None:
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            # EOF ends the main loop; a JVM that is gone already has nothing to end.
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        shutil.rmtree(self._jar.parent, ignore_errors=True)  # the jar link and the log

    # --- the line protocol -------------------------------------------------------

    def _send(self, resource: Mapping[str, Any] | str) -> None:
        text = resource if isinstance(resource, str) else json.dumps(resource)
        if "\n" in text:
            # A JSON newline outside strings is whitespace; inside strings json escapes it.
            text = json.dumps(json.loads(text))
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(text.encode("utf-8") + b"\n")
            stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(self._died()) from None

    def _receive(self, timeout: float) -> dict[str, Any]:
        stdout: IO[bytes] | None = self._process.stdout
        assert stdout is not None
        readable, _, _ = select.select([stdout], [], [], timeout)
        if not readable:
            raise RuntimeError(f"the FHIR validator gave no answer within {timeout:.0f}s")
        line = stdout.readline()
        if not line:
            raise RuntimeError(self._died())
        outcome: dict[str, Any] = json.loads(line)
        return outcome

    def _died(self) -> str:
        self._process.poll()
        tail = self._stderr_path.read_text(errors="replace")[-2000:]
        return f"the FHIR validator JVM exited ({self._process.returncode}): {tail}"


def _issues(outcome: Mapping[str, Any]) -> list[Issue]:
    out = []
    for raw in outcome.get("issue") or ():
        where = raw.get("expression") or raw.get("location") or [""]
        out.append(
            Issue(
                severity=str(raw.get("severity", "")),
                location=str(where[0]),
                message=str(raw.get("diagnostics", "")),
            )
        )
    return out


# --- one validator per test session ------------------------------------------------------

_session_validator: OfflineFhirValidator | None = None
_start_error: Exception | None = None


def prestart() -> None:
    """Start the JVM now (collection found a test that needs it); errors surface later."""
    global _session_validator, _start_error
    if _session_validator is None and _start_error is None:
        try:
            _session_validator = OfflineFhirValidator.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            _start_error = exc


def session_validator() -> OfflineFhirValidator:
    prestart()
    if _session_validator is None:
        missing(
            "The HAPI FHIR validator",
            f"needs Java 17 and Maven (hapi-server/hapi.sh build): {_start_error}",
        )
        raise AssertionError("unreachable")
    try:
        _session_validator.wait_ready()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    return _session_validator


def shutdown() -> OfflineFhirValidator | None:
    """Stop the JVM; returns it (for its warning log) if it ran."""
    global _session_validator
    validator, _session_validator = _session_validator, None
    if validator is not None:
        validator.close()
    return validator


@pytest.fixture(scope="session")
def fhir_validator() -> OfflineFhirValidator:
    """The session's offline HAPI FHIR validator (stopped at the end of the run)."""
    return session_validator()
