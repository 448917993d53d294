"""`FhirClient`: an async FHIR R4 client on an injected, pooled `httpx.AsyncClient`.

It sends and returns FHIR JSON (`application/fhir+json` both ways); mapping to the
canonical model is the mappers' job. Each method names the FHIR interaction it sends::

    capabilities()                       GET    [base]/metadata            (read once, cached)
    read("Patient", "123")               GET    [base]/Patient/123
    vread("Patient", "123", "2")         GET    [base]/Patient/123/_history/2
    search("Patient", {"family": "X"})   GET    [base]/Patient?family=X    then each `next` link
    create(resource, if_none_exist=...)  POST   [base]/Patient             If-None-Exist: ...
    update(resource, if_match="2")       PUT    [base]/Patient/123         If-Match: W/"2"
    patch("Appointment", "9", ops)       PATCH  [base]/Appointment/9       (JSON Patch)
    delete("Patient", "123")             DELETE [base]/Patient/123
    transaction(bundle)                  POST   [base]
    operation("$find", resource_type="Appointment", ...)   POST [base]/Appointment/$find
    bulk_export("Patient", since=...)    GET    [base]/Patient/$export?_type=Patient&_since=...
                                         (Prefer: respond-async), then GET the status URL
                                         until 200, then GET each NDJSON file it lists

Failures raise subclasses of `connectors.UpstreamError` (see `connectors.errors`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.breaker import CircuitBreaker, ConcurrencyLimit
from connectors.clock import Clock, SystemClock
from connectors.errors import ProtocolError, TooManyResults
from connectors.metrics import MetricsHook
from connectors.policy import Policy
from connectors.profiles import GENERIC, VendorProfile, check_capabilities
from connectors.search import ParamValue, SearchParams, check_next_link
from connectors.upstream import Call, SourceHealth, Upstream

__all__ = ["FhirClient", "SearchPage"]

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"

Resource = dict[str, Any]
Params = SearchParams | Mapping[str, ParamValue] | None


@dataclass(frozen=True)
class SearchPage:
    """One page of a searchset Bundle."""

    resources: list[Resource]  # entries with search.mode "match" (or no mode)
    included: list[Resource] = field(default_factory=list)  # search.mode "include"
    outcomes: list[Resource] = field(default_factory=list)  # OperationOutcome entries
    total: int | None = None
    next_url: str | None = None
    bundle: Resource = field(default_factory=dict)


class FhirClient:
    """Async FHIR R4 client for one source.

    `http` is the pooled client for this source, built and closed by the caller (the
    gateway's lifespan). When it is None the FhirClient builds its own and closes it in
    `aclose()` — convenient for scripts, not for servers.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        http: httpx.AsyncClient | None = None,
        policy: Policy | None = None,
        source: str = "default",
        profile: VendorProfile = GENERIC,
        clock: Clock | None = None,
        metrics: MetricsHook | None = None,
        breaker: CircuitBreaker | None = None,
        limit: ConcurrencyLimit | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.profile = profile
        self.policy = policy or Policy()
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._upstream = Upstream(
            source,
            self._http,
            auth=auth,
            policy=self.policy,
            clock=clock or SystemClock(),
            breaker=breaker,
            limit=limit,
            metrics=metrics,
        )
        self._capabilities: Resource | None = None
        self._capabilities_lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> FhirClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def health(self) -> SourceHealth:
        """Breaker state, concurrency and call counts, for /readyz and metrics."""
        return self._upstream.health()

    # --- capabilities -------------------------------------------------------------------

    async def capabilities(self) -> Resource:
        """GET [base]/metadata, read once and cached."""
        if self._capabilities is None:
            async with self._capabilities_lock:
                if self._capabilities is None:
                    self._capabilities = await self._json(
                        Call("GET", self._url("/metadata"), "/metadata", "capabilities"),
                        expect="CapabilityStatement",
                    )
        return self._capabilities

    async def check_capabilities(self) -> None:
        """Fail with `CapabilityMismatch` when the server lacks what the profile needs."""
        check_capabilities(self.profile, await self.capabilities(), source=self.source)

    # --- reads --------------------------------------------------------------------------

    async def read(self, resource_type: str, id: str) -> Resource:
        return await self._json(
            Call(
                "GET",
                self._url(f"/{resource_type}/{id}"),
                f"/{resource_type}/{{id}}",
                "read",
                resource_type,
            ),
            expect=resource_type,
        )

    async def vread(self, resource_type: str, id: str, version_id: str) -> Resource:
        return await self._json(
            Call(
                "GET",
                self._url(f"/{resource_type}/{id}/_history/{version_id}"),
                f"/{resource_type}/{{id}}/_history/{{vid}}",
                "vread",
                resource_type,
            ),
            expect=resource_type,
        )

    # --- search -------------------------------------------------------------------------

    async def search_page(self, resource_type: str, params: Params = None) -> SearchPage:
        """GET [base]/{type}?params: the first page, with the server's total when given."""
        query = SearchParams.of(params)
        count = dict(query.items).get("_count")
        if count is not None and count.isdigit():
            query = query.count(self.profile.page_size(int(count)))
        bundle = await self._json(
            Call(
                "GET",
                self._url(f"/{resource_type}"),
                f"/{resource_type}",
                "search",
                resource_type,
                query.items,
            ),
            expect="Bundle",
        )
        return self._page(bundle, resource_type)

    async def next_page(self, page: SearchPage, resource_type: str) -> SearchPage | None:
        """Follow `page.next_url` after checking it stays on this server's base URL."""
        if page.next_url is None:
            return None
        call = Call("GET", page.next_url, f"/{resource_type} (next page)", "search", resource_type)
        problem = check_next_link(self.base_url, page.next_url)
        if problem is not None:
            raise ProtocolError(
                problem, source=self.source, method="GET", url_template=call.url_template
            )
        bundle = await self._json(call, expect="Bundle")
        return self._page(bundle, resource_type)

    async def search(
        self,
        resource_type: str,
        params: Params = None,
        *,
        max_pages: int | None = None,
        max_resources: int | None = None,
    ) -> AsyncIterator[Resource]:
        """Every matching resource across pages, following `next` links.

        Raises `TooManyResults` past the page or resource cap (a front desk must not act on
        a silently cut list) and `ProtocolError` for an off-base link or a link loop.
        """
        page_cap = max_pages or self.policy.max_pages
        resource_cap = max_resources or self.policy.max_resources
        page: SearchPage | None = await self.search_page(resource_type, params)
        seen: set[str] = set()
        pages = 1
        count = 0
        while page is not None:
            for resource in page.resources:
                count += 1
                if count > resource_cap:
                    raise self._too_many(resource_type, f"more than {resource_cap} resources")
                yield resource
            if page.next_url is None:
                return
            if page.next_url in seen:
                raise ProtocolError(
                    "next link loop",
                    source=self.source,
                    method="GET",
                    url_template=f"/{resource_type} (next page)",
                )
            seen.add(page.next_url)
            pages += 1
            if pages > page_cap:
                raise self._too_many(resource_type, f"more than {page_cap} pages")
            page = await self.next_page(page, resource_type)

    # --- writes -------------------------------------------------------------------------

    async def create(
        self, resource: Mapping[str, Any], *, if_none_exist: Params | str = None
    ) -> Resource:
        """POST [base]/{type}; with `if_none_exist` a conditional create, safe to retry."""
        rtype = _resource_type(resource)
        headers = {"Prefer": "return=representation"}
        if if_none_exist is not None:
            headers["If-None-Exist"] = (
                if_none_exist
                if isinstance(if_none_exist, str)
                else urlencode(list(SearchParams.of(if_none_exist)))
            )
        call = Call(
            "POST",
            self._url(f"/{rtype}"),
            f"/{rtype}",
            "create",
            rtype,
            headers=headers,
            content=_dump(resource),
        )
        return await self._json(call, expect=rtype, allow_empty=True)

    async def update(self, resource: Mapping[str, Any], *, if_match: str | None = None) -> Resource:
        """PUT [base]/{type}/{id}; with `if_match` (a versionId or ETag) a guarded update."""
        rtype = _resource_type(resource)
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid:
            raise ValueError("update needs a resource with an id")
        headers = {"Prefer": "return=representation"}
        if if_match is not None:
            headers["If-Match"] = _etag(if_match)
        call = Call(
            "PUT",
            self._url(f"/{rtype}/{rid}"),
            f"/{rtype}/{{id}}",
            "update",
            rtype,
            headers=headers,
            content=_dump(resource),
        )
        return await self._json(call, expect=rtype, allow_empty=True)

    async def patch(
        self,
        resource_type: str,
        id: str,
        operations: Sequence[Mapping[str, Any]],
        *,
        if_match: str | None = None,
    ) -> Resource:
        """PATCH [base]/{type}/{id} with a JSON Patch document."""
        headers = {"Content-Type": JSON_PATCH, "Prefer": "return=representation"}
        if if_match is not None:
            headers["If-Match"] = _etag(if_match)
        call = Call(
            "PATCH",
            self._url(f"/{resource_type}/{id}"),
            f"/{resource_type}/{{id}}",
            "patch",
            resource_type,
            headers=headers,
            content=json.dumps(list(operations)).encode(),
        )
        return await self._json(call, expect=resource_type, allow_empty=True)

    async def delete(self, resource_type: str, id: str) -> None:
        call = Call(
            "DELETE",
            self._url(f"/{resource_type}/{id}"),
            f"/{resource_type}/{{id}}",
            "delete",
            resource_type,
        )
        await self._upstream.call(call, lambda response, body: None)

    async def transaction(self, bundle: Mapping[str, Any]) -> Resource:
        """POST [base] with a transaction (or batch) Bundle; never retried once sent."""
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in (
            "transaction",
            "batch",
        ):
            raise ValueError("transaction needs a Bundle of type transaction or batch")
        call = Call("POST", self.base_url, "/", "transaction", "Bundle", content=_dump(bundle))
        return await self._json(call, expect="Bundle")

    async def operation(
        self,
        name: str,
        *,
        resource_type: str | None = None,
        id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        params: Params = None,
        method: str = "POST",
        idempotent: bool = False,
    ) -> Resource:
        """Invoke `$name` at system, type or instance level.

        POST sends `parameters` (a Parameters or other resource) as the body; GET sends
        `params` in the query. Mark read-only operations (`$find`) `idempotent=True` so
        they may be retried; `$book`, `$hold` and `$submit` are not retried once sent.
        """
        op = name if name.startswith("$") else f"${name}"
        if id is not None and resource_type is None:
            raise ValueError("an instance-level operation needs resource_type")
        path = "".join(
            (
                f"/{resource_type}" if resource_type else "",
                "/{id}" if id is not None else "",
                f"/{op}",
            )
        )
        real_path = path.replace("{id}", id) if id is not None else path
        query = SearchParams.of(params)
        content = _dump(parameters) if parameters is not None and method.upper() != "GET" else None
        call = Call(
            method.upper(),
            self._url(real_path),
            path,
            "operation",
            resource_type or "",
            query.items,
            content=content,
            idempotent=idempotent,
        )
        return await self._json(call, expect=None)

    # --- bulk data ----------------------------------------------------------------------

    @staticmethod
    def declares(capabilities: Mapping[str, Any], operation: str, resource_type: str) -> bool:
        """Whether the CapabilityStatement declares ``$operation`` for the type or system."""
        for rest in capabilities.get("rest", []):
            if any(o.get("name") == operation for o in rest.get("operation", [])):
                return True
            for resource in rest.get("resource", []):
                if resource.get("type") == resource_type and any(
                    o.get("name") == operation for o in resource.get("operation", [])
                ):
                    return True
        return False

    async def bulk_export(
        self,
        resource_type: str = "Patient",
        *,
        since: str | None = None,
        poll_seconds: float = 1.0,
        max_wait_seconds: float = 600.0,
    ) -> AsyncIterator[Resource]:
        """Every ``resource_type`` resource (changed since ``since``) by FHIR Bulk Data
        export: kick-off, poll the status URL, read each NDJSON file of the manifest."""
        params: list[tuple[str, str]] = [("_type", resource_type)]
        if since is not None:
            params.append(("_since", since))
        kickoff = Call(
            "GET",
            self._url(f"/{resource_type}/$export"),
            f"/{resource_type}/$export",
            "operation",
            resource_type,
            tuple(params),
            {"Prefer": "respond-async"},
        )
        status_url = await self._upstream.call(
            self._with_headers(kickoff), lambda r, _b: r.headers.get("content-location")
        )
        if not status_url:
            raise ProtocolError(
                "bulk export kick-off without Content-Location",
                source=self.source,
                method="GET",
                url_template=kickoff.url_template,
            )
        manifest = await self._poll_export(str(status_url), poll_seconds, max_wait_seconds)
        for output in manifest.get("output", []):
            if output.get("type") != resource_type or not isinstance(output.get("url"), str):
                continue
            async for resource in self._ndjson(output["url"]):
                yield resource

    async def _poll_export(self, url: str, poll_seconds: float, max_wait: float) -> Resource:
        template = "/$export-poll-status"
        problem = check_next_link(self.base_url, url)
        if problem is not None:
            raise ProtocolError(
                problem.replace("next link", "export status link"),
                source=self.source,
                method="GET",
                url_template=template,
            )
        call = self._with_headers(Call("GET", url, template, "operation", "", ()))
        waited = 0.0

        def parse(response: httpx.Response, body: bytes) -> Resource | None:
            if response.status_code == 202 or not body.strip():
                return None
            doc = json.loads(body)
            return doc if isinstance(doc, dict) else None

        while True:
            manifest = await self._upstream.call(call, parse)
            if manifest is not None:
                return manifest
            if waited >= max_wait:
                raise ProtocolError(
                    "bulk export not ready in time",
                    source=self.source,
                    method="GET",
                    url_template=template,
                    retryable=True,
                )
            await asyncio.sleep(poll_seconds)
            waited += poll_seconds

    async def _ndjson(self, url: str) -> AsyncIterator[Resource]:
        template = "/$export file"
        problem = check_next_link(self.base_url, url)
        if problem is not None:
            raise ProtocolError(
                problem.replace("next link", "export file link"),
                source=self.source,
                method="GET",
                url_template=template,
            )
        call = Call(
            "GET", url, template, "operation", "", (), {"Accept": "application/fhir+ndjson"}
        )
        body: bytes = await self._upstream.call(call, lambda _r, b: b)
        for line in body.splitlines():
            if line.strip():
                doc = json.loads(line)
                if isinstance(doc, dict):
                    yield doc

    def _with_headers(self, call: Call) -> Call:
        return dataclasses.replace(call, headers=self._headers(call))

    # --- plumbing -----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _headers(self, call: Call) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON, **self.profile.required_headers}
        if call.content is not None:
            headers["Content-Type"] = FHIR_JSON
        headers.update(call.headers)
        return headers

    async def _json(self, call: Call, *, expect: str | None, allow_empty: bool = False) -> Resource:
        call = self._with_headers(call)

        def parse(response: httpx.Response, body: bytes) -> Resource:
            return self._parse(call, response, body, expect=expect, allow_empty=allow_empty)

        return await self._upstream.call(call, parse)

    def _parse(
        self,
        call: Call,
        response: httpx.Response,
        body: bytes,
        *,
        expect: str | None,
        allow_empty: bool,
    ) -> Resource:
        def fail(message: str, *, retryable: bool) -> ProtocolError:
            return ProtocolError(
                message,
                source=self.source,
                method=call.method,
                url_template=call.url_template,
                status=response.status_code,
                retryable=retryable,
            )

        if not body.strip():
            if allow_empty:
                # Prefer: return=minimal servers answer with Location/ETag only.
                return _from_location(response, call.resource_type)
            raise fail("empty body", retryable=True)
        try:
            doc = json.loads(body)
        except ValueError:
            # Usually a body cut short in transit; the request may be repeated if safe.
            raise fail("body is not JSON", retryable=True) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
            raise fail("body is not a FHIR resource", retryable=False)
        if expect is not None and doc["resourceType"] != expect:
            raise fail(f"expected {expect}, got {doc['resourceType']}", retryable=False)
        return doc

    def _page(self, bundle: Resource, resource_type: str) -> SearchPage:
        matches: list[Resource] = []
        included: list[Resource] = []
        outcomes: list[Resource] = []
        for entry in bundle.get("entry") or ():
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            mode = (entry.get("search") or {}).get("mode")
            if mode == "outcome" or resource.get("resourceType") == "OperationOutcome":
                outcomes.append(resource)
            elif mode == "include":
                included.append(resource)
            else:
                matches.append(resource)
        next_url = next(
            (
                link.get("url")
                for link in bundle.get("link") or ()
                if isinstance(link, dict)
                and link.get("relation") == "next"
                and isinstance(link.get("url"), str)
            ),
            None,
        )
        total = bundle.get("total")
        return SearchPage(
            resources=matches,
            included=included,
            outcomes=outcomes,
            total=total if isinstance(total, int) else None,
            next_url=next_url,
            bundle=bundle,
        )

    def _too_many(self, resource_type: str, message: str) -> TooManyResults:
        return TooManyResults(
            message, source=self.source, method="GET", url_template=f"/{resource_type}"
        )


def _resource_type(resource: Mapping[str, Any]) -> str:
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise ValueError("resource has no resourceType")
    return rtype


def _dump(resource: Mapping[str, Any]) -> bytes:
    return json.dumps(resource, separators=(",", ":")).encode()


def _etag(version: str) -> str:
    return version if version.startswith(("W/", '"')) else f'W/"{version}"'


def _from_location(response: httpx.Response, resource_type: str) -> Resource:
    """A stub resource from the Location header: [base]/{type}/{id}/_history/{vid}."""
    location = response.headers.get("Content-Location") or response.headers.get("Location") or ""
    parts = location.rstrip("/").split("/")
    stub: Resource = {"resourceType": resource_type}
    if "_history" in parts:
        i = parts.index("_history")
        stub["id"] = parts[i - 1]
        if i + 1 < len(parts):
            stub["meta"] = {"versionId": parts[i + 1]}
    elif parts and parts[-1]:
        stub["id"] = parts[-1]
    return stub
