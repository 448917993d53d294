"""The seed generator: deterministic, realistic, self-consistent FHIR R4 data."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from simulators.seed import (
    GROUND_TRUTH_FILE,
    MAX_BUNDLE_ENTRIES,
    RESOURCE_ORDER,
    build_bundles,
    build_resources,
    ground_truth,
)
from simulators.seed.people import typo

TODAY = date(2026, 3, 2)  # a Monday; DST starts in the US on 8 March 2026, inside the window
PROFILES = ("ehr-a", "ehr-b")
MRN_SYSTEMS = {"ehr-a": "urn:oid:2.999.1.1.1", "ehr-b": "https://ehr-b.example.org/fhir/sid/mrn"}


@cache
def resources(profile: str, seed: int = 7) -> tuple[dict[str, Any], ...]:
    return tuple(build_resources(profile, seed=seed, today=TODAY))


def of_type(profile: str, resource_type: str) -> list[dict[str, Any]]:
    return [r for r in resources(profile) if r["resourceType"] == resource_type]


def by_id(profile: str) -> dict[str, dict[str, Any]]:
    return {f"{r['resourceType']}/{r['id']}": r for r in resources(profile)}


def official(patient: dict[str, Any]) -> dict[str, Any]:
    return next(n for n in patient["name"] if n["use"] == "official")


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for v in value.values() for ref in references(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in references(v)]
    return []


def test_same_seed_profile_and_date_give_identical_bytes() -> None:
    first = json.dumps(build_bundles("ehr-a", seed=11, today=TODAY), sort_keys=True)
    again = json.dumps(build_bundles("ehr-a", seed=11, today=TODAY), sort_keys=True)
    other = json.dumps(build_bundles("ehr-a", seed=12, today=TODAY), sort_keys=True)
    assert first == again
    assert first != other


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown seed profile"):
        build_resources("ehr-z", today=TODAY)


@pytest.mark.parametrize("profile", PROFILES)
def test_about_two_hundred_patients_with_mrns_in_the_ehrs_own_system(profile: str) -> None:
    patients = of_type(profile, "Patient")
    assert len(patients) == 200
    mrns = [p["identifier"][0] for p in patients]
    assert {m["system"] for m in mrns} == {MRN_SYSTEMS[profile]}
    assert {m["type"]["coding"][0]["code"] for m in mrns} == {"MR"}
    assert len({m["value"] for m in mrns}) == 200
    # Realistic spread: middle names, nicknames, several phone formats, languages.
    assert sum(len(official(p)["given"]) > 1 for p in patients) > 80
    assert sum(any(n["use"] == "usual" for n in p["name"]) for p in patients) > 10
    phones = [t["value"] for p in patients for t in p.get("telecom", []) if t["system"] == "phone"]
    assert sum(v.startswith("+1") for v in phones) and sum(v.isdigit() for v in phones)
    assert sum("(" in v for v in phones) and sum("." in v for v in phones)
    languages = Counter(p["communication"][0]["language"]["coding"][0]["code"] for p in patients)
    assert languages["en-US"] > 100 and len(languages) >= 4


def test_same_ids_hold_different_people_in_the_two_ehrs() -> None:
    a, b = by_id("ehr-a")["Patient/p-1001"], by_id("ehr-b")["Patient/p-1001"]
    assert (official(a)["family"], a["birthDate"]) != (official(b)["family"], b["birthDate"])
    assert a["identifier"][0]["system"] != b["identifier"][0]["system"]


def test_ids_are_stable_and_never_all_digits() -> None:
    for profile in PROFILES:
        ids = [f"{r['resourceType']}/{r['id']}" for r in resources(profile)]
        assert len(ids) == len(set(ids))
        assert not [i for i in ids if i.split("/")[1].isdigit()]
        assert all(len(i.split("/")[1]) <= 64 for i in ids)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_reference_resolves_within_the_profile(profile: str) -> None:
    known = by_id(profile)
    dangling = [(key, ref) for key, r in known.items() for ref in references(r) if ref not in known]
    assert dangling == []


@pytest.mark.parametrize("profile", PROFILES)
def test_bundles_are_ordered_transactions_of_puts(profile: str) -> None:
    bundles = build_bundles(profile, today=TODAY)
    entries = [e for b in bundles for e in b["entry"]]
    assert all(b["type"] == "transaction" for b in bundles)
    assert all(len(b["entry"]) <= MAX_BUNDLE_ENTRIES for b in bundles)
    assert len(entries) == len(resources(profile))
    assert {e["request"]["method"] for e in entries} == {"PUT"}
    assert all(
        e["request"]["url"] == f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
    )
    order = [RESOURCE_ORDER.index(e["resource"]["resourceType"]) for e in entries]
    assert order == sorted(order)


def test_bundle_full_urls_are_absolute_on_the_target_server() -> None:
    # R4 wants fullUrl absolute; a relative one ("Patient/p-1001") is refused by a
    # validating server (BUNDLE_ENTRY_URL_ABSOLUTE).
    base = "https://ehr.example.org/fhir/"
    entries = [e for b in build_bundles("ehr-a", today=TODAY, base_url=base) for e in b["entry"]]
    assert all(e["fullUrl"] == f"{base}{e['request']['url']}" for e in entries)


def test_bundle_full_urls_without_a_server_are_stable_uuids() -> None:
    first = [e["fullUrl"] for b in build_bundles("ehr-b", today=TODAY) for e in b["entry"]]
    again = [e["fullUrl"] for b in build_bundles("ehr-b", today=TODAY) for e in b["entry"]]
    other = [e["fullUrl"] for b in build_bundles("ehr-a", today=TODAY) for e in b["entry"]]
    assert first == again
    assert len(set(first)) == len(first)
    assert not set(first) & set(other)  # same ids, different EHRs
    assert all(uuid.UUID(u.removeprefix("urn:uuid:")).version == 5 for u in first)


@pytest.mark.parametrize("profile", PROFILES)
def test_schedules_per_practitioner_and_service_type(profile: str) -> None:
    schedules = of_type(profile, "Schedule")
    pairs = {
        (s["actor"][0]["reference"], s["serviceType"][0]["coding"][0]["code"]) for s in schedules
    }
    assert len(pairs) == len(schedules)
    assert {p.split("/")[0] for p, _ in pairs} == {"Practitioner"}
    assert all(s["actor"][1]["reference"].startswith("Location/") for s in schedules)
    practitioners = {p for p, _ in pairs}
    assert len(practitioners) == len(of_type(profile, "Practitioner"))


@pytest.mark.parametrize("profile", PROFILES)
def test_slots_are_15_or_30_minutes_in_the_next_14_days_with_offsets(profile: str) -> None:
    slots = of_type(profile, "Slot")
    durations: Counter[int] = Counter()
    for slot in slots:
        start = datetime.fromisoformat(slot["start"])
        end = datetime.fromisoformat(slot["end"])
        assert start.tzinfo is not None and slot["start"][-6] in "+-"
        durations[int((end - start).total_seconds() // 60)] += 1
        assert TODAY < start.date() <= TODAY + timedelta(days=14)
        assert start.weekday() < 5 and 8 <= start.hour < 17
    assert set(durations) == {15, 30}
    statuses = Counter(s["status"] for s in slots)
    assert set(statuses) == {"free", "busy"}
    assert 0.15 < statuses["busy"] / len(slots) < 0.45


def test_slot_times_are_local_to_the_clinic_across_dst() -> None:
    offsets = {s["start"][-6:] for s in of_type("ehr-a", "Slot")}
    assert offsets == {"-05:00", "-04:00"}  # EST before 8 March, EDT after
    b_offsets = {s["start"][-6:] for s in of_type("ehr-b", "Slot")}
    assert {"-06:00", "-05:00"} <= b_offsets  # Chicago (CST, CDT); Denver adds -07:00/-06:00
    assert "-07:00" in b_offsets


@pytest.mark.parametrize("profile", PROFILES)
def test_appointments_booked_cancelled_and_fulfilled(profile: str) -> None:
    known = by_id(profile)
    appointments = of_type(profile, "Appointment")
    statuses = Counter(a["status"] for a in appointments)
    assert statuses["booked"] > 50 and statuses["cancelled"] > 5 and statuses["fulfilled"] > 20
    booked_slots = []
    for appt in appointments:
        start = datetime.fromisoformat(appt["start"])
        actors = [p["actor"]["reference"].split("/")[0] for p in appt["participant"]]
        assert actors == ["Patient", "Practitioner", "Location"]
        if appt["status"] == "booked":
            assert start.date() > TODAY
            (slot_ref,) = appt["slot"]
            slot = known[slot_ref["reference"]]
            assert slot["status"] == "busy"
            assert (slot["start"], slot["end"]) == (appt["start"], appt["end"])
            booked_slots.append(slot_ref["reference"])
        elif appt["status"] == "cancelled":
            assert appt["cancelationReason"]["coding"][0]["code"]
        else:
            assert start.date() < TODAY
    assert len(booked_slots) == len(set(booked_slots))  # never two bookings for one slot


@pytest.mark.parametrize("profile", PROFILES)
def test_coverages_primary_secondary_expired_and_dependents(profile: str) -> None:
    known = by_id(profile)
    coverages = of_type(profile, "Coverage")
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for cov in coverages:
        by_patient.setdefault(cov["beneficiary"]["reference"], []).append(cov)
        payer = known[cov["payor"][0]["reference"]]
        assert payer["identifier"][0]["value"] == cov["payor"][0]["identifier"]["value"]
        assert cov["identifier"][0]["type"]["coding"][0]["code"] == "MB"
        assert cov["subscriberId"]
        assert {c["type"]["coding"][0]["code"] for c in cov["class"]} >= {"plan"}
    assert sum({c["order"] for c in covs} >= {1, 2} for covs in by_patient.values()) > 10
    expired = [c for c in coverages if c["period"].get("end", "9999") < TODAY.isoformat()]
    assert len(expired) > 10
    relationships = Counter(c["relationship"]["coding"][0]["code"] for c in coverages)
    assert relationships["self"] > 150 and relationships["spouse"] + relationships["child"] > 5
    for cov in coverages:
        if cov["relationship"]["coding"][0]["code"] != "self":
            assert cov["subscriber"] != cov["beneficiary"]
    assert len(by_patient) > 170  # a few self-pay patients have none


@pytest.mark.parametrize("profile", PROFILES)
def test_every_resource_validates_as_fhir_r4(profile: str) -> None:
    for resource in resources(profile):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_bundle_validates_as_fhir_r4() -> None:
    bundle = build_bundles("ehr-b", today=TODAY, max_entries=50)[0]
    get_fhir_model_class("Bundle").model_validate(bundle)


# --- the same people in both EHRs -------------------------------------------------------


def test_ground_truth_file_matches_the_generator() -> None:
    assert json.loads(GROUND_TRUTH_FILE.read_text()) == ground_truth(7)


def test_forty_shared_people_with_each_kind_of_difference() -> None:
    truth = ground_truth(7)
    pairs = truth["same_person"]
    assert len(pairs) == 40
    kinds = Counter(k for p in pairs for k in p["differences"])
    assert all(kinds[k] >= 8 for k in ("nickname", "missing-phone", "moved-address", "name-typo"))
    assert all(p["ehr-a"] != p["ehr-b"] for p in pairs)
    assert len({p["ehr-a"] for p in pairs}) == len({p["ehr-b"] for p in pairs}) == 40


def test_shared_people_differ_as_the_ground_truth_says() -> None:
    a, b = by_id("ehr-a"), by_id("ehr-b")
    for pair in ground_truth(7)["same_person"]:
        pa, pb = a[f"Patient/{pair['ehr-a']}"], b[f"Patient/{pair['ehr-b']}"]
        assert pa["birthDate"] == pb["birthDate"] and pa["gender"] == pb["gender"]
        na, nb = official(pa), official(pb)
        kinds = set(pair["differences"])
        if "nickname" in kinds:
            assert na["given"][0] != nb["given"][0]
        if "name-typo" in kinds:
            assert (na["family"], na["given"][0]) != (nb["family"], nb["given"][0])
        if not kinds & {"nickname", "name-typo"}:
            assert (na["family"], na["given"][0]) == (nb["family"], nb["given"][0])
        phones_b = [t for t in pb.get("telecom", []) if t["system"] == "phone"]
        assert ("missing-phone" in kinds) == (not phones_b and bool(pa.get("telecom")))
        moved = pa["address"][0]["line"] != pb["address"][0]["line"]
        assert moved == ("moved-address" in kinds)


def test_decoys_share_a_name_but_not_a_birth_date() -> None:
    a, b = by_id("ehr-a"), by_id("ehr-b")
    decoys = ground_truth(7)["different_people_same_name"]
    assert len(decoys) >= 5
    for pair in decoys:
        pa, pb = a[f"Patient/{pair['ehr-a']}"], b[f"Patient/{pair['ehr-b']}"]
        assert official(pa)["family"] == official(pb)["family"]
        assert pa["birthDate"] != pb["birthDate"]


def test_no_other_same_name_and_birth_date_across_ehrs() -> None:
    def key(p: dict[str, Any]) -> tuple[str, str, str]:
        return (official(p)["family"], official(p)["given"][0], p["birthDate"])

    keys_b = {key(p): p["id"] for p in of_type("ehr-b", "Patient")}
    shared_a = {p["ehr-a"] for p in ground_truth(7)["same_person"]}
    collisions = [p["id"] for p in of_type("ehr-a", "Patient") if key(p) in keys_b]
    assert set(collisions) <= shared_a


def test_slots_move_with_the_reference_date_but_people_do_not() -> None:
    later = build_resources("ehr-a", today=TODAY + timedelta(days=7))
    patients_now = [r for r in resources("ehr-a") if r["resourceType"] == "Patient"]
    patients_later = [r for r in later if r["resourceType"] == "Patient"]
    assert [official(p) for p in patients_now] == [official(p) for p in patients_later]
    first_slot = min(r["start"] for r in later if r["resourceType"] == "Slot")
    assert datetime.fromisoformat(first_slot).date() > TODAY + timedelta(days=7)


@pytest.mark.parametrize("word", ["Smith", "Nguyen", "O'Brien", "Lee"])
def test_typo_always_changes_the_word(word: str) -> None:
    import random

    rng = random.Random(1)
    assert all(typo(rng, word) != word for _ in range(50))
