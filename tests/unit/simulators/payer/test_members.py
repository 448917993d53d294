from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from mappers.x12 import build_270, parse_271
from simulators.payer import MemberTable, create_payer_app, default_members
from simulators.payer.members import derive_benefits, names_match
from simulators.seed import build_resources

from .conftest import inquiry

TODAY = date(2026, 1, 5)


@pytest.mark.parametrize(
    ("asked", "known", "expected"),
    [
        (("O'Brien", "Ann"), ("OBRIEN", "ANNE"), True),
        (("Muñoz", "José"), ("MUNOZ", "JOSE"), True),
        (("Smith", None), ("SMITH", "ALEX"), True),
        (("Smyth", "Alex"), ("SMITH", "ALEX"), False),
        (("Smith", "Bob"), ("SMITH", "ALEX"), False),
        (("", "Alex"), ("", "ALEX"), False),
    ],
)
def test_names_match(asked: tuple[str, str | None], known: tuple[str, str], expected: bool) -> None:
    assert names_match(*asked, *known) is expected


def test_derived_benefits_are_deterministic_and_in_range() -> None:
    plans = [derive_benefits("71001", f"NWH{n:09d}", "PPO Gold") for n in range(200)]

    assert plans[7] == derive_benefits("71001", "nwh000000007", "PPO Gold")
    assert all(Decimal(20) <= p.copays["98"] <= Decimal(50) for p in plans)
    assert all(Decimal(500) <= p.deductible_individual <= Decimal(3000) for p in plans)
    assert all(Decimal("0.1") <= p.coinsurance <= Decimal("0.3") for p in plans)
    assert all(0 <= p.deductible_individual_remaining <= p.deductible_individual for p in plans)
    met = sum(p.deductible_individual_remaining == 0 for p in plans)
    assert 20 < met < 120  # some met, most not


def test_medicaid_plan_has_no_deductible() -> None:
    plan = derive_benefits("71004", "LSM123", "Medicaid Managed Care")

    assert plan.deductible_individual == 0
    assert plan.copays["98"] <= 4
    assert plan.out_of_network is False


def test_table_from_rows() -> None:
    table = MemberTable.from_rows(
        [
            ("P1", "m-1", "Lee", "Kim", date(1990, 2, 3), "HMO Silver", "G1", True),
            ("P1", "M-2", "Lee", "Sun", date(1991, 2, 3), "HMO Silver", None, False),
        ]
    )

    first, second = table.get("p1", "M-1"), table.get("P1", "m-2")
    assert first is not None and first.is_active(TODAY)
    assert second is not None and not second.is_active(TODAY)
    assert table.find("P1", "LEE", "SUN", date(1991, 2, 3)) is second
    assert table.find("P1", "LEE", "SUN", date(1991, 2, 4)) is None
    assert table.knows_payer("P1") and not table.knows_payer("P2")


def test_seed_table_holds_every_seeded_coverage() -> None:
    table = default_members(seed=7, today=TODAY)

    seeded = 0
    for profile in ("ehr-a", "ehr-b"):
        resources = build_resources(profile, seed=7, today=TODAY)
        patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
        for coverage in (r for r in resources if r["resourceType"] == "Coverage"):
            member_id = coverage["identifier"][0]["value"]
            payer_id = coverage["payor"][0]["identifier"]["value"]
            patient = patients[coverage["beneficiary"]["reference"].removeprefix("Patient/")]
            born = date.fromisoformat(patient["birthDate"])
            # A spouse's suffixed id can equal the subscriber's: one card, two holders.
            holders = [h for h in table.holders(payer_id, member_id) if h.birth_date == born]
            assert len(holders) == 1
            member = holders[0]
            name = patient["name"][0]
            assert member.answers_to(name["family"], name["given"][0])
            end = coverage["period"].get("end")
            in_force = coverage["status"] == "active" and (end is None or end >= TODAY.isoformat())
            assert member.is_active(TODAY) is in_force
            seeded += 1
    assert seeded > 100
    assert any(len(table.holders(m.payer_id, m.member_id)) > 1 for m in table)
    assert table.get("SIMPAYER", "SIM-ACTIVE-1") is not None


async def test_seeded_patient_checks_out_of_the_box() -> None:
    resources = build_resources("ehr-a", seed=7, today=TODAY)
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    coverage = next(
        r
        for r in resources
        if r["resourceType"] == "Coverage"
        and r["status"] == "active"
        and "end" not in r["period"]
        and r["subscriberId"] == r["identifier"][0]["value"]
    )
    patient = patients[coverage["beneficiary"]["reference"].removeprefix("Patient/")]
    app = create_payer_app(default_members(seed=7, today=TODAY))
    request = inquiry(
        coverage["subscriberId"],
        patient["name"][0]["family"],
        patient["name"][0]["given"][0],
        date.fromisoformat(patient["birthDate"]),
        payer_id=coverage["payor"][0]["identifier"]["value"],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://payer.test"
    ) as client:
        response = await client.post(
            "/x12/270", content=build_270(request), headers={"Content-Type": "text/plain"}
        )

    result = parse_271(response.text)[0]
    assert result.status == "active"
    assert result.member_id == coverage["subscriberId"]
    copay = [b for b in result.benefits if b.kind == "copay" and b.service_type == "98"]
    assert len(copay) == 1 and copay[0].amount is not None
    assert result.payer_name == next(
        r["name"] for r in resources if r["id"] == f"payer-{result.payer_id}"
    )


def test_dependent_rows_link_to_their_subscriber() -> None:
    table = default_members(seed=7, today=TODAY)
    dependents = [m for m in table if m.subscriber_id]

    assert dependents
    for dep in dependents:
        assert dep in table.dependents_of(dep.payer_id, dep.subscriber_id or "")
