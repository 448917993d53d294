"""Read X12 files with linuxforhealth-x12 and print, as JSON, what its models hold.

Runs in its own tool environment (.tools/x12: linuxforhealth-x12 needs pydantic 1,
frontdesk needs pydantic 2), never imported by frontdesk or its tests:

    .tools/x12/bin/python tests/support/x12_lfh/read_x12.py FILE...

Prints one JSON list, one item per file: ``{"file", "ok", "error", "transactions"}``.
A file the library refuses (not a valid 005010X279A1 270/271 by its models) has
``ok: false`` and the library's message. Each transaction lists the facts a front desk
reads, taken from the library's models as they are (no interpretation here): the
transaction set and version, payer and provider, and per subscriber (2000C) and
dependent (2000D) the name, member id, trace numbers, eligibility questions (EQ, 270)
or benefits (EB, 271) and AAA rejections, each AAA with the loop it sits in.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from linuxforhealth.x12.io import X12ModelReader


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _aaa(loop: Any, name: str) -> list[dict[str, Any]]:
    return [
        {"loop": name, "reason": a.reject_reason_code, "follow_up": a.follow_up_action_code}
        for a in _listed(getattr(loop, "aaa_segment", None))
    ]


def _number(value: Any) -> str | None:
    return None if value is None else str(Decimal(str(value)).normalize())


def _benefit(loop: Any) -> dict[str, Any]:
    eb = loop.eb_segment
    return {
        "code": eb.eligibility_benefit_information,
        "coverage_level": eb.coverage_level_code,
        "service_types": _listed(eb.service_type_code),
        "plan": eb.plan_coverage_description,
        "time_period": eb.time_period_qualifier,
        "amount": _number(eb.benefit_amount),
        "percent": _number(eb.benefit_percent),
        "authorization": eb.authorization_certification_indicator,
        "in_network": eb.inplan_network_indicator,
    }


def _member(hl_loop: Any, level: str, suffix: str) -> dict[str, Any]:
    name_loop = getattr(hl_loop, f"loop_2100{suffix}")
    nm1 = name_loop.nm1_segment
    dmg = getattr(name_loop, "dmg_segment", None)
    benefits_loops = _listed(getattr(name_loop, f"loop_2110{suffix}", None))
    aaa = _aaa(name_loop, f"2100{suffix.upper()}")
    benefits, questions = [], []
    for benefit_loop in benefits_loops:
        aaa += _aaa(benefit_loop, f"2110{suffix.upper()}")
        if getattr(benefit_loop, "eb_segment", None) is not None:
            benefits.append(_benefit(benefit_loop))
        for eq in _listed(getattr(benefit_loop, "eq_segment", None)):
            questions.extend(_listed(eq.service_type_code))
    return {
        "level": level,
        "last_name": nm1.name_last_or_organization_name,
        "first_name": nm1.name_first,
        "id_qualifier": nm1.identification_code_qualifier,
        "member_id": nm1.identification_code,
        "birth_date": str(dmg.date_time_period) if dmg is not None else None,
        "gender": dmg.gender_code if dmg is not None else None,
        "traces": [t.reference_identification_1 for t in _listed(hl_loop.trn_segment)],
        "service_types_asked": questions,
        "benefits": benefits,
        "aaa": aaa,
    }


def _transaction(model: Any) -> dict[str, Any]:
    st = model.header.st_segment
    out: dict[str, Any] = {
        "transaction_set": st.transaction_set_identifier_code,
        "version": st.implementation_convention_reference,
        "payers": [],
        "providers": [],
        "aaa": [],
        "members": [],
    }
    for a in _listed(model.loop_2000a):
        nm1 = a.loop_2100a.nm1_segment
        out["payers"].append(
            {"name": nm1.name_last_or_organization_name, "id": nm1.identification_code}
        )
        out["aaa"] += _aaa(a, "2000A") + _aaa(a.loop_2100a, "2100A")
        for b in _listed(a.loop_2000b):
            nm1 = b.loop_2100b.nm1_segment
            out["providers"].append(
                {
                    "name": nm1.name_last_or_organization_name,
                    "qualifier": nm1.identification_code_qualifier,
                    "id": nm1.identification_code,
                }
            )
            out["aaa"] += _aaa(b.loop_2100b, "2100B")
            for c in _listed(b.loop_2000c):
                out["members"].append(_member(c, "subscriber", "c"))
                for d in _listed(getattr(c, "loop_2000d", None)):
                    out["members"].append(_member(d, "dependent", "d"))
    return out


def read(path: str) -> dict[str, Any]:
    try:
        with X12ModelReader(path) as reader:
            transactions = [_transaction(m) for m in reader.models()]
    # The library's refusal is the answer, whatever its type (pydantic, KeyError ...).
    except Exception as exc:  # noqa: BLE001
        return {"file": path, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"file": path, "ok": True, "error": None, "transactions": transactions}


if __name__ == "__main__":
    json.dump([read(p) for p in sys.argv[1:]], sys.stdout)
