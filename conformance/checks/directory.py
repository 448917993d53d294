"""The directory a front desk searches before booking: Practitioner, Location and
PractitionerRole by name and specialty (GET [base]/PractitionerRole?specialty=...).

Rows of `CASES`, run by `search_engine`. The write-mode fixtures hold two practitioners
with different names, each at their own location with their own specialty, so every
search has a record it must return and one it must not.
"""

from __future__ import annotations

from conformance.checks import picks
from conformance.checks.search_engine import (
    NAME_PARTS,
    SearchCase,
    as_checks,
    reference,
    string,
    token,
)
from conformance.model import Check

__all__ = ["CASES", "CHECKS"]

CASES: list[SearchCase] = [
    SearchCase(
        "directory.practitioner-name",
        "Practitioner?name= finds practitioners by the start of a name part",
        "practitioner.html#search",
        "Practitioner",
        queries=((string("name", NAME_PARTS, picks.family("practitioner")),),),
    ),
    SearchCase(
        "directory.practitioner-family",
        "Practitioner?family= finds practitioners by family name",
        "practitioner.html#search",
        "Practitioner",
        queries=((string("family", ("name.family",), picks.family("practitioner")),),),
    ),
    SearchCase(
        "directory.location-name",
        "Location?name= finds locations by the start of their name or an alias",
        "location.html#search",
        "Location",
        queries=((string("name", ("name", "alias"), picks.name_word("location")),),),
    ),
    SearchCase(
        "directory.practitionerrole-specialty",
        "PractitionerRole?specialty=system|code finds the roles with that specialty",
        "practitionerrole.html#search",
        "PractitionerRole",
        queries=(
            (token("specialty", "specialty", picks.coding("role", "specialty"), shown=True),),
        ),
    ),
    SearchCase(
        "directory.practitionerrole-practitioner",
        "PractitionerRole?practitioner= finds a practitioner's roles",
        "practitionerrole.html#search",
        "PractitionerRole",
        queries=(
            (reference("practitioner", "practitioner", picks.first_ref("role", "practitioner")),),
        ),
    ),
    SearchCase(
        "directory.practitionerrole-location",
        "PractitionerRole?location= finds the roles at a location",
        "practitionerrole.html#search",
        "PractitionerRole",
        queries=((reference("location", "location", picks.first_ref("role", "location")),),),
    ),
]

CHECKS: list[Check] = as_checks(CASES, "directory")


def declared_parameters() -> dict[str, set[str]]:
    """The search parameters the directory rows send, by resource type."""
    wanted: dict[str, set[str]] = {}
    for case in CASES:
        for query in case.queries:
            wanted.setdefault(case.resource, set()).update(c.parameter for c in query)
    return wanted
