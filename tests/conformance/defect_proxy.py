"""A transport between the kit and a real FHIR server that breaks one behaviour.

Each defect is something real servers get wrong; the kit must notice each with exactly
the check named for it (tests/conformance/test_defects.py).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import httpx

__all__ = ["Defect", "DefectProxy"]


class Defect(StrEnum):
    DROP_NEXT_LINKS = "drop-next-links"
    REPEAT_ENTRY_ACROSS_PAGES = "repeat-entry-across-pages"
    IGNORE_GE_PREFIX = "ignore-ge-prefix"
    STALE_IF_MATCH_OK = "stale-if-match-ok"
    INVALID_RESOURCE = "invalid-resource"
    CAPABILITY_OMITS_PARAM = "capability-omits-param"


class DefectProxy(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, defect: Defect) -> None:
        self.inner = inner
        self.defect = defect
        # REPEAT_ENTRY_ACROSS_PAGES: the last entry of the page each next link came from.
        self._carried: dict[str, dict[str, Any]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request = await self._rewrite_request(request)
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        changed = self._rewrite_body(request, body)
        headers = httpx.Headers(response.headers)
        if changed is not None:
            body = changed
            for name in ("content-encoding", "content-length", "transfer-encoding"):
                headers.pop(name, None)
        elif "content-encoding" in headers:
            # aread() decoded it: don't let the client decode it again.
            for name in ("content-encoding", "content-length"):
                headers.pop(name, None)
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _rewrite_request(self, request: httpx.Request) -> httpx.Request:
        if self.defect is Defect.IGNORE_GE_PREFIX and request.method == "GET":
            params = [
                (k, v[2:] if v.startswith("ge") and v[2:3].isdigit() else v)
                for k, v in request.url.params.multi_items()
            ]
            return httpx.Request(
                request.method, request.url.copy_with(params=params), headers=request.headers
            )
        if self.defect is Defect.STALE_IF_MATCH_OK and request.method == "PUT":
            # The server ignores If-Match: every update wins, stale or not.
            headers = httpx.Headers(request.headers)
            headers.pop("if-match", None)
            content = await request.aread()
            headers.pop("content-length", None)
            return httpx.Request("PUT", request.url, headers=headers, content=content)
        return request

    def _rewrite_body(self, request: httpx.Request, body: bytes) -> bytes | None:
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        rtype = doc.get("resourceType")
        if self.defect is Defect.CAPABILITY_OMITS_PARAM and rtype == "CapabilityStatement":
            for rest in doc.get("rest") or ():
                for res in rest.get("resource") or ():
                    if res.get("type") == "Patient":
                        res["searchParam"] = [
                            p for p in res.get("searchParam") or () if p.get("name") != "birthdate"
                        ]
            return json.dumps(doc).encode()
        if rtype != "Bundle" or doc.get("type") != "searchset":
            return None
        if self.defect is Defect.DROP_NEXT_LINKS:
            doc["link"] = [link for link in doc.get("link") or () if link.get("relation") != "next"]
        elif self.defect is Defect.REPEAT_ENTRY_ACROSS_PAGES:
            entries = doc.setdefault("entry", [])
            carried = self._carried.pop(str(request.url), None)
            if carried is not None and entries:
                entries[0] = carried  # same page size: a repeat and, with it, a gap
            nxt = next(
                (x["url"] for x in doc.get("link") or () if x.get("relation") == "next"), None
            )
            if nxt is not None and entries:
                self._carried[nxt] = entries[-1]
        elif self.defect is Defect.INVALID_RESOURCE:
            for entry in doc.get("entry") or ():
                resource = entry.get("resource") or {}
                if resource.get("resourceType") == "Patient":
                    resource["favouriteColour"] = "blue"  # not an element of Patient
        else:
            return None
        return json.dumps(doc).encode()
