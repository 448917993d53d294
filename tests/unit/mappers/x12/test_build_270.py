from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mappers import MappingError
from mappers.model import EligibilityRequest, Person
from mappers.x12 import build_270
from mappers.x12.tokenizer import tokenize

from .x12kit import check_270

FIXTURES = Path(__file__).parents[3] / "fixtures" / "x12"
NOW = datetime(2025, 3, 4, 15, 6, tzinfo=UTC)


def request(**changes: object) -> EligibilityRequest:
    base: dict[str, object] = {
        "payer_id": "60054",
        "payer_name": "Acme Health",
        "provider_npi": "1234567893",
        "provider_name": "Bone & Joint Clinic",
        "subscriber": Person(
            first_name="Jane",
            last_name="Doe",
            birth_date=date(1980, 2, 29),
            gender="female",
            member_id="W123456789",
        ),
        "service_types": ["30", "98"],
        "date_of_service": date(2025, 3, 5),
        "group_number": "GRP-77",
        "trace_number": "TRACE-0001",
    }
    base.update(changes)
    return EligibilityRequest.model_validate(base)


def segments(raw: str) -> list[str]:
    return raw.split("~")[:-1]


def test_subscriber_270_has_the_guide_layout() -> None:
    raw = build_270(request(), control_number=12345, now=NOW, sender_id="SUBMITTER")
    assert check_270(raw) == []
    segs = segments(raw)
    assert segs[0] == (
        "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*CLEARINGHOUSE  "
        "*250304*1506*^*00501*000012345*0*T*:"
    )
    assert segs[1:] == [
        "GS*HS*SUBMITTER*CLEARINGHOUSE*20250304*1506*12345*X*005010X279A1",
        "ST*270*000012345*005010X279A1",
        "BHT*0022*13*TRACE-0001*20250304*1506",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH*****PI*60054",
        "HL*2*1*21*1",
        "NM1*1P*2*BONE & JOINT CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        "TRN*1*TRACE-0001*9FRONTDESK",
        "NM1*IL*1*DOE*JANE****MI*W123456789",
        "REF*6P*GRP-77",
        "DMG*D8*19800229*F",
        "DTP*291*D8*20250305",
        "EQ*30",
        "EQ*98",
        "SE*15*000012345",
        "GE*1*12345",
        "IEA*1*000012345",
    ]


def test_dependent_goes_in_hl_23_with_the_questions() -> None:
    dependent = Person(first_name="Amy", last_name="Doe", birth_date=date(2015, 5, 5))
    raw = build_270(request(dependent=dependent, group_number=None), now=NOW)
    assert check_270(raw) == []
    segs = segments(raw)
    i = segs.index("HL*3*2*22*1")
    assert segs[i + 1 : i + 10] == [
        "NM1*IL*1*DOE*JANE****MI*W123456789",
        "DMG*D8*19800229*F",
        "HL*4*3*23*0",
        "TRN*1*TRACE-0001*9FRONTDESK",
        "NM1*03*1*DOE*AMY",
        "DMG*D8*20150505",
        "DTP*291*D8*20250305",
        "EQ*30",
        "EQ*98",
    ]


def test_values_are_sanitised_and_cut_to_size() -> None:
    sub = Person(first_name="Zoë*~:^", last_name="O'Brien\nSmith" + "X" * 80, member_id="m:1*2")
    raw = build_270(request(subscriber=sub, payer_name="Pay~er*Inc"), now=NOW)
    assert check_270(raw) == []
    nm1 = next(s for s in segments(raw) if s.startswith("NM1*IL"))
    last = nm1.split("*")[3]
    assert last.startswith("O'BRIEN SMITH")
    assert len(last) == 60
    assert nm1.split("*")[4] == "ZOE"
    assert nm1.endswith("*MI*M 1 2")
    assert "NM1*PR*2*PAY ER INC*****PI*60054" in segments(raw)


def test_name_and_birth_date_search_without_member_id() -> None:
    sub = Person(first_name="Jane", last_name="Doe", birth_date=date(1980, 1, 2))
    raw = build_270(request(subscriber=sub), now=NOW)
    assert check_270(raw) == []
    assert "NM1*IL*1*DOE*JANE" in segments(raw)


def test_control_numbers_are_unique_without_one_given() -> None:
    numbers = {tokenize(build_270(request(), now=NOW))[0][0].get(13) for _ in range(200)}
    assert len(numbers) == 200
    assert all(len(n) == 9 and n.isdigit() for n in numbers)


def test_usage_and_ids_are_options() -> None:
    raw = build_270(request(), usage="P", receiver_id="030240928", receiver_qualifier="30")
    isa = tokenize(raw)[0][0]
    assert (isa.get(7), isa.get(8).strip(), isa.get(15)) == ("30", "030240928", "P")
    assert check_270(raw) == []


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"provider_npi": "123456789"}, "EligibilityRequest.provider_npi"),
        ({"provider_npi": "1234567890"}, "EligibilityRequest.provider_npi"),
        (
            {"subscriber": Person(first_name="Jane", last_name="Doe")},
            "EligibilityRequest.subscriber",
        ),
        ({"subscriber": Person(member_id="***")}, "EligibilityRequest.subscriber"),
        (
            {"dependent": Person(first_name="Amy"), "subscriber": Person(member_id="M1")},
            "EligibilityRequest.dependent",
        ),
        (
            {
                "dependent": Person(first_name="Amy", last_name="Doe"),
                "subscriber": Person(first_name="J", last_name="D", birth_date=date(1980, 1, 1)),
            },
            "EligibilityRequest.subscriber.member_id",
        ),
        ({"service_types": ["30", "998"]}, "EligibilityRequest.service_types"),
        ({"trace_number": "~~~"}, "EligibilityRequest.trace_number"),
        ({"payer_id": "*"}, "EligibilityRequest.payer_id"),
        (
            {"subscriber": Person(member_id="M1", birth_date=date(2030, 1, 1))},
            "EligibilityRequest.birth_date",
        ),
    ],
)
def test_missing_or_bad_required_data_is_refused(changes: dict[str, object], path: str) -> None:
    with pytest.raises(MappingError) as info:
        build_270(request(**changes), now=NOW)
    assert info.value.path == path
    assert "W123456789" not in str(info.value)
    assert "DOE" not in str(info.value).upper()


@pytest.mark.parametrize(
    "options",
    [
        {"usage": "X"},
        {"control_number": 0},
        {"control_number": 1_000_000_000},
        {"sender_id": "A" * 16},
        {"receiver_id": "BAD*ID"},
        {"sender_qualifier": "Z"},
        {"originator_id": "FRONTDESK1"},
    ],
)
def test_bad_envelope_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(MappingError):
        build_270(request(), now=NOW, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["lfh-subscriber-health-benefit-check.270", "lfh-dependent-health-benefit-check.270"]
)
def test_checker_accepts_the_public_reference_270s(name: str) -> None:
    raw = (FIXTURES / name).read_text().replace("\n", "")
    assert check_270(raw) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("SE*15*", "SE*14*", "SE01/SE02"),
        ("IEA*1*000012345", "IEA*1*000012346", "IEA01/IEA02"),
        ("GE*1*12345", "GE*1*1", "GE01/GE02"),
        ("HL*3*2*22*0", "HL*3*1*22*0", "HL numbering or parent"),
        ("EQ*98", "EQ*98*", "trailing empty element"),
        ("DTP*291*D8*20250305", "DTP*291*D8*20250231", "DTP"),
        ("ST*270*000012345*005010X279A1", "ST*270*000012345*005010X279", "ST01/ST02/ST03"),
    ],
)
def test_checker_catches_broken_270s(old: str, new: str, problem: str) -> None:
    raw = build_270(request(), control_number=12345, now=NOW)
    assert old in raw
    problems = check_270(raw.replace(old, new))
    assert any(problem in p for p in problems), problems


def test_unknown_gender_leaves_dmg03_out() -> None:
    # 005010X279A1 lists only F and M for a 270's DMG03 (linuxforhealth-x12 refused "U").
    sub = Person(
        first_name="Jane",
        last_name="Doe",
        birth_date=date(1980, 2, 29),
        gender="unknown",
        member_id="W123456789",
    )
    raw = build_270(request(subscriber=sub), now=NOW)
    assert check_270(raw) == []
    assert "DMG*D8*19800229" in segments(raw)
