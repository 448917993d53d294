"""ISO 8601 UTC timestamps for the per-request log and audit lines, made cheaply.

``datetime.now(UTC).isoformat()`` costs about a microsecond and a half; a line needs
one, and a busy gateway writes two per request. The date and time up to the second
change once a second, so they are formatted once and reused.
"""

from __future__ import annotations

import time

__all__ = ["utc_now_iso"]

# (second, its "YYYY-MM-DDTHH:MM:SS"), replaced as one tuple so a racing thread reads a
# matching pair.
_cached: tuple[int, str] = (-1, "")


def utc_now_iso() -> str:
    """Now as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    global _cached
    now = time.time()
    second = int(now)
    cached_second, prefix = _cached
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _cached = (second, prefix)
    return f"{prefix}.{int((now - second) * 1_000_000):06d}Z"
