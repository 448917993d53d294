"""Reading one request header straight from the ASGI scope.

Starlette's ``Headers`` wrapper is built per request and decodes every name; the hot
path reads three headers, each once, so a scan of the raw list is cheaper. ASGI servers
give header names lowercased; the first occurrence wins, as with ``Headers.get``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["header"]


def header(scope: Mapping[str, Any], name: bytes) -> bytes | None:
    """The raw value of header ``name`` (lowercase), or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None
