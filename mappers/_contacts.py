"""Contact routes shared by the person and place mappers: telecom split into phones and
emails, and the one current address."""

from __future__ import annotations

from typing import Any

from ._primitives import OBJECT, Ctx, as_list, as_str, has_end
from .names import read_strings

__all__ = ["read_address", "read_telecom"]

_ADDRESS_RANK = {"home": 0, None: 1, "temp": 2, "work": 3, "billing": 4}
_PHONE_SYSTEMS = frozenset({"phone", "sms"})


def read_telecom(raw: Any, ctx: Ctx) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(phones, emails) as model input: phone and sms are phones; fax, pager, url and
    other systems are not front-desk contact routes."""
    phones: list[dict[str, Any]] = []
    emails: list[dict[str, Any]] = []
    for i, item in enumerate(as_list(raw)):
        if not isinstance(item, OBJECT):
            ctx.warn(f"telecom[{i}]", "not an object")
            continue
        value = as_str(item.get("value"))
        if value is None:
            continue
        system = as_str(item.get("system"))
        point = {"system": system, "value": value, "use": as_str(item.get("use"))}
        if system in _PHONE_SYSTEMS:
            phones.append(point)
        elif system == "email":
            emails.append(point)
        elif system is None:
            ctx.warn(f"telecom[{i}].system", "missing; contact point skipped")
    return phones, emails


def read_address(raw: Any, ctx: Ctx, path: str = "address") -> dict[str, Any] | None:
    """The current home address, else the first current one (an Address or a list)."""
    best: dict[str, Any] | None = None
    best_rank = 1_000
    for i, item in enumerate(as_list(raw)):
        if not isinstance(item, OBJECT):
            ctx.warn(f"{path}[{i}]", "not an object")
            continue
        use = as_str(item.get("use"))
        rank = _ADDRESS_RANK.get(use, 5) + (10 if has_end(item.get("period")) else 0)
        if rank >= best_rank:
            continue
        address = {
            "line": read_strings(item.get("line")),
            "city": as_str(item.get("city")),
            "state": as_str(item.get("state")),
            "postal_code": as_str(item.get("postalCode")),
            "country": as_str(item.get("country")),
            "use": use,
        }
        if address["line"] or any(address[k] for k in ("city", "state", "postal_code")):
            best, best_rank = address, rank
    return best
