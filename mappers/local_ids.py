"""Ids for resources that arrive without a server id.

Transaction and batch Bundles, create bodies and some searchsets carry resources with
no ``id``: a transaction entry is named only by its ``fullUrl`` (often ``urn:uuid:``),
a create body by nothing at all. The canonical model needs an id for every record, so
one is derived, deterministically (the same input always maps to the same id) and
always a valid FHIR id (``[A-Za-z0-9.-]{1,64}``, which ``mappers.ids`` requires):

1. ``fullUrl`` ending in ``<ResourceType>/<id>`` of the resource's own type (a RESTful
   URL, FHIR R4 Bundle "fullUrl"): that id; it is the server id.
2. ``urn:uuid:<uuid>``: the UUID, lower-cased (36 characters).
3. ``urn:oid:<oid>``: the OID when it is a FHIR id (digits and dots, at most 64).
4. Any other ``fullUrl``: ``u-`` and the first 40 hex digits of its SHA-256.
5. No ``fullUrl`` (a create body, a bare resource): ``c-`` and the first 40 hex
   digits of the SHA-256 of the resource's canonical JSON (keys sorted, no spaces),
   so identical bodies share an id and any change gives another one.

``SourceRef.id_origin`` says which rule named a record ("resource" when it had its
own id), so callers know such an id cannot be read back from the server.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["content_id", "full_url_id"]

_UUID: Final = re.compile(
    r"urn:uuid:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)
_OID: Final = re.compile(r"urn:oid:([0-2](?:\.(?:0|[1-9][0-9]*))+)")
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9.\-]{1,64}")
_HASH_CHARS: Final = 40


def full_url_id(full_url: str, resource_type: str) -> str:
    """The local id rules 1-4 give for an entry's ``fullUrl`` (see the module docstring)."""
    url = full_url.strip()
    m = _UUID.fullmatch(url)
    if m is not None:
        return m.group(1).lower()
    m = _OID.fullmatch(url)
    if m is not None and len(m.group(1)) <= 64:
        return m.group(1)
    if "://" in url:
        path = url.split("?", 1)[0].split("#", 1)[0]
        if "/_history/" in path:
            path = path.split("/_history/", 1)[0]
        parts = path.rstrip("/").rsplit("/", 2)
        if len(parts) == 3 and parts[1] == resource_type and _FHIR_ID.fullmatch(parts[2]):
            return parts[2]
    return "u-" + hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]


def content_id(resource: Mapping[str, Any]) -> str | None:
    """Rule 5: an id from the resource's content; None when it is not JSON data at all
    (keys that are not strings, values JSON cannot hold, nesting too deep to walk)."""
    try:
        text = json.dumps(
            resource, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True
        )
    except (TypeError, ValueError, RecursionError):
        return None
    return "c-" + hashlib.sha256(text.encode("ascii")).hexdigest()[:_HASH_CHARS]
