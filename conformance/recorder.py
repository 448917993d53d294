"""Every request the kit sends, with its answer: the evidence in reports and the timings.

`RecordingTransport` wraps whatever transport reaches the server (a real connection, an
ASGI app, a test's defect proxy), so the FhirClient and the raw probes share one record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.model import Exchange
from conformance.redact import Redactor

__all__ = ["Recorder", "RecordingTransport", "interaction_of"]


@dataclass
class Recorder:
    redactor: Redactor
    exchanges: list[Exchange] = field(default_factory=list)
    # Every resource the server returned, for the payload checks (ids dedupe in the check).
    resources: list[dict[str, Any]] = field(default_factory=list)
    current_check: str | None = None

    def for_check(self, check_id: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.check_id == check_id]

    def add(
        self,
        request: httpx.Request,
        status: int | None,
        body: bytes,
        elapsed_ms: float,
        error: str | None = None,
    ) -> None:
        doc = _document(body)
        self.exchanges.append(
            Exchange(
                check_id=self.current_check,
                interaction=interaction_of(request.method, request.url),
                method=request.method,
                url=self.redactor.url(str(request.url)),
                status=status,
                elapsed_ms=elapsed_ms,
                request_excerpt=self.redactor.body(request.content) if request.content else None,
                response_excerpt=self.redactor.body(body),
                error=error,
                outcome_issues=_issues(doc),
            )
        )
        if status is not None and 200 <= status < 300:
            self.resources.extend(_resources(doc))


class RecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
            # aread() decodes any Content-Encoding: hand on the decoded body with headers
            # that say so, and record the same bytes the client will parse.
            body = await response.aread()
            await response.aclose()
        except httpx.HTTPError as exc:
            self.recorder.add(
                request, None, b"", _ms(started), error=f"{type(exc).__name__}: {exc}"
            )
            raise
        self.recorder.add(request, response.status_code, body, _ms(started))
        headers = httpx.Headers(response.headers)
        for name in ("content-encoding", "content-length", "transfer-encoding"):
            headers.pop(name, None)
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def interaction_of(method: str, url: httpx.URL) -> str:
    """A FHIR interaction label from the request shape, for timings ("search Slot")."""
    segments = [s for s in url.path.split("/") if s]
    # Find the resource type: the first segment that starts with an upper-case letter.
    idx = next((i for i, s in enumerate(segments) if s[:1].isupper()), None)
    if segments and segments[-1] == "metadata":
        return "capabilities"
    if idx is None:
        if method == "GET" and url.params.get("_getpages"):
            return "search (next page)"  # HAPI-style paging links point at the base
        return "transaction" if method == "POST" else f"{method.lower()} system"
    rtype, rest = segments[idx], segments[idx + 1 :]
    if rest and rest[0].startswith("$"):
        return f"operation {rest[0]}"
    if method == "GET":
        if not rest:
            return f"search {rtype}"
        return f"vread {rtype}" if "_history" in rest else f"read {rtype}"
    verbs = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    return f"{verbs.get(method, method.lower())} {rtype}"


def _document(body: bytes) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _issues(doc: dict[str, Any] | None) -> int | None:
    if doc is None or doc.get("resourceType") != "OperationOutcome":
        return None
    issues = doc.get("issue")
    return len(issues) if isinstance(issues, list) else 0


def _resources(doc: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    if doc is None:
        return
    if doc.get("resourceType") == "Bundle":
        for entry in doc.get("entry") or ():
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                yield resource
    elif isinstance(doc.get("resourceType"), str):
        yield doc


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
