"""The one engine behind the table-driven search checks: a check is a row, `SearchCase`.

A row names the resource type searched, its queries and the spec section it enforces::

    SearchCase(
        "search.patient-birthdate", "Patient?birthdate=YYYY-MM-DD matches that day only",
        "search.html#date", "Patient",
        queries=((date("birthdate", "birthDate", picks.element("patient", "birthDate")),),),
    )

sends ``GET [base]/Patient?birthdate=<the subject's birth date>&_count=200``. Each
`Criterion` is one search parameter: its name, where its value comes from (a pick from
the subjects, `conformance.checks.picks`) and how a returned resource is judged against
that value, with the semantics FHIR R4 gives the parameter's type (token, string,
reference, date; search.html).

No row states its expected answer: the kit knows records of each type
(`Subjects.known`: its own fixtures in write mode, what it found in read-only mode), so
a search must return every known record that satisfies all its criteria, and every
record it returns (known or not) must satisfy them. A server that ignores a parameter
returns records that fail it; one that over-filters misses a known record.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conformance.context import Resource, RunContext, fail_unless
from conformance.model import Check, Severity
from connectors import SearchPage
from mappers.fhir_dates import interval

__all__ = [
    "NAME_PARTS",
    "Criterion",
    "SearchCase",
    "as_checks",
    "date",
    "reference",
    "string",
    "token",
    "values_at",
]

Pick = Callable[[RunContext], str]
Judge = Callable[[Resource, str], bool]

# Every HumanName part a `name` search looks at (Patient, Practitioner).
NAME_PARTS = ("name.family", "name.given", "name.prefix", "name.suffix", "name.text")

# Enough for any owned answer; read-only subjects may sit deeper on a busy server.
PAGE_SIZE = 200
MAX_PAGES = 5


@dataclass(frozen=True)
class Criterion:
    """One search parameter of a query."""

    name: str  # as sent, with any modifier ("identifier", "name:exact")
    pick: Pick  # the value, drawn from the subjects (raises CheckSkipped when absent)
    judge: Judge  # does a returned resource satisfy the parameter with that value?
    prefix: str = ""  # date comparator sent before the value ("ge", "lt"...)
    shown: bool = False  # may the value appear in reports (codes, dates, ids: not PHI)

    @property
    def parameter(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass(frozen=True)
class SearchCase:
    """One check: a search (or several) on `resource`, judged by its criteria."""

    id: str
    title: str
    spec: str
    resource: str
    queries: tuple[tuple[Criterion, ...], ...]
    # (_include value, subject key): the subject must come back as an included entry.
    include: tuple[tuple[str, str], ...] = ()
    # The parameters the check is about (defect tests drop each); default: all of them.
    about: tuple[str, ...] = ()
    severity: Severity = Severity.ERROR

    @property
    def parameters(self) -> tuple[str, ...]:
        if self.about:
            return self.about
        return tuple(dict.fromkeys(c.parameter for q in self.queries for c in q))


def as_checks(cases: list[SearchCase], group: str) -> list[Check]:
    """A `Check` per row, each run by `run_case`."""

    def body(case: SearchCase) -> Callable[[RunContext], Any]:
        async def run(ctx: RunContext) -> list[str]:
            return await run_case(ctx, case)

        return run

    return [Check(c.id, group, c.title, c.severity, c.spec, body(c)) for c in cases]


async def run_case(ctx: RunContext, case: SearchCase) -> list[str]:
    notes = []
    for query in case.queries:
        values = [(c, c.pick(ctx)) for c in query]
        params = [(c.name, f"{c.prefix}{v}") for c, v in values]
        params += [("_include", value) for value, _ in case.include]

        def satisfies(resource: Resource, values: list[tuple[Criterion, str]] = values) -> bool:
            return all(c.judge(resource, v) for c, v in values)

        expected = {str(r.get("id")) for r in ctx.subjects.of_type(case.resource) if satisfies(r)}
        shown = "&".join(
            f"{c.name}={c.prefix}{v if c.shown else ctx.phi(v)}" for c, v in values
        ) + "".join(f"&_include={value}" for value, _ in case.include)
        found, included = await _walk(ctx, case.resource, params, expected, satisfies)
        missing = sorted(expected - {str(r.get("id")) for r in found})
        fail_unless(not missing, f"{case.resource}?{shown}: {missing} not returned")
        wrong = sorted(str(r.get("id")) for r in found if not satisfies(r))
        fail_unless(not wrong, f"{case.resource}?{shown}: returned non-matching {wrong[:10]}")
        for _, key in case.include:
            subject = ctx.subject(key)
            ref = f"{subject['resourceType']}/{subject['id']}"
            refs = sorted({f"{r.get('resourceType')}/{r.get('id')}" for r in included})
            fail_unless(ref in refs, f"{ref} not among the included entries {refs[:10]}")
        notes.append(
            f"{case.resource}?{shown}: {len(found)} result(s), all matching; "
            f"the {len(expected)} known match(es) among them"
        )
    return notes


async def _walk(
    ctx: RunContext,
    rtype: str,
    params: list[tuple[str, str]],
    expected: set[str],
    satisfies: Callable[[Resource], bool],
) -> tuple[list[Resource], list[Resource]]:
    """Matches and included entries, page by page until every expected id was seen (or
    a non-matching result settles the verdict)."""
    page: SearchPage | None = await ctx.page(rtype, [*params, ("_count", str(PAGE_SIZE))])
    found: list[Resource] = []
    included: list[Resource] = []
    pages = 0
    while page is not None:
        pages += 1
        found += page.resources
        included += page.included
        done = expected <= {str(r.get("id")) for r in found}
        if done or pages >= MAX_PAGES or not all(satisfies(r) for r in page.resources):
            break
        page = await ctx.fhir.next_page(page, rtype)
    return found, included


# --- criteria by search parameter type (search.html) -----------------------------------


def token(
    name: str,
    path: str,
    pick: Pick,
    *,
    where: tuple[str, str] | None = None,
    shown: bool = False,
) -> Criterion:
    """`code`, `system|code`, `|code`: exact on the code, on the system when given."""

    def judge(resource: Resource, value: str) -> bool:
        system, _, code = value.rpartition("|") if "|" in value else (None, "", value)
        for node in values_at(resource, path, where=where):
            for node_system, node_code in _tokens(node):
                if node_code != code:
                    continue
                if system is None or (system == "" and node_system is None):
                    return True
                if system and node_system == system:
                    return True
        return False

    return Criterion(name, pick, judge, shown=shown)


def string(name: str, paths: tuple[str, ...], pick: Pick) -> Criterion:
    """Starts with the value, ignoring case and accents (search.html#string)."""

    def judge(resource: Resource, value: str) -> bool:
        wanted = _normalise(value)
        return any(
            isinstance(node, str) and _normalise(node).startswith(wanted)
            for path in paths
            for node in values_at(resource, path)
        )

    return Criterion(name, pick, judge)


def reference(name: str, path: str, pick: Pick) -> Criterion:
    """`Type/id` (or a bare id): the element refers to that resource, however written."""

    def judge(resource: Resource, value: str) -> bool:
        wanted = value.strip("/").split("/")[-2:]
        for node in values_at(resource, path):
            if isinstance(node, dict) and isinstance(node.get("reference"), str):
                parts = node["reference"].split("/_history/")[0].strip("/").split("/")
                if parts[-len(wanted) :] == wanted:
                    return True
        return False

    return Criterion(name, pick, judge, shown=True)


def date(name: str, path: str, pick: Pick, *, prefix: str = "", shown: bool = False) -> Criterion:
    """Compares the element's interval with the value's, by prefix (search.html#prefix)."""
    compare = _COMPARATORS[prefix or "eq"]

    def judge(resource: Resource, value: str) -> bool:
        wanted = interval(value)
        for node in values_at(resource, path):
            span = _span(node)
            if span is not None and compare(span, wanted):
                return True
        return False

    return Criterion(name, pick, judge, prefix=prefix, shown=shown)


Span = tuple[datetime, datetime]  # [start, end)
_END = datetime.max.replace(tzinfo=UTC)

_COMPARATORS: dict[str, Callable[[Span, Span], bool]] = {
    "eq": lambda r, p: p[0] <= r[0] and r[1] <= p[1],
    "ne": lambda r, p: not (p[0] <= r[0] and r[1] <= p[1]),
    "gt": lambda r, p: r[1] > p[1],
    "lt": lambda r, p: r[0] < p[0],
    "ge": lambda r, p: r[1] > p[0],
    "le": lambda r, p: r[0] < p[1],
}


def _span(node: Any) -> Span | None:
    try:
        if isinstance(node, str):
            return interval(node)
        if isinstance(node, dict) and isinstance(node.get("start"), str):
            # A Period; an open end reaches the end of time.
            end = node.get("end")
            return interval(node["start"])[0], interval(end)[1] if isinstance(end, str) else _END
    except ValueError:
        return None
    return None


# --- reading elements ---------------------------------------------------------------------


def values_at(resource: Any, path: str, *, where: tuple[str, str] | None = None) -> Iterator[Any]:
    """The values at a dotted path, lists flattened on the way (as FHIRPath does);
    `where` keeps only elements whose field equals a value (`telecom.where(system='phone')`)."""
    nodes: list[Any] = [resource]
    for step in path.split("."):
        nodes = [
            item
            for node in nodes
            if isinstance(node, dict) and step in node
            for item in (node[step] if isinstance(node[step], list) else [node[step]])
        ]
    for node in nodes:
        if where is None or (isinstance(node, dict) and node.get(where[0]) == where[1]):
            yield node


def _tokens(node: Any) -> Iterator[tuple[str | None, str]]:
    """(system, code) pairs of a code, Coding, CodeableConcept, Identifier or ContactPoint."""
    if isinstance(node, bool):
        yield None, str(node).lower()
    elif isinstance(node, str):
        yield None, node
    elif isinstance(node, dict):
        if "coding" in node:
            for coding in node.get("coding") or ():
                yield from _tokens(coding)
        elif isinstance(node.get("code"), str):
            yield node.get("system"), node["code"]
        elif isinstance(node.get("value"), str):
            yield node.get("system"), node["value"]


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
