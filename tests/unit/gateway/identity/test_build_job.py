"""The index build as a batch-queue job: its cron setting, and what a worker registers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.identity.build_job import INDEX_BUILD_FUNCTION, index_build_function
from gateway.runtime import BatchRuntime
from gateway.settings import IdentityConfig


def test_build_cron_takes_cron_expressions_and_refuses_others() -> None:
    assert IdentityConfig(build_cron="0 2 * * *").build_cron == "0 2 * * *"
    assert IdentityConfig().build_cron is None
    with pytest.raises(ValidationError, match="build_cron"):
        IdentityConfig(build_cron="every night")


def _runtime(indexes: dict[str, Any], cron: str | None) -> BatchRuntime:

    class _Store:
        pass

    queue = type("Q", (), {"store": _Store(), "name": "{fd-batch}"})()
    return BatchRuntime(
        queue=queue,
        desks={},
        tries=1,
        heartbeat=2,
        concurrency=1,
        indexes=indexes,
        index_cron=cron,
    )


def test_a_batch_worker_runs_index_builds_and_schedules_them_when_asked() -> None:
    scheduled = _runtime({"general": object()}, "0 2 * * *").worker()
    assert INDEX_BUILD_FUNCTION in scheduled.functions
    [job] = scheduled.cron_jobs
    assert job.cron == "0 2 * * *" and job.function.__qualname__ == INDEX_BUILD_FUNCTION

    on_demand = _runtime({"general": object()}, None).worker()
    assert INDEX_BUILD_FUNCTION in on_demand.functions and not on_demand.cron_jobs

    without_index = _runtime({}, "0 2 * * *").worker()
    assert INDEX_BUILD_FUNCTION not in without_index.functions and not without_index.cron_jobs


async def test_the_job_refuses_a_tenant_without_an_index() -> None:
    build = index_build_function({})
    with pytest.raises(ValueError, match="no person index"):
        await build({}, tenant="elsewhere")
