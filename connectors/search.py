"""Immutable FHIR search parameters and `next`-link checks.

`SearchParams` is copy-on-chain: every method returns a new object, so a base query can
be shared and refined without surprises::

    base = SearchParams().where(identifier="http://hospital.org/mrn|123")
    page = base.count(2)           # GET /Patient?identifier=...&_count=2

Repeated parameters (e.g. two `date` bounds) are kept in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["SearchParams", "check_next_link"]

ParamValue = str | int | Iterable[str | int]


@dataclass(frozen=True)
class SearchParams:
    items: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def of(cls, params: SearchParams | Mapping[str, ParamValue] | None) -> SearchParams:
        if params is None:
            return cls()
        if isinstance(params, SearchParams):
            return params
        return cls().where(**params)

    def where(self, **params: ParamValue) -> SearchParams:
        """Add parameters. `foo__bar=` becomes `foo:bar=`; a list repeats the name."""
        added: list[tuple[str, str]] = []
        for raw_name, value in params.items():
            name = raw_name.replace("__", ":")
            if isinstance(value, str | int):
                added.append((name, str(value)))
            else:
                added.extend((name, str(v)) for v in value)
        return SearchParams(self.items + tuple(added))

    def add(self, name: str, value: str | int) -> SearchParams:
        """Add one parameter whose name isn't a Python identifier (`_has:...`, `-location`)."""
        return SearchParams((*self.items, (name, str(value))))

    def count(self, n: int) -> SearchParams:
        return self.without("_count").add("_count", n)

    def sort(self, *keys: str) -> SearchParams:
        return self.without("_sort").add("_sort", ",".join(keys))

    def without(self, name: str) -> SearchParams:
        return SearchParams(tuple(i for i in self.items if i[0] != name))

    def names(self) -> frozenset[str]:
        """Parameter names without modifiers (`identifier:of-type` → `identifier`)."""
        return frozenset(n.split(":", 1)[0] for n, _ in self.items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)


def check_next_link(base_url: str, link: str) -> str | None:
    """Why `link` may not be followed from a server at `base_url`, or None when it may.

    A `next` link must stay on the same scheme, host and port, under the base path: a
    compromised or misconfigured server must not make us send credentials elsewhere.
    """
    base = urlsplit(base_url)
    url = urlsplit(link)
    try:
        url.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "next link is malformed"
    if url.scheme.lower() != base.scheme.lower():
        return "next link changes scheme"
    if (url.hostname or "").lower() != (base.hostname or "").lower():
        return "next link leaves the base host"
    if _port(url.scheme, url.port) != _port(base.scheme, base.port):
        return "next link changes port"
    base_path = base.path.rstrip("/")
    if not (url.path == base_path or url.path.startswith(base_path + "/")):
        return "next link leaves the base path"
    if url.username or url.password:
        return "next link carries credentials"
    return None


def _port(scheme: str, port: int | None) -> int | None:
    if port is not None:
        return port
    return {"http": 80, "https": 443}.get(scheme.lower())
