"""Parsing FHIR search parameters and matching resources against them.

Semantics follow FHIR R4 search as HAPI FHIR JPA implements it:
- repeating a parameter ANDs the occurrences; commas inside one value OR them;
- token: `code`, `system|code`, `|code` (no system), `system|` (any code);
  `:not` and `:missing` modifiers;
- string: case- and accent-insensitive prefix match; `:exact` for equality;
- date: ranges with the prefixes eq ne gt lt ge le sa eb (see dates.py);
- reference: `Type/id`, a bare `id` or an absolute URL; `:Type` modifier.
An unknown parameter is a 400, as on HAPI's default configuration.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from simulators.fhir_server import dates
from simulators.fhir_server.outcome import FhirError, bad_request
from simulators.fhir_server.references import parse_local
from simulators.fhir_server.registry import (
    SUPPORTED_TYPES,
    SearchParam,
    reference_params,
    search_params,
)

Resource = dict[str, Any]

# Result parameters that shape the answer rather than filter it.
_IGNORED = frozenset({"_format", "_pretty", "_total"})
_CONTROL = frozenset({"_count", "_include", "_revinclude", "_summary", "_sort", "_elements"})


@dataclass(frozen=True, slots=True)
class Criterion:
    """One occurrence of a parameter: its values are ORed."""

    param: SearchParam
    modifier: str | None
    values: tuple[str, ...]

    def matches(self, resource: Resource) -> bool:
        found = list(extract(resource, self.param))
        if self.modifier == "missing":
            missing = self.values[0] == "true"
            return (not found) == missing
        hit = any(_match_value(self.param, self.modifier, value, found) for value in self.values)
        return not hit if self.modifier == "not" else hit


@dataclass(frozen=True, slots=True)
class Query:
    """The filtering part of a search: criteria ANDed together."""

    resource_type: str
    criteria: tuple[Criterion, ...]
    text: str = ""

    def matches(self, resource: Resource) -> bool:
        return all(criterion.matches(resource) for criterion in self.criteria)

    def ids(self) -> tuple[str, ...] | None:
        """The ids an ``_id`` criterion (no modifier) allows, or None: a server answers
        those from its id index instead of reading every resource."""
        for criterion in self.criteria:
            if criterion.param.name == "_id" and criterion.modifier is None:
                return tuple(criterion.values)
        return None


@dataclass(frozen=True, slots=True)
class Include:
    """`_include=Source:param[:Target]` or `_revinclude=Source:param[:Target]`."""

    source_type: str
    param: SearchParam
    target_type: str | None


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A parsed search: the query plus how to present its results."""

    query: Query
    count: int
    includes: tuple[Include, ...] = ()
    revincludes: tuple[Include, ...] = ()
    summary_count: bool = False
    sort: tuple[tuple[SearchParam, bool], ...] = ()
    elements: tuple[str, ...] = ()
    # The parameters that carry over to paging links (_include, _elements...).
    carried: tuple[tuple[str, str], ...] = field(default=())


def parse_search(
    resource_type: str,
    items: Sequence[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
) -> SearchRequest:
    """Parse `?a=1&b=2` pairs into a SearchRequest; FhirError(400) when invalid."""
    params = search_params(resource_type)
    criteria: list[Criterion] = []
    count = default_count
    includes: list[Include] = []
    revincludes: list[Include] = []
    summary_count = False
    sort: list[tuple[SearchParam, bool]] = []
    elements: list[str] = []
    carried: list[tuple[str, str]] = []
    for raw_name, value in items:
        name, _, modifier = raw_name.partition(":")
        if name in _IGNORED:
            continue
        if name == "_count":
            count = _parse_count(value, max_count)
            if count == 0:
                summary_count = True
        elif name in ("_include", "_revinclude"):
            include = _parse_include(resource_type, value, reverse=name == "_revinclude")
            if include is not None:
                (includes if name == "_include" else revincludes).append(include)
                carried.append((raw_name, value))
        elif name == "_summary":
            if value == "count":
                summary_count = True
            elif value != "false":
                raise bad_request(f"_summary={value} is not supported by the sandbox")
        elif name == "_sort":
            sort.extend(_parse_sort(params, resource_type, value))
            carried.append((raw_name, value))
        elif name == "_elements":
            elements.extend(e.strip() for e in value.split(",") if e.strip())
            carried.append((raw_name, value))
        elif name not in params:
            raise bad_request(
                f'Unknown search parameter "{name}" for resource type "{resource_type}". '
                f"Valid search parameters for this search are: {sorted(params)}"
            )
        elif value != "":
            criteria.append(_criterion(params[name], modifier or None, value))
    text = urlencode(list(items), safe="|:,/")
    return SearchRequest(
        query=Query(resource_type, tuple(criteria), text),
        count=count,
        includes=tuple(includes),
        revincludes=tuple(revincludes),
        summary_count=summary_count,
        sort=tuple(sort),
        elements=tuple(elements),
        carried=tuple(carried),
    )


def parse_query(resource_type: str, items: Sequence[tuple[str, str]]) -> Query:
    """Only the filter of a search, e.g. an If-None-Exist match URL."""
    return parse_search(resource_type, items, default_count=1, max_count=1).query


def extract(resource: Resource, param: SearchParam) -> Iterator[Any]:
    """The raw JSON values a parameter indexes in a resource."""
    for path in param.paths:
        nodes: list[Any] = [resource]
        for step in path.split("."):
            nodes = [item for node in nodes for item in _children(node, step)]
        for node in nodes:
            if param.where is not None:
                key, wanted = param.where
                if not isinstance(node, dict) or node.get(key) != wanted:
                    continue
            yield node


def normalize(text: str) -> str:
    """Case- and accent-insensitive form of a string, as HAPI indexes strings."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokens(node: Any) -> Iterator[tuple[str | None, str]]:
    """(system, code) pairs of a token-typed element, whatever its datatype."""
    if isinstance(node, bool):
        yield None, "true" if node else "false"
    elif isinstance(node, str):
        yield None, node
    elif isinstance(node, dict):
        if "coding" in node:  # CodeableConcept
            for coding in node.get("coding") or []:
                yield from tokens(coding)
        elif "code" in node:  # Coding
            if isinstance(node["code"], str):
                yield node.get("system"), node["code"]
        elif isinstance(node.get("value"), str):  # Identifier, ContactPoint
            yield node.get("system"), node["value"]


def split_values(value: str) -> tuple[str, ...]:
    """Split on commas that are not escaped with a backslash (FHIR search escaping)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return tuple(p for p in parts if p != "")


def sort_key(resource: Resource, param: SearchParam) -> tuple[int, Any]:
    """A key putting resources with no value last, then ordering by the first value."""
    for node in extract(resource, param):
        if param.type == "date":
            rng = _date_range(node)
            if rng is not None:
                return 0, rng.start.timestamp()
        elif param.type == "string" and isinstance(node, str):
            return 0, normalize(node)
        else:
            for _, code in tokens(node) if param.type == "token" else _refs(node):
                return 0, code
    return 1, None


# -- internals ---------------------------------------------------------------


def _children(node: Any, step: str) -> list[Any]:
    if not isinstance(node, dict) or step not in node:
        return []
    child = node[step]
    return list(child) if isinstance(child, list) else [child]


def _criterion(param: SearchParam, modifier: str | None, value: str) -> Criterion:
    allowed = {"missing"} | {
        "token": {"not"},
        "string": {"exact"},
        "date": set(),
        "reference": set(),
    }[param.type]
    type_modifier = param.type == "reference" and modifier in SUPPORTED_TYPES
    if modifier is not None and modifier not in allowed and not type_modifier:
        raise bad_request(f'Unsupported modifier ":{modifier}" on parameter "{param.name}"')
    if modifier == "missing":
        if value not in ("true", "false"):
            raise bad_request(f"Invalid :missing value {value!r}: use true or false")
        return Criterion(param, modifier, (value,))
    values = split_values(value)
    for item in values:
        _validate_value(param, modifier, item)
    return Criterion(param, modifier, values)


def _validate_value(param: SearchParam, modifier: str | None, value: str) -> None:
    if param.type == "date":
        _, text = dates.split_prefix(value)
        try:
            dates.parse_range(text)
        except ValueError:
            raise bad_request(f'Invalid date/time/quantity format: "{value}"') from None
    elif param.type == "reference":
        _parse_reference_value(param, modifier, value)


def _parse_reference_value(
    param: SearchParam, modifier: str | None, value: str
) -> tuple[str | None, str]:
    if modifier is not None and modifier != "missing":
        return modifier, value
    if "/" not in value:
        return None, value
    segments = value.rstrip("/").split("/")
    resource_type, resource_id = segments[-2], segments[-1]
    if "://" not in value and len(segments) > 2:
        raise bad_request(f'Invalid/unsupported resource type: "{segments[-2]}"')
    if not resource_type[:1].isupper():
        raise bad_request(f'Invalid/unsupported resource type: "{resource_type}"')
    return resource_type, resource_id


def _match_value(param: SearchParam, modifier: str | None, value: str, found: list[Any]) -> bool:
    if param.type == "token":
        return _match_token(value, found)
    if param.type == "string":
        if modifier == "exact":
            return any(node == value for node in found if isinstance(node, str))
        wanted = normalize(value)
        return any(normalize(node).startswith(wanted) for node in found if isinstance(node, str))
    if param.type == "date":
        prefix, text = dates.split_prefix(value)
        wanted_range = dates.parse_range(text)
        ranges = (_date_range(node) for node in found)
        return any(r is not None and dates.matches(prefix, r, wanted_range) for r in ranges)
    wanted_type, wanted_id = _parse_reference_value(param, modifier, value)
    for node in found:
        for ref_type, ref_id in _refs(node):
            if ref_id != wanted_id:
                continue
            if wanted_type is None or wanted_type == ref_type:
                if wanted_type is None and param.targets and ref_type not in param.targets:
                    continue
                return True
    return False


def _match_token(value: str, found: list[Any]) -> bool:
    if "|" in value:
        system, _, code = value.partition("|")
    else:
        system, code = None, value
    for node in found:
        for node_system, node_code in tokens(node):
            if system is None:
                ok = node_code == code
            elif system == "":
                ok = node_system is None and node_code == code
            elif code == "":
                ok = node_system == system
            else:
                ok = node_system == system and node_code == code
            if ok:
                return True
    return False


def _refs(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict) and isinstance(node.get("reference"), str):
        parsed = parse_local(node["reference"])
        if parsed is None and "://" in node["reference"]:
            segments = node["reference"].rstrip("/").split("/")
            parsed = (segments[-2], segments[-1])
        if parsed is not None:
            yield parsed


def _date_range(node: Any) -> dates.DateRange | None:
    try:
        if isinstance(node, str):
            return dates.parse_range(node)
        if isinstance(node, dict) and ("start" in node or "end" in node):
            return dates.period_range(node.get("start"), node.get("end"))
    except ValueError:
        return None
    return None


def _parse_count(value: str, max_count: int) -> int:
    try:
        count = int(value)
    except ValueError:
        raise bad_request(f"Invalid _count value: {value}") from None
    if count < 0:
        raise bad_request(f"Invalid _count value: {value}")
    return min(count, max_count)


def _parse_include(resource_type: str, value: str, *, reverse: bool) -> Include | None:
    if value == "*" and not reverse:
        return None if not reference_params(resource_type) else _wildcard(resource_type)
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise bad_request(f'Invalid _include parameter value: "{value}"')
    source_type, param_name = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    # HAPI ignores an _include whose source is another type; _revinclude names the
    # type that refers to the searched one.
    if not reverse and source_type != resource_type:
        return None
    if source_type not in SUPPORTED_TYPES:
        raise bad_request(f'Invalid _include parameter value: "{value}". Unknown resource type')
    by_name = {p.name: p for p in reference_params(source_type)}
    if param_name not in by_name:
        raise bad_request(
            f'Invalid _include parameter value: "{value}". Unknown search parameter '
            f'"{param_name}" for resource type "{source_type}". Valid search parameters for '
            f"this search are: {sorted(by_name)}"
        )
    return Include(source_type, by_name[param_name], target)


def _wildcard(resource_type: str) -> Include:
    # `_include=*` follows every reference parameter: a pseudo-parameter over all of them.
    params = reference_params(resource_type)
    paths = tuple(dict.fromkeys(path for p in params for path in p.paths))
    return Include(resource_type, SearchParam("*", "reference", paths), None)


def _parse_sort(
    params: dict[str, SearchParam], resource_type: str, value: str
) -> Iterator[tuple[SearchParam, bool]]:
    for item in value.split(","):
        name = item.strip()
        descending = name.startswith("-")
        name = name.lstrip("-")
        if name not in params:
            raise FhirError(
                400, f'Unknown _sort parameter value "{name}" for resource type "{resource_type}"'
            )
        yield params[name], descending
