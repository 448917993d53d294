"""Reading every Patient of a source for a build: FHIR Bulk Data export where the
CapabilityStatement declares ``$export``, else a paged search over a ``_lastUpdated``
window; an EHR that allows neither is left to grow its part of the index from the
records the gateway sees (``PersonIndex.observe``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from connectors import UpstreamError
from mappers import MappingError, from_fhir
from mappers.model import Patient

from ..logs import get_logger
from ..sources import SourceHandle

__all__ = ["Harvest", "harvest", "how_to_read"]

log = get_logger(__name__)

Method = Literal["export", "search", "observe"]
_PAGE = 500


@dataclass
class Harvest:
    source: str
    method: Method
    patients: list[Patient]
    # The moment the read covered up to (the next incremental read starts there).
    watermark: str | None


async def how_to_read(handle: SourceHandle) -> Method:
    try:
        capabilities = await handle.client.capabilities()
    except UpstreamError:
        return "search"
    if handle.client.declares(capabilities, "export", "Patient"):
        return "export"
    return "search"


async def harvest(handle: SourceHandle, *, since: str | None, until: str) -> Harvest:
    """Every Patient of ``handle`` changed after ``since`` (all when None) up to ``until``."""
    method = await how_to_read(handle)
    if method == "export":
        try:
            return await _read(handle, "export", since=since, until=until)
        except UpstreamError as exc:
            # An export that fails (a server error, not ready in time) is read by search.
            log.warning("index_export_failed", source=handle.id, error=type(exc).__name__)
            method = "search"
    return await _read(handle, method, since=since, until=until)


async def _read(handle: SourceHandle, method: Method, *, since: str | None, until: str) -> Harvest:
    if method == "export":
        resources: AsyncIterator[dict[str, object]] = handle.client.bulk_export(
            "Patient", since=since
        )
    else:
        window = [f"le{until}", *([f"gt{since}"] if since is not None else [])]
        resources = handle.client.search(
            "Patient",
            {"_lastUpdated": window, "_count": str(_PAGE), "_sort": "_lastUpdated"},
            max_pages=100_000,
            max_resources=10_000_000,
        )
    patients: list[Patient] = []
    try:
        async for resource in resources:
            try:
                patients.append(from_fhir(resource, source=handle.id, expect=Patient))
            except MappingError:
                continue
    except UpstreamError as exc:
        if method == "search" and exc.status in (400, 401, 403, 404, 405, 422):
            # Many EHRs refuse an unfiltered Patient search: that source's part of the
            # index grows from what the gateway sees instead.
            log.info("index_source_observed_only", source=handle.id, status=exc.status)
            return Harvest(handle.id, "observe", [], since)
        raise
    return Harvest(handle.id, method, patients, until)
