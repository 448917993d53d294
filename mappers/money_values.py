"""An R4 Money as the desk's money: an exact Decimal in US dollars, or nothing (with a
warning naming the field, never its value)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ._primitives import OBJECT, Ctx, as_str

__all__ = ["read_usd"]


def read_usd(raw: Any, ctx: Ctx, path: str, what: str) -> Decimal | None:
    """``raw``'s amount when it is a finite number in USD (or with no currency); else
    None, warning that ``what`` was left out."""
    if not isinstance(raw, OBJECT):
        ctx.warn(path, f"not a Money; {what} left out")
        return None
    value = raw.get("value")
    amount: Decimal | None = None
    if isinstance(value, int | float | str | Decimal) and not isinstance(value, bool):
        try:
            # Through str: a JSON float read as its written digits, never binary rounding.
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite():
        ctx.warn(f"{path}.value", f"not a number; {what} left out")
        return None
    if as_str(raw.get("currency")) not in (None, "USD"):
        ctx.warn(f"{path}.currency", f"not USD; {what} left out")
        return None
    return amount
