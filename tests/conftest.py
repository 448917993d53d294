from __future__ import annotations

import pytest

from tests.servers import REDIS_URL, missing, tcp_open
from tests.support import fhir_validator as offline_validator
from tests.support.fhir_validator import fhir_validator

__all__ = ["fhir_validator", "hapi_base_urls", "redis_url"]


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


def pytest_collection_finish(session: pytest.Session) -> None:
    # Start the validator JVM now: it loads the R4 definitions while other tests run.
    if any("fhir_validator" in getattr(item, "fixturenames", ()) for item in session.items):
        offline_validator.prestart()


_validator_warnings: list[str] = []
_validator_figures: str = ""


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _validator_figures
    validator = offline_validator.shutdown()
    if validator is not None and validator.ready_seconds is not None:
        _validator_warnings[:] = validator.warning_log.lines()
        _validator_figures = validator.figures()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _validator_figures:
        terminalreporter.section("HAPI FHIR validator (offline): warnings, not failures")
        terminalreporter.write_line(_validator_figures)
        for line in _validator_warnings:
            terminalreporter.write_line(line)
