"""Ask several sources at once; a slow or failing source never sinks the others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from connectors import UpstreamError
from mappers import MappingError

__all__ = ["SourceOutcome", "SourceStatus", "fan_out"]

T = TypeVar("T")
H = TypeVar("H")


@dataclass(frozen=True)
class SourceStatus:
    source: str
    status: Literal["ok", "error", "timeout"]
    detail: str | None = None


@dataclass(frozen=True)
class SourceOutcome(Generic[T]):
    status: SourceStatus
    value: T | None


async def _one(source_id: str, call: Awaitable[T], deadline_seconds: float) -> SourceOutcome[T]:
    try:
        value = await asyncio.wait_for(call, deadline_seconds)
    except TimeoutError:
        return SourceOutcome(
            SourceStatus(source_id, "timeout", "source did not answer in time"), None
        )
    except UpstreamError as exc:
        # The error's str() carries a URL template and status only, never query values.
        return SourceOutcome(SourceStatus(source_id, "error", _describe(exc)), None)
    except MappingError as exc:
        return SourceOutcome(SourceStatus(source_id, "error", f"unusable answer: {exc.path}"), None)
    return SourceOutcome(SourceStatus(source_id, "ok"), value)


def _describe(exc: UpstreamError) -> str:
    name = type(exc).__name__.removesuffix("Error")
    status = getattr(exc, "status", None)
    return f"{name} (HTTP {status})" if status else name


async def fan_out(
    handles: Sequence[H],
    source_of: Callable[[H], str],
    call: Callable[[H], Awaitable[T]],
    deadline_seconds: float,
) -> list[SourceOutcome[T]]:
    """Run ``call`` for every handle concurrently, each under its own deadline."""
    return list(
        await asyncio.gather(*(_one(source_of(h), call(h), deadline_seconds) for h in handles))
    )
