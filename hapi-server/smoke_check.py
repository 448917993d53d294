#!/usr/bin/env python3
"""Checks, over HTTP, the server behaviour frontdesk's conformance tests rely on.

Run `hapi.sh smoke` (or this file with two base URLs) against running servers.
Stdlib only. Ids and names carry a per-run tag, so it can run again and again
against the same servers; it writes a few dozen resources into each.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

JSON = "application/fhir+json"


def call(
    method: str, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", JSON)
    if data is not None:
        request.add_header("Content-Type", JSON)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, dict(error.headers), error.read()
    return status, head, json.loads(raw) if raw else {}


failures: list[str] = []


def check(name: str, ok: bool, detail: object = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f"  ({detail})" if detail and not ok else ""))
    if not ok:
        failures.append(name)


def main(base_a: str, base_b: str) -> int:
    tag = time.strftime("%H%M%S")

    for label, base in (("A", base_a), ("B", base_b)):
        status, _, cap = call("GET", f"{base}/metadata")
        check(
            f"{label} /metadata 200, fhirVersion 4.0.1",
            status == 200 and cap.get("fhirVersion") == "4.0.1",
        )
        params = {
            r["type"]: {p["name"] for p in r.get("searchParam", [])}
            for r in cap["rest"][0]["resource"]
        }
        wanted = {
            "Patient": {"identifier", "name", "family", "given", "birthdate", "phone", "telecom"},
            "Slot": {"schedule", "status", "start"},
            "Schedule": {"actor", "service-type"},
            "Appointment": {"patient", "date", "status", "slot"},
            "Coverage": {"beneficiary", "payor"},
        }
        missing = {
            t: sorted(w - params.get(t, set()))
            for t, w in wanted.items()
            if w - params.get(t, set())
        }
        check(f"{label} /metadata lists the search parameters", not missing, missing)

    # Same client id, different people, in the two EHRs.
    pid = f"p-{tag}"
    for base, family in ((base_a, "Alpha"), (base_b, "Beta")):
        body = {"resourceType": "Patient", "id": pid, "name": [{"family": family}]}
        status, _, _ = call("PUT", f"{base}/Patient/{pid}", body)
        check(f"PUT Patient/{pid} ({family}) created", status == 201, status)
    fam_a = call("GET", f"{base_a}/Patient/{pid}")[2]["name"][0]["family"]
    fam_b = call("GET", f"{base_b}/Patient/{pid}")[2]["name"][0]["family"]
    check(
        "same id, different people in A and B", (fam_a, fam_b) == ("Alpha", "Beta"), (fam_a, fam_b)
    )

    # Conditional create: the second POST finds the first.
    ident = f"urn:smoke|{tag}"
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:smoke", "value": tag}]}
    first = call("POST", f"{base_a}/Patient", body, {"If-None-Exist": f"identifier={ident}"})
    second = call("POST", f"{base_a}/Patient", body, {"If-None-Exist": f"identifier={ident}"})
    check(
        "If-None-Exist: first 201, second 200",
        (first[0], second[0]) == (201, 200),
        (first[0], second[0]),
    )
    # Raw `|` in the query string (server.tomcat.relaxed-query-chars).
    found = call("GET", f"{base_a}/Patient?identifier={ident}&_total=accurate")
    check(
        "identifier=system|value unencoded finds exactly one",
        found[0] == 200 and found[2].get("total") == 1,
        found[0],
    )

    # Version-aware update.
    call(
        "PUT",
        f"{base_a}/Patient/{pid}",
        {"resourceType": "Patient", "id": pid, "name": [{"family": "Alpha2"}]},
    )
    stale = call(
        "PUT",
        f"{base_a}/Patient/{pid}",
        {"resourceType": "Patient", "id": pid},
        {"If-Match": 'W/"1"'},
    )
    check('PUT with stale If-Match W/"1" -> 412', stale[0] == 412, stale[0])
    fresh = call(
        "PUT",
        f"{base_a}/Patient/{pid}",
        {"resourceType": "Patient", "id": pid},
        {"If-Match": 'W/"2"'},
    )
    check(
        'PUT with current If-Match W/"2" -> 200, ETag W/"3"',
        fresh[0] == 200 and fresh[1].get("ETag") == 'W/"3"',
        fresh[0],
    )

    # Paging: 35 matches, 10 a page, absolute next links, no duplicates.
    family = f"Paging{tag}"
    for i in range(35):
        call(
            "POST",
            f"{base_a}/Patient",
            {"resourceType": "Patient", "name": [{"family": family, "given": [f"G{i}"]}]},
        )
    url: str | None = f"{base_a}/Patient?family={family}&_count=10"
    pages, ids = 0, []
    while url:
        status, _, bundle = call("GET", url)
        pages += 1
        ids += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = next(
            (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
        )
        if url is not None and not url.startswith(base_a):
            check("next link is absolute on the same base", False, url)
            break
    check(
        "35 matches in 4 pages of 10, no duplicates",
        (pages, len(ids), len(set(ids))) == (4, 35, 35),
        (pages, len(ids), len(set(ids))),
    )

    # Searches see writes at once (no reuse of cached search results).
    # The same query twice: HAPI's default would answer the second from its cache.
    query = f"{base_a}/Patient?family={family}&_total=accurate"
    before = call("GET", query)[2].get("total")
    call("POST", f"{base_a}/Patient", {"resourceType": "Patient", "name": [{"family": family}]})
    after = call("GET", query)[2].get("total")
    check(
        "a repeated search sees a new write at once", (before, after) == (35, 36), (before, after)
    )

    # _include.
    sched, slot = f"sch-{tag}", f"slot-{tag}"
    call(
        "PUT",
        f"{base_a}/Schedule/{sched}",
        {
            "resourceType": "Schedule",
            "id": sched,
            "active": True,
            "actor": [{"display": "Dr Smoke"}],
        },
    )
    call(
        "PUT",
        f"{base_a}/Slot/{slot}",
        {
            "resourceType": "Slot",
            "id": slot,
            "schedule": {"reference": f"Schedule/{sched}"},
            "status": "free",
            "start": "2030-01-01T09:00:00Z",
            "end": "2030-01-01T09:30:00Z",
        },
    )
    bundle = call("GET", f"{base_a}/Slot?_id={slot}&_include=Slot:schedule")[2]
    modes = sorted(
        (e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle.get("entry", [])
    )
    check(
        "Slot?_include=Slot:schedule returns the Schedule as include",
        modes == [("Schedule", "include"), ("Slot", "match")],
        modes,
    )

    # Transaction.
    patient_ref = "urn:uuid:6f1c1f64-5a60-4b6a-9d1e-0d9a6c1e2b3c"
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient_ref,
                "resource": {"resourceType": "Patient", "name": [{"family": f"Txn{tag}"}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:0b8f3c5e-2f4a-4c1e-9a7d-5e6f7a8b9c0d",
                "resource": {
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": patient_ref},
                    "payor": [{"reference": patient_ref}],
                },
                "request": {"method": "POST", "url": "Coverage"},
            },
        ],
    }
    status, _, response = call("POST", base_a, transaction)
    statuses = [e["response"]["status"] for e in response.get("entry", [])]
    check(
        "transaction Bundle: 200, both entries 201",
        status == 200 and all(s.startswith("201") for s in statuses),
        (status, statuses),
    )

    # Unknown search parameter.
    status, _, outcome = call("GET", f"{base_a}/Patient?foo=bar")
    check(
        "unknown search parameter -> 400 OperationOutcome",
        status == 400 and outcome.get("resourceType") == "OperationOutcome",
        status,
    )

    # $validate.
    status, _, outcome = call(
        "POST",
        f"{base_a}/Observation/$validate",
        {"resourceType": "Observation", "code": {"text": "x"}},
    )
    errors = [i for i in outcome.get("issue", []) if i.get("severity") == "error"]
    check(
        "$validate reports the missing Observation.status",
        status == 200 and any("status" in i.get("diagnostics", "") for i in errors),
        status,
    )

    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: smoke_check.py BASE_URL_A BASE_URL_B")
    sys.exit(main(sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")))
