"""Log and audit lines: shape, request ids, cheap timestamps, flushing once per loop pass."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit import AuditEvent, FileAuditSink
from gateway.context import new_request_id
from gateway.deferred_flush import LoopFlushedStream
from gateway.logs import access_log, configure_logging, get_logger
from gateway.timestamps import utc_now_iso


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging()


def test_the_access_line_has_the_shape_structlog_gives_every_other_line(
    logs: io.StringIO,
) -> None:
    new_request_id("req-1")
    get_logger("frontdesk.access").info("request", method="GET", route="/x", status=200, ms=1.5)
    access_log()("GET", "/x", 200, 1.5)
    by_structlog, direct = (json.loads(line) for line in logs.getvalue().splitlines())
    assert list(direct) == list(by_structlog)
    assert {k: v for k, v in direct.items() if k != "timestamp"} == {
        k: v for k, v in by_structlog.items() if k != "timestamp"
    }
    assert direct["request_id"] == "req-1"


def test_access_lines_are_dropped_above_info() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", stream=stream)
    try:
        access_log()("GET", "/x", 200, 1.0)
        get_logger("t").warning("kept")
        lines = stream.getvalue().splitlines()
        assert [json.loads(line)["event"] for line in lines] == ["kept"]
    finally:
        configure_logging()


def test_utc_now_iso_is_iso_8601_utc_and_tracks_the_clock() -> None:
    before = datetime.now(UTC)
    stamp = utc_now_iso()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    # The stamp truncates a float clock; datetime.now rounds: a microsecond either way.
    slack = timedelta(microseconds=2)
    assert before - slack <= parsed <= after + slack
    time.sleep(1.01)  # the cached second must roll over
    assert datetime.fromisoformat(utc_now_iso().replace("Z", "+00:00")) > after


def test_outside_a_loop_a_flush_happens_at_once() -> None:
    inner = CountingStream()
    stream = LoopFlushedStream(inner)
    stream.write("a\n")
    stream.flush()
    assert inner.flushes == 1


async def test_in_a_loop_lines_of_one_pass_share_one_flush_before_the_next_pass() -> None:
    inner = CountingStream()
    stream = LoopFlushedStream(inner)
    for n in range(5):
        stream.write(f"{n}\n")
        stream.flush()
    assert inner.flushes == 0  # nothing flushed while this pass runs
    assert inner.getvalue().count("\n") == 5  # but nothing held back either
    await asyncio.sleep(0)
    assert inner.flushes == 1
    stream.write("again\n")
    stream.flush()
    await asyncio.sleep(0)
    assert inner.flushes == 2


async def test_audit_events_reach_the_file_by_the_next_loop_pass(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = FileAuditSink(path)
    try:
        for n in range(3):
            sink.write(AuditEvent("c", "t1", "coverage.check", "success", f"r{n}", ("p1",)))
        await asyncio.sleep(0)
        events = [json.loads(line) for line in path.read_text().splitlines()]
        assert [e["request_id"] for e in events] == ["r0", "r1", "r2"]
        assert events[0]["patient_ids"] == ["p1"]
        assert events[0]["at"].endswith("Z")
    finally:
        sink.close()


def test_closing_the_audit_sink_writes_what_is_pending(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = FileAuditSink(path)
    sink.write(AuditEvent("c", "t1", "patients.read", "success", "r1"))
    sink.close()
    assert json.loads(path.read_text())["action"] == "patients.read"
