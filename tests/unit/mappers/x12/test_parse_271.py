from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mappers import MappingError
from mappers.model import Benefit, EligibilityResult
from mappers.x12 import Delimiters, parse_271

from .x12kit import Member, make_271

FIXTURES = Path(__file__).parents[3] / "fixtures" / "x12"
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def one(raw: str) -> EligibilityResult:
    results = parse_271(raw, now=NOW)
    assert len(results) == 1
    return results[0]


def find(result: EligibilityResult, kind: str, service_type: str | None) -> list[Benefit]:
    return [b for b in result.benefits if b.kind == kind and b.service_type == service_type]


# --- public samples (LinuxForHealth/x12, Apache-2.0; see fixtures/x12/SOURCES.md) ----------


def test_public_subscriber_sample() -> None:
    r = one((FIXTURES / "lfh-subscriber-health-benefit-check.271").read_text())
    assert r.status == "active"
    assert r.origin == "x12"
    assert (r.payer_name, r.payer_id, r.member_id) == ("ABC COMPANY", "841610001", "123456789")
    assert r.plan_name == "GOLD 123 PLAN"
    assert r.coverage_start == date(2006, 1, 1)
    assert r.coverage_end is None
    assert r.trace_number == "93175-012547"
    assert r.checked_at == datetime(2006, 5, 1, 13, 19, tzinfo=UTC)
    office = find(r, "copay", "98")
    assert [(b.amount, b.in_network, b.time_period) for b in office] == [
        (Decimal("10.00"), True, "27"),
        (Decimal("30.00"), False, "27"),
    ]
    assert office[0].service_type_display == "Professional (Physician) Visit - Office"
    # EB*L then LS/LE with NM1*P3: a PCP entity, not the member or payer.
    assert [b.description for b in r.benefits if b.kind == "other"] == ["Primary Care Provider"]
    assert r.warnings == []
    assert r.errors == []


def test_public_dependent_sample_inherits_the_subscriber_member_id() -> None:
    r = one((FIXTURES / "lfh-dependent-health-benefit-check.271").read_text())
    assert r.status == "active"
    assert r.member_id == "123456789"
    assert r.trace_number == "93175-012547"
    assert len(find(r, "active_coverage", "30")) == 1


def test_public_provider_rejection_sample() -> None:
    r = one((FIXTURES / "lfh-subscriber-health-benefit-check-error.271").read_text())
    assert r.status == "error"
    assert r.benefits == []
    assert [(e.code, e.loop) for e in r.errors] == [("50", "provider")]
    assert r.errors[0].follow_up == "do not check again with the same details"
    # The sample's SE02 differs from ST02: a warning, not a refusal.
    assert r.warnings == ["segment 10 (SE): SE02 does not match ST02"]


# --- generated 271s ----------------------------------------------------------------------


def family() -> list[Member]:
    return [
        Member(
            last="DOE",
            first="JOHN",
            member_id="SUB1",
            trn="T-1",
            refs=[("6P", "GRP9", "ACME CORP"), ("18", "PLN1", "SILVER PPO")],
            dtps=[("346", "D8", "20240101"), ("347", "D8", "20241231")],
            ebs=[(["1", "FAM", "30", "HM"], [], False)],
            dependents=[
                Member(
                    level="23",
                    last="DOE",
                    first="AMY",
                    member_id=None,
                    trn="T-2",
                    dtps=[("356", "RD8", "20240201-20240630")],
                    ebs=[
                        (["1", "IND", "30", "HM", "SILVER PPO"], [], False),
                        (
                            ["B", "IND", "98", "HM", "", "27", "25"],
                            ["COPAY WAIVED", "AFTER 5"],
                            False,
                        ),
                    ],
                )
            ],
        ),
        Member(
            last="ROE",
            first="RICH",
            member_id="SUB2",
            trn="T-3",
            refs=[("1L", "POL7")],
            dtps=[("291", "RD8", "20230101-20231231")],
            ebs=[(["6", "IND", "30"], [], True)],
        ),
    ]


@pytest.mark.parametrize(
    ("delimiters", "newline"),
    [
        (Delimiters(), ""),
        (Delimiters(), "\n"),
        (Delimiters(), "\r\n"),
        (Delimiters(element="|", component=">", repetition="!", segment="\n"), ""),
        (Delimiters(element="^", component="\\", repetition="{", segment="'"), "\r\n"),
    ],
)
def test_several_subscribers_and_dependents(delimiters: Delimiters, newline: str) -> None:
    results = parse_271(make_271(family(), delimiters=delimiters, newline=newline), now=NOW)
    assert [(r.member_id, r.trace_number, r.status) for r in results] == [
        ("SUB1", "T-1", "active"),
        ("SUB1", "T-2", "active"),
        ("SUB2", "T-3", "inactive"),
    ]
    sub, dep, other = results
    # No EB05 on the subscriber's active coverage: the plan comes from REF*18's description.
    assert (sub.group_number, sub.group_name, sub.plan_name) == ("GRP9", "ACME CORP", "SILVER PPO")
    assert (sub.coverage_start, sub.coverage_end) == (date(2024, 1, 1), date(2024, 12, 31))
    # The dependent's own eligibility dates win; group and plan come from the subscriber.
    assert (dep.coverage_start, dep.coverage_end) == (date(2024, 2, 1), date(2024, 6, 30))
    assert (dep.group_number, dep.plan_name) == ("GRP9", "SILVER PPO")
    copay = find(dep, "copay", "98")[0]
    assert copay.messages == ["COPAY WAIVED", "AFTER 5"]
    assert (other.group_number, other.coverage_start, other.coverage_end) == (
        "POL7",
        date(2023, 1, 1),
        date(2023, 12, 31),
    )
    # The LS/LE loop's NM1*PR does not replace the payer.
    assert {r.payer_name for r in results} == {"ACME HEALTH"}
    assert all(r.warnings == [] for r in results), [r.warnings for r in results]


def test_subscriber_with_only_dependents_gives_no_empty_result() -> None:
    members = family()[:1]
    members[0].ebs = []
    results = parse_271(make_271(members), now=NOW)
    assert [r.trace_number for r in results] == ["T-2"]


def test_plan_name_from_ref_18_when_no_eb05() -> None:
    members = [Member(refs=[("18", "PLN1", "SILVER PPO")], ebs=[(["1", "IND", "30"], [], False)])]
    assert one(make_271(members)).plan_name == "SILVER PPO"


def test_every_eb_field() -> None:
    eb: list[str | list[str]] = [
        "A",
        "IND",
        ["98", "UC"],
        "HM",
        "PPO GOLD",
        "23",
        "1500.5",
        ".2",
        "VS",
        "12",
        "Y",
        "N",
    ]
    r = one(make_271([Member(ebs=[(eb, ["MSG ONE"], False)])]))
    assert r.status == "unknown"
    assert [b.service_type for b in r.benefits] == ["98", "UC"]
    b = r.benefits[1]
    assert b == Benefit(
        kind="coinsurance",
        service_type="UC",
        service_type_display="Urgent Care",
        coverage_level="IND",
        in_network=False,
        amount=Decimal("1500.5"),
        percent=Decimal(".2"),
        time_period="23",
        authorization_required=True,
        description="PPO GOLD",
        quantity=Decimal("12"),
        quantity_qualifier="VS",
        messages=["MSG ONE"],
    )


@pytest.mark.parametrize(
    ("eb01", "kind"),
    [
        ("1", "active_coverage"),
        ("5", "active_coverage"),
        ("6", "inactive"),
        ("8", "inactive"),
        ("A", "coinsurance"),
        ("B", "copay"),
        ("C", "deductible"),
        ("G", "out_of_pocket"),
        ("F", "limitation"),
        ("I", "non_covered"),
        ("E", "non_covered"),
        ("R", "other"),
    ],
)
def test_eb01_kinds(eb01: str, kind: str) -> None:
    r = one(make_271([Member(ebs=[([eb01, "IND", "30"], [], False)])]))
    assert r.benefits[0].kind == kind


@pytest.mark.parametrize(
    ("ebs", "status"),
    [
        ([["C", "IND", "30"]], "unknown"),
        ([["6", "IND", "30"], ["7"]], "inactive"),
        ([["6", "IND", "30"], ["1", "IND", "30"]], "active"),
        ([["4"]], "active"),
    ],
)
def test_status_from_eb01(ebs: list[list[str]], status: str) -> None:
    r = one(make_271([Member(ebs=[(e, [], False) for e in ebs])]))
    assert r.status == status


@pytest.mark.parametrize(
    ("eb08", "percent", "warned"),
    [
        ("0.2", Decimal("0.2"), False),
        (".25", Decimal(".25"), False),
        ("1", Decimal("1"), False),
        ("20", Decimal("0.2"), True),
        ("150", None, True),
        ("abc", None, True),
        ("-1", None, True),
    ],
)
def test_eb08_percent_rule(eb08: str, percent: Decimal | None, warned: bool) -> None:
    r = one(make_271([Member(ebs=[(["A", "IND", "30", "", "", "", "", eb08], [], False)])]))
    assert r.benefits[0].percent == percent
    assert any("EB08" in w for w in r.warnings) is warned


@pytest.mark.parametrize(
    ("eb11", "eb12", "auth", "network"),
    [("Y", "Y", True, True), ("N", "N", False, False), ("U", "W", None, None)],
)
def test_eb11_eb12(eb11: str, eb12: str, auth: bool | None, network: bool | None) -> None:
    eb = ["B", "IND", "98", "", "", "", "20", "", "", "", eb11, eb12]
    b = one(make_271([Member(ebs=[(eb, [], False)])])).benefits[0]
    assert (b.authorization_required, b.in_network) == (auth, network)


def test_bad_amount_and_date_are_warnings_without_values() -> None:
    member = Member(
        dtps=[("346", "D8", "20241345")], ebs=[(["C", "IND", "30", "", "", "", "12x4"], [], False)]
    )
    r = one(make_271([member]))
    assert r.benefits[0].amount is None
    assert r.coverage_start is None
    assert any("EB07" in w for w in r.warnings)
    assert any("DTP03" in w for w in r.warnings)
    assert not any("12x4" in w or "20241345" in w for w in r.warnings)


# --- AAA at every loop ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("72", "member id not recognised: check the insurance card"),
        ("42", "payer not answering: try again in a few minutes"),
        ("80", "payer not answering: try again in a few minutes"),
        ("75", "subscriber not found: check name and birth date"),
        ("73", "subscriber name not recognised: check the spelling against the card"),
        ("ZZ", "payer rejected the request: call the payer"),
    ],
)
def test_subscriber_rejection_words(reason: str, words: str) -> None:
    r = one(make_271([Member(aaa=[("N", reason, "C")])]))
    assert r.status == "error"
    assert r.errors[0].model_dump() == {
        "code": reason,
        "description": words,
        "follow_up": "correct the request and check again",
        "loop": "subscriber",
    }


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("C", "correct the request and check again"),
        ("N", "do not check again with the same details"),
        ("P", "send the same request again"),
        ("R", "the request may be sent again"),
        ("W", "wait 30 days before checking again"),
        ("X", "wait 10 days before checking again"),
        ("Y", "do not check again: the payer will answer later"),
        ("", None),
    ],
)
def test_follow_up_actions(action: str, words: str | None) -> None:
    assert one(make_271([Member(aaa=[("Y", "75", action)])])).errors[0].follow_up == words


def test_payer_rejection_without_subscriber_loop() -> None:
    r = one(make_271([], payer_aaa=[("Y", "42", "P")]))
    assert r.status == "error"
    assert r.payer_id == "60054"
    assert [(e.code, e.loop) for e in r.errors] == [("42", "payer")]


def test_payer_and_provider_rejections_apply_to_every_result() -> None:
    members = [Member(member_id="A", ebs=[(["1"], [], False)]), Member(member_id="B")]
    results = parse_271(
        make_271(members, payer_aaa=[("Y", "42", "P")], provider_aaa=[("N", "43", "C")]), now=NOW
    )
    assert [[(e.code, e.loop) for e in r.errors] for r in results] == [
        [("42", "payer"), ("43", "provider")],
        [("42", "payer"), ("43", "provider")],
    ]
    assert [r.status for r in results] == ["active", "error"]


def test_dependent_rejection_keeps_subscriber_errors_too() -> None:
    sub = Member(
        aaa=[("Y", "72", "C")],
        dependents=[Member(level="23", member_id=None, aaa=[("N", "77", "C")])],
    )
    results = parse_271(make_271([sub]), now=NOW)
    assert [[(e.code, e.loop) for e in r.errors] for r in results] == [
        [("72", "subscriber")],
        [("72", "subscriber"), ("77", "dependent")],
    ]


def test_benefit_level_aaa_belongs_to_the_member() -> None:
    text = make_271([Member(ebs=[(["1", "IND", "30"], [], False)])])
    text = re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) + 1}*", text)
    text = text.replace("EB*1*IND*30~", "EB*1*IND*30~AAA*N**57*C~")
    r = one(text)
    assert r.status == "active"
    assert [(e.code, e.loop) for e in r.errors] == [("57", "subscriber")]
    assert r.warnings == []


# --- envelope --------------------------------------------------------------------------------


def test_checked_at_from_bht_else_now() -> None:
    assert one(make_271([Member()], bht=("20240105", "123059"))).checked_at == datetime(
        2024, 1, 5, 12, 30, 59, tzinfo=UTC
    )
    r = one(make_271([Member()], bht=("2024", "")))
    assert r.checked_at == NOW
    assert any("BHT04" in w for w in r.warnings)


def test_count_mismatches_are_warnings() -> None:
    raw = re.sub(r"SE\*\d+\*", "SE*99*", make_271([Member()])).replace("GE*1*42", "GE*2*42")
    r = one(raw)
    assert any("SE01" in w for w in r.warnings)
    assert any("GE01" in w for w in r.warnings)


def test_two_transactions_in_one_interchange() -> None:
    raw = make_271([Member(member_id="A")])
    st_to_se = raw[raw.index("ST*") : raw.index("GE*")]
    raw = raw.replace("GE*1*42", st_to_se.replace("MI*A", "MI*B") + "GE*2*42")
    assert [r.member_id for r in parse_271(raw, now=NOW)] == ["A", "B"]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [
        (lambda s: s[: s.index("IEA")], "segment 15 (GE)", "no IEA"),
        (lambda s: s[: s.index("GE*")] + "IEA*1*000000042~", "segment 15 (IEA)", "no GE"),
        (lambda s: s[: s.index("SE*")] + "GE*1*42~IEA*1*000000042~", "segment 14 (GE)", "no SE"),
        (lambda s: s.replace("ST*271", "ST*270"), "segment 3 (ST)", "not a 271"),
        (lambda s: s.replace("GS*HB", "XX*HB"), "segment 2 (XX)", "expected a GS"),
        (lambda s: s[:105], "segment 1 (ISA)", "shorter than 106"),
        (lambda s: "", "segment 1", "does not start with an ISA"),
        (lambda s: "  \n" + s[3:], "segment 1", "does not start with an ISA"),
        (lambda s: s.replace("~HL*1", "~1HL*1"), "segment 5", "no valid segment id"),
    ],
)
def test_truncated_or_garbage_names_the_segment(mutate, path: str, reason: str) -> None:
    raw = mutate(make_271([Member()]))
    with pytest.raises(MappingError) as info:
        parse_271(raw, now=NOW)
    assert info.value.path == path
    assert reason in info.value.reason
    assert "DOE" not in str(info.value)
    assert "MBR001" not in str(info.value)


def test_non_text_input() -> None:
    with pytest.raises(MappingError):
        parse_271(b"ISA*00" * 30, now=NOW)  # type: ignore[arg-type]
