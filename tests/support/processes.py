"""Real processes for replica, worker and fail-over tests: gateways (``frontdesk serve``),
batch workers (``frontdesk worker``) and the payer simulator (uvicorn), each on its own
loopback port, stopped by the test that started them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from gateway.settings import Settings

__all__ = [
    "Proc",
    "free_port",
    "payer_simulator",
    "running",
    "sim_control",
    "sim_stats",
    "start_gateway",
    "start_worker",
    "wait_gateway",
    "write_config",
]

# One per test session: answers cached by an earlier run (Redis outlives it) stay unseen.
HASH_KEY = f"replica-{uuid.uuid4().hex}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(settings: Settings, path: Path) -> Path:
    """``settings`` as the YAML file every process of a test reads (the hash key comes from
    the environment, as in production)."""
    path.write_text(
        yaml.safe_dump(settings.model_dump(mode="json", exclude={"cache": {"hash_key"}}))
    )
    return path


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(argv),
                env={**os.environ, "FRONTDESK_HASH_KEY": HASH_KEY, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a machine dies."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def wait_http(url: str, proc: Proc, timeout: float = 40.0) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if not proc.alive():
            raise RuntimeError(f"{proc.popen.args!r} exited: {proc.tail()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer: {proc.tail()}")


def start_gateway(config: Path, port: int, log: Path, *, wait: bool = True) -> Proc:
    """``frontdesk serve`` on ``port``; with ``wait=False`` call ``wait_gateway`` later (two
    gateways start faster side by side)."""
    proc = Proc(
        [sys.executable, "-m", "frontdesk", "serve", "--config", str(config), "--port", str(port)],
        log,
    )
    if wait:
        wait_gateway(proc, port)
    return proc


def wait_gateway(proc: Proc, port: int) -> None:
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)


def start_worker(config: Path, log: Path, *, concurrency: int | None = None) -> Proc:
    argv = [sys.executable, "-m", "frontdesk", "worker", "--config", str(config)]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    return Proc(argv, log)


def payer_simulator(port: int, log: Path) -> Proc:
    """The payer simulator as docker compose runs it."""
    proc = Proc(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "simulators.payer:create_payer_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        log,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


@contextmanager
def running(*procs: Proc) -> Iterator[tuple[Proc, ...]]:
    """Stop ``procs`` however the block ends."""
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def sim_stats(port: int) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=5).json()
    return stats


def sim_control(port: int, **changes: Any) -> None:
    httpx.post(f"http://127.0.0.1:{port}/_sim/control", json=changes, timeout=5).raise_for_status()
