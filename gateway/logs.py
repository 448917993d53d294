"""Application logging: structlog, JSON lines, request ids, no PHI.

Services log ids and counts only; values that could be PHI (names, birth
dates, member ids, MRNs, query strings) are never passed to the logger.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO, cast

import orjson
import structlog

from .context import request_id
from .deferred_flush import LoopFlushedStream
from .timestamps import utc_now_iso

__all__ = ["AccessLog", "access_log", "configure_logging", "get_logger"]

# method, route template, status, milliseconds
AccessLog = Callable[[str, str, int, float], None]


def _structlog_access(method: str, route: str, status: int, ms: float) -> None:
    get_logger("frontdesk.access").info("request", method=method, route=route, status=status, ms=ms)


_access_log: AccessLog = _structlog_access


def access_log() -> AccessLog:
    """The writer of the one access line per request, for the current configuration."""
    return _access_log


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines at ``level`` to ``stream`` (default: standard error, block-buffered and
    flushed once per event-loop pass rather than once per line; see ``deferred_flush``)."""
    global _access_log
    if stream is None:
        stream = _buffered_stderr()
    out = LoopFlushedStream(stream)
    threshold = logging.getLevelName(level)
    _access_log = _line_writer(out) if threshold <= logging.INFO else _drop
    structlog.configure(
        processors=[
            _add_request_id,
            structlog.processors.add_log_level,
            _add_timestamp,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # WriteLogger: one write of the line, then a flush (deferred by the wrapper), where
        # PrintLogger's print() makes two writes. It needs only the write and flush of TextIO.
        logger_factory=structlog.WriteLoggerFactory(cast(TextIO, out)),
        cache_logger_on_first_use=False,
    )


def _buffered_stderr() -> TextIO:
    """Standard error, block-buffered (it is line-buffered or unbuffered by default)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.stderr  # replaced by something without a descriptor: use it as it is
    return open(fd, "w", buffering=1 << 16, encoding="utf-8", closefd=False)


def _line_writer(out: LoopFlushedStream) -> AccessLog:
    """Access lines in the very shape structlog gives them, without its pipeline.

    One line per request makes structlog's bound-logger machinery (context copy, five
    processors) the costliest step of a cached coverage check; this writes the same keys
    in the same order with one orjson call.
    """

    def write(method: str, route: str, status: int, ms: float) -> None:
        line: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "ms": ms,
            "event": "request",
        }
        rid = request_id()
        if rid != "-":
            line["request_id"] = rid
        line["level"] = "info"
        line["timestamp"] = utc_now_iso()
        out.write(orjson.dumps(line).decode() + "\n")
        out.flush()

    return write


def _drop(method: str, route: str, status: int, ms: float) -> None:
    return None


def _add_request_id(
    logger: Any, method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    # Only our own context variable: structlog's merge_contextvars copies and scans the
    # whole context on every line.
    rid = request_id()
    if rid != "-":
        event["request_id"] = rid
    return event


def _add_timestamp(
    logger: Any, method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    event["timestamp"] = utc_now_iso()  # as TimeStamper(fmt="iso", utc=True) writes it
    return event


def _dumps(event: Any, **kw: Any) -> str:
    return orjson.dumps(event, **kw).decode()


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
