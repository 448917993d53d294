from __future__ import annotations

import base64

import pytest

from mappers import InvalidId, decode_id, encode_id
from mappers.ids import is_fhir_id


def forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def test_round_trip() -> None:
    gid = encode_id("ehr-a", "Patient", "p-1.2")
    assert decode_id(gid, resource_type="Patient") == ("ehr-a", "Patient", "p-1.2")


@pytest.mark.parametrize(
    "raw",
    [
        "ehr-a/Patient/.",
        "ehr-a/Patient/..",
        "ehr-a/Patient/...",
        "ehr-a/Patient/a/b",
        "ehr-a/Patient/a?x=1",
        "ehr-a/Patient/a b",
        "ehr-a/Patient/" + "a" * 65,
        "ehr-a/Patient/",
        "EHR-A/Patient/a",
        "ehr-a/patient/a",
        "ehr-a/Patient/a\n",
        "ehr-a/Patient/%2e%2e",
    ],
)
def test_forged_ids_are_refused_at_decode(raw: str) -> None:
    with pytest.raises(InvalidId):
        decode_id(forged(raw))


@pytest.mark.parametrize("upstream", [".", "..", "...."])
def test_dot_only_ids_are_not_fhir_ids_we_send(upstream: str) -> None:
    assert not is_fhir_id(upstream)
    with pytest.raises(InvalidId):
        encode_id("ehr-a", "Patient", upstream)


def test_ids_with_dots_inside_are_fine() -> None:
    assert is_fhir_id("a.b") and is_fhir_id(".a") and is_fhir_id("1.2.840")
