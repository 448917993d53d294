"""The tenant's EHR sources as the services see them: a configured FhirClient and its
Scheduler each, with the two moves every service makes (resolve a gateway id to its
source; search and map) written once."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from connectors import FhirClient, SearchPage
from connectors import NotFound as UpstreamNotFound
from connectors.search import ParamValue
from mappers import (
    CanonicalRecord,
    GatewayId,
    InvalidId,
    MappedSearch,
    MappingError,
    decode_id,
    from_bundle_pages,
    from_fhir,
)

from .services.errors import NotFound, ServiceError
from .services.scheduling import Scheduler
from .settings import SourceConfig, TenantConfig

__all__ = ["SourceHandle", "TenantSources"]

R = TypeVar("R", bound=CanonicalRecord)


@dataclass(frozen=True)
class SourceHandle:
    config: SourceConfig
    client: FhirClient
    scheduler: Scheduler

    @property
    def id(self) -> str:
        return self.config.id

    async def search_mapped(
        self,
        resource_type: str,
        params: Mapping[str, ParamValue],
        expect: type[R],
        *,
        limit: int,
        keep: Callable[[R], bool] | None = None,
    ) -> list[R]:
        """GET [base]/{type}?params, every page, each match mapped to ``expect``.

        An unusable record is skipped, not fatal for the search (inbound lenient); at most
        ``limit`` records that ``keep`` accepts are returned.
        """
        out: list[R] = []
        async for resource in self.client.search(resource_type, params):
            try:
                record = from_fhir(resource, source=self.id, expect=expect)
            except MappingError:
                continue
            if keep is None or keep(record):
                out.append(record)
            if len(out) >= limit:
                break
        return out

    async def search_pages(
        self, resource_type: str, params: Mapping[str, ParamValue], *, max_pages: int = 10
    ) -> MappedSearch:
        """GET [base]/{type}?params and its ``next`` pages, mapped together, so records
        ``_include``d on any page resolve the matches' references (``from_bundle_pages``)."""
        page: SearchPage | None = await self.client.search_page(resource_type, params)
        bundles: list[dict[str, Any]] = []
        while page is not None and len(bundles) < max_pages:
            bundles.append(page.bundle)
            page = await self.client.next_page(page, resource_type)
        return from_bundle_pages(bundles, source=self.id)

    async def read_mapped(
        self, resource_type: str, upstream_id: str, expect: type[R], *, what: str
    ) -> tuple[R, dict[str, Any]]:
        """GET [base]/{type}/{id}, mapped; ``NotFound`` ("no such <what>") when it isn't
        there. Returns the JSON too, for a guarded update of what was read."""
        try:
            resource: dict[str, Any] = await self.client.read(resource_type, upstream_id)
        except UpstreamNotFound:
            raise NotFound(f"no such {what}") from None
        return from_fhir(resource, source=self.id, expect=expect), resource


@dataclass(frozen=True)
class TenantSources:
    tenant: TenantConfig
    handles: dict[str, SourceHandle]

    def get(self, source_id: str) -> SourceHandle | None:
        """The tenant's source, or None: another tenant's source is as unknown as a missing one."""
        return self.handles.get(source_id)

    def all(self) -> list[SourceHandle]:
        return list(self.handles.values())

    def resolve(
        self,
        gateway_id: str,
        resource_types: str | Collection[str] | None,
        what: str,
        *,
        malformed: type[ServiceError] = NotFound,
    ) -> tuple[SourceHandle, GatewayId]:
        """The source and upstream id a gateway id names.

        ``malformed`` (NotFound by default: a string that is no gateway id of one of
        ``resource_types`` (None: any type) names nothing) or ``NotFound`` when its source
        is not this tenant's.
        """
        types = {resource_types} if isinstance(resource_types, str) else resource_types
        try:
            ref = decode_id(gateway_id)
        except InvalidId:
            raise malformed(f"no such {what}") from None
        if types is not None and ref.resource_type not in types:
            raise malformed(f"no such {what}")
        handle = self.handles.get(ref.source)
        if handle is None:
            raise NotFound(f"no such {what}")
        return handle, ref
