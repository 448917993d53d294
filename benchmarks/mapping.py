"""Mapping cost against parsing cost, for one searchset page of 1,000 mixed resources.

Prints, measured in this run (best of several repetitions, timeit-style):
- ``json.loads`` of the page's bytes (the floor: every read pays it);
- ``mappers.from_bundle`` on the parsed dict;
- the same resources as a transaction (``urn:uuid`` fullUrls, references between
  entries), which also pays for resolving references through the Bundle;
- strict validation of each entry with ``fhir.resources.R4B`` (what mapping
  through the FHIR models instead of the JSON would cost).
and the ratios to json.loads. The budget on the hot path is mapping ≤ ~3x json.loads.
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable
from typing import Any

from mappers import from_bundle

SOURCE = "bench-ehr"
PAGE_SIZE = 1000
_KINDS = ("Patient", "Slot", "Appointment", "Coverage", "Schedule")

_US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"


def _meta(i: int) -> dict[str, Any]:
    return {
        "versionId": str(1 + i % 7),
        "lastUpdated": f"2025-0{1 + i % 9}-1{i % 10}T0{i % 10}:15:00.{i % 1000:03d}+00:00",
        "profile": [f"{_US_CORE}/us-core-patient"],
    }


def _vendor_ext(i: int) -> list[dict[str, Any]]:
    return [
        {"url": "http://vendor.example.org/fhir/ext/department", "valueString": f"DEPT{i % 40}"},
        {"url": "http://vendor.example.org/fhir/ext/flag", "valueBoolean": i % 2 == 0},
    ]


def patient(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"pat-{i}",
        "meta": _meta(i),
        "extension": [
            {
                "url": f"{_US_CORE}/us-core-race",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {
                            "system": "urn:oid:2.16.840.1.113883.6.238",
                            "code": "2106-3",
                            "display": "White",
                        },
                    },
                    {"url": "text", "valueString": "White"},
                ],
            },
            {"url": f"{_US_CORE}/us-core-birthsex", "valueCode": "F" if i % 2 else "M"},
            *_vendor_ext(i),
        ],
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                            "display": "Medical Record Number",
                        }
                    ],
                    "text": "MRN",
                },
                "system": "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14",
                "value": f"E{100000 + i}",
            },
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": f"999-{i % 90 + 10}-{i:04d}"},
        ],
        "active": True,
        "name": [
            {"use": "official", "family": f"Family{i}", "given": [f"Given{i}", "Q"]},
            {"use": "nickname", "given": [f"Nick{i}"]},
            {"use": "maiden", "family": f"Maiden{i}", "period": {"end": "2001-06-01"}},
        ],
        "telecom": [
            {"system": "phone", "value": f"555-01{i % 100:02d}", "use": "home"},
            {"system": "phone", "value": f"555-02{i % 100:02d}", "use": "mobile"},
            {"system": "email", "value": f"person{i}@example.org"},
        ],
        "gender": "female" if i % 2 else "male",
        "birthDate": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
        "address": [
            {
                "use": "home",
                "line": [f"{i} Main St", "Apt 2"],
                "city": "Springfield",
                "state": "IL",
                "postalCode": "62701",
                "country": "US",
            }
        ],
        "communication": [
            {
                "language": {
                    "coding": [{"system": "urn:ietf:bcp:47", "code": "en-US"}],
                    "text": "English",
                },
                "preferred": True,
            }
        ],
    }


def slot(i: int) -> dict[str, Any]:
    hour = 8 + i % 9
    return {
        "resourceType": "Slot",
        "id": f"slot-{i}",
        "meta": _meta(i),
        "extension": _vendor_ext(i),
        "identifier": [{"system": "http://vendor.example.org/slot", "value": f"S{i}"}],
        "serviceType": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/service-type",
                        "code": "124",
                        "display": "General Practice",
                    }
                ]
            }
        ],
        "specialty": [{"coding": [{"system": "http://snomed.info/sct", "code": "394814009"}]}],
        "appointmentType": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"}
            ]
        },
        "schedule": {"reference": f"Schedule/sched-{i % 20}"},
        "status": "free" if i % 3 else "busy",
        "start": f"2025-03-{1 + i % 28:02d}T{hour:02d}:00:00-05:00",
        "end": f"2025-03-{1 + i % 28:02d}T{hour:02d}:30:00-05:00",
        "comment": "Bring your insurance card",
    }


def appointment(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": f"appt-{i}",
        "meta": _meta(i),
        "extension": _vendor_ext(i),
        "identifier": [{"system": "urn:example:frontdesk-booking", "value": f"bk-{i:06d}"}],
        "status": "booked",
        "serviceType": [{"coding": [{"code": "124", "display": "General Practice"}]}],
        "appointmentType": {"coding": [{"code": "FOLLOWUP"}]},
        "reasonCode": [{"text": "Follow-up visit"}],
        "description": "Follow-up",
        "start": f"2025-03-{1 + i % 28:02d}T09:00:00Z",
        "end": f"2025-03-{1 + i % 28:02d}T09:30:00Z",
        "minutesDuration": 30,
        "slot": [{"reference": f"Slot/slot-{i}"}],
        "created": "2025-02-20T10:11:12Z",
        "participant": [
            {
                "actor": {"reference": f"Patient/pat-{i}", "display": f"Given{i} Family{i}"},
                "required": "required",
                "status": "accepted",
            },
            {
                "type": [{"coding": [{"code": "ATND"}]}],
                "actor": {"reference": f"Practitioner/pr-{i % 15}", "display": "Dr Example"},
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": {"reference": f"Location/loc-{i % 4}", "display": "Clinic A"},
                "required": "required",
                "status": "accepted",
            },
        ],
    }


def coverage(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": f"cov-{i}",
        "meta": _meta(i),
        "extension": _vendor_ext(i),
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}
                    ]
                },
                "system": "https://payer.example.org/member",
                "value": f"M{700000 + i}01",
            }
        ],
        "status": "active",
        "type": {
            "coding": [{"system": "https://nahdo.org/sopt", "code": "3712", "display": "PPO"}]
        },
        "subscriberId": f"M{700000 + i}",
        "beneficiary": {"reference": f"Patient/pat-{i}"},
        "dependent": "01",
        "relationship": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                    "code": "self",
                }
            ]
        },
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
        "payor": [
            {
                "reference": "Organization/payer-1",
                "identifier": {"system": "urn:x12:payer-id", "value": "60054"},
                "display": "Acme Health Plan",
            }
        ],
        "class": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                            "code": "group",
                        }
                    ]
                },
                "value": f"G{i % 50}",
                "name": "Employer group",
            },
            {
                "type": {"coding": [{"code": "plan"}]},
                "value": "GOLD",
                "name": "Acme Gold PPO",
            },
            {"type": {"coding": [{"code": "rxbin"}]}, "value": "610014"},
        ],
        "order": 1,
        "network": "Acme PPO",
    }


def schedule(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": f"sched-{i}",
        "meta": _meta(i),
        "extension": _vendor_ext(i),
        "active": True,
        "serviceType": [{"coding": [{"code": "124", "display": "General Practice"}]}],
        "specialty": [{"coding": [{"code": "394814009"}]}],
        "actor": [
            {"reference": f"Practitioner/pr-{i % 15}", "display": "Dr Example"},
            {"reference": f"Location/loc-{i % 4}"},
        ],
        "planningHorizon": {"start": "2025-03-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"},
        "comment": "Weekday clinic",
    }


_BUILDERS = {
    "Patient": patient,
    "Slot": slot,
    "Appointment": appointment,
    "Coverage": coverage,
    "Schedule": schedule,
}


def searchset(size: int = PAGE_SIZE) -> dict[str, Any]:
    """A deterministic searchset page: the five types in turn, plus paging links."""
    entries = []
    for i in range(size):
        resource = _BUILDERS[_KINDS[i % len(_KINDS)]](i)
        entries.append(
            {
                "fullUrl": f"https://ehr.example.org/fhir/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": size * 3,
        "link": [
            {"relation": "self", "url": "https://ehr.example.org/fhir/?_count=1000"},
            {"relation": "next", "url": "https://ehr.example.org/fhir/?_count=1000&page=2"},
        ],
        "entry": entries,
    }


def _best(fn: Callable[[], object], repeat: int) -> float:
    """Best time of one call, over ``repeat`` timed runs (timeit-style: the minimum)."""
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def _r4b_validator() -> Callable[[dict[str, Any]], None] | None:
    try:
        from fhir.resources.R4B import get_fhir_model_class
    except ImportError:
        return None

    classes = {rt: get_fhir_model_class(rt) for rt in _KINDS}

    def validate(bundle: dict[str, Any]) -> None:
        for entry in bundle["entry"]:
            resource = entry["resource"]
            classes[resource["resourceType"]].model_validate(resource)

    return validate


def transaction(size: int = PAGE_SIZE) -> dict[str, Any]:
    """The same resources as a transaction: no ids, ``urn:uuid`` fullUrls, and the
    references between them written as those fullUrls (resolved through the Bundle's
    fullUrl index, which a searchset with relative references never builds)."""
    page = searchset(size)
    urls: dict[str, str] = {}
    for n, entry in enumerate(page["entry"]):
        resource = entry["resource"]
        url = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        urls[f"{resource['resourceType']}/{resource.pop('id')}"] = url
        entry["fullUrl"] = url
        entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        del entry["search"]
    for entry in page["entry"]:
        _point_at_entries(entry["resource"], urls)
    page["type"] = "transaction"
    del page["total"], page["link"]
    return page


def _point_at_entries(value: Any, urls: dict[str, str]) -> None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref in urls:
            value["reference"] = urls[ref]
        for item in value.values():
            _point_at_entries(item, urls)
    elif isinstance(value, list):
        for item in value:
            _point_at_entries(item, urls)


def run(repeat: int = 7) -> dict[str, float]:
    raw = json.dumps(searchset()).encode()
    parsed = json.loads(raw)
    mapped = from_bundle(parsed, source=SOURCE)
    if len(mapped) != PAGE_SIZE or mapped.warnings:
        raise SystemExit(f"benchmark page did not map cleanly: {mapped!r} {mapped.warnings[:3]}")
    raw_tx = json.dumps(transaction()).encode()
    parsed_tx = json.loads(raw_tx)
    mapped_tx = from_bundle(parsed_tx, source=SOURCE)
    if len(mapped_tx) != PAGE_SIZE or mapped_tx.warnings or any(r.warnings for r in mapped_tx):
        raise SystemExit("benchmark transaction did not map cleanly")

    loads = _best(lambda: json.loads(raw), repeat)
    mapping = _best(lambda: from_bundle(parsed, source=SOURCE), repeat)
    loads_tx = _best(lambda: json.loads(raw_tx), repeat)
    mapping_tx = _best(lambda: from_bundle(parsed_tx, source=SOURCE), repeat)
    results = {
        "bytes": float(len(raw)),
        "json_loads_s": loads,
        "from_bundle_s": mapping,
        "mapping_ratio": mapping / loads,
        "transaction_ratio": mapping_tx / loads_tx,
    }
    print(f"mapping: searchset of {PAGE_SIZE} mixed resources, {len(raw) / 1e6:.2f} MB")
    print(f"  json.loads            {loads * 1e3:8.2f} ms")
    print(f"  from_bundle           {mapping * 1e3:8.2f} ms   {mapping / loads:5.2f}x json.loads")
    print(
        f"  as a transaction      {mapping_tx * 1e3:8.2f} ms   {mapping_tx / loads_tx:5.2f}x "
        "its json.loads (urn:uuid fullUrls and references)"
    )
    validate = _r4b_validator()
    if validate is not None:
        # R4B is slow; fewer repetitions keep the whole run short.
        r4b = _best(lambda: validate(parsed), max(2, repeat // 3))
        results["r4b_validate_s"] = r4b
        print(f"  R4B model_validate    {r4b * 1e3:8.2f} ms   {r4b / loads:5.2f}x json.loads")
    else:
        print("  R4B model_validate    (fhir.resources not installed)")
    return results


def main(argv: list[str] | None = None) -> int:
    del argv
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
