"""The tenant's EHR sources as the services see them: a configured FhirClient each."""

from __future__ import annotations

from dataclasses import dataclass

from connectors import FhirClient

from .settings import SourceConfig, TenantConfig

__all__ = ["SourceHandle", "TenantSources"]


@dataclass(frozen=True)
class SourceHandle:
    config: SourceConfig
    client: FhirClient

    @property
    def id(self) -> str:
        return self.config.id


@dataclass(frozen=True)
class TenantSources:
    tenant: TenantConfig
    handles: dict[str, SourceHandle]

    def get(self, source_id: str) -> SourceHandle | None:
        """The tenant's source, or None: another tenant's source is as unknown as a missing one."""
        return self.handles.get(source_id)

    def all(self) -> list[SourceHandle]:
        return list(self.handles.values())
