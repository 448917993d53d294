"""Connections to upstreams, built once by the composition root (``bootstrap``): one
pooled httpx client per upstream, its auth, and the connector that speaks to it (a
``FhirClient`` per EHR, a payer port per payer)."""

from __future__ import annotations

import httpx
from joserfc.jwk import ECKey, RSAKey, import_key

from connectors import (
    CORE_REALTIME_BUDGET,
    PROFILES,
    BearerAuth,
    CircuitBreaker,
    ClientSecretAuth,
    ConcurrencyLimit,
    FhirClient,
    FhirEligibility,
    Policy,
    RequestObserved,
    SmartBackendAuth,
    X12Eligibility,
)

from .metrics import GatewayMetrics
from .services.payers import FhirPayer, PayerPort, X12Payer
from .settings import AuthConfig, ConfigError, PayerConfig, SecretRef, SourceConfig

__all__ = ["build_auth", "payer_port", "pooled_client", "source_client"]


class _PrometheusHook:
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def request_observed(self, event: RequestObserved) -> None:
        self._metrics.upstream_latency.labels(
            event.source, event.interaction, event.resource_type or "-", event.status_class
        ).observe(event.latency)


def pooled_client(
    policy: Policy, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one way an upstream's pooled client is made: timeouts and pool from its policy."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(
            policy.read_timeout, connect=policy.connect_timeout, pool=policy.pool_timeout
        ),
        limits=httpx.Limits(max_connections=policy.max_concurrency * 2),
    )


def _read(secret: SecretRef | None, what: str, source: str) -> str:
    if secret is None:
        raise ConfigError(f"source {source}: auth needs {what}")
    return secret.read()


def _text(value: str | None, what: str, source: str) -> str:
    if not value:
        raise ConfigError(f"source {source}: auth needs {what}")
    return value


def build_auth(
    auth: AuthConfig, http: httpx.AsyncClient, base_url: str, source: str
) -> httpx.Auth | None:
    if auth.kind == "none":
        return None
    if auth.kind == "bearer":
        return BearerAuth(_read(auth.token, "token", source))
    if auth.kind == "client-secret":
        if auth.token_url is None:
            raise ConfigError(f"source {source}: client-secret auth needs token_url")
        return ClientSecretAuth(
            client_id=_text(auth.client_id, "client_id", source),
            client_secret=_read(auth.client_secret, "client_secret", source),
            token_endpoint=str(auth.token_url),
            scope=auth.scope,
            http=http,
            source=source,
        )
    pem = _read(auth.private_key, "private_key", source)
    key = import_key(pem, "EC" if auth.algorithm == "ES384" else "RSA")
    if not isinstance(key, RSAKey | ECKey):
        raise ConfigError(f"source {source}: private_key is not an RSA or EC private key")
    return SmartBackendAuth(
        client_id=_text(auth.client_id, "client_id", source),
        private_key=key,
        kid=_text(auth.key_id, "key_id", source),
        scope=auth.scope,
        http=http,
        fhir_base_url=base_url,
        token_endpoint=str(auth.token_url) if auth.token_url else None,
        algorithm=auth.algorithm,
        source=source,
    )


def source_client(
    source: SourceConfig,
    metrics: GatewayMetrics,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[httpx.AsyncClient, FhirClient]:
    """An EHR's pooled client and the FhirClient on it, with its vendor profile."""
    policy = Policy(
        read_timeout=source.timeout_seconds,
        deadline=max(source.timeout_seconds * 1.5, 5.0),
        max_concurrency=source.max_concurrency,
    )
    http = pooled_client(policy, transport)
    base_url = str(source.base_url).rstrip("/")
    client = FhirClient(
        base_url,
        auth=build_auth(source.auth, http, base_url, source.id),
        http=http,
        policy=policy,
        source=source.id,
        profile=PROFILES[source.vendor],
        metrics=_PrometheusHook(metrics),
    )
    return http, client


def payer_port(
    config: PayerConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    budget_seconds: float = CORE_REALTIME_BUDGET,
) -> tuple[httpx.AsyncClient, PayerPort, CircuitBreaker] | None:
    """A payer's pooled client, its port and its circuit breaker (what the desk's status
    strip shows); None for a payer with no real-time service.

    The connector's deadline is the real-time budget; the coverage service keeps its own,
    shorter one so it can still answer stale within the budget.
    """
    if config.transport == "none" or config.endpoint is None:
        return None
    policy = Policy(
        read_timeout=budget_seconds,
        deadline=min(budget_seconds, CORE_REALTIME_BUDGET),
        max_concurrency=config.max_concurrency,
    )
    http = pooled_client(policy, transport)
    endpoint = str(config.endpoint).rstrip("/")
    source = f"payer-{config.id}"
    auth = build_auth(config.auth, http, endpoint, source)
    breaker = CircuitBreaker(policy)
    limit = ConcurrencyLimit(config.max_concurrency)
    if config.transport == "x12":
        x12 = X12Eligibility(
            endpoint,
            http=http,
            auth=auth,
            envelope=config.x12_envelope,
            source=source,
            policy=policy,
            breaker=breaker,
            limit=limit,
        )
        return http, X12Payer(x12, usage=config.x12_usage), breaker
    client = FhirClient(
        endpoint, auth=auth, http=http, policy=policy, source=source, breaker=breaker, limit=limit
    )
    return http, FhirPayer(FhirEligibility(client), source=source), breaker
