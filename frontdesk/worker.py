"""``frontdesk worker``: batch verification workers as their own process.

The process builds what the API builds (``gateway.bootstrap``: EHR and payer clients, the
coverage desks, the batch queue on the configured Redis) and runs a saq worker on the
batch queue until SIGTERM or SIGINT, when the items in progress go back on the queue for
another worker.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from gateway.bootstrap import bootstrap
from gateway.logs import configure_logging, get_logger
from gateway.metrics import GatewayMetrics
from gateway.settings import ConfigError, Settings, load_settings

__all__ = ["work"]


def work(config: Path, concurrency: int | None = None, log_level: str = "INFO") -> int:
    configure_logging(log_level)
    try:
        settings = load_settings(config)
        settings.cache.hash_key.read()
    except ConfigError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 2
    if not settings.cache.redis_url:
        print(
            "frontdesk worker: the batch queue lives in Redis: set cache.redis_url", file=sys.stderr
        )
        return 2
    update: dict[str, int] = {"coverage_batch_workers": 0}
    if concurrency is not None:
        update["coverage_batch_concurrency"] = concurrency
    asyncio.run(_run(settings.model_copy(update=update)))
    return 0


async def _run(settings: Settings) -> None:
    log = get_logger("frontdesk.worker")
    async with AsyncExitStack() as stack:
        runtime = await bootstrap(settings, stack, GatewayMetrics())
        batch = runtime.coverage.batch
        if batch is None:  # excluded by the redis_url check; says so to the type checker
            raise RuntimeError("no batch queue")
        worker = batch.worker()
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                signum, lambda: stopping.append(loop.create_task(worker.stop()))
            )
        log.info("batch_worker_started", worker=worker.id, concurrency=batch.concurrency)
        await worker.start()
        await asyncio.gather(*stopping)
        log.info("batch_worker_stopped", worker=worker.id)
