"""Find or start the two local HAPI FHIR JPA servers that stand for EHR A and EHR B.

By default both run on this machine, started by ``hapi-server/hapi.sh``
(two JVMs, each with its own in-memory database). Setting ``HAPI_BASE_URL_A`` and
``HAPI_BASE_URL_B`` points at servers run elsewhere instead; those are only checked,
never started or stopped.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

HAPI_DIR = Path(__file__).resolve().parents[2] / "hapi-server"
HAPI_SCRIPT = HAPI_DIR / "hapi.sh"

DEFAULT_PORT_A = 8081
DEFAULT_PORT_B = 8082


def _local_base_url(port_env: str, default_port: int) -> str:
    port = os.environ.get(port_env) or str(default_port)
    return f"http://127.0.0.1:{port}/fhir"


def external_base_urls() -> tuple[str, str] | None:
    """The base URLs from HAPI_BASE_URL_A/B when both are set, else None."""
    url_a = os.environ.get("HAPI_BASE_URL_A", "").strip()
    url_b = os.environ.get("HAPI_BASE_URL_B", "").strip()
    if url_a and url_b:
        return url_a.rstrip("/"), url_b.rstrip("/")
    if url_a or url_b:
        raise RuntimeError("set both HAPI_BASE_URL_A and HAPI_BASE_URL_B, or neither")
    return None


def base_urls() -> tuple[str, str]:
    """Base URLs of EHR A and EHR B (external ones if configured, else the local pair)."""
    external = external_base_urls()
    if external is not None:
        return external
    return (
        _local_base_url("HAPI_PORT_A", DEFAULT_PORT_A),
        _local_base_url("HAPI_PORT_B", DEFAULT_PORT_B),
    )


def is_up(base_url: str, timeout: float = 2.0) -> bool:
    """True when GET {base_url}/metadata answers 200."""
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/metadata",
        headers={"Accept": "application/fhir+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _wait_until_up(urls: tuple[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(is_up(url) for url in urls):
        if time.monotonic() >= deadline:
            down = [url for url in urls if not is_up(url)]
            raise RuntimeError(f"HAPI FHIR not answering /metadata after {timeout:.0f}s: {down}")
        time.sleep(1.0)


def _run_script(command: str, timeout: float, env: dict[str, str] | None = None) -> None:
    try:
        result = subprocess.run(
            ["bash", str(HAPI_SCRIPT), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"hapi.sh {command} did not finish within {timeout:.0f}s") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise RuntimeError(f"hapi.sh {command} failed ({result.returncode}): {detail}")


def ensure_running(timeout: float = 300.0) -> tuple[str, str]:
    """Return (EHR A, EHR B) base URLs once both answer /metadata.

    External servers (HAPI_BASE_URL_A/B) are only waited for; otherwise the local
    pair is started with ``hapi.sh start`` (which builds the jar if needed).
    Raises RuntimeError when they don't come up within ``timeout`` seconds
    (a first build, which downloads from Maven Central, comes on top of that).
    """
    urls = base_urls()
    if all(is_up(url) for url in urls):
        return urls
    if external_base_urls() is not None:
        _wait_until_up(urls, timeout)
        return urls
    env = {**os.environ, "HAPI_START_TIMEOUT": str(int(timeout))}
    # The build is outside hapi.sh's own startup timeout, so allow it extra time.
    _run_script("start", timeout=timeout + 900.0, env=env)
    _wait_until_up(urls, 30.0)
    return urls


def stop() -> None:
    """Stop the local pair started by hapi.sh (external servers are left alone)."""
    if external_base_urls() is not None:
        return
    _run_script("stop", timeout=120.0)
