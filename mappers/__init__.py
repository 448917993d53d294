"""Pure translations between upstream wire formats and the canonical front-desk model.

No I/O, no settings, no logging of data: importing this package loads neither
httpx, redis, ``connectors`` nor ``gateway`` (a test pins that).
"""

from __future__ import annotations

from .errors import MappingError
from .ids import GatewayId, InvalidId, decode_id, encode_id

__all__ = [
    "GatewayId",
    "InvalidId",
    "MappingError",
    "decode_id",
    "encode_id",
]
