"""The member table the seed data implies: every seeded Coverage is a card the payer knows.

Reads `simulators.seed.build_resources` for each EHR profile (the same function that
fills the sandbox EHRs), so the payer and the EHRs agree on payer ids, member ids,
names and birth dates without sharing state. A card seen in both EHRs (a shared
patient) is one member whose names from both registrations are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from simulators.payer.members import Member, derive_benefits

__all__ = ["SEED_PROFILES", "seed_members", "seed_payers"]

SEED_PROFILES = ("ehr-a", "ehr-b")
_PAYER_ID_SYSTEM = "urn:frontdesk:payer-id"


def seed_payers() -> dict[str, str]:
    """Payer id → name for every payer the seed data uses."""
    from simulators.seed.catalog import PAYERS

    return {payer.payer_id: payer.name for payer in PAYERS}


def seed_members(
    *, seed: int | None = None, today: date | None = None, profiles: Iterable[str] = SEED_PROFILES
) -> Iterator[Member]:
    """One Member per seeded Coverage, in a stable order (profile, then resource order)."""
    from simulators.seed import DEFAULT_SEED, build_resources

    for profile in profiles:
        resources = build_resources(
            profile, seed=DEFAULT_SEED if seed is None else seed, today=today
        )
        patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
        for resource in resources:
            if resource["resourceType"] == "Coverage":
                member = _member(resource, patients)
                if member is not None:
                    yield member


def _member(
    coverage: Mapping[str, Any], patients: Mapping[str, Mapping[str, Any]]
) -> Member | None:
    beneficiary = str(coverage.get("beneficiary", {}).get("reference", "")).removeprefix("Patient/")
    patient = patients.get(beneficiary)
    member_id = _member_id(coverage)
    payer_id = _payer_id(coverage)
    if patient is None or member_id is None or payer_id is None:
        return None
    last, first = _official_name(patient)
    plan, group, group_name = _classes(coverage)
    period = coverage.get("period") or {}
    subscriber_id = coverage.get("subscriberId")
    born = patient.get("birthDate")
    return Member(
        payer_id=payer_id,
        member_id=member_id,
        last_name=last,
        first_name=first,
        birth_date=date.fromisoformat(born) if isinstance(born, str) else None,
        gender=patient.get("gender"),
        plan_name=plan or "STANDARD PLAN",
        group_number=group,
        group_name=group_name,
        coverage_start=date.fromisoformat(period.get("start", "2000-01-01")),
        coverage_end=date.fromisoformat(period["end"]) if period.get("end") else None,
        terminated=coverage.get("status") == "cancelled",
        subscriber_id=subscriber_id if subscriber_id and subscriber_id != member_id else None,
        benefits=derive_benefits(payer_id, member_id, plan or ""),
    )


def _member_id(coverage: Mapping[str, Any]) -> str | None:
    for ident in coverage.get("identifier") or ():
        codes = {c.get("code") for c in (ident.get("type") or {}).get("coding", ())}
        if "MB" in codes and ident.get("value"):
            return str(ident["value"])
    subscriber = coverage.get("subscriberId")
    return str(subscriber) if subscriber else None


def _payer_id(coverage: Mapping[str, Any]) -> str | None:
    for payor in coverage.get("payor") or ():
        ident = payor.get("identifier") or {}
        if ident.get("system") == _PAYER_ID_SYSTEM and ident.get("value"):
            return str(ident["value"])
    return None


def _official_name(patient: Mapping[str, Any]) -> tuple[str, str]:
    names = patient.get("name") or [{}]
    chosen = next((n for n in names if n.get("use") == "official"), names[0])
    given = chosen.get("given") or [""]
    return str(chosen.get("family", "")), str(given[0])


def _classes(coverage: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    plan = group = group_name = None
    for cls in coverage.get("class") or ():
        codes = {c.get("code") for c in (cls.get("type") or {}).get("coding", ())}
        if "plan" in codes:
            plan = cls.get("name") or cls.get("value")
        elif "group" in codes:
            group, group_name = cls.get("value"), cls.get("name")
    return plan, group, group_name
