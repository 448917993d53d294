"""The FHIR interactions of the sandbox, independent of HTTP framing.

`FhirServer` answers read, vread, create, update, patch, delete, search and
paging with a `Reply` (status, body, version). The ASGI app renders a Reply as
an HTTP response; a transaction renders it as a Bundle entry response. So a
PUT behaves the same whether it arrives alone or inside a Bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from simulators.fhir_server.jsonpatch import apply_patch
from simulators.fhir_server.outcome import FhirError, bad_request, not_found, operation_outcome
from simulators.fhir_server.paging import SnapshotCache
from simulators.fhir_server.search import SearchRequest, parse_query, parse_search, sort_key
from simulators.fhir_server.searchset import count_bundle, render_page
from simulators.fhir_server.store import FhirStore, Version, parse_if_match

Resource = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """The result of one interaction; `version` is set when it concerns one resource."""

    status: int
    body: Resource | None
    version: Version | None = None
    # POST answers carry a Location header; HAPI's PUT answers don't.
    location: bool = False
    changed: bool = True


class FhirServer:
    """One simulated EHR: a store plus search snapshots and page-size settings."""

    def __init__(
        self,
        store: FhirStore | None = None,
        *,
        page_size: int = 20,
        max_page_size: int = 500,
        max_searches: int = 1000,
    ) -> None:
        self.store = store or FhirStore()
        self.page_size = page_size
        self.max_page_size = max_page_size
        self._snapshots = SnapshotCache(max_searches)

    # -- instance and type interactions ---------------------------------------

    def check_type(self, resource_type: str) -> None:
        if not self.store.supports(resource_type):
            raise not_found(f"Unknown resource type '{resource_type}'")

    def read(self, resource_type: str, resource_id: str) -> Reply:
        self.check_type(resource_type)
        version = self.store.read(resource_type, resource_id)
        return Reply(200, version.body(), version)

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> Reply:
        self.check_type(resource_type)
        version = self.store.vread(resource_type, resource_id, version_id)
        return Reply(200, version.body(), version)

    def create(
        self,
        resource_type: str,
        resource: Any,
        *,
        if_none_exist: str | None = None,
        resource_id: str | None = None,
    ) -> Reply:
        self.check_type(resource_type)
        body = _resource_body(resource_type, resource)
        condition = None
        if if_none_exist:
            condition = parse_query(resource_type, _match_url(resource_type, if_none_exist))
        result = self.store.create(body, if_none_exist=condition, resource_id=resource_id)
        status = 201 if result.created else 200
        return Reply(
            status, result.version.body(), result.version, location=True, changed=result.created
        )

    def update(
        self, resource_type: str, resource_id: str, resource: Any, *, if_match: str | None = None
    ) -> Reply:
        self.check_type(resource_type)
        body = _resource_body(resource_type, resource)
        expected = parse_if_match(if_match) if if_match else None
        result = self.store.update(resource_type, resource_id, body, if_match=expected)
        status = 201 if result.created else 200
        return Reply(status, result.version.body(), result.version, changed=result.changed)

    def conditional_update(
        self, resource_type: str, match_url: str, resource: Any, *, if_match: str | None = None
    ) -> Reply:
        """PUT Type?query: 0 matches create, 1 updates it, more are 412 (HAPI)."""
        self.check_type(resource_type)
        matches = self.store.find(parse_query(resource_type, _match_url(resource_type, match_url)))
        if len(matches) > 1:
            raise FhirError(
                412,
                f'Failed to UPDATE resource with match URL "{match_url}" because this search '
                f"matched {len(matches)} resources",
            )
        body = _resource_body(resource_type, resource)
        if not matches:
            if "id" in body:
                return self.update(resource_type, body["id"], body, if_match=if_match)
            return self.create(resource_type, body)
        body["id"] = matches[0].id
        return self.update(resource_type, matches[0].id, body, if_match=if_match)

    def patch(
        self, resource_type: str, resource_id: str, patch: Any, *, if_match: str | None = None
    ) -> Reply:
        self.check_type(resource_type)
        current = self.store.read(resource_type, resource_id)
        if if_match:
            expected = parse_if_match(if_match)
            if expected != current.version_id:
                # HAPI answers a stale If-Match on PATCH with 409 (its 412 rewrite only
                # covers updates); the sandbox does the same so clients meet both.
                raise FhirError(
                    409,
                    f"Version {expected} is not the most recent version of this resource, "
                    "unable to apply patch",
                    code="conflict",
                )
        patched = apply_patch(current.body(), patch)
        if patched.get("resourceType") != resource_type or patched.get("id") != resource_id:
            raise bad_request("A patch may not change resourceType or id")
        result = self.store.update(resource_type, resource_id, patched)
        return Reply(200, result.version.body(), result.version, changed=result.changed)

    def delete(self, resource_type: str, resource_id: str) -> Reply:
        self.check_type(resource_type)
        version = self.store.delete(resource_type, resource_id)
        if version is None:
            message = f"Not deleted, resource {resource_type}/{resource_id} does not exist."
        else:
            message = "Successfully deleted 1 resource(s)."
        return Reply(200, operation_outcome("information", "informational", message), version)

    # -- search -----------------------------------------------------------------

    def search(
        self,
        resource_type: str,
        items: Sequence[tuple[str, str]],
        *,
        base_url: str,
        self_url: str | None = None,
    ) -> Reply:
        """GET Type?params (or POST Type/_search): the first page of a new snapshot."""
        self.check_type(resource_type)
        request = parse_search(
            resource_type, items, default_count=self.page_size, max_count=self.max_page_size
        )
        matches = self.store.find(request.query)
        if request.summary_count:
            return Reply(200, count_bundle(len(matches)))
        matches = _sorted(matches, request)
        snapshot = self._snapshots.add(request, [v.id for v in matches])
        if self_url is None:
            query = urlencode(sorted(items))
            self_url = f"{base_url}/{resource_type}" + (f"?{query}" if query else "")
        page = render_page(
            self.store, base_url, snapshot, offset=0, count=request.count, self_url=self_url
        )
        return Reply(200, page)

    def page(self, items: Sequence[tuple[str, str]], *, base_url: str, self_url: str) -> Reply:
        """GET base?_getpages=<id>&_getpagesoffset=<n>&_count=<n>: a later page."""
        params = dict(items)
        snapshot = self._snapshots.get(params.get("_getpages", ""))
        try:
            offset = max(int(params.get("_getpagesoffset", "0")), 0)
            count = int(params.get("_count", str(snapshot.request.count)))
        except ValueError:
            raise bad_request("Invalid _getpagesoffset or _count") from None
        count = min(max(count, 1), self.max_page_size)
        page = render_page(
            self.store, base_url, snapshot, offset=offset, count=count, self_url=self_url
        )
        return Reply(200, page)


def _resource_body(resource_type: str, resource: Any) -> Resource:
    if not isinstance(resource, dict):
        raise bad_request("Content does not appear to be FHIR JSON: expected a JSON object")
    found = resource.get("resourceType")
    if not isinstance(found, str):
        raise bad_request("Invalid JSON content detected, missing required element: 'resourceType'")
    if found != resource_type:
        raise bad_request(
            f'Incorrect resource type found, expected "{resource_type}" but found "{found}"'
        )
    return dict(resource)


def _match_url(resource_type: str, match_url: str) -> list[tuple[str, str]]:
    """Query pairs of a match URL given as `Type?a=b` or just `a=b`."""
    query = match_url
    if "?" in query:
        prefix, _, query = query.partition("?")
        if prefix.rsplit("/", 1)[-1] not in ("", resource_type):
            raise bad_request(f"Match URL {match_url!r} is not for type {resource_type}")
    return parse_qsl(query, keep_blank_values=True)


def _sorted(matches: list[Version], request: SearchRequest) -> list[Version]:
    """Apply `_sort` keys, last key first (sorts are stable); no value sorts last."""
    ordered = list(matches)
    for param, descending in reversed(request.sort):
        keyed = [(sort_key(v.resource or {}, param), v) for v in ordered]
        present = [(key[1], v) for key, v in keyed if key[0] == 0]
        absent = [v for key, v in keyed if key[0] == 1]
        present.sort(key=lambda pair: pair[0], reverse=descending)
        ordered = [v for _, v in present] + absent
    return ordered
