"""Dispatch: one FHIR resource → one canonical record; a Bundle → a MappedBundle.

``from_fhir`` and ``from_bundle`` are the public entry points (DESIGN.md). They
raise only ``MappingError``: the resource mappers are written not to raise
anything else, and the dispatch wraps any other exception as a last line of
defence, without the original message (it may quote upstream values, i.e. PHI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from ._primitives import OBJECT, Ctx, EntryIndex, as_list, as_str
from .account import map_account
from .appointment import map_appointment
from .coverage import map_coverage
from .eligibility import map_coverage_eligibility_response
from .errors import MappingError
from .healthcare_service import map_healthcare_service
from .invoice import map_invoice
from .location import map_location
from .model import CanonicalRecord
from .organization import map_organization
from .patient import map_patient
from .practitioner import map_practitioner
from .practitioner_role import map_practitioner_role
from .schedule import map_schedule
from .slot import map_slot

__all__ = [
    "SUPPORTED_TYPES",
    "MappedBundle",
    "entries_of",
    "from_bundle",
    "from_fhir",
    "map_entry",
    "page_head",
]

_R = TypeVar("_R", bound=CanonicalRecord)

_Mapper = Callable[[Mapping[str, Any], Ctx], CanonicalRecord]
_MAPPERS: dict[str, _Mapper] = {
    "Patient": map_patient,
    "Schedule": map_schedule,
    "Slot": map_slot,
    "Appointment": map_appointment,
    "Coverage": map_coverage,
    "CoverageEligibilityResponse": map_coverage_eligibility_response,
    "Practitioner": map_practitioner,
    "Organization": map_organization,
    "Location": map_location,
    "PractitionerRole": map_practitioner_role,
    "HealthcareService": map_healthcare_service,
    "Account": map_account,
    "Invoice": map_invoice,
}
SUPPORTED_TYPES = frozenset(_MAPPERS)
# Upstream text copied into warnings (OperationOutcome diagnostics) is capped.
_MAX_TEXT = 300


class MappedBundle(list[CanonicalRecord]):
    """The records of one Bundle page, in entry order, plus what the page said about itself.

    The list holds the matches (``search.mode`` "match" or no mode). Resources
    that came with ``search.mode`` "include" (``_include``/``_revinclude``) are in
    ``included``, apart, so counting or paging over matches stays right while
    callers can still join, e.g. a Slot's Schedule.

    - ``warnings``: Bundle-level problems: OperationOutcome issues
      ("<severity> <code>: <diagnostics>"), skipped unsupported or unusable
      entries (with their path ``Bundle.entry[i].resource.<field>``). Each
      record also carries its own ``warnings``.
    - ``total``: ``Bundle.total`` when the server sent it.
    - ``next_link``: the URL of the ``next`` link, for paging.
    """

    def __init__(
        self,
        records: Iterable[CanonicalRecord] = (),
        *,
        included: Iterable[CanonicalRecord] = (),
        warnings: Iterable[str] = (),
        total: int | None = None,
        next_link: str | None = None,
    ) -> None:
        super().__init__(records)
        self.included: list[CanonicalRecord] = list(included)
        self.warnings: list[str] = list(warnings)
        self.total = total
        self.next_link = next_link

    @overload
    def get(self, gateway_id: str | None) -> CanonicalRecord | None: ...

    @overload
    def get(self, gateway_id: str | None, expect: type[_R]) -> _R | None: ...

    def get(self, gateway_id: str | None, expect: type[Any] | None = None) -> Any:
        """The record with this gateway id, included or matched (a Slot's Schedule:
        ``page.get(slot.schedule_id, Schedule)``); None when absent or, with
        ``expect``, of another kind. A scan: for many look-ups, use ``by_id()``."""
        if gateway_id is None:
            return None
        for record in (*self.included, *self):
            if getattr(record, "id", None) == gateway_id:
                return record if expect is None or isinstance(record, expect) else None
        return None

    def by_id(self) -> dict[str, CanonicalRecord]:
        """Every record of the page, included and matched, by gateway id (built once per
        call: look many references up in it)."""
        out: dict[str, CanonicalRecord] = {}
        for record in (*self, *self.included):
            rid = getattr(record, "id", None)
            if isinstance(rid, str):
                out.setdefault(rid, record)
        return out

    def __repr__(self) -> str:
        return (
            f"MappedBundle({len(self)} records, {len(self.included)} included, "
            f"{len(self.warnings)} warnings, total={self.total})"
        )


@overload
def from_fhir(resource: Mapping[str, Any], *, source: str) -> CanonicalRecord: ...


@overload
def from_fhir(resource: Mapping[str, Any], *, source: str, expect: type[_R]) -> _R: ...


def from_fhir(
    resource: Mapping[str, Any], *, source: str, expect: type[Any] | None = None
) -> CanonicalRecord:
    """One canonical record for a FHIR R4 resource, chosen by its ``resourceType``.

    With ``expect`` (e.g. ``Slot``), any other kind of record is a ``MappingError`` too,
    and the result is typed as that record.
    """
    if not isinstance(resource, OBJECT):
        raise MappingError("resource", "not a JSON object")
    rtype = resource.get("resourceType")
    if rtype is None:
        raise MappingError("resourceType", "missing")
    mapper = _MAPPERS.get(rtype) if isinstance(rtype, str) else None
    if mapper is None:
        raise MappingError("resourceType", f"unsupported resource type {_safe_type(rtype)}")
    record = _map(mapper, resource, rtype, source)
    if expect is not None and not isinstance(record, expect):
        raise MappingError("resourceType", f"expected a resource mapping to {expect.__name__}")
    return record


def from_bundle(bundle: Mapping[str, Any], *, source: str) -> MappedBundle:
    """The records of a FHIR R4 Bundle; one unusable entry is skipped, not fatal.

    Entries without a resource id are named from their ``fullUrl`` (``mappers.local_ids``);
    references to other entries by fullUrl (``urn:uuid:...``, absolute URLs) resolve to
    those entries, as FHIR R4 Bundle "Resolving references in Bundles" says.
    """
    entries = entries_of(bundle, "Bundle")
    index = EntryIndex()
    index.add(entries)
    out = page_head(bundle, "Bundle")
    for i, entry in enumerate(entries):
        map_entry(entry, f"Bundle.entry[{i}]", source, out, index)
    return out


def entries_of(bundle: Any, path: str) -> list[Any]:
    """The entry list of a Bundle; MappingError (at ``path``) for what is not a Bundle."""
    if not isinstance(bundle, OBJECT):
        raise MappingError(path, "not a JSON object")
    if bundle.get("resourceType") != "Bundle":
        raise MappingError(f"{path}.resourceType", "not a Bundle")
    return as_list(bundle.get("entry"))


def page_head(bundle: Mapping[str, Any], path: str) -> MappedBundle:
    out = MappedBundle(total=_total(bundle), next_link=_next_link(bundle.get("link")))
    if bundle.get("total") is not None and out.total is None:
        out.warnings.append(f"{path}.total: not a non-negative integer; dropped")
    return out


def map_entry(entry: Any, path: str, source: str, out: MappedBundle, index: EntryIndex) -> None:
    if not isinstance(entry, OBJECT):
        out.warnings.append(f"{path}: not an object; skipped")
        return
    resource = entry.get("resource")
    if not isinstance(resource, OBJECT):
        out.warnings.append(f"{path}.resource: missing or not an object; skipped")
        return
    rtype = resource.get("resourceType")
    if rtype == "OperationOutcome":
        out.warnings.extend(_outcome_warnings(resource, path))
        return
    mapper = _MAPPERS.get(rtype) if isinstance(rtype, str) else None
    if mapper is None or not isinstance(rtype, str):
        reason = "missing" if rtype is None else f"unsupported type {_safe_type(rtype)}"
        out.warnings.append(f"{path}.resource.resourceType: {reason}; skipped")
        return
    full_url = entry.get("fullUrl")
    ctx = Ctx(source, rtype, full_url if isinstance(full_url, str) else None, index)
    try:
        record = mapper(resource, ctx)
    except MappingError as exc:
        tail = exc.path[len(rtype) :] if exc.path.startswith(rtype) else f".{exc.path}"
        out.warnings.append(f"{path}.resource{tail}: {exc.reason}; skipped")
        return
    except Exception as exc:  # noqa: BLE001 - last line of defence: only MappingError leaves
        # The message is dropped on purpose (pydantic errors quote input values).
        out.warnings.append(f"{path}.resource: unreadable ({type(exc).__name__}); skipped")
        return
    search = entry.get("search")
    if isinstance(search, OBJECT) and search.get("mode") == "include":
        out.included.append(record)
    else:
        out.append(record)


def _map(mapper: _Mapper, resource: Mapping[str, Any], rtype: str, source: str) -> CanonicalRecord:
    return _run(mapper, resource, Ctx(source, rtype))


def _run(mapper: _Mapper, resource: Mapping[str, Any], ctx: Ctx) -> CanonicalRecord:
    try:
        return mapper(resource, ctx)
    except MappingError:
        raise
    except Exception as exc:  # noqa: BLE001 - last line of defence: only MappingError leaves
        # The message is dropped on purpose (pydantic errors quote input values).
        raise MappingError(ctx.resource_type, f"unreadable ({type(exc).__name__})") from None


def _outcome_warnings(resource: Mapping[str, Any], path: str) -> list[str]:
    out: list[str] = []
    for issue in as_list(resource.get("issue")):
        if not isinstance(issue, OBJECT):
            continue
        severity = as_str(issue.get("severity")) or "unknown"
        code = as_str(issue.get("code")) or "unknown"
        details = issue.get("details")
        text = as_str(issue.get("diagnostics"))
        if text is None and isinstance(details, OBJECT):
            text = as_str(details.get("text"))
        message = f"{path} OperationOutcome: {severity} {code}"
        if text is not None:
            message += f": {text[:_MAX_TEXT]}"
        out.append(message)
    if not out:
        out.append(f"{path} OperationOutcome: no issues")
    return out


def _total(bundle: Mapping[str, Any]) -> int | None:
    total = bundle.get("total")
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    return None


def _next_link(raw: Any) -> str | None:
    for link in as_list(raw):
        if isinstance(link, OBJECT) and link.get("relation") == "next":
            url = as_str(link.get("url"))
            if url is not None:
                return url
    return None


def _safe_type(rtype: Any) -> str:
    """A resource type name fit for a message: only when it looks like one."""
    if isinstance(rtype, str) and 0 < len(rtype) <= 64 and rtype.isascii() and rtype.isalpha():
        return rtype
    return "(unrecognised)"
