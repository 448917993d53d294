"""A small HTTP/1.1 load generator: keep-alive connections, one request in flight each.

httpx spends more CPU per request than the servers we measure, so a load loop built on
it measures itself. This one sends pre-built request bytes over raw asyncio streams and
reads just enough of each response (status line, Content-Length, body), and runs in its
own process so the client never shares an interpreter with anything it measures.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LoadResult", "build_request", "run_load"]


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    failures: int
    latencies: list[float]
    # CPU the generator itself used over ``seconds``: near 1.0 it, not the server, limits
    cpu_share: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


def build_request(
    url: str,
    headers: dict[str, str],
    body: Any | None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/edi-x12",
) -> bytes:
    """The exact bytes of one POST (a JSON ``body`` or ``raw`` bytes) or GET (neither)."""
    parts = urlsplit(url)
    if raw is not None:
        payload, kind = raw, content_type
    elif body is not None:
        payload, kind = json.dumps(body).encode(), "application/json"
    else:
        payload, kind = b"", ""
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    lines = [f"{'POST' if kind else 'GET'} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if kind:
        lines += [f"Content-Type: {kind}", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class _Closing(Exception):
    """The server answered and closes the connection (``Connection: close``)."""

    def __init__(self, status: int) -> None:
        self.status = status


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    closing = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True  # HAPI streams its searches
        elif name == b"connection" and b"close" in value.lower():
            closing = True  # Tomcat (HAPI) ends a connection after 100 requests
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")  # no trailers: the empty line after the last chunk
    elif length:
        await reader.readexactly(length)
    if closing:
        raise _Closing(status)
    return status


async def _run(
    host: str, port: int, request: bytes, connections: int, seconds: float, warmup: int
) -> LoadResult:
    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port)

    done = 0
    failures = 0
    latencies: list[float] = []
    conns: list[list[Any]] = [list(await connect()) for _ in range(connections)]

    async def exchange(conn: list[Any]) -> int:
        try:
            return await _exchange(conn[0], conn[1], request)
        except _Closing as closing:
            conn[1].close()
            conn[0], conn[1] = await connect()  # as a client would; in the timing, rarely
            return closing.status
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            # The server closed the connection while it was idle: reconnect, send again.
            conn[1].close()
            conn[0], conn[1] = await connect()
            return await _exchange(conn[0], conn[1], request)

    async def warm(conn: list[Any]) -> None:
        for _ in range(max(1, warmup // connections)):
            await exchange(conn)

    # All at once: a connection left idle while others warm could time out server-side.
    await asyncio.gather(*(warm(conn) for conn in conns))

    async def loop(conn: list[Any], stop: float) -> None:
        nonlocal done, failures
        while (t0 := time.perf_counter()) < stop:
            status = await exchange(conn)
            latencies.append(time.perf_counter() - t0)
            done += 1
            if status >= 400:
                failures += 1

    start, cpu_start = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop(conn, start + seconds) for conn in conns))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    writers = [conn[1] for conn in conns]
    for writer in writers:
        writer.close()
    return LoadResult(done, elapsed, failures, latencies, cpu / elapsed)


def _child(args: tuple[Any, ...], cpus: set[int] | None, out: Any) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    out.send(asyncio.run(_run(*args)))


def run_load(
    url: str,
    request: bytes,
    *,
    connections: int,
    seconds: float,
    warmup: int = 200,
    cpus: set[int] | None = None,
) -> LoadResult:
    """Drive ``url`` from a fresh process (on ``cpus`` if given) for ``seconds``."""
    parts = urlsplit(url)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    args = (parts.hostname, parts.port, request, connections, seconds, warmup)
    proc = ctx.Process(target=_child, args=(args, cpus, child), daemon=True)
    proc.start()
    child.close()
    result: LoadResult = parent.recv()
    proc.join(10)
    return result
