"""Talking to upstreams: the async FHIR R4 client, eligibility transports, auth, retries,
circuit breakers, concurrency limits and typed upstream errors.

Speaks wire formats (FHIR JSON dicts, X12 text), never the canonical model. Imports httpx,
tenacity, joserfc and the stdlib only.
"""

from connectors.auth import BearerAuth, ClientSecretAuth, NoAuth, SmartBackendAuth
from connectors.breaker import BreakerSnapshot, BreakerState, CircuitBreaker, ConcurrencyLimit
from connectors.client import FhirClient, SearchPage
from connectors.clock import Clock, SystemClock
from connectors.eligibility import CORE_REALTIME_BUDGET, FhirEligibility, X12Eligibility
from connectors.errors import (
    AuthError,
    BodyTooLarge,
    CapabilityMismatch,
    CircuitOpen,
    Conflict,
    Forbidden,
    Gone,
    Issue,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RateLimited,
    Rejected,
    ServerError,
    TooManyResults,
    Unauthorized,
    Unavailable,
    UpstreamError,
    UpstreamTimeout,
)
from connectors.metrics import MetricsHook, NullMetrics, RequestObserved
from connectors.policy import Policy
from connectors.profiles import (
    EPIC,
    GENERIC,
    HAPI,
    ORACLE_HEALTH,
    PROFILES,
    BookingStyle,
    FindBookNames,
    VendorProfile,
    check_capabilities,
)
from connectors.search import SearchParams
from connectors.upstream import SourceHealth

__all__ = [
    "CORE_REALTIME_BUDGET",
    "EPIC",
    "GENERIC",
    "HAPI",
    "ORACLE_HEALTH",
    "PROFILES",
    "AuthError",
    "BearerAuth",
    "BodyTooLarge",
    "BookingStyle",
    "BreakerSnapshot",
    "BreakerState",
    "CapabilityMismatch",
    "CircuitBreaker",
    "CircuitOpen",
    "ClientSecretAuth",
    "Clock",
    "ConcurrencyLimit",
    "Conflict",
    "FhirClient",
    "FhirEligibility",
    "FindBookNames",
    "Forbidden",
    "Gone",
    "Issue",
    "MetricsHook",
    "NoAuth",
    "NotFound",
    "NullMetrics",
    "Policy",
    "PreconditionFailed",
    "ProtocolError",
    "RateLimited",
    "Rejected",
    "RequestObserved",
    "SearchPage",
    "SearchParams",
    "ServerError",
    "SmartBackendAuth",
    "SourceHealth",
    "SystemClock",
    "TooManyResults",
    "Unauthorized",
    "Unavailable",
    "UpstreamError",
    "UpstreamTimeout",
    "VendorProfile",
    "X12Eligibility",
    "check_capabilities",
]
