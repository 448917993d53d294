from __future__ import annotations

import subprocess
import sys

import connectors


def test_public_surface_is_pinned() -> None:
    assert sorted(connectors.__all__) == sorted(
        [
            "CORE_REALTIME_BUDGET", "EPIC", "GENERIC", "HAPI", "ORACLE_HEALTH", "PROFILES",
            "AuthError", "BearerAuth", "BodyTooLarge", "BookingStyle", "BreakerSnapshot",
            "BreakerState", "CapabilityMismatch", "CircuitBreaker", "CircuitOpen",
            "ClientSecretAuth", "Clock", "ConcurrencyLimit", "Conflict", "FhirClient",
            "FhirEligibility", "FindBookNames", "Forbidden", "Gone", "Issue", "MetricsHook",
            "NoAuth", "NotFound", "NullMetrics", "Policy", "PreconditionFailed", "ProtocolError",
            "RateLimited", "Rejected", "RequestObserved", "SearchPage", "SearchParams",
            "ServerError", "SmartBackendAuth", "SourceHealth", "SystemClock", "TooManyResults",
            "Unauthorized", "Unavailable", "UpstreamError", "UpstreamTimeout", "VendorProfile",
            "X12Eligibility", "check_capabilities",
        ]
    )  # fmt: skip
    for name in connectors.__all__:
        obj = getattr(connectors, name)
        assert name.isupper() or obj.__module__.startswith("connectors.")


def test_connectors_import_neither_gateway_nor_mappers() -> None:
    code = (
        "import sys, connectors; "
        "banned = ('gateway', 'mappers', 'fastapi', 'redis', 'prometheus_client'); "
        "bad = [m for m in banned if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
