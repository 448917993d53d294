"""The person index's build as a job on the batch queue (saq, ``gateway.batch_queue``).

Every ``frontdesk worker`` (and any in-process batch worker) schedules it from
``identity.build_cron``: saq enqueues a cron job under one key, so however many workers
run, one build starts per tick. ``frontdesk index build --queue`` puts one on the queue
now. The job holds only a tenant id and whether to relink everything, and answers nothing
(saq keeps jobs and results in clear).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from saq import Queue
from saq.job import CronJob, Job

from ..batch_queue import QUEUE_NAME, ItemFunction
from ..logs import get_logger
from .build import BuildRunning, build_index
from .index import PersonIndex

__all__ = [
    "INDEX_BUILD_FUNCTION",
    "enqueue_index_build",
    "index_build_function",
    "index_cron_job",
]

log = get_logger(__name__)

INDEX_BUILD_FUNCTION = "index_build"
# A build of a large group takes minutes, not hours; past this saq aborts it and the
# index keeps the generation it had (a build switches generations only when it is done).
_BUILD_TIMEOUT_SECONDS = 4 * 3600
# How long saq keeps a finished build's record (counts and generation only).
_BUILD_TTL_SECONDS = 86_400
_WAIT_RETRIES = 25


def index_build_function(indexes: Mapping[str, PersonIndex]) -> ItemFunction:
    """The saq job: build the index of one tenant, or of every tenant in turn."""

    async def index_build(
        ctx: dict[str, Any], *, tenant: str | None = None, full: bool = False, wait: bool = False
    ) -> None:
        for name in [tenant] if tenant else sorted(indexes):
            index = indexes.get(name)
            if index is None:
                raise ValueError("no person index for this tenant (identity.enabled is off?)")
            try:
                await build_index(index, full=full)  # logs its counts; the store has the rest
            except BuildRunning:
                if wait:
                    # Asked for now (perhaps a full build after a new model): saq tries
                    # it again once the running build is likely done.
                    raise
                # A cron tick while a build (by hand, or the last tick's) is at work: it
                # would only repeat it.
                log.info("person_index_build_skipped", tenant=name, reason="running")

    # saq names a function (and its cron job's key) by its qualified name.
    index_build.__qualname__ = INDEX_BUILD_FUNCTION
    return index_build


def index_cron_job(function: ItemFunction, cron: str) -> CronJob[Any]:
    return CronJob(
        function, cron=cron, timeout=_BUILD_TIMEOUT_SECONDS, retries=1, ttl=_BUILD_TTL_SECONDS
    )


async def enqueue_index_build(
    queue: Queue, *, tenant: str | None = None, full: bool = False
) -> Job | None:
    """Queue a build now; None when one is already queued or running (same key). A build
    of the tenant already running (a cron tick's) is waited for, not skipped."""
    key = f"{QUEUE_NAME}index:{tenant or '*'}"
    return await queue.enqueue(
        INDEX_BUILD_FUNCTION,
        key=key,
        tenant=tenant,
        full=full,
        wait=True,
        timeout=_BUILD_TIMEOUT_SECONDS,
        # Another build running: tried again after 5 s, then doubling to 5 minutes apart,
        # for about an hour and a half all told.
        retries=_WAIT_RETRIES,
        retry_delay=5.0,
        retry_backoff=300.0,
        ttl=_BUILD_TTL_SECONDS,
    )
