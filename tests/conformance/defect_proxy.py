"""A transport between the kit and a real FHIR server that breaks one behaviour.

Each defect is something real servers (or the gateways in front of them) get wrong; the
kit must notice each with exactly the check named for it (tests/conformance/
test_defects.py). Besides the named defects, two families take a parameter:
`ignore=(path, parameter)` (a search parameter the server ignores) and
`refuse_status=code` (an Appointment status move the server refuses).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import httpx

__all__ = ["APPOINTMENT_STATUSES", "Defect", "DefectProxy"]


class Defect(StrEnum):
    # capability
    METADATA_WRONG_TYPE = "metadata-wrong-type"
    STU3_VERSION = "stu3-version"
    CAPABILITY_OMITS_PARAM = "capability-omits-param"
    CAPABILITY_OMITS_SLOT_UPDATE = "capability-omits-slot-update"
    CAPABILITY_OMITS_APPOINTMENT_CREATE = "capability-omits-appointment-create"
    CAPABILITY_OMITS_SPECIALTY = "capability-omits-specialty"
    # search
    DROP_NEXT_LINKS = "drop-next-links"
    REPEAT_ENTRY_ACROSS_PAGES = "repeat-entry-across-pages"
    IGNORE_COUNT = "ignore-count"
    IGNORE_GE_PREFIX = "ignore-ge-prefix"
    IGNORE_UNKNOWN_PARAMS = "ignore-unknown-params"
    DROP_SPECIALTY_FILTER = "drop-specialty-filter"
    IGNORE_LAST_UPDATED = "ignore-last-updated"
    IGNORE_SINCE = "ignore-since"
    # write
    DROP_TAG_ON_CREATE = "drop-tag-on-create"
    IGNORE_IF_NONE_EXIST = "ignore-if-none-exist"
    VREAD_ANSWERS_CURRENT = "vread-answers-current"
    STALE_IF_MATCH_OK = "stale-if-match-ok"
    STALE_READ_AFTER_DELETE = "stale-read-after-delete"
    REFUSE_NOSHOW = "refuse-noshow"
    ACCEPT_IMPOSSIBLE_STATUS = "accept-impossible-status"
    REFUSE_SLOT_UPDATE = "refuse-slot-update"
    # errors and payloads
    NOT_FOUND_AS_400 = "not-found-as-400"
    UNKNOWN_TYPE_AS_400 = "unknown-type-as-400"
    LENIENT_BAD_DATES = "lenient-bad-dates"
    ACCEPT_TYPE_MISMATCH = "accept-type-mismatch"
    OUTCOMELESS_ERRORS = "outcomeless-errors"
    INVALID_RESOURCE = "invalid-resource"
    COVERAGE_WITHOUT_STATUS = "coverage-without-status"


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

# The interaction a CapabilityStatement leaves out: (resource type, interaction code).
_UNDECLARED = {
    Defect.CAPABILITY_OMITS_SLOT_UPDATE: ("Slot", "update"),
    Defect.CAPABILITY_OMITS_APPOINTMENT_CREATE: ("Appointment", "create"),
}

# Defects that are a parameter the server ignores: (path after the base, parameter).
_IGNORED = {
    Defect.DROP_SPECIALTY_FILTER: ("PractitionerRole", "specialty"),
    Defect.IGNORE_LAST_UPDATED: ("Patient", "_lastUpdated"),
    Defect.IGNORE_SINCE: ("Patient/_history", "_since"),
}

_DATE_PARAMS = frozenset({"birthdate", "date", "start", "_lastUpdated"})


class DefectProxy(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        defect: Defect | None = None,
        *,
        ignore: tuple[str, str] | None = None,
        refuse_status: str | None = None,
    ) -> None:
        """`defect`; or `ignore=(path, parameter)`: the server ignores that parameter on
        GET [base]/{path} (as an undeclared one is ignored with handling=lenient); or
        `refuse_status`: a PUT moving an Appointment to that status is refused (422)."""
        self.inner = inner
        self.defect = defect
        self.ignore = _IGNORED.get(defect) if defect is not None else ignore
        self.refuse_status = "noshow" if defect is Defect.REFUSE_NOSHOW else refuse_status
        # REPEAT_ENTRY_ACROSS_PAGES: the last entry of the page each next link came from.
        self._carried: dict[str, dict[str, Any]] = {}
        # What the relayed CapabilityStatement declares: type -> search parameter names.
        self._declared: dict[str, set[str]] = {}
        self._deleted: set[str] = set()  # STALE_READ_AFTER_DELETE

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request = await self._rewrite_request(request)
        made_up = await self._answer(request)
        if made_up is not None:
            return made_up
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        status = self._rewrite_status(request, response.status_code)
        headers = httpx.Headers(response.headers)
        if self.defect is Defect.OUTCOMELESS_ERRORS and status >= 400:
            # An error page from a proxy or a framework, not the FHIR server's outcome.
            headers["content-type"] = "text/html"
            body = b"<html><body><h1>Request failed</h1></body></html>"
        changed = self._rewrite_body(request, body)
        if changed is not None:
            body = changed
        if self.defect is Defect.METADATA_WRONG_TYPE and request.url.path.endswith("/metadata"):
            headers["content-type"] = "text/plain"  # JSON, labelled as something else
        # aread() decoded any encoding: don't let the client decode it again.
        for name in ("content-encoding", "transfer-encoding"):
            headers.pop(name, None)
        headers["content-length"] = str(len(body))
        deleted = request.method == "DELETE" and status < 300
        if self.defect is Defect.STALE_READ_AFTER_DELETE and deleted:
            self._deleted.add(str(request.url))
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    # --- what the server receives ---------------------------------------------------------

    async def _rewrite_request(self, request: httpx.Request) -> httpx.Request:
        rtype, rest = _target(request.url)
        if request.method == "GET":
            params = request.url.params.multi_items()
            kept = [(k, v) for k, v in params if not self._dropped(request.url, rtype, k, v)]
            if self.defect is Defect.IGNORE_GE_PREFIX:
                kept = [
                    (k, v[2:] if v.startswith("ge") and v[2:3].isdigit() else v) for k, v in kept
                ]
            url = request.url.copy_with(params=kept)
            versioned = len(rest) == 4 and rest[2] == "_history"
            if self.defect is Defect.VREAD_ANSWERS_CURRENT and versioned:
                # No versioned reads: every version read answers the current one.
                url = url.copy_with(path=url.path.split("/_history/")[0])
            if url != request.url:
                return httpx.Request("GET", url, headers=request.headers)
            return request
        if self.defect is Defect.STALE_IF_MATCH_OK and request.method == "PUT":
            # The server ignores If-Match: every update wins, stale or not.
            return await _without_header(request, "if-match")
        if self.defect is Defect.IGNORE_IF_NONE_EXIST and request.method == "POST":
            # Every create creates: a registration retried makes a duplicate patient.
            return await _without_header(request, "if-none-exist")
        if request.method in ("PUT", "POST"):
            doc = _json(await request.aread())
            if (
                self.defect is Defect.ACCEPT_IMPOSSIBLE_STATUS
                and doc.get("resourceType") == "Appointment"
                and doc.get("status") not in APPOINTMENT_STATUSES
            ):
                # The server takes any status and stores something else (as if mapped to
                # a local code), answering success.
                doc["status"] = "booked"
                return _with_body(request, doc)
            if (
                self.defect is Defect.DROP_TAG_ON_CREATE
                and request.method == "POST"
                and rtype == "Patient"
                and "tag" in (doc.get("meta") or {})
            ):
                # Stores what it understands, silently drops the rest (an element left
                # empty is invalid FHIR, so an emptied meta goes too).
                del doc["meta"]["tag"]
                if not doc["meta"]:
                    del doc["meta"]
                return _with_body(request, doc)
        return request

    def _dropped(self, url: httpx.URL, rtype: str | None, name: str, value: str) -> bool:
        """Is this query parameter one the defective server ignores?"""
        base_name = name.split(":", 1)[0]
        if self.ignore is not None and base_name == self.ignore[1]:
            return url.path.rstrip("/").endswith(f"/{self.ignore[0]}")
        if self.defect is Defect.IGNORE_COUNT and base_name == "_count":
            return True
        if self.defect is Defect.LENIENT_BAD_DATES and base_name in _DATE_PARAMS:
            text = value[2:] if value[:2].isalpha() else value
            return not text[:1].isdigit()
        if self.defect is Defect.IGNORE_UNKNOWN_PARAMS and rtype in self._declared:
            return not base_name.startswith("_") and base_name not in self._declared[rtype]
        return False

    # --- answers the proxy makes up --------------------------------------------------------

    async def _answer(self, request: httpx.Request) -> httpx.Response | None:
        rtype, rest = _target(request.url)
        if request.method == "PUT" and rtype == "Slot" and self.defect is Defect.REFUSE_SLOT_UPDATE:
            return _outcome(405, "not-supported", "Slot is read-only here")
        if request.method == "PUT" and self.refuse_status is not None:
            # Like a vendor whose workflow lacks that move (cf. Oracle Health's list).
            doc = _json(await request.aread())
            if doc.get("resourceType") == "Appointment" and doc.get("status") == (
                self.refuse_status
            ):
                return _outcome(422, "business-rule", "status transition not allowed")
        if self.defect is Defect.ACCEPT_TYPE_MISMATCH and request.method == "POST" and rtype:
            doc = _json(await request.aread())
            if doc.get("resourceType") not in (None, rtype) and not rest[1:]:
                # Stored under the URL's type without a look at the body (never forwarded).
                return httpx.Response(201, json={**doc, "id": "accepted-anyway"})
        if (
            self.defect is Defect.STALE_READ_AFTER_DELETE
            and request.method == "GET"
            and str(request.url) in self._deleted
        ):
            # A cache in front still serves what the server deleted.
            return httpx.Response(200, json={"resourceType": rtype, "id": rest[-1]})
        return None

    # --- what the client receives ----------------------------------------------------------

    def _rewrite_status(self, request: httpx.Request, status: int) -> int:
        rtype, rest = _target(request.url)
        if status != 404 or request.method != "GET":
            return status
        if self.defect is Defect.NOT_FOUND_AS_400 and rtype == "Patient" and len(rest) == 2:
            return 400
        if self.defect is Defect.UNKNOWN_TYPE_AS_400 and rtype not in self._declared:
            return 400
        return status

    def _rewrite_body(self, request: httpx.Request, body: bytes) -> bytes | None:
        doc = _json(body)
        rtype = doc.get("resourceType")
        if rtype == "CapabilityStatement":
            self._remember(doc)
            return self._rewrite_statement(doc)
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
        elif self.defect is Defect.COVERAGE_WITHOUT_STATUS:
            for entry in doc.get("entry") or ():
                resource = entry.get("resource") or {}
                if resource.get("resourceType") == "Coverage":
                    resource.pop("status", None)  # required (1..1), and the desk needs it
        else:
            return None
        return json.dumps(doc).encode()

    def _remember(self, statement: dict[str, Any]) -> None:
        for rest in statement.get("rest") or ():
            for res in rest.get("resource") or ():
                self._declared[res.get("type")] = {
                    p.get("name") for p in res.get("searchParam") or ()
                }

    def _rewrite_statement(self, doc: dict[str, Any]) -> bytes | None:
        if self.defect is Defect.STU3_VERSION:
            doc["fhirVersion"] = "3.0.2"
            return json.dumps(doc).encode()
        omitted = _OMITTED.get(self.defect) if self.defect is not None else None
        for rest in doc.get("rest") or ():
            for res in rest.get("resource") or ():
                if omitted is not None and res.get("type") == omitted[0]:
                    res["searchParam"] = [
                        p for p in res.get("searchParam") or () if p.get("name") != omitted[1]
                    ]
                dropped = _UNDECLARED.get(self.defect) if self.defect is not None else None
                if dropped is not None and res.get("type") == dropped[0]:
                    res["interaction"] = [
                        i for i in res.get("interaction") or () if i.get("code") != dropped[1]
                    ]
        changed = omitted is not None or self.defect in _UNDECLARED
        return json.dumps(doc).encode() if changed else None


def _target(url: httpx.URL) -> tuple[str | None, list[str]]:
    """The resource type a request is about and the path from it on (["Patient", "1"])."""
    segments = [s for s in url.path.split("/") if s]
    idx = next((i for i, s in enumerate(segments) if s[:1].isupper()), None)
    if idx is None:
        return None, []
    return segments[idx], segments[idx:]


async def _without_header(request: httpx.Request, name: str) -> httpx.Request:
    headers = httpx.Headers(request.headers)
    headers.pop(name, None)
    content = await request.aread()
    headers.pop("content-length", None)
    return httpx.Request(request.method, request.url, headers=headers, content=content)


def _with_body(request: httpx.Request, doc: dict[str, Any]) -> httpx.Request:
    headers = httpx.Headers(request.headers)
    headers.pop("content-length", None)
    return httpx.Request(
        request.method, request.url, headers=headers, content=json.dumps(doc).encode()
    )


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
