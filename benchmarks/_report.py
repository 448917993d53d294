"""What every scale benchmark shares: percentiles, free ports, child processes, and where
the figures go (printed, and written as JSON and a PNG per scenario)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

__all__ = [
    "Child",
    "cpu_seconds",
    "free_port",
    "out_dir",
    "percentile",
    "plot",
    "wait_http",
    "write_json",
]


def out_dir() -> Path:
    """``BENCH_OUT`` (default ``.run/bench``), created."""
    path = Path(os.environ.get("BENCH_OUT", ".run/bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(name: str, data: dict[str, Any]) -> Path:
    path = out_dir() / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def plot(name: str) -> Any:
    """A matplotlib (Agg) module, or None when the bench group is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"  {name}: no PNG (matplotlib missing: `uv sync --group bench`)")
        return None
    return plt


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of ``pid`` so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tcp_open(url: str) -> bool:
    """Whether something listens at ``url``'s host and port (a scenario skips without it)."""
    parsed = urlparse(url)
    default = {"redis": 6379, "https": 443}.get(parsed.scheme, 80)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default), 0.5
        ):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Child:
    """A child process with its output in a log file under the output folder."""

    def __init__(self, argv: list[str], log: str, env: dict[str, str] | None = None) -> None:
        self.log = out_dir() / f"{log}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    @classmethod
    def python(cls, args: list[str], log: str, env: dict[str, str] | None = None) -> Child:
        return cls([sys.executable, *args], log, env)


def wait_http(url: str, child: Child, seconds: float = 60.0) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if child.popen.poll() is not None:
            raise RuntimeError(f"{child.popen.args!r} exited; see {child.log}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer; see {child.log}")
