"""Fixed members of the simulated payer SIMPAYER, independent of the seed data.

Tests and demos use these so they never depend on what the seed generator drew:

| member id        | name (last, first)   | born       | what the payer answers|
|------------------|----------------------|------------|----------------------------------------|
| SIM-ACTIVE-1     | DOE, JANE            | 1980-01-15 | active; copay 25 for 98; deductible left|
| SIM-INACTIVE-1   | DOE, JOHN            | 1975-06-30 | inactive: coverage ended 2024-12-31|
| SIM-DEDMET-1     | ROE, RICHARD         | 1968-03-02 | active; deductible met (remaining 0)|
| SIM-AUTH-1       | ROE, MARY            | 1990-11-20 | active; prior authorization for 98 and 62|
| SIM-FAMILY-1     | SMITH, ALEX          | 1982-09-09 | active subscriber with a dependent|
| SIM-FAMILY-1-02  | SMITH, SAM           | 2016-04-04 | dependent of SIM-FAMILY-1|
| SIM-DOWN-1       | DOWN, DANA           | 1970-01-01 | always AAA 42 (payer unable to respond)|

Any other member id under SIMPAYER is unknown (AAA 72).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from simulators.payer.members import Member, PlanBenefits

__all__ = [
    "SCENARIO_MEMBERS",
    "SIM_PAYER_ID",
    "SIM_PAYER_NAME",
    "scenario_members",
]

SIM_PAYER_ID = "SIMPAYER"
SIM_PAYER_NAME = "SIMULATED PAYER"

_D = Decimal


def _benefits(
    *,
    office: int = 25,
    remaining: int = 1000,
    family_remaining: int = 2500,
    auth: frozenset[str] = frozenset(),
) -> PlanBenefits:
    return PlanBenefits(
        copays={"98": _D(office), "UC": _D(50), "86": _D(200), "BZ": _D(0)},
        coinsurance=_D("0.2"),
        deductible_individual=_D(1500),
        deductible_individual_remaining=_D(remaining),
        deductible_family=_D(3000),
        deductible_family_remaining=_D(family_remaining),
        oop_individual=_D(5000),
        oop_individual_remaining=_D(4000),
        oop_family=_D(10000),
        oop_family_remaining=_D(9000),
        auth_required=auth,
    )


def _member(member_id: str, last: str, first: str, born: date, **extra: object) -> Member:
    fields: dict[str, object] = {
        "payer_id": SIM_PAYER_ID,
        "member_id": member_id,
        "last_name": last,
        "first_name": first,
        "birth_date": born,
        "plan_name": "SIM PPO GOLD",
        "group_number": "SIMGRP01",
        "group_name": "SIMULATED EMPLOYER",
        "coverage_start": date(2020, 1, 1),
        "benefits": _benefits(),
    }
    fields.update(extra)
    return Member(**fields)  # type: ignore[arg-type]


def scenario_members() -> tuple[Member, ...]:
    return (
        _member("SIM-ACTIVE-1", "DOE", "JANE", date(1980, 1, 15), gender="female"),
        _member(
            "SIM-INACTIVE-1",
            "DOE",
            "JOHN",
            date(1975, 6, 30),
            gender="male",
            coverage_end=date(2024, 12, 31),
        ),
        _member(
            "SIM-DEDMET-1",
            "ROE",
            "RICHARD",
            date(1968, 3, 2),
            gender="male",
            benefits=_benefits(office=30, remaining=0, family_remaining=1200),
        ),
        _member(
            "SIM-AUTH-1",
            "ROE",
            "MARY",
            date(1990, 11, 20),
            gender="female",
            plan_name="SIM HMO SILVER",
            benefits=_benefits(office=35, auth=frozenset({"98", "62"})),
        ),
        _member("SIM-FAMILY-1", "SMITH", "ALEX", date(1982, 9, 9), gender="other"),
        _member(
            "SIM-FAMILY-1-02",
            "SMITH",
            "SAM",
            date(2016, 4, 4),
            gender="male",
            subscriber_id="SIM-FAMILY-1",
        ),
        _member("SIM-DOWN-1", "DOWN", "DANA", date(1970, 1, 1), reject_reason="42"),
    )


SCENARIO_MEMBERS = scenario_members()
