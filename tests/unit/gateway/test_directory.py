"""The directory a desk books from, and slots shown with who, where and what."""

from __future__ import annotations

import pytest

from mappers import encode_id
from tests.support.gateway_env import auth, clinic
from tests.support.sandbox_env import BASE_A, BASE_B, sandbox_gateway


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


async def test_practitioners_by_name_and_by_specialty_with_roles():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"))
        await clinic(BASE_B, transport=gw.transport("ehr-b"))
        doc = encode_id("ehr-a", "Practitioner", c["practitioner"]["id"])
        loc = encode_id("ehr-a", "Location", c["location"]["id"])
        by_name = await gw.api.get(
            "/v1/practitioners", params={"name": f"Doc{c['run']}"}, headers=auth()
        )
        assert by_name.status_code == 200, by_name.text
        [found] = by_name.json()["items"]
        assert found["id"] == doc and found["display"] == f"Ada Doc{c['run']}"
        assert found["specialties"][0]["display"] == "General practice"
        assert found["location_ids"] == [loc]
        assert [s["status"] for s in by_name.json()["sources"]] == ["ok", "ok"]
        by_specialty = await gw.api.get(
            "/v1/practitioners", params={"specialty": "394814009"}, headers=auth()
        )
        assert doc in {p["id"] for p in by_specialty.json()["items"]}
        assert len({p["source"] for p in by_specialty.json()["items"]}) == 2


async def test_locations_and_visit_types_are_listed_and_cached():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"))
        r = await gw.api.get("/v1/locations", params={"name": f"Clinic {c['run']}"}, headers=auth())
        assert [loc["name"] for loc in r.json()["items"]] == [f"Clinic {c['run']}"]
        assert r.headers["X-Cache"] == "miss"
        again = await gw.api.get(
            "/v1/locations", params={"name": f"Clinic {c['run']}"}, headers=auth()
        )
        assert again.headers["X-Cache"] == "hit" and again.json() == r.json()
        fresh = await gw.api.get(
            "/v1/locations",
            params={"name": f"Clinic {c['run']}"},
            headers={**auth(), "Cache-Control": "no-cache"},
        )
        assert fresh.headers["X-Cache"] == "miss"
        types = (await gw.api.get("/v1/visit-types", headers=auth())).json()["items"]
        gp = next(v for v in types if v["code"] == "124")
        assert gp["display"] == "General Practice" and gp["sources"] == ["ehr-a"]


async def test_slots_say_who_where_and_what_and_read_a_date_in_the_tenant_zone():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=2)
        day = c["start"].astimezone().date().isoformat()
        r = await gw.api.get(
            "/v1/slots", params={"start": day, "end": day, "source": "ehr-a"}, headers=auth()
        )
        assert r.status_code == 200, r.text
        mine = [s for s in r.json()["items"] if s["schedule_id"].endswith("")]
        slot = next(s for s in mine if s["id"] == encode_id("ehr-a", "Slot", c["slots"][0]["id"]))
        assert slot["practitioners"] == [
            {
                "id": encode_id("ehr-a", "Practitioner", c["practitioner"]["id"]),
                "display": f"Ada Doc{c['run']}",
            }
        ]
        assert slot["location"]["display"] == f"Clinic {c['run']}"
        assert slot["service_type_display"] == "General Practice"


async def test_a_directory_search_needs_a_name_or_a_specialty():
    async with sandbox_gateway() as gw:
        r = await gw.api.get("/v1/practitioners", headers=auth())
        assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_next_available_gives_each_practitioner_s_earliest_slots():
    async with sandbox_gateway() as gw:
        one = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=3)
        two = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=2)
        r = await gw.api.get(
            "/v1/slots/next-available",
            params={"service_type": "124", "per_practitioner": 2, "limit": 50, "source": "ehr-a"},
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        by_doc: dict[str, list[str]] = {}
        for s in items:
            by_doc.setdefault(s["practitioners"][0]["display"], []).append(s["id"])
        for c in (one, two):
            assert by_doc[f"Ada Doc{c['run']}"] == [
                encode_id("ehr-a", "Slot", slot["id"]) for slot in c["slots"][:2]
            ]
        assert [s["start"] for s in items] == sorted(s["start"] for s in items)
        capped = await gw.api.get(
            "/v1/slots/next-available", params={"limit": 1, "source": "ehr-a"}, headers=auth()
        )
        assert len(capped.json()["items"]) == 1
