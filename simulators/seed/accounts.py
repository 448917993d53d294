"""Billing accounts for the sandbox EHRs: some patients owe the hospital something.

About one patient in six of each EHR gets a patient billing account stating, with the R5
cross-version ``Account.balance`` extension, what the patient owes and what insurance
still owes; the amounts are drawn from the seed, so every run gives the same balances.
Kept apart from the seed's transactions (``generator``): a validating FHIR server
without the cross-version extension package refuses the extension's URL, and the HAPI
servers validate whole transactions. The sandbox loads these after the seed.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any

from simulators.seed.people import DEFAULT_SEED, roster

__all__ = ["R5_BALANCE", "build_account_bundle", "build_accounts"]

R5_BALANCE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Account.balance"
_SHARE = 6  # one patient in this many owes something


def _balance(who: str, amount: Decimal) -> dict[str, Any]:
    return {
        "url": R5_BALANCE,
        "extension": [
            {
                "url": "aggregate",
                "valueCodeableConcept": {
                    "coding": [{"system": "http://hl7.org/fhir/account-aggregate", "code": who}]
                },
            },
            {
                "url": "term",
                "valueCodeableConcept": {
                    "coding": [
                        {"system": "http://hl7.org/fhir/account-balance-term", "code": "current"}
                    ]
                },
            },
            {"url": "estimate", "valueBoolean": False},
            # FHIR JSON decimals are numbers; the text of a two-decimal amount is exact.
            {"url": "amount", "valueMoney": {"value": float(amount), "currency": "USD"}},
        ],
    }


def build_accounts(profile_name: str, *, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    rng = random.Random(f"frontdesk-seed:{seed}:accounts:{profile_name}")
    out: list[dict[str, Any]] = []
    for reg in roster(seed).registrations[profile_name]:
        if rng.randrange(_SHARE) != 0:
            continue
        owes = Decimal(rng.randrange(500, 90_000)) / 100
        extensions = [_balance("patient", owes)]
        if rng.random() < 0.5:
            extensions.append(_balance("insurance", Decimal(rng.randrange(0, 250_000)) / 100))
        out.append(
            {
                "resourceType": "Account",
                "id": f"acct-{reg.patient_id}",
                "extension": extensions,
                "status": "active",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                            "code": "PBILLACCT",
                            "display": "patient billing account",
                        }
                    ]
                },
                "name": "Patient billing account",
                "subject": [{"reference": f"Patient/{reg.patient_id}"}],
                "guarantor": [{"party": {"reference": f"Patient/{reg.patient_id}"}}],
            }
        )
    return out


def build_account_bundle(profile_name: str, *, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """The accounts as one transaction of PUTs (stable ids: loading twice changes nothing)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:"
                + str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"urn:frontdesk:seed:{profile_name}:{a['id']}")
                ),
                "resource": a,
                "request": {"method": "PUT", "url": f"Account/{a['id']}"},
            }
            for a in build_accounts(profile_name, seed=seed)
        ],
    }
