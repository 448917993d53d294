"""Dollars and cents: every amount the gateway computes or shows is a ``Decimal`` in USD.

Never a float: a float can't hold most cents exactly (0.1 + 0.2 != 0.3), and rounding a
float that sits just under a half cent rounds the wrong way (100.10 x 0.15 is 15.015, as a
float 15.01499..., which rounds to 15.01 where a cashier writes 15.02). Amounts are
rounded once per step, half up, to the cent; text and JSON carry them as strings.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["CENT", "ZERO", "cents", "parse_amount", "usd"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(amount: Decimal) -> Decimal:
    """``amount`` rounded to the cent, half up (what a bill says)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def usd(amount: Decimal) -> str:
    """``$1,234.50``: how a desk says an amount."""
    value = cents(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def parse_amount(value: object) -> Decimal | None:
    """An amount from text or a number as it was written, or None if it is not one.

    A float is read through its shortest repr, which is the text it was written as for
    any amount of up to 15 significant digits (YAML and ``json.loads`` make floats).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | float | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            return None
    else:
        return None
    return amount if amount.is_finite() else None
