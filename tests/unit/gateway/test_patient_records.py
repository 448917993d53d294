"""Registering patients, correcting records, insurance on file, check-in and no-show, on
the in-memory sandbox EHRs."""

from __future__ import annotations

import uuid

import pytest

from mappers import encode_id
from tests.support.gateway_env import auth, clinic
from tests.support.sandbox_env import BASE_A, sandbox_gateway


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HASH_KEY", "unit-secret")


def _registration(family: str, **extra: object) -> dict[str, object]:
    return {
        "source": "ehr-b",
        "identifier": {"system": "urn:test:desk", "value": f"D-{uuid.uuid4().hex[:8]}"},
        "name": {"family": family, "given": ["Maria"]},
        "birth_date": "1984-03-09",
        "gender": "female",
        "phones": [{"value": "555-0101", "use": "mobile"}],
        **extra,
    }


async def test_a_known_person_is_refused_as_a_possible_duplicate_until_confirmed():
    async with sandbox_gateway() as gw:
        a = await clinic(BASE_A, transport=gw.transport("ehr-a"))
        body = _registration(a["family"])
        refused = await gw.api.post("/v1/patients", json=body, headers=auth())
        assert (refused.status_code, refused.json()["code"]) == (409, "possible_duplicate")
        [candidate] = refused.json()["candidates"]
        assert candidate["patient"]["id"] == encode_id("ehr-a", "Patient", a["patient"]["id"])
        assert candidate["grade"] == "probable"
        assert {"family", "given", "birth_date", "gender"} <= set(candidate["agreeing"])
        confirmed = await gw.api.post(
            "/v1/patients", json={**body, "confirm_new": True}, headers=auth()
        )
        assert confirmed.status_code == 201, confirmed.text
        made = confirmed.json()
        assert made["source"] == "ehr-b" and made["name"]["family"] == a["family"]
        assert confirmed.headers["Location"] == f"/v1/patients/{made['id']}"
        # A retried registration (same desk identifier) finds the first record.
        again = await gw.api.post(
            "/v1/patients", json={**body, "confirm_new": True}, headers=auth()
        )
        assert again.json()["id"] == made["id"]


async def test_someone_new_is_registered_at_once():
    async with sandbox_gateway() as gw:
        body = _registration(f"Newcomer{uuid.uuid4().hex[:6]}", birth_date="2001-07-04")
        body["phones"] = [{"value": "555-7777"}]
        r = await gw.api.post("/v1/patients", json=body, headers=auth())
        assert r.status_code == 201, r.text
        assert r.json()["birth_date"] == "2001-07-04"
        needs_scope = await gw.api.post(
            "/v1/patients", json=body, headers=auth("test-key-read-only")
        )
        assert needs_scope.status_code in (401, 403)


async def test_corrections_change_only_what_was_sent_and_refuse_a_stale_version():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"))
        pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
        before = (await gw.api.get(f"/v1/patients/{pid}", headers=auth())).json()
        assert before["version"] == "1"
        r = await gw.api.patch(
            f"/v1/patients/{pid}",
            json={"phones": [{"value": "555-0199", "use": "mobile"}], "language": "es"},
            headers={**auth(), "If-Match": 'W/"1"'},
        )
        assert r.status_code == 200, r.text
        after = r.json()
        assert [p["value"] for p in after["phones"]] == ["555-0199"]
        assert after["language"] == "es"
        assert after["name"] == before["name"] and after["birth_date"] == before["birth_date"]
        stale = await gw.api.patch(
            f"/v1/patients/{pid}",
            json={"emails": [{"value": "maria@example.org"}]},
            headers={**auth(), "If-Match": 'W/"1"'},
        )
        assert (stale.status_code, stale.json()["code"]) == (409, "version_conflict")
        kept = (await gw.api.get(f"/v1/patients/{pid}", headers=auth())).json()
        assert kept["emails"] == [] and kept["version"] == after["version"]


async def test_insurance_is_added_and_replaced_and_cached_answers_are_forgotten():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"))
        pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
        first = await gw.api.post("/v1/coverage-checks", json={"patient_id": pid}, headers=auth())
        assert first.json()["status"] == "unknown"  # nothing on file yet
        added = await gw.api.post(
            f"/v1/patients/{pid}/coverages",
            json={"payer_id": "ACME01", "payer_name": "Acme", "member_id": "M-77"},
            headers=auth(),
        )
        assert added.status_code == 201, added.text
        on_file = (await gw.api.get(f"/v1/patients/{pid}/coverages", headers=auth())).json()
        assert [cov["member_id"] for cov in on_file] == ["M-77"]
        replaced = await gw.api.post(
            f"/v1/patients/{pid}/coverages",
            json={"self_pay": True, "replaces": added.json()["id"]},
            headers=auth(),
        )
        assert replaced.status_code == 201, replaced.text
        assert replaced.json()["id"] == added.json()["id"] and replaced.json()["self_pay"]
        # The check asks again rather than answering from before the change.
        second = await gw.api.post("/v1/coverage-checks", json={"patient_id": pid}, headers=auth())
        assert not second.json()["cached"]


async def test_check_in_then_no_show_refused_and_replays_are_harmless():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=2)
        pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
        ids = []
        for i in range(2):
            r = await gw.api.post(
                "/v1/appointments",
                json={
                    "slot_id": encode_id("ehr-a", "Slot", c["slots"][i]["id"]),
                    "patient_id": pid,
                },
                headers={**auth(), "Idempotency-Key": f"arr-{c['run']}-{i}"},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        read = await gw.api.get(f"/v1/appointments/{ids[0]}", headers=auth())
        etag = read.headers["ETag"]
        arrived = await gw.api.post(
            f"/v1/appointments/{ids[0]}/check-in", headers={**auth(), "If-Match": etag}
        )
        assert arrived.status_code == 200, arrived.text
        assert arrived.json()["status"] == "arrived"
        again = await gw.api.post(f"/v1/appointments/{ids[0]}/check-in", headers=auth())
        assert (
            again.json()["status"] == "arrived" and again.headers["ETag"] == arrived.headers["ETag"]
        )
        stale = await gw.api.post(
            f"/v1/appointments/{ids[0]}/no-show", headers={**auth(), "If-Match": etag}
        )
        assert stale.json()["code"] == "version_conflict"
        impossible = await gw.api.post(f"/v1/appointments/{ids[0]}/no-show", headers=auth())
        assert (impossible.status_code, impossible.json()["code"]) == (409, "invalid_transition")
        missed = await gw.api.post(f"/v1/appointments/{ids[1]}/no-show", headers=auth())
        assert missed.json()["status"] == "noshow"


async def test_self_pay_on_file_is_answered_without_a_payer():
    async with sandbox_gateway() as gw:
        c = await clinic(BASE_A, transport=gw.transport("ehr-a"), slots=1)
        pid = encode_id("ehr-a", "Patient", c["patient"]["id"])
        r = await gw.api.post(
            f"/v1/patients/{pid}/coverages", json={"self_pay": True}, headers=auth()
        )
        assert r.status_code == 201, r.text
        answer = (
            await gw.api.post("/v1/coverage-checks", json={"patient_id": pid}, headers=auth())
        ).json()
        assert answer["self_pay"] is True and answer["origin"] == "ehr"
        assert "self-pay" in answer["messages"][0]
        booked = await gw.api.post(
            "/v1/appointments",
            json={"slot_id": encode_id("ehr-a", "Slot", c["slots"][0]["id"]), "patient_id": pid},
            headers={**auth(), "Idempotency-Key": f"sp-{c['run']}"},
        )
        day = c["start"].date().isoformat()
        listed = await gw.api.get(
            "/v1/appointments", params={"date": day, "include": "coverage"}, headers=auth()
        )
        [mine] = [a for a in listed.json()["items"] if a["id"] == booked.json()["id"]]
        assert mine["coverage"]["status"] == "self_pay"
