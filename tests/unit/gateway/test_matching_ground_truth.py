"""Cross-EHR matching scored on the seed data's ground truth (40 people in both EHRs)."""

from __future__ import annotations

from datetime import date

from gateway.services.matching import match_patients
from mappers import decode_id, from_fhir
from mappers.model import Patient
from simulators.seed import build_resources, ground_truth

SEED = 7
TODAY = date(2026, 11, 26)


def _pairs() -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[tuple[str, str]]]:
    patients: list[Patient] = []
    for source in ("ehr-a", "ehr-b"):
        for resource in build_resources(source, seed=SEED, today=TODAY):
            if resource["resourceType"] == "Patient":
                record = from_fhir(resource, source=source)
                assert isinstance(record, Patient)
                patients.append(record)
    by_id = {p.id: p for p in patients}

    def cross(x: Patient, y: Patient) -> tuple[str, str] | None:
        ends = {x.source.source: decode_id(x.id).id, y.source.source: decode_id(y.id).id}
        return (ends["ehr-a"], ends["ehr-b"]) if len(ends) == 2 else None

    merged: set[tuple[str, str]] = set()
    flagged: set[tuple[str, str]] = set()
    for group in match_patients(patients):
        for i, x in enumerate(group.records):
            for y in group.records[i + 1 :]:
                if (pair := cross(x, y)) is not None:
                    merged.add(pair)
        for other in group.possible_duplicates:
            for x in group.records:
                if (pair := cross(x, by_id[other])) is not None:
                    flagged.add(pair)
    truth = {(p["ehr-a"], p["ehr-b"]) for p in ground_truth(SEED)["same_person"]}
    return truth, merged, flagged


def test_matching_never_merges_different_people_and_finds_every_shared_person():
    truth, merged, flagged = _pairs()
    assert len(truth) == 40
    # Merges (certain + probable) must be right: a wrong one shows a chart to the wrong person.
    merge_precision = len(merged & truth) / len(merged)
    assert merge_precision == 1.0
    # Every shared person is either merged or flagged as a possible duplicate for the PSR.
    surfaced = merged | flagged
    recall = len(surfaced & truth) / len(truth)
    precision = len(surfaced & truth) / len(surfaced)
    assert recall == 1.0
    assert precision >= 0.9
    # Nickname and typo pairs are flagged, never merged silently.
    assert len(merged) < len(truth)
    print(
        f"\nmatching on seed {SEED}: merged {len(merged)} (precision {merge_precision:.2f}, "
        f"recall {len(merged & truth) / len(truth):.2f}); merged+flagged {len(surfaced)} "
        f"(precision {precision:.2f}, recall {recall:.2f})"
    )
