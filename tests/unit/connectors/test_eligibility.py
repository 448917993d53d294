"""Eligibility transports: FHIR $submit / create, X12 plain and CAQH CORE envelope."""

from __future__ import annotations

import email.parser
import email.policy
from typing import Any

import httpx
import pytest

from connectors import (
    CORE_REALTIME_BUDGET,
    FhirEligibility,
    Policy,
    ProtocolError,
    Unavailable,
    X12Eligibility,
)
from tests.unit.connectors.fakes import FakeClock, Script, fhir, make_client

REQUEST = {
    "resourceType": "CoverageEligibilityRequest",
    "identifier": [{"system": "urn:frontdesk:check", "value": "c-1"}],
    "status": "active",
    "purpose": ["benefits"],
}
RESPONSE = {"resourceType": "CoverageEligibilityResponse", "id": "r1", "outcome": "complete"}
X271 = "ISA*00*...~ST*271*0001*005010X279A1~EB*1**30~SE*3*0001~"


@pytest.mark.parametrize(
    "answer",
    [
        RESPONSE,
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": RESPONSE}]},
        {"resourceType": "Parameters", "parameter": [{"name": "return", "resource": RESPONSE}]},
    ],
)
async def test_fhir_submit_returns_the_response(clock: FakeClock, answer: dict[str, Any]) -> None:
    script = Script(fhir(200, answer))
    result = await FhirEligibility(make_client(script, clock=clock)).check(REQUEST)
    assert result == RESPONSE
    assert script.requests[0].url.path == "/fhir/CoverageEligibilityRequest/$submit"


async def test_fhir_submit_without_response_is_a_protocol_error(clock: FakeClock) -> None:
    script = Script(fhir(200, {"resourceType": "Bundle", "type": "collection"}))
    with pytest.raises(ProtocolError):
        await FhirEligibility(make_client(script, clock=clock)).check(REQUEST)


async def test_fhir_create_mode_then_finds_the_response(clock: FakeClock) -> None:
    script = Script(
        fhir(201, {**REQUEST, "id": "q9"}),
        fhir(
            200, {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": RESPONSE}]}
        ),
    )
    result = await FhirEligibility(make_client(script, clock=clock), mode="create").check(REQUEST)
    assert result == RESPONSE
    create, search = script.requests
    assert create.headers["If-None-Exist"] == "identifier=urn:frontdesk:check|c-1"
    assert search.url.params["request"] == "CoverageEligibilityRequest/q9"


def x12(handler: Any, clock: FakeClock, **kw: Any) -> X12Eligibility:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return X12Eligibility("https://clearinghouse.example.com/270", http=http, clock=clock, **kw)


async def test_x12_plain_posts_270_and_returns_raw_271(clock: FakeClock) -> None:
    script = Script(httpx.Response(200, text=X271))
    assert await x12(script, clock).exchange("ISA*270~") == X271
    assert script.requests[0].content == b"ISA*270~"
    assert script.requests[0].headers["Content-Type"] == "application/edi-x12"


async def test_x12_inquiry_is_retried_within_the_core_budget(clock: FakeClock) -> None:
    script = Script(httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(200, text=X271))
    start = clock.now
    assert await x12(script, clock).exchange("ISA*270~") == X271
    assert len(script.requests) == 3
    assert clock.now - start < CORE_REALTIME_BUDGET


async def test_x12_budget_caps_a_longer_policy(clock: FakeClock) -> None:
    script = Script(httpx.Response(503, headers={"Retry-After": "25"}))
    with pytest.raises(Unavailable):
        await x12(script, clock, policy=Policy(deadline=60)).exchange("ISA*270~")
    assert clock.sleeps == []  # waiting 25 s would blow the 20 s budget


def _form(request: httpx.Request) -> dict[str, str]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + request.content
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        fields[name] = payload.decode().strip("\r\n")
    return fields


def _core_answer(fields: dict[str, str]) -> httpx.Response:
    body = (
        "".join(
            f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        + "--B--\r\n"
    )
    return httpx.Response(
        200, content=body.encode(), headers={"Content-Type": "multipart/form-data; boundary=B"}
    )


async def test_core_envelope_round_trip(clock: FakeClock) -> None:
    answer = {
        "PayloadType": "X12_271_Response_005010X279A1",
        "ProcessingMode": "RealTime",
        "ErrorCode": "Success",
        "Payload": X271,
    }
    script = Script(_core_answer(answer))
    transport = x12(script, clock, envelope="core", sender_id="PROV1", receiver_id="CH1")
    assert await transport.exchange("ISA*270~") == X271
    sent = _form(script.requests[0])
    assert sent["PayloadType"] == "X12_270_Request_005010X279A1"
    assert sent["ProcessingMode"] == "RealTime"
    assert sent["CORERuleVersion"] == "2.2.0"
    assert (sent["SenderID"], sent["ReceiverID"], sent["Payload"]) == ("PROV1", "CH1", "ISA*270~")
    assert sent["TimeStamp"].endswith("Z")


async def test_core_envelope_error_code(clock: FakeClock) -> None:
    script = Script(_core_answer({"ErrorCode": "PayloadIDRequired", "ErrorMessage": "x"}))
    with pytest.raises(Exception, match="PayloadIDRequired"):
        await x12(script, clock, envelope="core").exchange("ISA*270~")
