"""Account → canonical Account: balances from the R5 cross-version extension and from
Oracle Health's account-balance extension, in Decimal dollars."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from mappers import Account, decode_id, from_bundle, from_fhir

SHAPES = Path(__file__).parents[2] / "fixtures" / "fhir" / "vendor-shapes"


def test_r5_cross_version_balances_with_who_pays_and_their_term() -> None:
    resource = json.loads((SHAPES / "account-r5-balance.json").read_text())
    account = from_fhir(resource, source="ehr-a", expect=Account)
    assert account.status == "active"
    assert account.type_code == "PBILLACCT"
    assert [decode_id(p).id for p in account.patient_ids] == ["p-1001"]
    assert [decode_id(g).id for g in account.guarantor_ids] == ["p-1001"]
    patient, insurance = account.balances
    assert (patient.aggregate, patient.term, patient.estimate) == ("patient", "current", False)
    assert patient.amount == Decimal("125.4")
    assert (insurance.aggregate, insurance.amount) == ("insurance", Decimal("880.0"))
    assert {b.origin for b in account.balances} == {"r5-cross-version"}
    # The EUR balance is left out, with a warning that names the field, not the value.
    assert any("currency: not USD" in w for w in account.warnings)


def test_oracle_guarantor_balance_accounts() -> None:
    page = from_bundle(
        json.loads((SHAPES / "account-oracle-guarantor-balance.json").read_text()),
        source="ehr-o",
    )
    first, second = page
    assert isinstance(first, Account) and isinstance(second, Account)
    assert first.type_text == "guarantor-balance"
    assert [b.amount for b in first.balances] == [Decimal("312.45")]
    assert first.balances[0].origin == "oracle-health" and first.balances[0].aggregate is None
    assert [decode_id(e).id for e in first.encounter_ids] == ["97310045"]
    assert first.part_of_id is not None and decode_id(first.part_of_id).id == "F4400918"
    # A balance written as a string is still an exact amount.
    assert second.balances[0].amount == Decimal("0.00")


def test_unusable_balances_are_left_out_with_a_warning() -> None:
    account = from_fhir(
        {
            "resourceType": "Account",
            "id": "a1",
            "status": "active",
            "extension": [
                {
                    "url": "https://fhir-ehr.cerner.com/r4/StructureDefinition/account-balance",
                    "valueMoney": {"value": "lots"},
                },
                {
                    "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Account.balance",
                    "extension": [{"url": "term", "valueCodeableConcept": {"text": "current"}}],
                },
                {
                    "url": "https://fhir-ehr.cerner.com/r4/StructureDefinition/account-balance",
                    "valueMoney": {"value": True},
                },
            ],
            "subject": [{"reference": "Device/d1"}, {"reference": "Patient/p1"}],
        },
        source="ehr-a",
        expect=Account,
    )
    assert account.balances == []
    assert len(account.warnings) == 3
    assert [decode_id(p).id for p in account.patient_ids] == ["p1"]
