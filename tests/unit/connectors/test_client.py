"""The wire each FhirClient call sends, and how answers become resources or errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors import BodyTooLarge, Policy, ProtocolError, Rejected, RequestObserved
from tests.unit.connectors.fakes import BASE, FakeClock, Script, fhir, make_client, patient


async def test_read_and_vread(clock: FakeClock) -> None:
    script = Script(fhir(200, patient("123")))
    client = make_client(script, clock=clock)
    assert await client.read("Patient", "123") == patient("123")
    await client.vread("Patient", "123", "4")
    assert [str(r.url) for r in script.requests] == [
        f"{BASE}/Patient/123",
        f"{BASE}/Patient/123/_history/4",
    ]


async def test_create_sends_fhir_json_and_conditional_header(clock: FakeClock) -> None:
    script = Script(fhir(201, patient("new")))
    client = make_client(script, clock=clock)
    created = await client.create(patient(), if_none_exist="identifier=urn:x|9")
    request = script.requests[0]
    assert created["id"] == "new"
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/Patient")
    assert request.headers["Content-Type"] == "application/fhir+json"
    assert request.headers["If-None-Exist"] == "identifier=urn:x|9"
    assert json.loads(request.content) == patient()


async def test_create_with_minimal_answer_reads_location(clock: FakeClock) -> None:
    script = Script(httpx.Response(201, headers={"Location": f"{BASE}/Patient/77/_history/1"}))
    created = await make_client(script, clock=clock).create(patient())
    assert created == {"resourceType": "Patient", "id": "77", "meta": {"versionId": "1"}}


async def test_update_patch_delete(clock: FakeClock) -> None:
    script = Script(fhir(200, patient()))
    client = make_client(script, clock=clock)
    await client.update(patient("p1"), if_match='W/"5"')
    script.steps = [fhir(200, {"resourceType": "Appointment", "id": "a1"})]
    await client.patch(
        "Appointment",
        "a1",
        [{"op": "replace", "path": "/status", "value": "cancelled"}],
        if_match="2",
    )
    script.steps = [httpx.Response(204)]
    await client.delete("Patient", "p1")
    put, patch, delete = script.requests
    assert (put.method, put.url.path, put.headers["If-Match"]) == (
        "PUT",
        "/fhir/Patient/p1",
        'W/"5"',
    )
    assert patch.headers["Content-Type"] == "application/json-patch+json"
    assert patch.headers["If-Match"] == 'W/"2"'
    assert json.loads(patch.content)[0]["path"] == "/status"
    assert (delete.method, delete.url.path) == ("DELETE", "/fhir/Patient/p1")


async def test_transaction_posts_to_base(clock: FakeClock) -> None:
    script = Script(fhir(200, {"resourceType": "Bundle", "type": "transaction-response"}))
    client = make_client(script, clock=clock)
    await client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": []})
    assert str(script.requests[0].url) == BASE
    with pytest.raises(ValueError, match="transaction"):
        await client.transaction({"resourceType": "Bundle", "type": "searchset"})


@pytest.mark.parametrize(
    ("kw", "method", "path"),
    [
        ({"resource_type": "Appointment"}, "POST", "/fhir/Appointment/$find"),
        ({"resource_type": "Appointment", "id": "a1"}, "POST", "/fhir/Appointment/a1/$find"),
        ({}, "POST", "/fhir/$find"),
        (
            {"resource_type": "Appointment", "method": "GET", "params": {"start": "2025"}},
            "GET",
            "/fhir/Appointment/$find",
        ),
    ],
)
async def test_operation_levels(
    clock: FakeClock, kw: dict[str, Any], method: str, path: str
) -> None:
    script = Script(fhir(200, {"resourceType": "Bundle", "type": "searchset"}))
    await make_client(script, clock=clock).operation("find", **kw)
    assert (script.requests[0].method, script.requests[0].url.path) == (method, path)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, content=b"<html>proxy error</html>"), "not JSON"),
        (httpx.Response(200, content=b'{"resourceType": "Patient", "id": "p'), "not JSON"),
        (fhir(200, {"resourceType": "OperationOutcome"}), "expected Patient, got OperationOutcome"),
        (fhir(200, [1, 2]), "not a FHIR resource"),
        (httpx.Response(200, content=b""), "empty body"),
    ],
)
async def test_protocol_errors(clock: FakeClock, response: httpx.Response, message: str) -> None:
    client = make_client(Script(response), clock=clock, policy=Policy(max_attempts=1))
    with pytest.raises(ProtocolError, match=message) as caught:
        await client.read("Patient", "p1")
    assert caught.value.url_template == "/Patient/{id}"


async def test_truncated_body_is_retried_for_a_read(clock: FakeClock) -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b'{"resourceType": "Pat'
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )

    script = Script(httpx.Response(200, stream=Broken()), fhir(200, patient()))
    assert (await make_client(script, clock=clock).read("Patient", "p1"))["id"] == "p1"
    assert len(script.requests) == 2


async def test_body_over_the_limit(clock: FakeClock) -> None:
    big = fhir(200, {"resourceType": "Patient", "text": "x" * 5000})
    client = make_client(Script(big), clock=clock, policy=Policy(max_body_bytes=1000))
    with pytest.raises(BodyTooLarge):
        await client.read("Patient", "p1")

    class Endless(httpx.AsyncByteStream):  # no Content-Length: the cap applies while reading
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for _ in range(100):
                yield b"x" * 100

    client = make_client(
        Script(httpx.Response(200, stream=Endless())),
        clock=clock,
        policy=Policy(max_body_bytes=1000),
    )
    with pytest.raises(BodyTooLarge):
        await client.read("Patient", "p1")


async def test_capabilities_are_read_once(clock: FakeClock) -> None:
    script = Script(fhir(200, {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"}))
    client = make_client(script, clock=clock)
    assert (await client.capabilities())["fhirVersion"] == "4.0.1"
    await client.capabilities()
    assert len(script.requests) == 1
    assert script.requests[0].url.path == "/fhir/metadata"


async def test_metrics_hook_sees_each_attempt_without_phi(clock: FakeClock) -> None:
    events: list[RequestObserved] = []

    class Recorder:
        def request_observed(self, event: RequestObserved) -> None:
            events.append(event)

    answers = iter([fhir(503), fhir(200, {"resourceType": "Bundle", "type": "searchset"})])

    def timed(request: httpx.Request) -> httpx.Response:
        clock.advance(0.25)
        return next(answers)

    client = make_client(timed, clock=clock, metrics=Recorder())
    await client.search_page("Patient", {"family": "Chalmers", "birthdate": "1974-12-25"})
    assert [(e.interaction, e.resource_type, e.status_class, e.attempt) for e in events] == [
        ("search", "Patient", "5xx", 1),
        ("search", "Patient", "2xx", 2),
    ]
    assert events[0].latency == pytest.approx(0.25)
    assert "Chalmers" not in repr(events)
    assert "1974" not in repr(events)


async def test_errors_carry_no_query_values(clock: FakeClock) -> None:
    client = make_client(Script(fhir(400)), clock=clock)
    with pytest.raises(Rejected) as caught:
        await client.search_page("Patient", {"family": "Chalmers"})
    assert "Chalmers" not in str(caught.value)
    assert caught.value.url_template == "/Patient"


async def test_owned_http_client_is_closed() -> None:
    from connectors import FhirClient

    async with FhirClient(BASE) as client:
        http = client._http
    assert http.is_closed
    shared = httpx.AsyncClient()
    async with FhirClient(BASE, http=shared):
        pass
    assert not shared.is_closed
    await shared.aclose()
