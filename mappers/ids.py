"""Gateway ids: opaque, URL-safe, reversible to (source, resource type, upstream id).

An id is ``base64url("<source>/<ResourceType>/<upstream id>")`` without padding.
Decoding validates every part, so a forged id can't smuggle a path or query
into an upstream URL: the upstream id must be a FHIR id (letters, digits, "-" and ".", 1 to 64)
and not one made only of dots, which the pattern admits but which a server reads as a
path segment (``Patient/.`` is ``Patient``, ``Patient/..`` is the base).
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import Final, NamedTuple

__all__ = ["GatewayId", "InvalidId", "decode_id", "encode_id", "is_fhir_id", "reference_id"]

_SOURCE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
# FHIR R4 id: [A-Za-z0-9\-\.]{1,64}
_FHIR_ID = re.compile(r"[A-Za-z0-9.\-]{1,64}")
_MAX_ENCODED = 300
_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")


def is_fhir_id(value: str) -> bool:
    """A FHIR id that is safe as a URL path segment (not ``.``, ``..`` or other dots only)."""
    return _FHIR_ID.fullmatch(value) is not None and value.strip(".") != ""


class InvalidId(ValueError):
    """A string that is not a gateway id."""


class GatewayId(NamedTuple):
    source: str
    resource_type: str
    id: str


def encode_id(source: str, resource_type: str, upstream_id: str) -> str:
    prefix = (
        _PREFIXES.get((source, resource_type))
        if type(source) is str and type(resource_type) is str
        else None
    )
    if prefix is None:
        prefix = _prefix(source, resource_type)
    if type(upstream_id) is not str or not is_fhir_id(upstream_id):
        raise InvalidId("source, resource type or upstream id has an invalid format")
    # base64.urlsafe_b64encode without its Python-level wrappers (this is on the hot path).
    encoded = binascii.b2a_base64(prefix + upstream_id.encode("ascii"), newline=False)
    return encoded.translate(_URLSAFE).rstrip(b"=").decode("ascii")


# References repeat (every Slot of a Schedule names it): their ids are worth remembering.
reference_id = lru_cache(maxsize=4096)(encode_id)

# "<source>/<ResourceType>/" as bytes, for each valid pair seen (a handful per process).
_PREFIXES: dict[tuple[str, str], bytes] = {}


def _prefix(source: str, resource_type: str) -> bytes:
    if not (
        isinstance(source, str)
        and isinstance(resource_type, str)
        and _SOURCE.fullmatch(source)
        and _TYPE.fullmatch(resource_type)
    ):
        raise InvalidId("source, resource type or upstream id has an invalid format")
    prefix = f"{source}/{resource_type}/".encode("ascii")
    if len(_PREFIXES) < 1024:
        _PREFIXES[(source, resource_type)] = prefix
    return prefix


def decode_id(value: str, *, resource_type: str | None = None) -> GatewayId:
    """Reverse ``encode_id``; raise ``InvalidId`` for anything else."""
    if not value or len(value) > _MAX_ENCODED or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise InvalidId("not a gateway id")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidId("not a gateway id") from exc
    parts = raw.split("/")
    if len(parts) != 3:
        raise InvalidId("not a gateway id")
    source, rtype, upstream = parts
    if not (_SOURCE.fullmatch(source) and _TYPE.fullmatch(rtype) and is_fhir_id(upstream)):
        raise InvalidId("not a gateway id")
    if resource_type is not None and rtype != resource_type:
        raise InvalidId(f"not a {resource_type} id")
    return GatewayId(source, rtype, upstream)
