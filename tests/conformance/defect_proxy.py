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
    IGNORE_IF_NONE_EXIST = "ignore-if-none-exist"
    ACCEPT_IMPOSSIBLE_STATUS = "accept-impossible-status"
    REFUSE_NOSHOW = "refuse-noshow"
    OUTCOMELESS_ERRORS = "outcomeless-errors"
    DROP_SPECIALTY_FILTER = "drop-specialty-filter"
    CAPABILITY_OMITS_SPECIALTY = "capability-omits-specialty"
    IGNORE_LAST_UPDATED = "ignore-last-updated"
    IGNORE_SINCE = "ignore-since"


# Appointment.status, R4 (required binding).
APPOINTMENT_STATUSES = frozenset(
    {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
)


# The search parameter a CapabilityStatement leaves out: (resource type, parameter).
_OMITTED = {
    Defect.CAPABILITY_OMITS_PARAM: ("Patient", "birthdate"),
    Defect.CAPABILITY_OMITS_SPECIALTY: ("PractitionerRole", "specialty"),
}


# Defects that are a parameter the server ignores: (path after the base, parameter).
_IGNORED = {
    Defect.DROP_SPECIALTY_FILTER: ("PractitionerRole", "specialty"),
    Defect.IGNORE_LAST_UPDATED: ("Patient", "_lastUpdated"),
    Defect.IGNORE_SINCE: ("Patient/_history", "_since"),
}


class DefectProxy(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        defect: Defect | None = None,
        *,
        ignore: tuple[str, str] | None = None,
    ) -> None:
        """`defect`, or `ignore=(path, parameter)`: the server ignores that parameter on
        GET [base]/{path} (as an undeclared one is ignored with handling=lenient)."""
        self.inner = inner
        self.defect = defect
        self.ignore = _IGNORED.get(defect) if defect is not None else ignore
        # REPEAT_ENTRY_ACROSS_PAGES: the last entry of the page each next link came from.
        self._carried: dict[str, dict[str, Any]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request = await self._rewrite_request(request)
        refusal = await self._refuse(request)
        if refusal is not None:
            return refusal
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        headers = httpx.Headers(response.headers)
        if self.defect is Defect.OUTCOMELESS_ERRORS and response.status_code >= 400:
            # An error page from a proxy or a framework, not the FHIR server's outcome.
            headers["content-type"] = "text/html"
            body = b"<html><body><h1>Request failed</h1></body></html>"
        changed = self._rewrite_body(request, body)
        if changed is not None:
            body = changed
            for name in ("content-encoding", "content-length", "transfer-encoding"):
                headers.pop(name, None)
        elif "content-encoding" in headers:
            # aread() decoded it: don't let the client decode it again.
            for name in ("content-encoding", "content-length"):
                headers.pop(name, None)
        if "content-length" in headers:
            headers["content-length"] = str(len(body))
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _rewrite_request(self, request: httpx.Request) -> httpx.Request:
        if self.ignore is not None and request.method == "GET":
            path, name = self.ignore
            if request.url.path.rstrip("/").endswith(f"/{path}"):
                params = [
                    (k, v)
                    for k, v in request.url.params.multi_items()
                    if k.split(":", 1)[0] != name
                ]
                return httpx.Request(
                    "GET", request.url.copy_with(params=params), headers=request.headers
                )
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
            return await _without_header(request, "if-match")
        if self.defect is Defect.IGNORE_IF_NONE_EXIST and request.method == "POST":
            # Every create creates: a registration retried makes a duplicate patient.
            return await _without_header(request, "if-none-exist")
        if self.defect is Defect.ACCEPT_IMPOSSIBLE_STATUS and request.method in ("PUT", "POST"):
            # The server takes any status and stores something else (as if mapped to a
            # local code), answering success.
            doc = _json(await request.aread())
            if (
                doc.get("resourceType") == "Appointment"
                and doc.get("status") not in APPOINTMENT_STATUSES
            ):
                doc["status"] = "booked"
                headers = httpx.Headers(request.headers)
                headers.pop("content-length", None)
                return httpx.Request(
                    request.method, request.url, headers=headers, content=json.dumps(doc).encode()
                )
        return request

    async def _refuse(self, request: httpx.Request) -> httpx.Response | None:
        """An answer made up by the proxy, or None to let the server answer."""
        if self.defect is Defect.REFUSE_NOSHOW and request.method == "PUT":
            # Like a vendor whose workflow has no no-show move (cf. Oracle Health's list).
            doc = _json(await request.aread())
            if doc.get("resourceType") == "Appointment" and doc.get("status") == "noshow":
                return _outcome(422, "business-rule", "status transition not allowed")
        return None

    def _rewrite_body(self, request: httpx.Request, body: bytes) -> bytes | None:
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        rtype = doc.get("resourceType")
        omitted = _OMITTED.get(self.defect) if self.defect is not None else None
        if omitted is not None and rtype == "CapabilityStatement":
            for rest in doc.get("rest") or ():
                for res in rest.get("resource") or ():
                    if res.get("type") == omitted[0]:
                        res["searchParam"] = [
                            p for p in res.get("searchParam") or () if p.get("name") != omitted[1]
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


async def _without_header(request: httpx.Request, name: str) -> httpx.Request:
    headers = httpx.Headers(request.headers)
    headers.pop(name, None)
    content = await request.aread()
    headers.pop("content-length", None)
    return httpx.Request(request.method, request.url, headers=headers, content=content)


def _json(content: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(content)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _outcome(status: int, code: str, text: str) -> httpx.Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return httpx.Response(
        status, json=body, headers={"Content-Type": "application/fhir+json;charset=UTF-8"}
    )
