"""The two synthetic EHRs: where they are, their MRN systems, clinics and time zones.

Both use the same resource ids (``Patient/p-1001``, ``Practitioner/prac-101``...) for
different people, so the gateway's per-source id namespacing is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.seed.catalog import (
    BOSTON_AREA,
    BOSTON_AREA_CODES,
    CHICAGO_AREA,
    CHICAGO_AREA_CODES,
    City,
)


@dataclass(frozen=True)
class Clinic:
    """A Location: where a practitioner sees patients, in its own time zone."""

    id: str
    name: str
    line: str
    city: str
    state: str
    postal_code: str
    time_zone: str
    phone: str


@dataclass(frozen=True)
class EhrProfile:
    id: str
    name: str
    mrn_system: str
    mrn_format: str  # str.format with n: the person's per-EHR number
    organization_id: str
    cities: tuple[City, ...]
    area_codes: tuple[str, ...]
    clinics: tuple[Clinic, ...]
    practitioners: int
    npi_base: int


EHR_A = EhrProfile(
    id="ehr-a",
    name="Harborview Health (EHR A)",
    mrn_system="urn:oid:2.999.1.1.1",
    mrn_format="{n:08d}",
    organization_id="org-harborview",
    cities=BOSTON_AREA,
    area_codes=BOSTON_AREA_CODES,
    clinics=(
        Clinic(
            "loc-1",
            "Harborview Primary Care - Back Bay",
            "400 Boylston St",
            "Boston",
            "MA",
            "02116",
            "America/New_York",
            "617-555-0100",
        ),
        Clinic(
            "loc-2",
            "Harborview Family Medicine - Quincy",
            "12 Hancock St",
            "Quincy",
            "MA",
            "02171",
            "America/New_York",
            "617-555-0150",
        ),
    ),
    practitioners=6,
    npi_base=1_234_500_000 // 10,
)

EHR_B = EhrProfile(
    id="ehr-b",
    name="Prairie Medical Group (EHR B)",
    mrn_system="https://ehr-b.example.org/fhir/sid/mrn",
    mrn_format="MRN{n:06d}",
    organization_id="org-prairie",
    cities=CHICAGO_AREA,
    area_codes=CHICAGO_AREA_CODES,
    clinics=(
        Clinic(
            "loc-1",
            "Prairie Medical - Lincoln Park",
            "2200 N Clark St",
            "Chicago",
            "IL",
            "60614",
            "America/Chicago",
            "312-555-0120",
        ),
        Clinic(
            "loc-2",
            "Prairie Medical - Evanston",
            "1801 Sherman Ave",
            "Evanston",
            "IL",
            "60201",
            "America/Chicago",
            "847-555-0130",
        ),
        # A satellite clinic one time zone west: slots there are in Mountain time.
        Clinic(
            "loc-3",
            "Prairie Medical - Denver Tech Center",
            "8000 E Belleview Ave",
            "Greenwood Village",
            "CO",
            "80111",
            "America/Denver",
            "303-555-0140",
        ),
    ),
    practitioners=5,
    npi_base=1_987_600_000 // 10,
)

PROFILES: dict[str, EhrProfile] = {p.id: p for p in (EHR_A, EHR_B)}


def profile(name: str) -> EhrProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown seed profile {name!r}; use one of {sorted(PROFILES)}") from None
