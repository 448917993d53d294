"""FHIR R4 Invoice → canonical Invoice: who is billed, when, and the totals.

``subject`` (a Patient) is the patient; ``totalNet`` and ``totalGross`` are read as exact
Decimals from the JSON number's text; a total in another currency than USD is left out
with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ._primitives import OBJECT, Ctx, as_str, build, read_code, read_datetime, record_head
from .model import Invoice

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
    if raw is None:
        return None
    if not isinstance(raw, OBJECT):
        ctx.warn(path, "not a Money; left out")
        return None
    value = raw.get("value")
    amount: Decimal | None = None
    if isinstance(value, int | float | str | Decimal) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite():
        ctx.warn(f"{path}.value", "not a number; left out")
        return None
    if as_str(raw.get("currency")) not in (None, "USD"):
        ctx.warn(f"{path}.currency", "not USD; left out")
        return None
    return amount
