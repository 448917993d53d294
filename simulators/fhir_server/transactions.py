"""POST of a transaction or batch Bundle to the base URL.

As HAPI FHIR JPA does:
- entries run in FHIR's order (DELETE, POST, PUT, PATCH, GET), answers keep the
  request order;
- a transaction is atomic: the first failing entry fails the whole Bundle with
  that entry's status and nothing is stored; references are checked once all
  entries are written, so entries may refer to one another in any order;
- `urn:uuid:` fullUrls of POST entries (and conditional creates that matched)
  are replaced by the new `Type/id` in every reference of the Bundle;
- a batch runs each entry on its own and reports failures per entry;
- entry answers carry status ("201 Created"), location `Type/id/_history/n`
  and an unquoted etag "n", no resource except for GET.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from simulators.fhir_server.outcome import FhirError, bad_request
from simulators.fhir_server.references import rewrite_references
from simulators.fhir_server.search import parse_query
from simulators.fhir_server.server import FhirServer, Reply
from simulators.fhir_server.store import format_instant

Resource = dict[str, Any]

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 3, "GET": 4, "HEAD": 4}


@dataclass
class _Entry:
    index: int
    method: str
    url: str
    resource: Any
    request: Resource
    full_url: str | None
    # The id a POST gets, chosen before any entry runs so references can name it.
    assigned_id: str | None = None


def process_bundle(server: FhirServer, bundle: Any, *, base_url: str) -> Resource:
    """Run a transaction or batch Bundle; FhirError when a transaction fails."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType") if isinstance(bundle, dict) else None
        raise bad_request(f'Incorrect resource type found, expected "Bundle" but found "{found}"')
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise bad_request(f"Unable to process transaction where incoming Bundle.type = {kind}")
    entries = [_parse_entry(i, raw, base_url) for i, raw in enumerate(bundle.get("entry") or [])]
    answers: dict[int, Resource] = {}
    if kind == "transaction":
        _check_duplicates(entries)
        with server.store.transaction():
            _resolve_placeholders(server, entries)
            for entry in sorted(entries, key=lambda e: (_ORDER[e.method], e.index)):
                answers[entry.index] = _answer(entry.method, _run(server, entry, base_url))
    else:
        for entry in sorted(entries, key=lambda e: (_ORDER[e.method], e.index)):
            try:
                answers[entry.index] = _answer(entry.method, _run(server, entry, base_url))
            except FhirError as error:
                answers[entry.index] = {
                    "response": {"status": _status_line(error.status), "outcome": error.outcome()}
                }
    response: Resource = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": f"{kind}-response",
        "link": [{"relation": "self", "url": base_url}],
    }
    if entries:
        response["entry"] = [answers[e.index] for e in entries]
    return response


def _parse_entry(index: int, raw: Any, base_url: str) -> _Entry:
    request = raw.get("request") if isinstance(raw, dict) else None
    method = request.get("method") if isinstance(request, dict) else None
    if not isinstance(request, dict) or method not in _ORDER:
        raise bad_request(
            "Transaction bundle entry has missing or invalid HTTP Verb specified in "
            f'Bundle.entry({index}).request.method. Found value: "{method}"'
        )
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise bad_request(f"Bundle.entry({index}).request.url is missing")
    if url.startswith(base_url.rstrip("/") + "/"):
        url = url[len(base_url.rstrip("/")) + 1 :]
    full_url = raw.get("fullUrl")
    return _Entry(
        index,
        method,
        url.lstrip("/"),
        raw.get("resource"),
        request,
        full_url if isinstance(full_url, str) else None,
    )


def _check_duplicates(entries: list[_Entry]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.method == "PUT" and "?" not in entry.url:
            if entry.url in seen:
                raise bad_request(
                    f"Transaction bundle contains multiple resources with ID: {entry.url}"
                )
            seen.add(entry.url)


def _resolve_placeholders(server: FhirServer, entries: list[_Entry]) -> None:
    """Give every POST its id up front and point `urn:` references at it."""
    mapping: dict[str, str] = {}
    for entry in entries:
        resource_type = entry.url.split("?")[0].split("/")[0]
        if entry.method == "POST" and isinstance(entry.resource, dict):
            server.check_type(resource_type)
            condition = entry.request.get("ifNoneExist")
            matched = None
            if isinstance(condition, str) and condition:
                hits = server.store.find(parse_query(resource_type, parse_qsl(condition)))
                matched = hits[0].id if len(hits) == 1 else None
            # A matched conditional create keeps the existing id; others get a new one.
            entry.assigned_id = matched or server.store.allocate_id()
            if entry.full_url:
                mapping[entry.full_url] = f"{resource_type}/{entry.assigned_id}"
        elif entry.method == "PUT" and entry.full_url and "?" not in entry.url:
            mapping[entry.full_url] = entry.url
    if not mapping:
        return

    def replace(reference: str) -> str:
        return mapping.get(reference, reference)

    for entry in entries:
        if isinstance(entry.resource, dict):
            entry.resource = rewrite_references(entry.resource, replace)


def _run(server: FhirServer, entry: _Entry, base_url: str) -> Reply:
    path, _, query = entry.url.partition("?")
    parts = path.split("/")
    resource_type = parts[0]
    if_match = entry.request.get("ifMatch")
    if entry.method == "POST" and len(parts) == 1:
        condition = entry.request.get("ifNoneExist")
        return server.create(
            resource_type,
            entry.resource,
            if_none_exist=condition if isinstance(condition, str) else None,
            resource_id=entry.assigned_id,
        )
    if entry.method == "PUT" and len(parts) == 1 and query:
        return server.conditional_update(resource_type, query, entry.resource, if_match=if_match)
    if entry.method == "PUT" and len(parts) == 2:
        body = dict(entry.resource) if isinstance(entry.resource, dict) else entry.resource
        if isinstance(body, dict):
            body["id"] = parts[1]  # HAPI lets the request URL's id win inside a Bundle
        return server.update(resource_type, parts[1], body, if_match=if_match)
    if entry.method == "DELETE" and len(parts) == 2:
        return server.delete(resource_type, parts[1])
    if entry.method in ("GET", "HEAD"):
        if len(parts) == 2:
            return server.read(resource_type, parts[1])
        if len(parts) == 4 and parts[2] == "_history":
            return server.vread(resource_type, parts[1], parts[3])
        if len(parts) == 1:
            items = parse_qsl(query, keep_blank_values=True)
            return server.search(resource_type, items, base_url=base_url)
    raise bad_request(f"Unsupported {entry.method} {entry.url} in a Bundle entry")


def _answer(method: str, reply: Reply) -> Resource:
    """The Bundle entry answering one request entry, in HAPI's shape."""
    if method in ("GET", "HEAD"):
        return {"resource": reply.body, "response": {"status": _status_line(reply.status)}}
    version = reply.version
    status = 204 if method == "DELETE" else reply.status
    response: Resource = {"status": _status_line(status)}
    if version is not None:
        response["location"] = f"{version.resource_type}/{version.id}/_history/{version.version_id}"
        response["etag"] = str(version.version_id)
        if reply.changed and method != "DELETE":
            response["lastModified"] = format_instant(version.last_updated)
    if method == "DELETE" and reply.body is not None:
        response["outcome"] = reply.body
    return {"response": response}


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"
