"""Finding, parsing and rewriting the references inside a resource.

A FHIR Reference is any JSON object with a string ``reference``; the sandbox
walks the whole resource for them rather than keeping a per-type list of paths,
so new resource shapes need no registration to keep referential integrity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]+$")


def valid_id(value: str) -> bool:
    """FHIR's id datatype: 1-64 of letters, digits, '-' and '.'."""
    return bool(_ID_RE.match(value))


def iter_references(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (element path, reference string) in a resource, contained ones excepted."""
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            yield path, ref
        for key, value in node.items():
            if key == "contained":
                continue
            yield from iter_references(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for item in node:
            yield from iter_references(item, path)


def rewrite_references(node: Any, replace: Callable[[str], str]) -> Any:
    """A copy of `node` with every reference string passed through `replace`."""
    if isinstance(node, dict):
        copied = {key: rewrite_references(value, replace) for key, value in node.items()}
        ref = copied.get("reference")
        if isinstance(ref, str):
            copied["reference"] = replace(ref)
        return copied
    if isinstance(node, list):
        return [rewrite_references(item, replace) for item in node]
    return node


def parse_local(reference: str, base_url: str | None = None) -> tuple[str, str] | None:
    """("Type", "id") for a reference to this server, else None.

    Accepts `Type/id`, `Type/id/_history/n` and absolute URLs under `base_url`.
    Contained (`#x`), placeholder (`urn:`) and other servers' URLs give None.
    """
    ref = reference
    if base_url and ref.startswith(base_url.rstrip("/") + "/"):
        ref = ref[len(base_url.rstrip("/")) + 1 :]
    if "://" in ref or ref.startswith(("#", "urn:")):
        return None
    parts = ref.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]
    if len(parts) != 2 or not _TYPE_RE.match(parts[0]) or not valid_id(parts[1]):
        return None
    return parts[0], parts[1]
