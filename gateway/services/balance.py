"""What the patient owes, where the EHR tells it (its billing Accounts), through the source's
vendor profile (``connectors.profiles.BalanceRoute``):

- HAPI and plain R4 stores: the patient's Accounts, balances in the R5 cross-version
  ``Account.balance`` extension (the patient's share: ``aggregate`` patient);
- Oracle Health: the guarantor-balance (self-pay) accounts of the patient's encounters,
  with Oracle's ``account-balance`` extension;
- a profile without a route (Epic, generic): ``balance_unavailable`` with words the desk
  can say. (athenaOne keeps balances in its own API, not FHIR; Epic, MEDITECH, NextGen
  and eClinicalWorks publish no patient balance in their FHIR APIs.)

Never a made-up zero: no account, or accounts that state no self-pay balance, answer
"not known" in words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from connectors import UpstreamError
from connectors.profiles import BalanceRoute
from mappers import Account, MappingError
from mappers.model import AccountBalance

from ..money_schemas import BalanceOut
from ..sources import SourceHandle, TenantSources
from .errors import ServiceError
from .money import ZERO, cents, usd

__all__ = ["UNAVAILABLE", "BalanceUnavailable", "patient_balance"]

UNAVAILABLE = "this EHR doesn't share balances; check the billing system"
_MAX_ACCOUNTS = 100
_CLOSED = frozenset({"inactive", "entered-in-error"})


class BalanceUnavailable(ServiceError):
    code = "balance_unavailable"
    title = "This EHR doesn't share patient balances"


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def patient_balance(
    sources: TenantSources,
    patient_id: str,
    *,
    deadline_seconds: float,
    wall: Callable[[], datetime] = _utcnow,
) -> BalanceOut:
    handle, ref = sources.resolve(patient_id, "Patient", "patient")
    route = handle.client.profile.balance
    if route is None:
        raise BalanceUnavailable(
            UNAVAILABLE, extra={"source": handle.id, "vendor": handle.client.profile.name}
        )
    async with asyncio.timeout(deadline_seconds):
        if route.search == "encounter":
            accounts, partial = await _by_encounter(handle, route, ref.id)
        else:
            accounts = await handle.search_mapped(
                "Account",
                {"patient": f"Patient/{ref.id}", "_count": "50"},
                Account,
                limit=_MAX_ACCOUNTS,
            )
            partial = len(accounts) >= _MAX_ACCOUNTS
    return _answer(patient_id, handle.id, accounts, route, partial, wall())


async def _by_encounter(
    handle: SourceHandle, route: BalanceRoute, patient: str
) -> tuple[list[Account], bool]:
    encounters: list[str] = []
    async for resource in handle.client.search(
        "Encounter",
        {"patient": f"Patient/{patient}", "_count": str(route.max_encounters)},
        max_resources=route.max_encounters,
    ):
        rid = resource.get("id")
        if isinstance(rid, str) and rid:
            encounters.append(rid)

    async def one(encounter: str) -> list[Account]:
        params = {route.encounter_param: encounter}
        if route.account_type:
            params["type"] = route.account_type
        return await handle.search_mapped("Account", params, Account, limit=_MAX_ACCOUNTS)

    found = await asyncio.gather(*(one(e) for e in encounters), return_exceptions=True)
    accounts: list[Account] = []
    partial = len(encounters) >= route.max_encounters
    for outcome in found:
        if isinstance(outcome, UpstreamError | MappingError):
            partial = True
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            accounts.extend(outcome)
    return accounts, partial


def _self_pay(account: Account, balance: AccountBalance, route: BalanceRoute) -> bool:
    if balance.estimate:
        return False
    if balance.origin == "r5-cross-version":
        return balance.aggregate == "patient"
    # Oracle's extension is the account's own balance: self-pay only on the self-pay
    # (guarantor-balance) accounts; statements repeat it, insurance balances aren't it.
    return (account.type_text or "").lower() == (route.account_type or "guarantor-balance")


def _answer(
    patient_id: str,
    source: str,
    accounts: list[Account],
    route: BalanceRoute,
    partial: bool,
    now: datetime,
) -> BalanceOut:
    seen: dict[str, Account] = {a.id: a for a in accounts}
    open_accounts = [a for a in seen.values() if a.status not in _CLOSED]
    owed: list[AccountBalance] = [
        b for a in open_accounts for b in a.balances if _self_pay(a, b, route)
    ]
    origins = {b.origin for b in owed}
    read_from = "none" if not origins else (origins.pop() if len(origins) == 1 else "mixed")
    amount: Decimal | None = None
    if not seen:
        says = "no billing account for this patient in the EHR: check the billing system"
    elif not owed:
        says = (
            "the EHR's billing accounts for this patient state no self-pay balance: check "
            "the billing system"
        )
    else:
        amount = cents(sum((b.amount for b in owed), ZERO))
        says = f"the patient owes {usd(amount)} (self-pay balance in the EHR)"
        if partial:
            says += "; not every account could be read, so it may be more"
    return BalanceOut(
        patient_id=patient_id,
        source=source,
        self_pay_balance=amount,
        says=says,
        accounts=len(seen),
        read_from=read_from,
        partial=partial,
        as_of=now,
    )
