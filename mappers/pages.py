"""The pages of one search, mapped together.

A search with ``_include`` comes back as several Bundle pages, and a page's included
resources serve the matches of any page: Oracle Health spreads a Slot search with
``_include=Slot:schedule`` over pages, each with its own ``search.mode = include``
entries (docs.oracle.com .../mfrap/op-slot-get.html). ``from_bundle_pages`` maps the
pages as one result: every page's entries are indexed by fullUrl first, so a
reference on one page to an entry of another resolves too; the matches keep their
order (a match repeated on a later page, as paging under concurrent change can do, is
kept once); included records are indexed by gateway id, the first copy winning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, overload

from ._primitives import OBJECT, EntryIndex
from .bundle import MappedBundle, entries_of, map_entry, page_head
from .errors import MappingError
from .model import CanonicalRecord

__all__ = ["MappedSearch", "from_bundle_pages"]

_R = TypeVar("_R", bound=CanonicalRecord)


class MappedSearch:
    """What every page of one search held.

    - ``matches``: the records searched for, in page and entry order, each once;
    - ``included``: ``_include``d records by gateway id (a Slot's ``schedule_id``
      finds its Schedule here: ``search.get(slot.schedule_id, Schedule)``);
    - ``warnings``: each page's warnings, prefixed ``pages[n]``;
    - ``total``: the first ``Bundle.total`` a page gave; ``next_link``: the last
      page's ``next`` link (set when the pages given stop before the end).
    """

    __slots__ = ("included", "matches", "next_link", "total", "warnings")

    def __init__(self) -> None:
        self.matches: list[CanonicalRecord] = []
        self.included: dict[str, CanonicalRecord] = {}
        self.warnings: list[str] = []
        self.total: int | None = None
        self.next_link: str | None = None

    @overload
    def get(self, gateway_id: str | None) -> CanonicalRecord | None: ...

    @overload
    def get(self, gateway_id: str | None, expect: type[_R]) -> _R | None: ...

    def get(self, gateway_id: str | None, expect: type[Any] | None = None) -> Any:
        """The record with this gateway id, included or matched; None when absent or,
        with ``expect``, of another kind."""
        if gateway_id is None:
            return None
        record = self.included.get(gateway_id)
        if record is None:
            record = next((r for r in self.matches if _record_id(r) == gateway_id), None)
        if record is None or (expect is not None and not isinstance(record, expect)):
            return None
        return record

    def __repr__(self) -> str:
        return (
            f"MappedSearch({len(self.matches)} matches, {len(self.included)} included, "
            f"{len(self.warnings)} warnings, total={self.total})"
        )


def from_bundle_pages(pages: Iterable[Mapping[str, Any]], *, source: str) -> MappedSearch:
    """Map the Bundle pages of one search as one result (see the module docstring).

    Raises MappingError (path ``pages`` or ``pages[n]...``) when ``pages`` is not a
    list of Bundles; an unusable entry is a warning, as in ``from_bundle``.
    """
    if isinstance(pages, (str, bytes, bytearray, *OBJECT)):
        raise MappingError("pages", "not a list of Bundles")
    try:
        bundles = list(pages)
    except TypeError:
        raise MappingError("pages", "not a list of Bundles") from None
    index = EntryIndex()
    all_entries: list[list[Any]] = []
    for n, bundle in enumerate(bundles):
        entries = entries_of(bundle, f"pages[{n}]")
        index.add(entries)
        all_entries.append(entries)
    out = MappedSearch()
    seen: set[str] = set()
    for n, (bundle, entries) in enumerate(zip(bundles, all_entries, strict=True)):
        page = page_head(bundle, f"pages[{n}]")
        for i, entry in enumerate(entries):
            map_entry(entry, f"pages[{n}].entry[{i}]", source, page, index)
        _merge(out, page, seen, n)
    return out


def _merge(out: MappedSearch, page: MappedBundle, seen: set[str], n: int) -> None:
    out.warnings.extend(page.warnings)
    if out.total is None:
        out.total = page.total
    out.next_link = page.next_link
    for record in page:
        rid = _record_id(record)
        if rid is not None and rid in seen:
            out.warnings.append(f"pages[{n}]: a match repeated from an earlier page; kept once")
            continue
        if rid is not None:
            seen.add(rid)
        out.matches.append(record)
    for record in page.included:
        rid = _record_id(record)
        if rid is not None:
            out.included.setdefault(rid, record)


def _record_id(record: CanonicalRecord) -> str | None:
    # EligibilityResult has no gateway id; every other record has one.
    rid = getattr(record, "id", None)
    return rid if isinstance(rid, str) else None
