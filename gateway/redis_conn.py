"""Redis connections from one URL: a single server, a Sentinel-watched primary, or a Cluster.

``cache.redis_url`` (``FRONTDESK_CACHE__REDIS_URL``) takes three forms:

- ``redis://[[user]:password@]host:port[/db]`` (``rediss://`` for TLS): one server, or a
  managed endpoint that fails over behind one address;
- ``redis+sentinel://[[user]:password@]host:port,host:port,.../service[/db]``: the
  sentinels are asked for the primary of ``service``, again after every fail-over;
- ``redis+cluster://[[user]:password@]host:port,host:port,...``: Redis Cluster, given any
  of its nodes; keys used together carry a hash tag (``CacheKeys``) so they share a slot.

The password (and user) are the data nodes'; sentinels are reached without one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import quote, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import RedisError

from .logs import get_logger

__all__ = ["AnyRedis", "RedisTarget", "connect_cluster", "parse_redis_url", "redis_client"]

# What redis_client returns, typed as a plain client: a cluster client answers the same
# commands (and routes each by its key), so callers need not know which they hold.
AnyRedis = aioredis.Redis

log = get_logger(__name__)

_SENTINEL = "redis+sentinel"
_CLUSTER = "redis+cluster"


@dataclass(frozen=True)
class RedisTarget:
    kind: Literal["single", "sentinel", "cluster"]
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None

    @property
    def limits_uri(self) -> str:
        """The same target in the ``limits`` package's storage URI scheme."""
        if self.kind == "single":
            return "async+" + self.url
        auth = ""
        if self.password is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        hosts = ",".join(f"{h}:{p}" for h, p in self.nodes)
        if self.kind == "sentinel":
            return f"async+redis+sentinel://{auth}{hosts}/{self.service}"
        return f"async+redis+cluster://{auth}{hosts}"


def _nodes(netloc: str) -> tuple[tuple[str, int], ...]:
    hosts = netloc.rpartition("@")[2]
    out: list[tuple[str, int]] = []
    for part in hosts.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("each node must be host:port")
        out.append((host.strip("[]"), int(port)))
    return tuple(out)


def parse_redis_url(url: str) -> RedisTarget:
    """The target a ``cache.redis_url`` names; ValueError (without the URL) when unusable."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        return RedisTarget("single", url)
    if scheme not in (_SENTINEL, _CLUSTER):
        raise ValueError("use redis://, rediss://, redis+sentinel:// or redis+cluster://")
    userinfo = parts.netloc.rpartition("@")[0]
    user, has_password, password = userinfo.partition(":")
    nodes = _nodes(parts.netloc)
    path = [p for p in parts.path.split("/") if p]
    common: dict[str, Any] = {
        "nodes": nodes,
        "username": unquote(user) or None,
        "password": unquote(password) if has_password else None,
    }
    if scheme == _CLUSTER:
        if path:
            raise ValueError("a cluster URL has no service or database")
        return RedisTarget("cluster", url, **common)
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError("a sentinel URL ends with /service or /service/db")
    return RedisTarget(
        "sentinel", url, service=path[0], db=int(path[1]) if len(path) == 2 else 0, **common
    )


class _ClusterClient(RedisCluster):
    """RedisCluster with ``pubsub()``, which the job queue (saq) listens with.

    Plain PUBLISH reaches every node of a cluster, so one connection to any primary hears
    every channel."""

    pubsub_auth: dict[str, str | None] = {}
    _listeners: list[aioredis.Redis]

    async def publish(self, channel: str, message: bytes | str) -> int:
        """PUBLISH, which any node relays to the whole cluster."""
        count: int = await self.execute_command(
            "PUBLISH", channel, message, target_nodes=RedisCluster.RANDOM
        )
        return count

    def pubsub(self, **kwargs: Any) -> PubSub:
        # Before its first command the client knows only the nodes it was given.
        known = self.get_primaries() or list(self.nodes_manager.startup_nodes.values())
        node = random.choice(known)
        client = aioredis.Redis(
            host=node.host,
            port=int(node.port),
            username=self.pubsub_auth.get("username"),
            password=self.pubsub_auth.get("password"),
        )
        self._listeners.append(client)
        return client.pubsub(**kwargs)

    async def aclose(self) -> None:
        for client in self._listeners:
            await client.aclose()
        self._listeners.clear()
        await super().aclose()


def redis_client(target: RedisTarget, **options: Any) -> AnyRedis:
    """A redis-py asyncio client for ``target``; ``options`` as for ``redis.asyncio.Redis``."""
    if target.kind == "single":
        return aioredis.Redis.from_url(target.url, **options)
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    if target.kind == "sentinel":
        sentinel_options = {
            k: v for k, v in options.items() if k in ("socket_timeout", "socket_connect_timeout")
        }
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.nodes), sentinel_kwargs=sentinel_options, **options
        )
        primary: AnyRedis = sentinel.master_for(target.service or "", db=target.db, **auth)
        return primary
    cluster_options = {k: v for k, v in options.items() if k != "health_check_interval"}
    client = _ClusterClient(
        startup_nodes=[ClusterNode(h, p) for h, p in target.nodes], **cluster_options, **auth
    )
    client.pubsub_auth = auth
    client._listeners = []
    return cast(AnyRedis, client)


async def connect_cluster(client: AnyRedis) -> None:
    """Learn a cluster client's slots before the first requests: redis-py's asyncio cluster
    client, first used by many coroutines at once, can hand one new connection to two of
    them. Nothing for other clients; a cluster that can't be reached is learnt later."""
    if isinstance(client, RedisCluster):
        try:
            await client.initialize()
        except RedisError as exc:
            log.warning("cluster_unreachable", error=type(exc).__name__)
