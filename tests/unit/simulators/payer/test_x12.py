from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette

from connectors.eligibility import X12Eligibility
from mappers.model import Benefit, EligibilityResult, Person
from mappers.x12 import build_270, parse_271
from simulators.payer import create_payer_app

from .conftest import inquiry

X12 = {"Content-Type": "application/edi-x12"}


async def exchange(client: httpx.AsyncClient, raw_270: str) -> str:
    response = await client.post("/x12/270", content=raw_270, headers=X12)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/edi-x12")
    return response.text


def segments(raw: str) -> list[list[str]]:
    return [s.split("*") for s in raw.split("~") if s]


def find(raw: str, tag: str, *prefix: str) -> list[list[str]]:
    return [s for s in segments(raw) if s[0] == tag and tuple(s[1 : 1 + len(prefix)]) == prefix]


def only(result: list[EligibilityResult]) -> EligibilityResult:
    assert len(result) == 1
    return result[0]


def benefit(result: EligibilityResult, kind: str, service_type: str, **match: object) -> Benefit:
    found = [
        b
        for b in result.benefits
        if b.kind == kind
        and b.service_type == service_type
        and all(getattr(b, k) == v for k, v in match.items())
    ]
    assert len(found) == 1, found
    return found[0]


async def test_active_member_gets_copay_deductible_and_trace(client: httpx.AsyncClient) -> None:
    raw = await exchange(client, build_270(inquiry(trace="ABC123"), control_number=4711))

    assert find(raw, "TRN") == [["TRN", "2", "ABC123", "9FRONTDESK"]]
    assert find(raw, "EB", "B", "IND", "98")[0][6:8] == ["27", "25"]
    assert find(raw, "REF", "18")[0][2:4] == ["SIM-PPO-GOLD", "SIM PPO GOLD"]
    result = only(parse_271(raw))
    assert result.status == "active"
    assert result.member_id == "SIM-ACTIVE-1"
    assert result.trace_number == "ABC123"
    assert result.group_number == "SIMGRP01"
    assert result.plan_name == "SIM PPO GOLD"
    assert benefit(result, "copay", "98", in_network=True).amount == Decimal(25)
    assert benefit(result, "coinsurance", "98", in_network=True).percent == Decimal("0.2")
    remaining = benefit(result, "deductible", "30", coverage_level="IND", time_period="29")
    assert remaining.amount == Decimal(1000)
    oop = benefit(result, "out_of_pocket", "30", coverage_level="FAM", time_period="23")
    assert oop.amount == Decimal(10000)
    assert result.errors == []
    assert result.warnings == []


async def test_envelope_counts_and_control_numbers_match(client: httpx.AsyncClient) -> None:
    raw = await exchange(client, build_270(inquiry(), control_number=123456789))

    segs = segments(raw)
    isa, gs, st = segs[0], segs[1], segs[2]
    se, ge, iea = segs[-3], segs[-2], segs[-1]
    assert len(raw.split("~")[0]) == 105  # ISA is 106 characters with its terminator
    assert isa[13] == iea[2] == "123456789"
    assert gs[6] == ge[2] == "123456789"
    assert st[1:3] == ["271", "123456789"] and se[2] == st[2]
    assert int(se[1]) == len(segs) - 4  # ST … SE inclusive
    assert ge[1] == iea[1] == "1"
    # Sender and receiver are the 270's, swapped.
    assert isa[6].strip() == "CLEARINGHOUSE" and isa[8].strip() == "FRONTDESK"
    assert gs[1] == "HB"


async def test_inactive_member_reports_plan_end(client: httpx.AsyncClient) -> None:
    raw = await exchange(
        client, build_270(inquiry("SIM-INACTIVE-1", "DOE", "JOHN", date(1975, 6, 30)))
    )

    assert find(raw, "EB", "6")
    assert find(raw, "DTP", "347") == [["DTP", "347", "D8", "20241231"]]
    result = only(parse_271(raw))
    assert result.status == "inactive"
    assert result.coverage_end == date(2024, 12, 31)
    assert not [b for b in result.benefits if b.kind == "copay"]


async def test_deductible_met_member_has_nothing_left(client: httpx.AsyncClient) -> None:
    raw = await exchange(
        client, build_270(inquiry("SIM-DEDMET-1", "ROE", "RICHARD", date(1968, 3, 2)))
    )

    result = only(parse_271(raw))
    left = benefit(result, "deductible", "30", coverage_level="IND", time_period="29")
    assert left.amount == Decimal(0)
    assert benefit(result, "copay", "98", in_network=True).amount == Decimal(30)


async def test_auth_required_member_flags_eb11(client: httpx.AsyncClient) -> None:
    raw = await exchange(
        client, build_270(inquiry("SIM-AUTH-1", "ROE", "MARY", date(1990, 11, 20)))
    )

    assert find(raw, "EB", "B", "IND", "98")[0][11] == "Y"
    result = only(parse_271(raw))
    copay = benefit(result, "copay", "98", in_network=True)
    assert copay.authorization_required is True
    assert "PRIOR AUTHORIZATION REQUIRED" in copay.messages
    assert benefit(result, "copay", "UC").authorization_required is False


@pytest.mark.parametrize(
    ("member_id", "last", "first", "born", "reason"),
    [
        ("SIM-NOBODY-9", "DOE", "JANE", date(1980, 1, 15), "72"),
        ("SIM-ACTIVE-1", "DOUGH", "JANE", date(1980, 1, 15), "73"),
        ("SIM-ACTIVE-1", "DOE", "JANE", date(1981, 1, 15), "71"),
        (None, "NOBODY", "NEVER", date(1990, 1, 1), "75"),
    ],
)
async def test_subscriber_rejections_are_aaa_in_2100c(
    client: httpx.AsyncClient,
    member_id: str | None,
    last: str,
    first: str,
    born: date,
    reason: str,
) -> None:
    raw = await exchange(client, build_270(inquiry(member_id, last, first, born)))

    assert find(raw, "AAA") == [["AAA", "Y", "", reason, "C"]]
    # The AAA sits in the subscriber loop: after HL 22, no EB anywhere.
    tags = [s[0] for s in segments(raw)]
    assert tags.index("AAA") > max(i for i, s in enumerate(segments(raw)) if s[:1] == ["HL"])
    assert "EB" not in tags
    result = only(parse_271(raw))
    assert result.status == "error"
    assert [(e.code, e.loop) for e in result.errors] == [(reason, "subscriber")]


async def test_demographic_search_without_member_id(client: httpx.AsyncClient) -> None:
    raw = await exchange(client, build_270(inquiry(None, "Doe", "Jane", date(1980, 1, 15))))

    result = only(parse_271(raw))
    assert result.status == "active"
    assert result.member_id == "SIM-ACTIVE-1"


async def test_unknown_payer_is_rejected_at_payer_level(client: httpx.AsyncClient) -> None:
    raw = await exchange(client, build_270(inquiry(payer_id="NOPAYER")))

    assert find(raw, "AAA") == [["AAA", "Y", "", "79", "C"]]
    assert find(raw, "HL") == [["HL", "1", "", "20", "0"]]
    assert only(parse_271(raw)).errors[0].loop == "payer"


async def test_scenario_down_member_answers_42(client: httpx.AsyncClient) -> None:
    raw = await exchange(client, build_270(inquiry("SIM-DOWN-1", "DOWN", "DANA", date(1970, 1, 1))))

    result = only(parse_271(raw))
    assert [(e.code, e.loop) for e in result.errors] == [("42", "payer")]
    assert result.status == "error"


async def test_dependent_loop_is_answered_in_2000d(client: httpx.AsyncClient) -> None:
    child = Person(last_name="Smith", first_name="Sam", birth_date=date(2016, 4, 4))
    request = inquiry("SIM-FAMILY-1", "SMITH", "ALEX", date(1982, 9, 9), dependent=child)
    raw = await exchange(client, build_270(request))

    assert find(raw, "HL", "4", "3", "23") == [["HL", "4", "3", "23", "0"]]
    assert find(raw, "NM1", "03")[0][3:5] == ["SMITH", "SAM"]
    result = only(parse_271(raw))  # the subscriber loop carries no answer of its own
    assert result.status == "active"
    assert result.member_id == "SIM-FAMILY-1"  # inherited from the subscriber loop
    assert result.trace_number == "TRACE-1"
    assert benefit(result, "copay", "98", in_network=True).amount == Decimal(25)


async def test_unknown_dependent_is_67_in_2100d(client: httpx.AsyncClient) -> None:
    stranger = Person(last_name="Smith", first_name="Zed", birth_date=date(2010, 1, 1))
    request = inquiry("SIM-FAMILY-1", "SMITH", "ALEX", date(1982, 9, 9), dependent=stranger)
    result = only(parse_271(await exchange(client, build_270(request))))

    assert [(e.code, e.loop) for e in result.errors] == [("67", "dependent")]


async def test_dependent_asked_under_subscriber_card_is_found(client: httpx.AsyncClient) -> None:
    raw = await exchange(
        client, build_270(inquiry("SIM-FAMILY-1", "SMITH", "SAM", date(2016, 4, 4)))
    )

    result = only(parse_271(raw))
    assert result.status == "active"
    assert result.member_id == "SIM-FAMILY-1-02"


async def test_explicit_service_type_is_answered_for_that_type_only(
    client: httpx.AsyncClient,
) -> None:
    raw = await exchange(client, build_270(inquiry(service_types=("98",))))

    result = only(parse_271(raw))
    copays = {b.service_type for b in result.benefits if b.kind == "copay"}
    assert copays == {"98"}
    assert find(raw, "EB", "1")[0][3] == "98"


async def test_not_a_270_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/x12/270", content="hello", headers=X12)

    assert response.status_code == 400
    assert "not a 270" in response.text


@pytest.mark.parametrize("envelope", ["plain", "core"])
async def test_connector_exchange_round_trip(client: httpx.AsyncClient, envelope: str) -> None:
    # The real transport the gateway uses, in both of its wire shapes.
    connector = X12Eligibility(
        "http://payer.test/x12/270",
        http=client,
        envelope=envelope,  # type: ignore[arg-type]
        sender_id="FRONTDESK",
        receiver_id="SIMPAYER",
    )
    raw = await connector.exchange(build_270(inquiry()))

    assert raw.startswith("ISA*")
    assert only(parse_271(raw)).status == "active"


async def test_core_envelope_answer_fields(client: httpx.AsyncClient) -> None:
    from connectors.core_envelope import decode_fields

    boundary = "b0"
    fields = {
        "ProcessingMode": "RealTime",
        "PayloadType": "X12_270_Request_005010X279A1",
        "PayloadID": "p-1",
        "TimeStamp": "2026-01-05T14:30:15Z",
        "SenderID": "FRONTDESK",
        "ReceiverID": "SIMPAYER",
        "CORERuleVersion": "2.2.0",
        "Payload": build_270(inquiry()),
    }
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        + f"--{boundary}--\r\n"
    )
    response = await client.post(
        "/x12/270",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 200
    answer = decode_fields(response.headers["content-type"], response.content)
    assert answer["PayloadType"] == "X12_271_Response_005010X279A1"
    assert answer["ErrorCode"] == "Success"
    assert (answer["SenderID"], answer["ReceiverID"]) == ("SIMPAYER", "FRONTDESK")
    assert only(parse_271(answer["Payload"])).member_id == "SIM-ACTIVE-1"


async def test_core_envelope_without_payload_is_an_envelope_error(
    client: httpx.AsyncClient,
) -> None:
    body = (
        '--b\r\nContent-Disposition: form-data; name="PayloadType"\r\n\r\n'
        "X12_270_Request_005010X279A1\r\n--b--\r\n"
    )
    response = await client.post(
        "/x12/270", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )

    assert response.status_code == 400
    assert "ProcessingModeRequired" in response.text


async def test_shared_member_id_answers_the_holder_named(app: Starlette) -> None:
    from dataclasses import replace

    from simulators.payer import SCENARIO_MEMBERS, MemberTable

    spouse = replace(
        SCENARIO_MEMBERS[0], first_name="JOAN", birth_date=date(1981, 2, 2), gender="female"
    )
    table = MemberTable([*SCENARIO_MEMBERS, spouse], payers={"SIMPAYER": "SIMULATED PAYER"})
    shared = create_payer_app(table)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shared), base_url="http://payer.test"
    ) as client:
        raw = await exchange(
            client, build_270(inquiry("SIM-ACTIVE-1", "DOE", "JOAN", date(1981, 2, 2)))
        )

    assert find(raw, "NM1", "IL")[0][3:5] == ["DOE", "JOAN"]
    assert only(parse_271(raw)).status == "active"
