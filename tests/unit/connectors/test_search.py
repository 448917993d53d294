"""Search parameter building (pure) and paging over `next` links."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors import HAPI, Policy, ProtocolError, SearchParams, TooManyResults
from connectors.search import check_next_link
from tests.unit.connectors.fakes import BASE, FakeClock, fhir, make_client


def test_params_are_copy_on_chain() -> None:
    base = SearchParams().where(family="Chalmers")
    narrowed = base.where(given="Peter").count(2)
    assert list(base) == [("family", "Chalmers")]
    assert list(narrowed) == [("family", "Chalmers"), ("given", "Peter"), ("_count", "2")]


def test_params_modifiers_repeats_and_odd_names() -> None:
    params = (
        SearchParams()
        .where(identifier__of_type="MR|123", date=["ge2025-01-01", "lt2025-02-01"])
        .add("-location", "L1")
        .count(10)
        .count(20)
        .sort("start", "-_id")
    )
    assert list(params) == [
        ("identifier:of_type", "MR|123"),
        ("date", "ge2025-01-01"),
        ("date", "lt2025-02-01"),
        ("-location", "L1"),
        ("_count", "20"),
        ("_sort", "start,-_id"),
    ]
    assert params.names() == {"identifier", "date", "-location", "_count", "_sort"}


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        (f"{BASE}?_getpages=abc", None),
        (f"{BASE}/Patient?page=2", None),
        ("https://EHR.example.org:443/fhir/Patient?page=2", None),
        ("http://ehr.example.org/fhir/Patient?page=2", "next link changes scheme"),
        ("https://evil.example.com/fhir/Patient", "next link leaves the base host"),
        ("https://ehr.example.org:8443/fhir/Patient", "next link changes port"),
        ("https://ehr.example.org/other/Patient", "next link leaves the base path"),
        ("https://ehr.example.org/fhirx/Patient", "next link leaves the base path"),
        ("https://user:pw@ehr.example.org/fhir/Patient", "next link carries credentials"),
        ("https://ehr.example.org:99999/fhir/Patient", "next link is malformed"),
    ],
)
def test_next_link_checks(link: str, problem: str | None) -> None:
    assert check_next_link(BASE, link) == problem


def bundle(ids: list[str], next_url: str | None, total: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": i}, "search": {"mode": "match"}}
            for i in ids
        ],
        "link": [{"relation": "self", "url": f"{BASE}/Patient"}],
    }
    if next_url:
        doc["link"].append({"relation": "next", "url": next_url})
    if total is not None:
        doc["total"] = total
    return doc


class Pages:
    """Serves page N for `?page=N` (page 1 for the initial search)."""

    def __init__(self, pages: dict[int, dict[str, Any]]) -> None:
        self.pages = pages
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return fhir(200, self.pages[int(request.url.params.get("page", "1"))])


async def collect(client: Any, *args: Any, **kw: Any) -> list[str]:
    return [r["id"] async for r in client.search(*args, **kw)]


async def test_search_follows_next_links_over_four_pages(clock: FakeClock) -> None:
    pages = Pages(
        {
            1: bundle(["a", "b"], f"{BASE}/Patient?page=2", total=7),
            2: bundle(["c", "d"], f"{BASE}/Patient?page=3"),
            3: bundle(["e", "f"], f"{BASE}/Patient?page=4"),
            4: bundle(["g"], None),
        }
    )
    client = make_client(pages, clock=clock)
    assert await collect(client, "Patient", {"family": "Chalmers", "_count": 2}) == list("abcdefg")
    assert len(pages.requests) == 4
    first = pages.requests[0]
    assert first.url.path == "/fhir/Patient"
    assert parse_qsl(first.url.query.decode()) == [("family", "Chalmers"), ("_count", "2")]
    assert first.headers["Accept"] == "application/fhir+json"


async def test_search_page_gives_total_and_splits_entries(clock: FakeClock) -> None:
    doc = bundle(["a"], f"{BASE}/Patient?page=2", total=41)
    doc["entry"].append(
        {"resource": {"resourceType": "Organization", "id": "o"}, "search": {"mode": "include"}}
    )
    doc["entry"].append(
        {
            "resource": {"resourceType": "OperationOutcome", "issue": []},
            "search": {"mode": "outcome"},
        }
    )
    client = make_client(lambda r: fhir(200, doc), clock=clock)
    page = await client.search_page("Patient", SearchParams().where(family="X"))
    assert page.total == 41
    assert [r["id"] for r in page.resources] == ["a"]
    assert [r["id"] for r in page.included] == ["o"]
    assert len(page.outcomes) == 1
    assert page.next_url == f"{BASE}/Patient?page=2"


async def test_off_base_next_link_is_refused_before_sending(clock: FakeClock) -> None:
    pages = Pages({1: bundle(["a"], "https://evil.example.com/fhir/Patient?page=2")})
    client = make_client(pages, clock=clock)
    seen: list[str] = []

    async def drain() -> None:
        async for r in client.search("Patient"):
            seen.append(r["id"])

    with pytest.raises(ProtocolError, match="leaves the base host"):
        await drain()
    assert seen == ["a"]
    assert len(pages.requests) == 1


async def test_link_loop_is_stopped(clock: FakeClock) -> None:
    pages = Pages(
        {
            1: bundle(["a"], f"{BASE}/Patient?page=2"),
            2: bundle(["b"], f"{BASE}/Patient?page=3"),
            3: bundle(["c"], f"{BASE}/Patient?page=2"),
        }
    )
    client = make_client(pages, clock=clock)
    with pytest.raises(ProtocolError, match="loop"):
        await collect(client, "Patient")
    assert len(pages.requests) == 3


async def test_page_and_resource_caps(clock: FakeClock) -> None:
    endless = Pages(
        {n: bundle([f"r{n}a", f"r{n}b"], f"{BASE}/Patient?page={n + 1}") for n in range(1, 100)}
    )
    client = make_client(endless, clock=clock, policy=Policy(max_pages=3))
    with pytest.raises(TooManyResults, match="more than 3 pages"):
        await collect(client, "Patient")
    assert len(endless.requests) == 3
    with pytest.raises(TooManyResults, match="more than 5 resources"):
        await collect(client, "Patient", max_resources=5)


async def test_profile_clamps_page_size(clock: FakeClock) -> None:
    pages = Pages({1: bundle([], None)})
    client = make_client(pages, clock=clock, profile=HAPI)
    await client.search_page("Patient", {"_count": 1000})
    assert pages.requests[0].url.params["_count"] == "200"
