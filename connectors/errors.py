"""Typed upstream errors, and the one place that turns HTTP outcomes into them.

Every failure talking to an EHR or payer surfaces as a subclass of `UpstreamError`::

    UpstreamError                     source, method, url_template, status, retryable,
    │                                 request_sent, retry_after, issues, diagnostics
    ├── Unavailable                   connect failure, 502/503/504
    │   └── CircuitOpen               the source's breaker is open; nothing was sent
    ├── UpstreamTimeout               connect/read timeout or the call's deadline ran out
    ├── RateLimited                   429
    ├── ServerError                   other 5xx (500, 501, ...)
    ├── AuthError
    │   ├── Unauthorized              401, or the token endpoint refused us
    │   └── Forbidden                 403
    ├── NotFound                      404
    │   └── Gone                      410
    ├── Conflict                      409
    │   └── PreconditionFailed        412 (If-Match / If-None-Match lost the race)
    ├── Rejected                      400/422 and other 4xx; `issues` parsed from OperationOutcome
    ├── ProtocolError                 not JSON, wrong resourceType, truncated body, bad paging
    │   └── BodyTooLarge              body over Policy.max_body_bytes
    ├── TooManyResults                a search went past Policy.max_pages / max_resources
    └── CapabilityMismatch            the CapabilityStatement lacks what the vendor profile needs

No message, template or attribute carries query values or request bodies: those hold PHI
(names, birth dates). Path ids are replaced by `{id}` in `url_template`.

`retryable` says whether the condition is transient. Whether a retry is *safe* is a
property of the request (see `connectors.retrying`); `request_sent` is False only when the
request certainly never reached the server (connect failures, pool timeouts).
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "AuthError",
    "BodyTooLarge",
    "CapabilityMismatch",
    "CircuitOpen",
    "Conflict",
    "Forbidden",
    "Gone",
    "Issue",
    "NotFound",
    "PreconditionFailed",
    "ProtocolError",
    "RateLimited",
    "Rejected",
    "ServerError",
    "TooManyResults",
    "Unauthorized",
    "Unavailable",
    "UpstreamError",
    "UpstreamTimeout",
    "error_for_response",
    "error_for_transport",
    "parse_retry_after",
]


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue, reduced to what a caller can act on."""

    severity: str
    code: str
    diagnostics: str | None = None
    expression: tuple[str, ...] = ()


class UpstreamError(Exception):
    """Base of every error raised while talking to an upstream."""

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        source: str,
        method: str,
        url_template: str,
        status: int | None = None,
        retryable: bool | None = None,
        request_sent: bool = True,
        issues: Sequence[Issue] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.method = method
        self.url_template = url_template
        self.status = status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.request_sent = request_sent
        self.issues: tuple[Issue, ...] = tuple(issues)
        # Seconds the server asked us to wait (Retry-After on 429/503), if it said.
        self.retry_after = retry_after

    @property
    def diagnostics(self) -> list[str]:
        """The OperationOutcome diagnostics texts, in order."""
        return [i.diagnostics for i in self.issues if i.diagnostics]

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else ""
        return f"[{self.source}] {self.method} {self.url_template}{status}: {self.message}"


class Unavailable(UpstreamError):
    default_retryable = True


class CircuitOpen(Unavailable):
    pass


class UpstreamTimeout(UpstreamError):
    default_retryable = True


class RateLimited(UpstreamError):
    default_retryable = True


class ServerError(UpstreamError):
    pass


class AuthError(UpstreamError):
    pass


class Unauthorized(AuthError):
    pass


class Forbidden(AuthError):
    pass


class NotFound(UpstreamError):
    pass


class Gone(NotFound):
    pass


class Conflict(UpstreamError):
    pass


class PreconditionFailed(Conflict):
    pass


class Rejected(UpstreamError):
    pass


class ProtocolError(UpstreamError):
    pass


class BodyTooLarge(ProtocolError):
    pass


class TooManyResults(UpstreamError):
    pass


class CapabilityMismatch(UpstreamError):
    def __init__(self, message: str, *, missing: Sequence[str], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.missing = tuple(missing)


_BY_STATUS: Mapping[int, tuple[type[UpstreamError], str]] = {
    400: (Rejected, "request rejected"),
    401: (Unauthorized, "not authenticated"),
    403: (Forbidden, "not allowed"),
    404: (NotFound, "not found"),
    409: (Conflict, "conflict"),
    410: (Gone, "gone"),
    412: (PreconditionFailed, "precondition failed"),
    422: (Rejected, "unprocessable"),
    429: (RateLimited, "rate limited"),
    502: (Unavailable, "bad gateway"),
    503: (Unavailable, "service unavailable"),
    504: (Unavailable, "gateway timeout"),
}


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date.

    `now` is the wall-clock epoch time, injected so tests don't depend on the real clock.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def parse_issues(body: bytes) -> tuple[Issue, ...]:
    """Issues of an OperationOutcome body; empty when the body is anything else."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ()
    if not isinstance(doc, dict) or doc.get("resourceType") != "OperationOutcome":
        return ()
    issues = []
    for raw in doc.get("issue") or ():
        if not isinstance(raw, dict):
            continue
        issues.append(
            Issue(
                severity=str(raw.get("severity", "")),
                code=str(raw.get("code", "")),
                diagnostics=raw.get("diagnostics")
                if isinstance(raw.get("diagnostics"), str)
                else None,
                expression=tuple(str(e) for e in raw.get("expression") or ()),
            )
        )
    return tuple(issues)


def error_for_response(
    response: httpx.Response,
    body: bytes,
    *,
    source: str,
    method: str,
    url_template: str,
    now: float,
) -> UpstreamError:
    """The error for a response with status >= 400."""
    status = response.status_code
    cls, message = _BY_STATUS.get(status, (None, ""))
    if cls is None:
        if status >= 500:
            cls, message = ServerError, "server error"
        else:
            cls, message = Rejected, "request rejected"
    kw: dict[str, Any] = {
        "source": source,
        "method": method,
        "url_template": url_template,
        "status": status,
        "issues": parse_issues(body),
    }
    if status in (429, 503):
        kw["retry_after"] = parse_retry_after(response.headers.get("Retry-After"), now=now)
    return cls(message, **kw)


def error_for_transport(
    exc: httpx.HTTPError, *, source: str, method: str, url_template: str, body_started: bool
) -> UpstreamError:
    """Translate an httpx error; `body_started` is True once the status line arrived."""
    kw: dict[str, Any] = {"source": source, "method": method, "url_template": url_template}
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return UpstreamTimeout("connect timed out", request_sent=False, **kw)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout("timed out", **kw)
    if isinstance(exc, httpx.ConnectError):
        return Unavailable("connection failed", request_sent=False, **kw)
    if isinstance(exc, httpx.DecodingError):
        # A compressed body that won't decode is almost always one cut short in transit.
        return ProtocolError("body could not be decoded", retryable=True, **kw)
    if isinstance(exc, httpx.TransportError):
        if body_started:
            # The status line arrived but the body broke off: a truncated body.
            return ProtocolError("truncated body", retryable=True, **kw)
        return Unavailable("connection lost", **kw)
    # TooManyRedirects and other misbehaviour that repeating won't fix.
    return ProtocolError(f"unusable answer ({type(exc).__name__})", **kw)
