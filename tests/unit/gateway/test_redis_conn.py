"""The three forms of cache.redis_url."""

from __future__ import annotations

import pytest

from gateway.redis_conn import parse_redis_url
from gateway.settings import ConfigError, load_settings


def test_single_server() -> None:
    target = parse_redis_url("redis://:pw@10.0.0.5:6380/2")
    assert target.kind == "single"
    assert target.limits_uri == "async+redis://:pw@10.0.0.5:6380/2"


def test_sentinel_with_service_and_db() -> None:
    target = parse_redis_url("redis+sentinel://:s3cr%40t@h1:26379,h2:26380,h3:26381/frontdesk/3")
    assert target.kind == "sentinel"
    assert target.nodes == (("h1", 26379), ("h2", 26380), ("h3", 26381))
    assert (target.service, target.db, target.password) == ("frontdesk", 3, "s3cr@t")
    assert (
        target.limits_uri == "async+redis+sentinel://:s3cr%40t@h1:26379,h2:26380,h3:26381/frontdesk"
    )


def test_cluster_seed_nodes() -> None:
    target = parse_redis_url("redis+cluster://n1:7000,n2:7001")
    assert target.kind == "cluster"
    assert target.nodes == (("n1", 7000), ("n2", 7001))
    assert target.password is None
    assert target.limits_uri == "async+redis+cluster://n1:7000,n2:7001"


@pytest.mark.parametrize(
    "url",
    [
        "memcached://h:1",
        "redis+sentinel://h1:26379",  # no service
        "redis+sentinel://h1:26379/svc/notadb",
        "redis+cluster://h1:7000/0",
        "redis+cluster://h1",
    ],
)
def test_unusable_forms_are_refused_without_echoing_the_url(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_CACHE__REDIS_URL", url)
    with pytest.raises(ConfigError) as refused:
        load_settings(
            tenants=[
                {"id": "t", "name": "T", "sources": [{"id": "s", "base_url": "http://s.test"}]}
            ]
        )
    assert "cache.redis_url" in str(refused.value)
    assert url not in str(refused.value)
