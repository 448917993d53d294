"""Id-less `$find` proposals, kept in the shared cache so any gateway replica can book them
(see ``find_book`` for why a proposal may have no id of its own)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...cache import Cache, CacheKeys

__all__ = ["PROPOSAL_TTL_SECONDS", "ProposalStore"]

# How long an id-less proposal stays bookable. Proposals are a snapshot of the EHR's
# scheduling rules at `$find` time; past this the PSR searches again.
PROPOSAL_TTL_SECONDS = 900.0


@dataclass(frozen=True)
class ProposalStore:
    """Id-less proposals kept in the shared cache, so any replica can book them."""

    cache: Cache
    keys: CacheKeys
    tenant: str
    ttl_seconds: float = PROPOSAL_TTL_SECONDS

    def _key(self, source: str, digest: str) -> str:
        return self.keys.key("proposal", self.tenant, source, digest)

    async def put(self, source: str, resource: dict[str, Any]) -> str:
        body = json.dumps(resource, sort_keys=True, separators=(",", ":"))
        digest = self.keys.digest("proposal", self.tenant, source, body)
        await self.cache.set(self._key(source, digest), body.encode(), self.ttl_seconds)
        return digest

    async def get(self, source: str, digest: str) -> dict[str, Any] | None:
        raw = await self.cache.get(self._key(source, digest))
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None
