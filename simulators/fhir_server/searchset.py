"""Rendering one page of a stored search as a searchset Bundle.

Mirrors HAPI's shape: `link` self/next/previous with absolute URLs on the
request's own base (`{base}?_getpages=<id>&_getpagesoffset=<n>&_count=<n>
&_bundletype=searchset`), entries with `fullUrl` and `search.mode` match or
include, included resources once per page. HAPI computes `total` in the
background and leaves it out of pages it hasn't finished counting; the sandbox
leaves it out of every page that has a `next` link, so clients can't come to
rely on it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from simulators.fhir_server.paging import Snapshot
from simulators.fhir_server.references import parse_local
from simulators.fhir_server.search import Include, SearchRequest, extract
from simulators.fhir_server.store import FhirStore, Version, format_instant

Resource = dict[str, Any]

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}


def count_bundle(total: int) -> Resource:
    """`_summary=count`: the total and nothing else."""
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC)), "tag": [SUBSETTED]},
        "type": "searchset",
        "total": total,
    }


def page_url(base_url: str, snapshot: Snapshot, offset: int, count: int) -> str:
    query = [
        ("_getpages", snapshot.search_id),
        ("_getpagesoffset", str(offset)),
        ("_count", str(count)),
        ("_bundletype", "searchset"),
        *snapshot.request.carried,
    ]
    return f"{base_url}?{urlencode(query)}"


def render_page(
    store: FhirStore,
    base_url: str,
    snapshot: Snapshot,
    *,
    offset: int,
    count: int,
    self_url: str,
) -> Resource:
    request = snapshot.request
    resource_type = request.query.resource_type
    matches = [
        version
        for resource_id in snapshot.ids[offset : offset + count]
        if (version := store.current(resource_type, resource_id)) is not None
        and not version.deleted
    ]
    links = [{"relation": "self", "url": self_url}]
    has_next = offset + count < len(snapshot.ids)
    if has_next:
        links.append(
            {"relation": "next", "url": page_url(base_url, snapshot, offset + count, count)}
        )
    if offset > 0:
        previous = max(offset - count, 0)
        links.append({"relation": "previous", "url": page_url(base_url, snapshot, previous, count)})
    entries = [_entry(base_url, v, "match", request.elements) for v in matches]
    entries += [_entry(base_url, v, "include", ()) for v in _included(store, request, matches)]
    bundle: Resource = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": "searchset",
    }
    if not has_next:
        bundle["total"] = len(snapshot.ids)
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


def _entry(base_url: str, version: Version, mode: str, elements: tuple[str, ...]) -> Resource:
    resource = version.body()
    if elements:
        keep = {"resourceType", "id", "meta", *elements}
        resource = {k: v for k, v in resource.items() if k in keep}
    return {
        "fullUrl": f"{base_url}/{version.resource_type}/{version.id}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _included(store: FhirStore, request: SearchRequest, matches: list[Version]) -> list[Version]:
    """Resources named by `_include`/`_revinclude`, each once, none of the matches."""
    seen = {(v.resource_type, v.id) for v in matches}
    found: list[Version] = []

    def add(version: Version | None) -> None:
        if version is None or version.deleted:
            return
        key = (version.resource_type, version.id)
        if key not in seen:
            seen.add(key)
            found.append(version)

    for include in request.includes:
        for match in matches:
            for ref_type, ref_id in _targets(include, match.resource or {}):
                if store.supports(ref_type):
                    add(store.current(ref_type, ref_id))
    matched = {(v.resource_type, v.id) for v in matches}
    for include in request.revincludes:
        for candidate in store.live(include.source_type):
            if any(t in matched for t in _targets(include, candidate.resource or {})):
                add(candidate)
    return found


def _targets(include: Include, resource: Resource) -> list[tuple[str, str]]:
    targets = []
    for node in extract(resource, include.param):
        if isinstance(node, dict) and isinstance(node.get("reference"), str):
            parsed = parse_local(node["reference"])
            if parsed and (include.target_type is None or parsed[0] == include.target_type):
                targets.append(parsed)
    return targets
