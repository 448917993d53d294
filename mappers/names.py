"""People's names: reading FHIR HumanNames leniently, and the one way a name is shown.

``read_names`` picks the current name, preferring ``use`` official, then usual, then
no use; a name whose ``period`` has an end, or whose use is old/maiden/nickname, only
wins when nothing better exists. Every other name is returned apart (kept for
matching), in upstream order. A name with only ``text`` is kept as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import OBJECT, Ctx, as_list, as_str, has_end
from .model import HumanName

__all__ = ["display_name", "read_names", "read_strings"]

_NAME_RANK = {"official": 0, "usual": 1, None: 2, "temp": 3, "anonymous": 4}
_NAME_RANK_LOW = 5  # nickname, maiden, old and unknown uses


def display_name(name: HumanName, *, with_prefix: bool = False) -> str:
    """A name as a desk shows it: given names then family ("Ana Maria Rivera"), with
    the prefixes first when asked ("Dr Ana Rivera"); ``text`` when there are no
    parts; "" when there is nothing at all."""
    parts = [*name.prefix] if with_prefix else []
    parts += name.given
    if name.family:
        parts.append(name.family)
    if name.given or name.family:
        return " ".join(p for p in parts if p)
    return name.text or ""


def read_names(raw: Any, ctx: Ctx) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(current name, other names) of a list of HumanNames, as model input."""
    names: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(as_list(raw)):
        if not isinstance(item, OBJECT):
            ctx.warn(f"name[{i}]", "not an object")
            continue
        name = _human_name(item, ctx, f"name[{i}]")
        if name is None:
            continue
        rank = _NAME_RANK.get(name["use"], _NAME_RANK_LOW)
        if has_end(item.get("period")):
            rank += 10
        names.append((rank, name))
    if not names:
        return None, []
    if len(names) == 1:
        return names[0][1], []
    best = min(range(len(names)), key=lambda k: names[k][0])
    return names[best][1], [n for k, (_, n) in enumerate(names) if k != best]


def _human_name(item: Mapping[str, Any], ctx: Ctx, path: str) -> dict[str, Any] | None:
    family_raw = item.get("family")
    family = as_str(family_raw)
    if family is None and isinstance(family_raw, list):
        # DSTU2 made family a list; some R4 servers still send one.
        parts = [p for p in (as_str(x) for x in family_raw) if p is not None]
        family = " ".join(parts) or None
        ctx.warn(f"{path}.family", "a list where a string was expected; joined")
    given, prefix, suffix = item.get("given"), item.get("prefix"), item.get("suffix")
    name = {
        "family": family,
        "given": read_strings(given) if given is not None else [],
        "prefix": read_strings(prefix) if prefix is not None else [],
        "suffix": read_strings(suffix) if suffix is not None else [],
        "text": as_str(item.get("text")),
        "use": as_str(item.get("use")),
    }
    if family is None and not name["given"] and name["text"] is None:
        ctx.warn(path, "no family, given or text; skipped")
        return None
    return name


def read_strings(raw: Any) -> list[str]:
    """The non-blank strings of a JSON array (or of a lone string), stripped."""
    if raw is None:
        return []
    return [x.strip() for x in as_list(raw) if isinstance(x, str) and x and not x.isspace()]
