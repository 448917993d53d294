"""Build one pooled httpx client and one FhirClient per configured source."""

from __future__ import annotations

import httpx
from joserfc.jwk import ECKey, RSAKey, import_key

from connectors import (
    PROFILES,
    BearerAuth,
    ClientSecretAuth,
    FhirClient,
    Policy,
    RequestObserved,
    SmartBackendAuth,
)

from .metrics import GatewayMetrics
from .settings import AuthConfig, SourceConfig

__all__ = ["build_auth", "build_source_client"]


class _PrometheusHook:
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def request_observed(self, event: RequestObserved) -> None:
        self._metrics.upstream_latency.labels(
            event.source, event.interaction, event.resource_type or "-", event.status_class
        ).observe(event.latency)


def build_auth(
    auth: AuthConfig, http: httpx.AsyncClient, base_url: str, source: str
) -> httpx.Auth | None:
    if auth.kind == "none":
        return None
    if auth.kind == "bearer":
        assert auth.token is not None
        return BearerAuth(auth.token.read())
    if auth.kind == "client-secret":
        assert auth.client_id is not None
        assert auth.client_secret is not None
        if auth.token_url is None:
            raise ValueError(f"source {source}: client-secret auth needs token_url")
        return ClientSecretAuth(
            client_id=auth.client_id,
            client_secret=auth.client_secret.read(),
            token_endpoint=str(auth.token_url),
            scope=auth.scope,
            http=http,
            source=source,
        )
    assert auth.client_id is not None
    assert auth.private_key is not None
    assert auth.key_id is not None
    key = import_key(auth.private_key.read(), "EC" if auth.algorithm == "ES384" else "RSA")
    assert isinstance(key, RSAKey | ECKey)
    return SmartBackendAuth(
        client_id=auth.client_id,
        private_key=key,
        kid=auth.key_id,
        scope=auth.scope,
        http=http,
        fhir_base_url=base_url,
        token_endpoint=str(auth.token_url) if auth.token_url else None,
        algorithm=auth.algorithm,
        source=source,
    )


def build_source_client(
    source: SourceConfig,
    metrics: GatewayMetrics,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[httpx.AsyncClient, FhirClient]:
    policy = Policy(
        read_timeout=source.timeout_seconds,
        deadline=max(source.timeout_seconds * 1.5, 5.0),
        max_concurrency=source.max_concurrency,
    )
    http = httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(
            policy.read_timeout, connect=policy.connect_timeout, pool=policy.pool_timeout
        ),
        limits=httpx.Limits(max_connections=source.max_concurrency * 2),
    )
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
