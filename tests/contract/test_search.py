"""Search semantics the connectors rely on, identical on the sandbox and HAPI."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.contract.fhir import Fhir, diagnostics, next_link, unique


async def seed_schedule_with_slots(fhir: Fhir, count: int) -> tuple[str, list[dict[str, Any]]]:
    """A Practitioner, its Schedule and `count` 15-minute Slots from 08:00Z on 2031-03-01."""
    tag = unique()
    practitioner: dict[str, Any] = {"resourceType": "Practitioner", "id": f"pr-{tag}"}
    schedule: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": f"sc-{tag}",
        "active": True,
        "actor": [{"reference": f"Practitioner/pr-{tag}"}],
    }
    slots: list[dict[str, Any]] = [
        {
            "resourceType": "Slot",
            "id": f"sl{i}-{tag}",
            "schedule": {"reference": f"Schedule/sc-{tag}"},
            "status": "free" if i % 2 else "busy",
            "start": f"2031-03-01T{8 + i // 4:02d}:{(i % 4) * 15:02d}:00Z",
            "end": f"2031-03-01T{8 + i // 4:02d}:{(i % 4) * 15 + 14:02d}:00Z",
        }
        for i in range(count)
    ]
    entries = [fhir.put_entry(r) for r in (practitioner, schedule, *slots)]
    response = await fhir.transaction(entries)
    assert response.status_code == 200, response.text
    return schedule["id"], slots


async def test_paging_35_matches_by_10_gives_4_pages_without_duplicates(fhir: Fhir) -> None:
    schedule_id, slots = await seed_schedule_with_slots(fhir, 35)

    pages = await fhir.search_pages("Slot", {"schedule": f"Schedule/{schedule_id}", "_count": "10"})

    assert [len(page.get("entry", [])) for page in pages] == [10, 10, 10, 5]
    ids = [e["resource"]["id"] for page in pages for e in page["entry"]]
    assert sorted(ids) == sorted(s["id"] for s in slots)
    base = urlsplit(fhir.base_url)
    for page in pages[:-1]:
        link = urlsplit(next_link(page) or "")
        assert (link.scheme, link.netloc) == (base.scheme, base.netloc)
        assert link.path.rstrip("/") == base.path.rstrip("/")
    assert pages[-1]["total"] == 35


async def test_count_is_capped_and_zero_count_gives_only_the_total(fhir: Fhir) -> None:
    schedule_id, _ = await seed_schedule_with_slots(fhir, 3)

    counted = await fhir.get("Slot", params={"schedule": schedule_id, "_summary": "count"})
    assert counted.json()["total"] == 3
    assert "entry" not in counted.json()

    zero = await fhir.get("Slot", params={"schedule": schedule_id, "_count": "0"})
    assert zero.json()["total"] == 3
    assert "entry" not in zero.json()


async def test_slot_start_prefixes_on_instants(fhir: Fhir) -> None:
    schedule_id, _ = await seed_schedule_with_slots(fhir, 12)  # 08:00 .. 10:45

    async def starts(*values: str) -> list[str]:
        params = [("schedule", schedule_id), *(("start", v) for v in values), ("_count", "100")]
        response = await fhir.get("Slot", params=params)
        assert response.status_code == 200, response.text
        return sorted(e["resource"]["start"] for e in response.json().get("entry", []))

    assert await starts("ge2031-03-01T09:00:00Z", "lt2031-03-01T10:00:00Z") == [
        "2031-03-01T09:00:00Z",
        "2031-03-01T09:15:00Z",
        "2031-03-01T09:30:00Z",
        "2031-03-01T09:45:00Z",
    ]
    assert await starts("gt2031-03-01T10:15:00Z") == [
        "2031-03-01T10:30:00Z",
        "2031-03-01T10:45:00Z",
    ]
    assert await starts("le2031-03-01T08:15:00Z") == [
        "2031-03-01T08:00:00Z",
        "2031-03-01T08:15:00Z",
    ]
    assert await starts("2031-03-01T08:15:00Z") == ["2031-03-01T08:15:00Z"]
    assert len(await starts("2031-03-01")) == 12
    assert await starts("ge2031-03-02") == []
    # An offset is honoured: 11:30+02:00 is 09:30Z.
    assert len(await starts("ge2031-03-01T11:30:00+02:00")) == 6


async def test_token_and_status_or_and_and(fhir: Fhir) -> None:
    schedule_id, _ = await seed_schedule_with_slots(fhir, 6)

    async def total(params: list[tuple[str, str]]) -> int:
        response = await fhir.get("Slot", params=[("schedule", schedule_id), *params])
        return int(response.json()["total"])

    assert await total([("status", "free")]) == 3
    assert await total([("status", "free,busy")]) == 6
    assert await total([("status", "free"), ("status", "busy")]) == 0


async def test_identifier_token_system_value_semantics(fhir: Fhir) -> None:
    value = unique("id-")
    a = await fhir.create(
        {"resourceType": "Patient", "identifier": [{"system": "urn:a", "value": value}]}
    )
    b = await fhir.create(
        {"resourceType": "Patient", "identifier": [{"system": "urn:b", "value": value}]}
    )
    c = await fhir.create({"resourceType": "Patient", "identifier": [{"value": value}]})

    async def ids(token: str) -> set[str]:
        return set(await fhir.search_ids("Patient", {"identifier": token}))

    assert await ids(f"urn:a|{value}") == {a["id"]}
    assert await ids(value) == {a["id"], b["id"], c["id"]}
    assert await ids(f"|{value}") == {c["id"]}
    assert await ids(f"urn:a|{value},urn:b|{value}") == {a["id"], b["id"]}
    assert await ids(value.upper()) == set()  # tokens are case-sensitive


async def test_string_search_is_case_and_accent_insensitive_prefix(fhir: Fhir) -> None:
    family = unique("Zoë")
    plain = family.replace("ë", "e")
    one = await fhir.create(
        {
            "resourceType": "Patient",
            "name": [{"family": family, "given": ["José"]}],
            "birthDate": "1980-05-06",
            "gender": "male",
            "telecom": [{"system": "phone", "value": f"555-{family}"}],
        }
    )
    two = await fhir.create(
        {
            "resourceType": "Patient",
            "name": [{"family": family + "son", "given": ["Ann"]}],
            "birthDate": "1980-05",
            "gender": "female",
        }
    )

    assert set(await fhir.search_ids("Patient", {"family": plain.upper()})) == {
        one["id"],
        two["id"],
    }
    assert await fhir.search_ids("Patient", {"family": plain + "s"}) == [two["id"]]
    assert await fhir.search_ids("Patient", {"family:exact": family}) == [one["id"]]
    assert await fhir.search_ids("Patient", {"family": family, "given": "jose"}) == [one["id"]]
    assert await fhir.search_ids("Patient", {"name": "ann", "family": family}) == [two["id"]]
    assert await fhir.search_ids("Patient", {"phone": f"555-{family}"}) == [one["id"]]
    assert await fhir.search_ids("Patient", {"family": family, "gender": "female"}) == [two["id"]]


async def test_birthdate_prefixes_compare_date_ranges(fhir: Fhir) -> None:
    family = unique("Bd")
    day = await fhir.create(
        {"resourceType": "Patient", "name": [{"family": family}], "birthDate": "1980-05-06"}
    )
    month = await fhir.create(
        {"resourceType": "Patient", "name": [{"family": family}], "birthDate": "1980-05"}
    )
    year = await fhir.create(
        {"resourceType": "Patient", "name": [{"family": family}], "birthDate": "1981"}
    )

    async def ids(value: str) -> set[str]:
        return set(await fhir.search_ids("Patient", {"family:exact": family, "birthdate": value}))

    assert await ids("1980-05-06") == {day["id"]}
    assert await ids("1980-05") == {day["id"], month["id"]}
    assert await ids("ge1980-05-10") == {month["id"], year["id"]}
    assert await ids("lt1980-05-10") == {day["id"], month["id"]}
    assert await ids("gt1980-05-31") == {year["id"]}


async def test_include_slot_schedule_adds_the_schedule_once(fhir: Fhir) -> None:
    schedule_id, _ = await seed_schedule_with_slots(fhir, 4)

    response = await fhir.get(
        "Slot", params={"schedule": schedule_id, "_include": "Slot:schedule", "_count": "10"}
    )

    entries = response.json()["entry"]
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in entries]
    assert modes.count(("Slot", "match")) == 4
    assert modes.count(("Schedule", "include")) == 1
    [included] = [e for e in entries if e["search"]["mode"] == "include"]
    assert included["resource"]["id"] == schedule_id


async def test_include_schedule_actor_and_appointment_patient(fhir: Fhir) -> None:
    schedule_id, slots = await seed_schedule_with_slots(fhir, 1)
    person = await fhir.create({"resourceType": "Patient", "name": [{"family": unique("Inc")}]})
    appointment = await fhir.create(
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": slots[0]["start"],
            "end": slots[0]["end"],
            "slot": [{"reference": f"Slot/{slots[0]['id']}"}],
            "participant": [
                {"actor": {"reference": f"Patient/{person['id']}"}, "status": "accepted"}
            ],
        }
    )

    schedules = await fhir.get(
        "Schedule", params={"_id": schedule_id, "_include": "Schedule:actor"}
    )
    assert [e["resource"]["resourceType"] for e in schedules.json()["entry"]] == [
        "Schedule",
        "Practitioner",
    ]

    found = await fhir.get(
        "Appointment",
        params=[
            ("patient", person["id"]),
            ("_include", "Appointment:patient"),
            ("_include", "Appointment:slot"),
        ],
    )
    kinds = sorted(
        (e["resource"]["resourceType"], e["search"]["mode"]) for e in found.json()["entry"]
    )
    assert kinds == [("Appointment", "match"), ("Patient", "include"), ("Slot", "include")]
    assert found.json()["entry"][0]["resource"]["id"] == appointment["id"]

    by_slot = await fhir.search_ids(
        "Appointment", {"slot": f"Slot/{slots[0]['id']}", "status": "booked,pending"}
    )
    assert by_slot == [appointment["id"]]


async def test_reference_search_takes_type_and_id_or_bare_id(fhir: Fhir) -> None:
    schedule_id, _ = await seed_schedule_with_slots(fhir, 2)

    typed = await fhir.search_ids("Slot", {"schedule": f"Schedule/{schedule_id}"})
    bare = await fhir.search_ids("Slot", {"schedule": schedule_id})
    wrong_type = await fhir.search_ids("Slot", {"schedule": f"Practitioner/{schedule_id}"})

    assert len(typed) == 2
    assert bare == typed
    assert wrong_type == []


async def test_unknown_search_parameter_is_400(fhir: Fhir) -> None:
    response = await fhir.get("Patient", params={"bogus": "1"})

    assert response.status_code == 400
    assert 'Unknown search parameter "bogus"' in diagnostics(response)


async def test_malformed_date_and_unknown_include_are_400(fhir: Fhir) -> None:
    assert (await fhir.get("Slot", params={"start": "xx"})).status_code == 400
    assert (await fhir.get("Slot", params={"_include": "Slot:bogus"})).status_code == 400


async def test_post_search_takes_a_form(fhir: Fhir) -> None:
    schedule_id, _ = await seed_schedule_with_slots(fhir, 3)

    response = await fhir.client.post(
        f"{fhir.base_url}/Slot/_search",
        data={"schedule": schedule_id, "status": "free"},
        headers={"Accept": "application/fhir+json"},
    )

    assert response.status_code == 200
    assert [e["resource"]["status"] for e in response.json()["entry"]] == ["free"]


async def test_expired_page_is_410(fhir: Fhir) -> None:
    response = await fhir.get(
        f"{fhir.base_url}?_getpages={unique()}&_getpagesoffset=10&_count=10&_bundletype=searchset"
    )
    assert response.status_code == 410
