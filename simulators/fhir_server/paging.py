"""Search result snapshots, so `next` links stay valid while a client pages.

Like HAPI's stored searches, a search keeps the ordered list of matching ids
taken when it ran; pages render the current content of those resources.
Snapshots are kept in a bounded LRU so a long-running sandbox doesn't grow
without limit; an evicted or unknown search id answers 410 Gone, as HAPI does.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

from simulators.fhir_server.outcome import FhirError
from simulators.fhir_server.search import SearchRequest


@dataclass(frozen=True, slots=True)
class Snapshot:
    search_id: str
    request: SearchRequest
    ids: tuple[str, ...]


class SnapshotCache:
    def __init__(self, max_searches: int = 1000) -> None:
        self._max = max_searches
        self._snapshots: OrderedDict[str, Snapshot] = OrderedDict()

    def add(self, request: SearchRequest, ids: list[str]) -> Snapshot:
        snapshot = Snapshot(str(uuid.uuid4()), request, tuple(ids))
        self._snapshots[snapshot.search_id] = snapshot
        while len(self._snapshots) > self._max:
            self._snapshots.popitem(last=False)
        return snapshot

    def get(self, search_id: str) -> Snapshot:
        snapshot = self._snapshots.get(search_id)
        if snapshot is None:
            raise FhirError(
                410,
                f'Search ID "{search_id}" does not exist and may have expired',
                code="not-found",
            )
        self._snapshots.move_to_end(search_id)
        return snapshot
