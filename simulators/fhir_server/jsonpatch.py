"""JSON Patch (RFC 6902) for PATCH with `application/json-patch+json`.

Supports add, remove, replace, test, copy and move on JSON Pointer paths
(RFC 6901, with `~0`/`~1` escapes and `-` for appending to an array). A path
that doesn't exist is a 400, as HAPI answers ("no such path in target JSON
document").
"""

from __future__ import annotations

import copy
from typing import Any

from simulators.fhir_server.outcome import bad_request


def apply_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """A patched copy of `document`; FhirError(400) for a malformed or failing patch."""
    if not isinstance(operations, list):
        raise bad_request("A JSON Patch document must be a JSON array of operations")
    result: Any = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise bad_request(f"Invalid JSON Patch operation: {operation!r}")
        result = _apply_one(result, operation)
    if not isinstance(result, dict):
        raise bad_request("A JSON Patch must leave a resource (a JSON object)")
    return result


def _apply_one(doc: Any, operation: dict[str, Any]) -> Any:
    op = operation.get("op")
    path = _pointer(operation["path"])
    if op == "add":
        return _add(doc, path, copy.deepcopy(_value(operation)))
    if op == "remove":
        _remove(doc, path)
        return doc
    if op == "replace":
        value = copy.deepcopy(_value(operation))
        if not path:
            return value
        _remove(doc, path)  # the target must exist
        return _add(doc, path, value)
    if op == "test":
        if _get(doc, path) != _value(operation):
            raise bad_request(f"JSON Patch test failed at {operation['path']}")
        return doc
    if op in ("copy", "move"):
        source = operation.get("from")
        if not isinstance(source, str):
            raise bad_request(f"JSON Patch {op} needs 'from'")
        value = copy.deepcopy(_get(doc, _pointer(source)))
        if op == "move":
            _remove(doc, _pointer(source))
        return _add(doc, path, value)
    raise bad_request(f"Unknown JSON Patch operation: {op!r}")


def _value(operation: dict[str, Any]) -> Any:
    if "value" not in operation:
        raise bad_request(f"JSON Patch {operation.get('op')} needs 'value'")
    return operation["value"]


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"Invalid JSON Pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _no_path() -> Exception:
    return bad_request("no such path in target JSON document")


def _get(doc: Any, path: list[str]) -> Any:
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _no_path()
    return node


def _add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _no_path()
    else:
        raise _no_path()
    return doc


def _remove(doc: Any, path: list[str]) -> None:
    if not path:
        raise bad_request("Cannot remove the whole document")
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise _no_path()
