from __future__ import annotations

import pytest

from tests.servers import REDIS_URL, missing, tcp_open


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis; `make redis` starts one (installing redis-server if needed)."""
    if not tcp_open(REDIS_URL):
        missing(
            "Redis",
            f"run `make redis` (apt-get install redis-server) or set REDIS_URL; tried {REDIS_URL}",
        )
    return REDIS_URL


@pytest.fixture(scope="session")
def hapi_base_urls() -> tuple[str, str]:
    """Base URLs of EHR A and EHR B on real HAPI FHIR JPA servers (started when not running)."""
    from tests.support import hapi_launcher

    try:
        return hapi_launcher.ensure_running()
    except Exception as exc:
        missing(
            "HAPI FHIR",
            f"run `make hapi` (needs Java 17 and Maven) or set HAPI_BASE_URL_A/B ({exc})",
        )
        raise
