"""The HTTP API on in-memory sandbox EHRs: contract, validation, problem+json, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mappers import encode_id
from tests.support.gateway_env import OTHER_TENANT_KEY, auth, clinic
from tests.support.sandbox_env import BASE_A, BASE_B, sandbox_gateway


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


def _problem(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"].endswith(code)


async def test_health_says_live_and_openapi_has_clean_operation_ids():
    async with sandbox_gateway() as gw:
        assert (await gw.api.get("/healthz")).json() == {"status": "ok", "mode": "live"}
        spec = (await gw.api.get("/openapi.json")).json()
        ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
        assert {
            "searchPatients",
            "getPatient",
            "findSlots",
            "bookAppointment",
            "cancelAppointment",
            "rescheduleAppointment",
            "listAppointments",
            "getAppointment",
        } <= ops


async def test_patient_search_merges_across_ehrs_and_lists_sources():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"), family="Okafor")
        await clinic(BASE_B, transport=gw.transport("ehr-b"), family="Okafor")
        r = await gw.api.get(
            "/v1/patients",
            params={"family": "okafor", "given": "Maria", "birthdate": "1984-03-09"},
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert [s["status"] for s in body["sources"]] == ["ok", "ok"]
        [person] = body["items"]
        assert person["id"] == encode_id("ehr-a", "Patient", a["patient"]["id"])
        assert sorted((link["source"], link["grade"]) for link in person["links"]) == [
            ("ehr-a", "self"),
            ("ehr-b", "probable"),
        ]
        assert gw.audit.events[-1].action == "patient.search"
        assert set(gw.audit.events[-1].patient_ids) == {link["id"] for link in person["links"]}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "identifier"),
        ({"given": "Ann", "phone": "555"}, "given needs family"),
        ({"family": "X", "birthdate": "03/09/1984"}, "birthdate"),
        ({"identifier": "no-bar"}, "identifier"),
        ({"family": "x" * 101}, "family"),
    ],
)
async def test_patient_search_validation(params, needle):
    async with sandbox_gateway() as gw:
        r = await gw.api.get("/v1/patients", params=params, headers=auth())
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "validation_error"
        assert needle in r.json()["detail"]


@pytest.mark.parametrize(
    "bad_id", ["not-base64!", "AAAA", "x" * 301, encode_id("ehr-a", "Slot", "s1")]
)
async def test_unknown_or_malformed_patient_ids_are_404_or_422_never_500(bad_id):
    async with sandbox_gateway() as gw:
        r = await gw.api.get(f"/v1/patients/{bad_id}", headers=auth())
        assert r.status_code in (404, 422), r.text
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_other_tenant_cannot_see_a_patient():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"))
        pid = encode_id("ehr-a", "Patient", a["patient"]["id"])
        assert (await gw.api.get(f"/v1/patients/{pid}", headers=auth())).status_code == 200
        _problem(
            await gw.api.get(f"/v1/patients/{pid}", headers=auth(OTHER_TENANT_KEY)),
            404,
            "not_found",
        )


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ({"start": "2026-12-01T00:00:00Z", "end": "2027-02-01T00:00:00Z"}, "31 days"),
        ({"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, "after start"),
        ({"start": "2026-02-30"}, "start"),
        ({"start": "2026-12-01T25:00"}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-12-01T00:00:00Z", "practitioner": "AAAA"}, "practitioner"),
    ],
)
async def test_slot_query_validation(query, needle):
    async with sandbox_gateway() as gw:
        r = await gw.api.get("/v1/slots", params=query, headers=auth())
        _problem(r, 422, "validation_error")
        assert needle in r.text


async def test_slots_sorted_across_sources_and_cached_until_a_booking():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=2)
        b = await clinic(BASE_B, transport=gw.transport("ehr-b"), slots=2)
        start = a["start"] - timedelta(hours=1)
        q = {"start": start.isoformat(), "end": (start + timedelta(hours=5)).isoformat()}
        r = await gw.api.get("/v1/slots", params=q, headers=auth())
        assert r.status_code == 200 and r.headers["X-Cache"] == "miss"
        items = r.json()["items"]
        assert len(items) == 4
        assert [i["start"] for i in items] == sorted(i["start"] for i in items)
        assert (await gw.api.get("/v1/slots", params=q, headers=auth())).headers["X-Cache"] == "hit"
        r = await gw.api.post(
            "/v1/appointments",
            json={
                "slot_id": items[0]["id"],
                "patient_id": encode_id(
                    items[0]["source"]["source"],
                    "Patient",
                    (a if items[0]["source"]["source"] == "ehr-a" else b)["patient"]["id"],
                ),
            },
            headers={**auth(), "Idempotency-Key": "k1"},
        )
        assert r.status_code == 201, r.text
        after = await gw.api.get("/v1/slots", params=q, headers=auth())
        assert after.headers["X-Cache"] == "miss"
        assert len(after.json()["items"]) == 3


async def test_booking_validation_and_errors():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        b = await clinic(BASE_B, transport=gw.transport("ehr-b"), slots=1)
        slot = encode_id("ehr-a", "Slot", a["slots"][0]["id"])
        patient_a = encode_id("ehr-a", "Patient", a["patient"]["id"])
        patient_b = encode_id("ehr-b", "Patient", b["patient"]["id"])
        h = {**auth(), "Idempotency-Key": "k"}
        # missing Idempotency-Key
        _problem(
            await gw.api.post(
                "/v1/appointments", json={"slot_id": slot, "patient_id": patient_a}, headers=auth()
            ),
            422,
            "validation_error",
        )
        # unknown fields, wrong types
        _problem(
            await gw.api.post(
                "/v1/appointments",
                json={"slot_id": slot, "patient_id": patient_a, "x": 1},
                headers=h,
            ),
            422,
            "validation_error",
        )
        _problem(
            await gw.api.post("/v1/appointments", content=b"{not json", headers=h),
            422,
            "validation_error",
        )
        # a patient of another EHR than the slot: register them there, or use their link
        _problem(
            await gw.api.post(
                "/v1/appointments", json={"slot_id": slot, "patient_id": patient_b}, headers=h
            ),
            409,
            "patient_not_in_source",
        )
        # a slot that doesn't exist
        _problem(
            await gw.api.post(
                "/v1/appointments",
                json={"slot_id": encode_id("ehr-a", "Slot", "nope"), "patient_id": patient_a},
                headers={**auth(), "Idempotency-Key": "k2"},
            ),
            404,
            "not_found",
        )
        # oversized body
        _problem(
            await gw.api.post(
                "/v1/appointments",
                content=b"{" + b" " * 70_000 + b"}",
                headers={**h, "Content-Type": "application/json"},
            ),
            413,
            "payload_too_large",
        )
        # nothing was booked by any of it
        store = gw.ehrs["ehr-a"].state.fhir.store
        assert store.read("Slot", a["slots"][0]["id"]).resource["status"] == "free"


async def test_cancel_frees_the_slot_and_cancelling_twice_is_harmless():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        slot = encode_id("ehr-a", "Slot", a["slots"][0]["id"])
        patient = encode_id("ehr-a", "Patient", a["patient"]["id"])
        r = await gw.api.post(
            "/v1/appointments",
            json={"slot_id": slot, "patient_id": patient},
            headers={**auth(), "Idempotency-Key": "c1"},
        )
        appt = r.json()
        store = gw.ehrs["ehr-a"].state.fhir.store
        assert store.read("Slot", a["slots"][0]["id"]).resource["status"] == "busy"
        for _ in range(2):
            r = await gw.api.post(
                f"/v1/appointments/{appt['id']}/cancel", json={"reason": "ill"}, headers=auth()
            )
            assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert store.read("Slot", a["slots"][0]["id"]).resource["status"] == "free"
        got = await gw.api.get(f"/v1/appointments/{appt['id']}", headers=auth())
        assert got.json()["cancellation_reason"] == "ill"


async def test_list_appointments_needs_a_bounded_range():
    async with sandbox_gateway() as gw:
        pid = encode_id("ehr-a", "Patient", "p1")
        now = datetime.now(UTC)
        r = await gw.api.get(
            "/v1/appointments",
            params={
                "patient": pid,
                "start": now.isoformat(),
                "end": (now + timedelta(days=90)).isoformat(),
            },
            headers=auth(),
        )
        _problem(r, 422, "validation_error")


async def test_metrics_expose_request_latency_by_route():
    async with sandbox_gateway() as gw:
        await gw.api.get("/v1/slots", params={"start": "bad"}, headers=auth())
        text = (await gw.api.get("/metrics")).text
        assert (
            'frontdesk_request_seconds_count{method="GET",route="/v1/slots",status_class="4xx"}'
            in text
        )


async def test_appointments_of_one_person_come_from_every_ehr_that_knows_them():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1, family="Lindqvist")
        # Another hour: the same person can't be in two places at once.
        b = await clinic(
            BASE_B, transport=gw.transport("ehr-b"), slots=1, family="Lindqvist", hour=17
        )
        for src, c in (("ehr-a", a), ("ehr-b", b)):
            r = await gw.api.post(
                "/v1/appointments",
                json={
                    "slot_id": encode_id(src, "Slot", c["slots"][0]["id"]),
                    "patient_id": encode_id(src, "Patient", c["patient"]["id"]),
                },
                headers={**auth(), "Idempotency-Key": f"both-{src}"},
            )
            assert r.status_code == 201, r.text
        start = a["start"] - timedelta(days=1)
        r = await gw.api.get(
            "/v1/appointments",
            params={
                "patient": encode_id("ehr-a", "Patient", a["patient"]["id"]),
                "start": start.isoformat(),
                "end": (start + timedelta(days=3)).isoformat(),
            },
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert sorted(i["source"]["source"] for i in body["items"]) == ["ehr-a", "ehr-b"]
        assert sorted(s["source"] for s in body["sources"]) == ["ehr-a", "ehr-b"]


async def test_an_unusual_method_is_one_metric_label_not_a_new_series():
    async with sandbox_gateway() as gw:
        for method in ("BREW", "PROPFIND"):
            await gw.api.request(method, "/v1/slots", headers=auth())
        text = (await gw.api.get("/metrics")).text
        assert 'method="OTHER"' in text
        assert "BREW" not in text
        assert "PROPFIND" not in text
