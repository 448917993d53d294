"""Rules of the API that JSON Schema can't state, taught to schemathesis's generators.

The OpenAPI document states every shape and bound it can (``gateway.params``); what
is left is a relation between parameters (``end`` after ``start``, "identifier, family
or phone", "patient_id or member details") or arithmetic (an NPI's check digit). Each
operation's description says these rules in words; here generated requests are made to
follow them, so a request schemathesis counts as valid is valid. Only cases the schema
calls valid are touched, and only into other values the schema also allows.

Loaded by ``tests/unit/gateway/test_openapi_contract.py`` through SCHEMATHESIS_HOOKS.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import schemathesis
from schemathesis import GenerationMode

VALID_NPI = "1234567893"


def _positive(case: Any) -> bool:
    """Only cases generated as valid are made to follow the rules: a case meant to break
    the schema must stay broken."""
    meta = getattr(case, "meta", None)
    generation = getattr(meta, "generation", None)
    return generation is None or generation.mode == GenerationMode.POSITIVE


def _query(case: Any) -> dict[str, Any]:
    if case.query is None:
        case.query = {}
    query: dict[str, Any] = case.query
    return query


def _range_within_limits(ctx: Any, case: Any) -> Any:
    """``end`` after ``start`` and at most the tenant's longest range later."""
    if not _positive(case):
        return case
    query = _query(case)
    start, end = query.get("start"), query.get("end")
    if isinstance(start, str) and isinstance(end, str):
        # A date alone as end includes that day: the same date is a one-day range.
        query["end"] = start[:10]
        if "T" in start:
            del query["end"]
    return case


def _patient_or_day(ctx: Any, case: Any) -> Any:
    if not _positive(case):
        return case
    query = _query(case)
    if query.get("patient"):
        query.pop("date", None)
        # Whole days: the range is valid whatever wall-clock time start named.
        query["start"] = str(query.get("start") or "2026-12-01")[:10]
        query["end"] = query["start"]
    elif not query.get("date"):
        query["date"] = "2026-12-07"
    return case


def _from_to_within_limits(ctx: Any, case: Any) -> Any:
    """``to`` after ``from``, at most the tenant's longest range later: whole days."""
    if not _positive(case):
        return case
    query = _query(case)
    if isinstance(query.get("from"), str):
        query["from"] = query["from"][:10]
        query["to"] = query["from"]
    return case


def _searchable(ctx: Any, case: Any) -> Any:
    """Identifier, family or phone; given only with family."""
    if not _positive(case):
        return case
    query = _query(case)
    if not any(query.get(k) for k in ("identifier", "family", "phone")) or (
        query.get("given") and not query.get("family")
    ):
        query["family"] = "Garcia"
    return case


def _name_or_specialty(ctx: Any, case: Any) -> Any:
    if not _positive(case):
        return case
    query = _query(case)
    if not (query.get("name") or query.get("specialty")):
        query["name"] = "Rivera"
    return case


def _one_way_to_name_the_patient(ctx: Any, case: Any) -> Any:
    """patient_id, or member_id + payer_id + first and last name + birth date; a provider
    NPI's last digit is its check digit."""
    if not _positive(case):
        return case
    body = case.body
    if not isinstance(body, dict):
        return case
    member = ("member_id", "payer_id", "first_name", "last_name", "birth_date")
    if body.get("patient_id"):
        for name in member:
            body.pop(name, None)
    else:
        defaults = {
            "member_id": "SIM-ACTIVE-1",
            "payer_id": "SIMPAYER",
            "first_name": "Jane",
            "last_name": "Doe",
            "birth_date": "1980-01-15",
        }
        for name, value in defaults.items():
            if not body.get(name):
                body[name] = value
    if body.get("provider_npi"):
        body["provider_npi"] = VALID_NPI
    return case


# schemathesis.hook is untyped: registered here, not as decorators, to keep the functions typed.
def _coverage_rules(ctx: Any, case: Any) -> Any:
    """Insurance names a payer and member id, or is self-pay; a period ends after it
    starts."""
    if not _positive(case):
        return case
    body = case.body
    if isinstance(body, dict):
        if not body.get("self_pay") and not (body.get("payer_id") and body.get("member_id")):
            body["self_pay"] = True
        start, end = body.get("period_start"), body.get("period_end")
        if isinstance(start, str) and isinstance(end, str) and end < start:
            body["period_end"] = start
    return case


def _days_ahead(ctx: Any, case: Any) -> Any:
    """A patient waits for days to come: earliest first, latest not yet past, within a
    year."""
    if not _positive(case):
        return case
    body = case.body
    if isinstance(body, dict) and "earliest" in body:
        today = date.today()
        body["earliest"] = (today + timedelta(days=1)).isoformat()
        body["latest"] = (today + timedelta(days=30)).isoformat()
    return case


_hook: Any = schemathesis.hook
_hook("map_case").apply_to(operation_id=["findSlots", "listAppointments"])(_range_within_limits)
_hook("map_case").apply_to(operation_id="listAppointments")(_patient_or_day)
_hook("map_case").apply_to(operation_id="searchPatients")(_searchable)
_hook("map_case").apply_to(operation_id="searchPractitioners")(_name_or_specialty)
_hook("map_case").apply_to(operation_id="checkCoverage")(_one_way_to_name_the_patient)
_hook("map_case").apply_to(operation_id="patientConflicts")(_from_to_within_limits)
_hook("map_case").apply_to(operation_id="addPatientCoverage")(_coverage_rules)
_hook("map_case").apply_to(operation_id="joinWaitlist")(_days_ahead)
