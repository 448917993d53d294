"""FHIR R4 Invoice → canonical Invoice: who is billed, when, and the totals.

``subject`` (a Patient) is the patient; ``totalNet`` and ``totalGross`` are read as exact
Decimals from the JSON number's text; a total in another currency than USD is left out
with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ._primitives import Ctx, build, read_code, read_datetime, record_head
from .model import Invoice
from .money_values import read_usd

__all__ = ["map_invoice"]

_STATUSES = frozenset({"draft", "issued", "balanced", "cancelled", "entered-in-error"})


def map_invoice(resource: Mapping[str, Any], ctx: Ctx) -> Invoice:
    fields = record_head(resource, ctx)
    fields["status"] = read_code(resource.get("status"), ctx, "status", _STATUSES)
    subject = resource.get("subject")
    fields["patient_id"] = ctx.ref_id(subject, "subject", "Patient") if subject else None
    fields["date"] = read_datetime(resource.get("date"), ctx, "date")
    fields["total_net"] = _total(resource.get("totalNet"), ctx, "totalNet")
    fields["total_gross"] = _total(resource.get("totalGross"), ctx, "totalGross")
    return build(Invoice, fields, ctx)


def _total(raw: Any, ctx: Ctx, path: str) -> Decimal | None:
    return None if raw is None else read_usd(raw, ctx, path, "total")
