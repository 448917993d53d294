"""FHIR R4 Account → canonical Account, with the balances the EHR states on it.

Base R4 has no element for what an account owes (R5 adds ``Account.balance``). Two
extensions carry it, both read:

- the R5 cross-version extension ``http://hl7.org/fhir/5.0/StructureDefinition/
  extension-Account.balance`` (hl7.org/fhir/uv/xver-r5.r4): sub-extensions ``aggregate``
  (who pays: patient, insurance, total), ``term`` (current, 30, 60 ...), ``estimate``
  and ``amount`` (Money), as R5's ``Account.balance``;
- Oracle Health's ``https://fhir-ehr.cerner.com/r4/StructureDefinition/account-balance``
  (valueMoney), returned "only on statement, guarantor-balance and insurance-benefit
  types"; a ``guarantor-balance`` account is the self-pay balance account
  (fhir.cerner.com/millennium/r4/financial/general/account). Oracle names the account's
  type in ``type.text`` and links a guarantor-balance account to its encounter with the
  ``associated-encounter`` extension.

A balance that isn't in USD, or whose amount is missing or not a number, is left out
with a warning; amounts are built from the JSON number's text (``Decimal(str(value))``,
exact for any amount up to 15 significant digits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import (
    OBJECT,
    Ctx,
    as_bool,
    as_list,
    as_str,
    build,
    codeable_text,
    first_code,
    read_code,
    read_datetime,
    record_head,
)
from .model import Account
from .money_values import read_usd

__all__ = ["ORACLE_BALANCE", "ORACLE_ENCOUNTER", "R5_BALANCE", "map_account"]

R5_BALANCE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Account.balance"
ORACLE_BALANCE = "https://fhir-ehr.cerner.com/r4/StructureDefinition/account-balance"
ORACLE_ENCOUNTER = "https://fhir-ehr.cerner.com/r4/StructureDefinition/associated-encounter"
_STATUSES = frozenset({"active", "inactive", "entered-in-error", "on-hold", "unknown"})


def map_account(resource: Mapping[str, Any], ctx: Ctx) -> Account:
    fields = record_head(resource, ctx)
    fields["status"] = read_code(resource.get("status"), ctx, "status", _STATUSES)
    kind = resource.get("type")
    fields["type_code"] = first_code(kind) if isinstance(kind, OBJECT) else None
    fields["type_text"] = as_str(kind.get("text")) if isinstance(kind, OBJECT) else None
    if fields["type_text"] is None and isinstance(kind, OBJECT):
        fields["type_text"] = codeable_text(kind)
    fields["name"] = as_str(resource.get("name"))
    fields["patient_ids"] = _refs(resource.get("subject"), ctx, "subject", "Patient")
    guarantors: list[str] = []
    for i, guarantor in enumerate(as_list(resource.get("guarantor"))):
        if isinstance(guarantor, OBJECT):
            party = ctx.resolve(guarantor.get("party"))
            if party is not None and party[0] in ("Patient", "RelatedPerson", "Organization"):
                gid = ctx.ref_id(guarantor.get("party"), f"guarantor[{i}].party", party[0])
                if gid is not None:
                    guarantors.append(gid)
    fields["guarantor_ids"] = guarantors
    part_of = resource.get("partOf")
    fields["part_of_id"] = ctx.ref_id(part_of, "partOf", "Account") if part_of else None
    period = resource.get("servicePeriod")
    if isinstance(period, OBJECT):
        fields["service_period_start"] = read_datetime(
            period.get("start"), ctx, "servicePeriod.start"
        )
        fields["service_period_end"] = read_datetime(period.get("end"), ctx, "servicePeriod.end")
    balances: list[dict[str, Any]] = []
    encounters: list[str] = []
    for i, extension in enumerate(as_list(resource.get("extension"))):
        if not isinstance(extension, OBJECT):
            continue
        url = as_str(extension.get("url"))
        path = f"extension[{i}]"
        if url == R5_BALANCE:
            balance = _r5_balance(extension, ctx, path)
            if balance is not None:
                balances.append(balance)
        elif url == ORACLE_BALANCE:
            amount = _money(extension.get("valueMoney"), ctx, f"{path}.valueMoney")
            if amount is not None:
                balances.append({**amount, "origin": "oracle-health"})
        elif url == ORACLE_ENCOUNTER:
            gid = ctx.ref_id(extension.get("valueReference"), f"{path}.valueReference", "Encounter")
            if gid is not None:
                encounters.append(gid)
    fields["balances"] = balances
    fields["encounter_ids"] = encounters
    return build(Account, fields, ctx)


def _refs(raw: Any, ctx: Ctx, path: str, expected: str) -> list[str]:
    """Gateway ids of the references to ``expected`` records (others are skipped)."""
    out: list[str] = []
    for i, item in enumerate(as_list(raw)):
        parsed = ctx.resolve(item)
        if parsed is None or parsed[0] != expected:
            continue
        gid = ctx.ref_id(item, f"{path}[{i}]", expected)
        if gid is not None and gid not in out:
            out.append(gid)
    return out


def _r5_balance(extension: Mapping[str, Any], ctx: Ctx, path: str) -> dict[str, Any] | None:
    parts: dict[str, Mapping[str, Any]] = {}
    for part in as_list(extension.get("extension")):
        if isinstance(part, OBJECT):
            name = as_str(part.get("url"))
            if name is not None:
                parts.setdefault(name, part)
    amount_part = parts.get("amount")
    if amount_part is None:
        ctx.warn(path, "a balance without its amount; left out")
        return None
    amount = _money(amount_part.get("valueMoney"), ctx, f"{path}.amount.valueMoney")
    if amount is None:
        return None
    aggregate = parts.get("aggregate")
    term = parts.get("term")
    estimate = parts.get("estimate")
    return {
        **amount,
        "aggregate": first_code(aggregate.get("valueCodeableConcept")) if aggregate else None,
        "term": first_code(term.get("valueCodeableConcept")) if term else None,
        "estimate": as_bool(estimate.get("valueBoolean")) if estimate else None,
        "origin": "r5-cross-version",
    }


def _money(raw: Any, ctx: Ctx, path: str) -> dict[str, Any] | None:
    amount = read_usd(raw, ctx, path, "balance")
    if amount is None:
        return None
    return {"amount": amount, "currency": as_str(raw.get("currency"))}
