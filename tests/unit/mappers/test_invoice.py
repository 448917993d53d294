"""Invoice → canonical Invoice: the patient billed and the totals, exact."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from mappers import Invoice, decode_id, from_fhir

SHAPES = Path(__file__).parents[2] / "fixtures" / "fhir" / "vendor-shapes"


def test_an_invoice_names_its_patient_and_totals() -> None:
    resource = json.loads((SHAPES / "invoice-patient.json").read_text())
    invoice = from_fhir(resource, source="ehr-a", expect=Invoice)
    assert invoice.status == "issued"
    assert invoice.patient_id is not None and decode_id(invoice.patient_id).id == "p-1001"
    assert invoice.total_net == Decimal("612.4") and invoice.total_gross == Decimal("612.4")
    assert invoice.date is not None and invoice.date.utcoffset() is not None


def test_totals_that_are_not_usd_dollars_are_left_out() -> None:
    invoice = from_fhir(
        {
            "resourceType": "Invoice",
            "id": "i2",
            "status": "issued",
            "totalNet": {"value": "12,00", "currency": "USD"},
            "totalGross": {"value": 10, "currency": "CAD"},
        },
        source="ehr-a",
        expect=Invoice,
    )
    assert (invoice.total_net, invoice.total_gross) == (None, None)
    assert len(invoice.warnings) == 2
