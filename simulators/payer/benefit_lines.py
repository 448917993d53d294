"""The benefit lines a payer reports for one member and the service types asked about.

One list feeds both wires: `x12_271` writes each line as EB segments, `fhir_response`
as CoverageEligibilityResponse items. Deductible and out-of-pocket lines are plan
level (service type 30); copays and coinsurance are per service type. A generic
inquiry (30) is answered with every service type the plan prices, as CAQH CORE
expects payers to answer generic inquiries for a set of common service types.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from simulators.payer.members import Member

__all__ = ["BenefitLine", "benefit_lines"]

Kind = Literal["copay", "coinsurance", "deductible", "out_of_pocket"]
# Coinsurance out of network: the plan pays this much less of the bill.
_OUT_OF_NETWORK_EXTRA = Decimal("0.2")


@dataclass(frozen=True, slots=True)
class BenefitLine:
    kind: Kind
    service_type: str
    level: Literal["IND", "FAM"] = "IND"
    in_network: bool = True
    amount: Decimal | None = None  # copay per visit, or the deductible / OOP limit
    remaining: Decimal | None = None  # what is left of the limit this calendar year
    percent: Decimal | None = None  # coinsurance as a fraction
    auth_required: bool | None = None
    message: str | None = None


def benefit_lines(member: Member, service_types: tuple[str, ...]) -> list[BenefitLine]:
    plan = member.benefits
    asked = list(dict.fromkeys(service_types)) or ["30"]
    priced = list(plan.copays) if "30" in asked else []
    per_type = [s for s in asked if s != "30"] + [s for s in priced if s not in asked]
    lines = [
        BenefitLine(
            "deductible",
            "30",
            "IND",
            amount=plan.deductible_individual,
            remaining=plan.deductible_individual_remaining,
        ),
        BenefitLine(
            "deductible",
            "30",
            "FAM",
            amount=plan.deductible_family,
            remaining=plan.deductible_family_remaining,
        ),
        BenefitLine(
            "out_of_pocket",
            "30",
            "IND",
            amount=plan.oop_individual,
            remaining=plan.oop_individual_remaining,
        ),
        BenefitLine(
            "out_of_pocket",
            "30",
            "FAM",
            amount=plan.oop_family,
            remaining=plan.oop_family_remaining,
        ),
    ]
    if plan.out_of_network:
        lines.append(
            BenefitLine(
                "deductible", "30", "IND", in_network=False, amount=2 * plan.deductible_individual
            )
        )
    for service_type in per_type:
        auth = service_type in plan.auth_required
        note = "PRIOR AUTHORIZATION REQUIRED" if auth else None
        copay = plan.copays.get(service_type)
        if copay is not None:
            lines.append(
                BenefitLine("copay", service_type, amount=copay, auth_required=auth, message=note)
            )
        lines.append(
            BenefitLine("coinsurance", service_type, percent=plan.coinsurance, auth_required=auth)
        )
        if plan.out_of_network:
            lines.append(
                BenefitLine(
                    "coinsurance",
                    service_type,
                    in_network=False,
                    percent=plan.coinsurance + _OUT_OF_NETWORK_EXTRA,
                    auth_required=auth,
                )
            )
    return lines
