"""Correcting a patient's record in its EHR: the changes as a JSON Patch (RFC 6902, built
with the ``jsonpatch`` package) against the Patient as read, and the updated Patient
for servers that take a PUT. Both go out with If-Match on the version read.

Only what the desk changed moves: other telecoms, names, addresses, communications and
every element the gateway does not model are kept as they are. Where a change lands
(``PatientChanges`` says it too):
- a phone or email replaces the value (and use) of the first current contact point of
  that system with the same ``use`` (with no ``use``: the first current one), keeping
  its other parts; none there: it is added;
- an address replaces the first current address of its use (with no use: the first
  current one) as a whole, so no stale part of the old one survives; else it is added;
- a language becomes the preferred communication: an existing one of that code is
  marked preferred, others lose the mark;
- name parts replace those of the current name (official, else usual, else the first
  without a use or an end), and its ``text``, now stale, is dropped; with no name
  there, an official one is added.
"Current" means no ``period.end``. What the desk sends is validated with R4B; the
rest of the record is the EHR's and is left alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NamedTuple

import jsonpatch
from fhir.resources.R4B.patient import Patient as R4BPatient

from ..model import HumanName, PatientChanges
from ._elements import address, communication, contact_point, human_name, language_tag, strings
from ._rules import OutboundError, validated

__all__ = ["PatientUpdate", "patient_update"]

_NAME_RANK = {"official": 0, "usual": 1, None: 2}


class PatientUpdate(NamedTuple):
    """``patch``: RFC 6902 operations ([] when nothing changes); ``resource``: the
    updated Patient (for a PUT)."""

    patch: list[dict[str, Any]]
    resource: dict[str, Any]


def patient_update(current: Mapping[str, Any], changes: PatientChanges) -> PatientUpdate:
    """The patch and the updated Patient that apply ``changes`` to ``current``."""
    if not isinstance(current, Mapping) or current.get("resourceType") != "Patient":
        raise OutboundError("Patient.resourceType", "expected a Patient")
    if not isinstance(changes, PatientChanges):
        raise OutboundError("PatientChanges", "expected PatientChanges")
    before = copy.deepcopy(dict(current))
    after = copy.deepcopy(before)
    probe: dict[str, Any] = {"resourceType": "Patient"}
    for system, points, field in (
        ("phone", changes.phones, "phones"),
        ("email", changes.emails, "emails"),
    ):
        for i, point in enumerate(points):
            new = contact_point(point, system, f"PatientChanges.{field}[{i}]")
            probe.setdefault("telecom", []).append(_put_contact(after, new, point.use is not None))
    if changes.address is not None:
        new_address = address(changes.address, "PatientChanges.address")
        probe["address"] = [_put_address(after, new_address)]
    if changes.language is not None:
        language_tag(changes.language, "PatientChanges.language")
        probe["communication"] = [_put_language(after, changes.language.strip())]
    if any(
        part is not None for part in (changes.family, changes.given, changes.prefix, changes.suffix)
    ):
        probe["name"] = [_put_name(after, changes)]
    # What we wrote must be valid FHIR; what the EHR holds is its own business.
    validated(R4BPatient, probe)
    ops: list[dict[str, Any]] = jsonpatch.make_patch(before, after).patch
    return PatientUpdate(ops, after)


def _items(resource: dict[str, Any], key: str) -> list[Any]:
    """The list under ``key``, created when absent; a non-list there can't be patched."""
    value = resource.get(key)
    if value is None:
        resource[key] = value = []
    if not isinstance(value, list):
        raise OutboundError(f"Patient.{key}", "not a list in the record read; cannot update it")
    return value


def _current(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    period = item.get("period")
    return not (isinstance(period, dict) and period.get("end") is not None)


def _put_contact(resource: dict[str, Any], new: dict[str, Any], by_use: bool) -> dict[str, Any]:
    telecom = _items(resource, "telecom")
    for i, item in enumerate(telecom):
        if (
            _current(item)
            and item.get("system") == new["system"]
            and (not by_use or item.get("use") == new.get("use"))
        ):
            merged = {**item, **new}
            telecom[i] = merged
            return merged
    telecom.append(new)
    return new


def _put_address(resource: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    addresses = _items(resource, "address")
    use = new.get("use")
    for i, item in enumerate(addresses):
        if _current(item) and (use is None or item.get("use") == use):
            addresses[i] = new
            return new
    addresses.append(new)
    return new


def _put_language(resource: dict[str, Any], code: str) -> dict[str, Any]:
    items = _items(resource, "communication")
    found: dict[str, Any] | None = None
    for item in items:
        if not isinstance(item, dict):
            continue
        if found is None and code.lower() in _language_codes(item.get("language")):
            found = item
            item["preferred"] = True
        elif item.get("preferred") is True:
            item["preferred"] = False
    if found is None:
        found = communication(code, "PatientChanges.language")
        items.append(found)
    return found


def _language_codes(concept: Any) -> set[str]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return set()
    return {
        c["code"].strip().lower()
        for c in codings
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    }


def _rank(name: dict[str, Any]) -> int | None:
    """How good a candidate for "the current name" a name is (lower is better); None
    for nicknames, maiden and old names."""
    use = name.get("use")
    return _NAME_RANK.get(use) if use is None or isinstance(use, str) else None


def _put_name(resource: dict[str, Any], changes: PatientChanges) -> dict[str, Any]:
    names = _items(resource, "name")
    best: int | None = None
    for i, item in enumerate(names):
        if not _current(item):
            continue
        rank = _rank(item)
        if rank is not None and (best is None or rank < (_rank(names[best]) or 0)):
            best = i
    if best is None:
        name = human_name(
            HumanName(
                family=changes.family,
                given=changes.given or [],
                prefix=changes.prefix or [],
                suffix=changes.suffix or [],
            ),
            "PatientChanges",
            default_use="official",
        )
        names.append(name)
        return name
    name = dict(names[best])
    if changes.family is not None:
        family = changes.family.strip() if isinstance(changes.family, str) else ""
        if not family:
            raise OutboundError("PatientChanges.family", "must be non-empty text")
        name["family"] = family
    for key in ("given", "prefix", "suffix"):
        parts = getattr(changes, key)
        if parts is None:
            continue
        cleaned = strings(parts, f"PatientChanges.{key}")
        if cleaned:
            name[key] = cleaned
        else:
            name.pop(key, None)
    name.pop("text", None)  # the old words no longer match the parts
    if not name.get("family") and not name.get("given"):
        raise OutboundError("PatientChanges", "the name would have no family or given name")
    names[best] = name
    return name
