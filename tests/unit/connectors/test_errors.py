from __future__ import annotations

import email.utils
from typing import Any

import httpx
import pytest

from connectors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Rejected,
    ServerError,
    Unauthorized,
    Unavailable,
    UpstreamError,
    UpstreamTimeout,
)
from connectors.errors import error_for_response, error_for_transport, parse_retry_after
from tests.unit.connectors.fakes import fhir, outcome


def _error(
    status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> UpstreamError:
    response = fhir(status, body, headers)
    return error_for_response(
        response,
        response.content,
        source="ehr-a",
        method="GET",
        url_template="/Patient",
        now=1000.0,
    )


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, Rejected, False),
        (401, Unauthorized, False),
        (403, Forbidden, False),
        (404, NotFound, False),
        (405, Rejected, False),
        (409, Conflict, False),
        (410, Gone, False),
        (412, PreconditionFailed, False),
        (422, Rejected, False),
        (429, RateLimited, True),
        (500, ServerError, False),
        (502, Unavailable, True),
        (503, Unavailable, True),
        (504, Unavailable, True),
    ],
)
def test_status_maps_to_error_class(status: int, cls: type[UpstreamError], retryable: bool) -> None:
    error = _error(status)
    assert type(error) is cls
    assert error.status == status
    assert error.retryable is retryable
    assert (error.source, error.method, error.url_template) == ("ehr-a", "GET", "/Patient")


def test_gone_is_a_not_found_and_412_a_conflict() -> None:
    assert isinstance(_error(410), NotFound)
    assert isinstance(_error(412), Conflict)


def test_operation_outcome_issues_are_parsed() -> None:
    error = _error(400, outcome('Unknown search parameter "foo"', code="processing"))
    assert error.issues[0].code == "processing"
    assert error.diagnostics == ['Unknown search parameter "foo"']


def test_non_outcome_body_gives_no_issues() -> None:
    response = httpx.Response(400, content=b"<html>bad</html>")
    error = error_for_response(
        response, response.content, source="s", method="GET", url_template="/", now=0
    )
    assert error.issues == ()


def test_retry_after_seconds_on_429_and_503() -> None:
    assert _error(429, headers={"Retry-After": "7"}).retry_after == 7.0
    assert _error(503, headers={"Retry-After": "3"}).retry_after == 3.0
    assert _error(502, headers={"Retry-After": "3"}).retry_after is None


def test_retry_after_http_date() -> None:
    date = email.utils.formatdate(1000.0 + 12, usegmt=True)
    assert parse_retry_after(date, now=1000.0) == pytest.approx(12.0)
    assert parse_retry_after(email.utils.formatdate(900.0, usegmt=True), now=1000.0) == 0.0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None


@pytest.mark.parametrize(
    ("exc", "cls", "sent"),
    [
        (httpx.ConnectError("refused"), Unavailable, False),
        (httpx.ConnectTimeout("slow"), UpstreamTimeout, False),
        (httpx.PoolTimeout("busy"), UpstreamTimeout, False),
        (httpx.ReadTimeout("slow"), UpstreamTimeout, True),
        (httpx.WriteTimeout("slow"), UpstreamTimeout, True),
        (httpx.ReadError("reset"), Unavailable, True),
        (httpx.RemoteProtocolError("closed"), Unavailable, True),
    ],
)
def test_transport_errors_translate(exc: httpx.TransportError, cls: type, sent: bool) -> None:
    error = error_for_transport(
        exc, source="s", method="POST", url_template="/Patient", body_started=False
    )
    assert type(error) is cls
    assert error.request_sent is sent
    assert error.retryable


def test_broken_body_is_a_retryable_protocol_error() -> None:
    from connectors import ProtocolError

    error = error_for_transport(
        httpx.RemoteProtocolError("incomplete"),
        source="s",
        method="GET",
        url_template="/",
        body_started=True,
    )
    assert isinstance(error, ProtocolError)
    assert error.retryable


def test_message_names_source_method_and_template() -> None:
    assert str(_error(404)) == "[ehr-a] GET /Patient -> 404: not found"


def test_undecodable_body_and_redirect_loops_translate() -> None:
    from connectors import ProtocolError

    decoding = error_for_transport(
        httpx.DecodingError("incorrect header check"),
        source="s",
        method="GET",
        url_template="/",
        body_started=True,
    )
    assert isinstance(decoding, ProtocolError)
    assert decoding.retryable
    redirects = error_for_transport(
        httpx.TooManyRedirects("loop"),
        source="s",
        method="GET",
        url_template="/",
        body_started=True,
    )
    assert isinstance(redirects, ProtocolError)
    assert not redirects.retryable
