"""Redis that fails over, for tests: a Sentinel-watched primary and replica, and a Cluster.

Every server is a real ``redis-server`` / ``redis-sentinel`` process on a free loopback
port with its own directory; the test that starts a set stops it (``stop``), whatever
happened to its members meanwhile.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.support.redis_proc import free_port

__all__ = ["RedisClusterSet", "SentinelSet", "ha_binaries_missing"]

SERVICE = "frontdesk"


def ha_binaries_missing() -> str | None:
    """What is missing to run these sets (Debian: redis-server, redis-sentinel, redis-tools)."""
    for binary in ("redis-server", "redis-sentinel", "redis-cli"):
        if shutil.which(binary) is None:
            return binary
    return None


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is a free, valid port too."""
    import socket

    while True:
        port = free_port()
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


def _wait(check: Callable[[], Any], what: str, seconds: float = 20.0) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not within {seconds} s")


class _Server:
    def __init__(self, argv: list[str], workdir: Path, port: int) -> None:
        self.port = port
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self._log = (workdir / "server.log").open("wb")
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def _redis_server(workdir: Path, port: int, *extra: str) -> _Server:
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        *extra,
    ]
    server = _Server(argv, workdir, port)
    _wait(lambda: server.client().ping(), f"redis-server on {port}")
    return server


class SentinelSet:
    """A primary, a replica and three sentinels (quorum 2) watching service ``frontdesk``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.primary: _Server | None = None
        self.replica: _Server | None = None
        self.sentinels: list[_Server] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> SentinelSet:
        p, r = free_port(), free_port()
        self.primary = _redis_server(self.workdir / "primary", p)
        self.replica = _redis_server(
            self.workdir / "replica", r, "--replicaof", "127.0.0.1", str(p)
        )
        replica = self.replica

        def in_sync() -> bool:
            info: dict[str, Any] = replica.client().info("replication")  # type: ignore[assignment]
            return bool(info["master_link_status"] == "up")

        _wait(in_sync, "replica in sync")
        for i in range(3):
            port = free_port()
            folder = self.workdir / f"sentinel{i}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"  # each sentinel rewrites its own file
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {p} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 3000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self.sentinels.append(_Server(["redis-sentinel", str(conf)], folder, port))
        for sentinel in self.sentinels:
            client = sentinel.client()

            def acquainted(c: redis.Redis = client) -> bool:
                replicas: list[Any] = c.sentinel_slaves(SERVICE)  # type: ignore[no-untyped-call]
                peers: list[Any] = c.sentinel_sentinels(SERVICE)  # type: ignore[no-untyped-call]
                return len(replicas) == 1 and len(peers) == 2

            _wait(acquainted, "sentinels know the replica and each other")
        return self

    def primary_port(self) -> int:
        client = self.sentinels[0].client()
        _host, port = client.sentinel_get_master_addr_by_name(SERVICE)  # type: ignore[no-untyped-call]
        return int(port)

    def kill_primary(self) -> None:
        if self.primary is not None:
            self.primary.kill()

    def wait_promoted(self, seconds: float = 30.0) -> None:
        """Until the sentinels name the replica as primary and it takes writes."""
        replica = self.replica
        assert replica is not None
        _wait(lambda: self.primary_port() == replica.port, "fail-over", seconds)
        _wait(lambda: replica.client().set("fd:probe", b"1"), "new primary writable", seconds)

    def stop(self) -> None:
        for server in [*self.sentinels, self.replica, self.primary]:
            if server is not None:
                server.stop()


class RedisClusterSet:
    """Three masters, no replicas, slots spread by redis-cli."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.nodes: list[_Server] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> RedisClusterSet:
        for i in range(3):
            self.nodes.append(self._node(i, _cluster_port()))
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_ok()
        return self

    def _node(self, i: int, port: int) -> _Server:
        return _redis_server(
            self.workdir / f"node{i}",
            port,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            f"nodes-{port}.conf",
            "--cluster-node-timeout",
            "2000",
        )

    def wait_ok(self, seconds: float = 30.0) -> None:
        for node in self.nodes:
            client = node.client()

            def ok(c: redis.Redis = client) -> bool:
                info: dict[str, Any] = c.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
                return bool(info["cluster_state"] == "ok")

            _wait(ok, f"cluster state ok on {node.port}", seconds)

    def restart(self, index: int) -> None:
        """Start node ``index`` again on its port, from its nodes file (same slots)."""
        old = self.nodes[index]
        old.stop()
        self.nodes[index] = self._node(index, old.port)
        self.wait_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
