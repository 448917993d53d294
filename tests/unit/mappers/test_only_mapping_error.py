"""Whatever they are given, the public mappers return records or raise MappingError with
a path to the bad part, and nothing else (issue 15: "malformed input never crashes").
The outbound builders that take upstream JSON (the record read, to patch or put back)
keep the same contract.

Two kinds of input: arbitrary JSON-shaped values, and structure-aware garbage: real
resources of every supported type (the fixtures) and Bundles of every type built from
them (entries named by urn:uuid or RESTful fullUrls, with and without ids, references
rewritten to other entries), with values anywhere inside replaced by garbage. A
MappingError must come from the mappers' own checks, never from the last-resort guard
that turns an unexpected exception into "unreadable (...)".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappers import SUPPORTED_TYPES, MappingError, from_bundle, from_bundle_pages, from_fhir
from mappers.model import Address, ContactPoint, PatientChanges
from mappers.outbound import (
    build_cancellation,
    hold_parameters,
    patient_update,
    status_patch,
    with_status,
)
from mappers.x12 import parse_271

FIXTURES = Path(__file__).parents[2] / "fixtures" / "fhir"
SOURCE = "ehr-a"
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _seed_resources() -> dict[str, list[dict[str, Any]]]:
    """Every resource of a supported type in the fixtures, by type."""
    out: dict[str, list[dict[str, Any]]] = {}

    def add(resource: Any) -> None:
        if isinstance(resource, dict) and resource.get("resourceType") in SUPPORTED_TYPES:
            out.setdefault(resource["resourceType"], []).append(resource)

    for path in sorted(FIXTURES.rglob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            for entry in data.get("entry", []):
                if isinstance(entry, dict):
                    add(entry.get("resource"))
        else:
            add(data)
    return out


def _maps(resource: dict[str, Any]) -> bool:
    try:
        from_fhir(resource, source=SOURCE)
    except MappingError:
        return False
    return True


SEEDS = _seed_resources()
SEED_LIST = [r for rtype in sorted(SEEDS) for r in SEEDS[rtype]]
# Some fixtures hold unusable resources on purpose (a Slot start without an offset).
USABLE = [r for r in SEED_LIST if _maps(r)]

_KEYS = [
    "resourceType", "id", "meta", "versionId", "lastUpdated", "name", "family", "given",
    "identifier", "value", "type", "coding", "code", "system", "display", "text",
    "reference", "start", "end", "status", "actor", "participant", "schedule", "slot",
    "payor", "class", "period", "birthDate", "telecom", "address", "communication",
    "contained", "entry", "resource", "fullUrl", "search", "mode", "link", "relation",
    "url", "total", "issue", "insurance", "item", "benefit", "serviceType", "position",
    "latitude", "longitude", "location", "practitioner", "organization", "npi",
    "qualification", "partOf", "managingOrganization", "providedBy", "concept",
]  # fmt: skip
_REFS = [
    "urn:uuid:11111111-2222-4333-8444-555555555555", "Patient/p1", "Schedule/", "#x",
    "http://x/fhir/Slot/s1/_history/2", "urn:oid:1.2", "Organization/o1", "RelatedPerson/r",
    "https://ehr.example.org/fhir/Practitioner/pract-1", "", " ", "urn:", "://",
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from([*sorted(SUPPORTED_TYPES), "Bundle", "OperationOutcome", *_REFS])
    | st.datetimes().map(lambda d: d.isoformat())
)
keys = st.sampled_from(_KEYS) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)


@st.composite
def corrupted(draw: st.DrawFn, value: Any, rate: int = 8) -> Any:
    """``value`` with some nodes, at any depth, replaced, dropped or re-typed."""

    def walk(node: Any) -> Any:
        roll = draw(st.integers(0, rate * 3))
        if roll == 0:
            return draw(json_values)
        if roll == 1:
            return [node]  # a lone value where a list is expected, or a list too deep
        if roll == 2 and isinstance(node, list) and node:
            return node[0]  # a list where one value is expected
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items() if draw(st.integers(0, rate * 4)) != 0}
            if draw(st.integers(0, rate * 4)) == 0:
                out[draw(keys)] = draw(json_values)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)


@st.composite
def bundles(draw: st.DrawFn) -> dict[str, Any]:
    """A Bundle of any type from usable seed resources: fullUrls of every kind, some ids
    removed, some references pointing at other entries by fullUrl."""
    resources = draw(st.lists(st.sampled_from(USABLE), max_size=6))
    entries: list[dict[str, Any]] = []
    urls: list[str] = []
    for resource in resources:
        resource = json.loads(json.dumps(resource))
        kind = draw(st.sampled_from(["uuid", "rest", "none", "odd"]))
        if kind == "uuid":
            url = f"urn:uuid:{draw(st.uuids())}"
        elif kind == "rest":
            url = (
                f"https://ehr.example.org/fhir/{resource['resourceType']}/{resource.get('id', 'x')}"
            )
        elif kind == "odd":
            url = draw(st.text(max_size=30))
        else:
            url = ""
        if draw(st.booleans()):
            resource.pop("id", None)
        entry: dict[str, Any] = {"resource": resource}
        if url:
            entry["fullUrl"] = url
            urls.append(url)
        if draw(st.booleans()):
            entry["search"] = {"mode": draw(st.sampled_from(["match", "include", "outcome"]))}
        entries.append(entry)
    if urls:
        # Point some references at other entries, as a transaction does with urn:uuid.
        for entry in entries:
            for key in ("schedule", "beneficiary", "practitioner", "partOf"):
                if key in entry["resource"] and draw(st.booleans()):
                    entry["resource"][key] = {"reference": draw(st.sampled_from(urls))}
    bundle_type = draw(
        st.sampled_from(
            ["searchset", "transaction", "batch", "collection", "history", "transaction-response"]
        )
    )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.UUID(int=draw(st.integers(0, 2**64)))),
        "type": bundle_type,
        "total": len(entries),
        "link": [{"relation": "next", "url": "https://ehr.example.org/fhir?page=2"}],
        "entry": entries,
    }


def _outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or None when it raised a MappingError of its own."""
    error: MappingError | None = None
    try:
        return call()
    except MappingError as exc:
        error = exc
    assert error.path, error
    assert not error.reason.startswith("unreadable"), error  # the last-resort guard fired
    return None


def _round_trips(record: Any) -> None:
    assert type(record).model_validate(record.model_dump()) == record


def _everything(value: Any) -> None:
    record = _outcome(lambda: from_fhir(value, source=SOURCE))
    if record is not None:
        _round_trips(record)
    page = _outcome(lambda: from_bundle(value, source=SOURCE))
    if page is not None:
        for record in [*page, *page.included]:
            _round_trips(record)
    _outcome(lambda: from_bundle_pages(value, source=SOURCE))
    _outcome(lambda: from_bundle_pages([value, value], source=SOURCE))
    _outcome(lambda: parse_271(value))


def test_every_supported_type_has_seeds() -> None:
    assert set(SEEDS) == SUPPORTED_TYPES
    assert {r["resourceType"] for r in USABLE} == SUPPORTED_TYPES


@SETTINGS
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    _everything(value)


@SETTINGS
@given(st.sampled_from(sorted(SUPPORTED_TYPES)), st.dictionaries(keys, json_values, max_size=8))
def test_arbitrary_fields_under_a_known_type(rtype: str, fields: dict[str, Any]) -> None:
    _everything({**fields, "resourceType": rtype})
    _everything({**fields, "resourceType": rtype, "id": "x1"})
    _everything(
        {"resourceType": "Bundle", "entry": [{"resource": {**fields, "resourceType": rtype}}]}
    )


@SETTINGS
@given(st.sampled_from(SEED_LIST).flatmap(lambda r: corrupted(r)))
def test_garbage_inside_real_resources(value: Any) -> None:
    _everything(value)
    _everything({"resourceType": "Bundle", "entry": [{"resource": value}]})


@SETTINGS
@given(bundles().flatmap(lambda b: corrupted(b, rate=12)))
def test_garbage_inside_bundles_of_every_type(value: Any) -> None:
    _everything(value)


@SETTINGS
@given(st.lists(bundles().flatmap(lambda b: corrupted(b, rate=16)), max_size=3))
def test_garbage_inside_pages(pages: list[Any]) -> None:
    search = _outcome(lambda: from_bundle_pages(pages, source=SOURCE))
    if search is not None:
        for record in [*search.matches, *search.included.values()]:
            _round_trips(record)


@SETTINGS
@given(bundles())
def test_well_formed_bundles_of_every_type_map_every_entry(bundle: dict[str, Any]) -> None:
    page = from_bundle(bundle, source=SOURCE)
    # Every entry is a seed that maps on its own, so none is skipped inside a Bundle.
    assert not [w for w in page.warnings if "skipped" in w]
    assert len(page) + len(page.included) == len(bundle["entry"])


def test_the_malformed_fixture_keeps_what_is_usable() -> None:
    raw = json.loads((FIXTURES / "vendor-shapes" / "bundle-malformed.json").read_text())
    page = from_bundle(raw, source=SOURCE)
    assert [type(r).__name__ for r in page] == ["Schedule", "Slot", "Appointment", "Coverage"]
    assert page.total is None
    assert page.next_link == "https://ehr.example.org/fhir?page=2"
    assert page.warnings == [
        "Bundle.total: not a non-negative integer; dropped",
        "Bundle.entry[0].resource: missing or not an object; skipped",
        "Bundle.entry[1]: not an object; skipped",
        "Bundle.entry[2]: not an object; skipped",
        "Bundle.entry[3]: not an object; skipped",
        "Bundle.entry[4]: not an object; skipped",
        "Bundle.entry[5].resource: missing or not an object; skipped",
        "Bundle.entry[6].resource.resourceType: unsupported type (unrecognised); skipped",
        "Bundle.entry[11] OperationOutcome: no issues",
    ]
    appointment = page[2]
    assert appointment.warnings == [
        "Appointment.meta: not an object",
        "Appointment.participant[0].actor: not an object",
        "Appointment.slot[0]: not a Reference object",
    ]


# --- outbound builders that take upstream JSON: the same contract ---------------------

_CHANGES = PatientChanges(
    phones=[ContactPoint(value="555-0100", use="home")],
    emails=[ContactPoint(value="a@example.org")],
    address=Address(line=["1 Main St"], use="home"),
    language="es",
    family="Doe",
    given=["Jo"],
)
PATIENTS = SEEDS["Patient"]
APPOINTMENTS = SEEDS["Appointment"]


def _outbound(value: Any) -> None:
    for call in (
        lambda: patient_update(value, _CHANGES),
        lambda: status_patch(value, "arrived", test_current=True),
        lambda: with_status(value, "noshow"),
        lambda: build_cancellation(value, "patient called"),
        lambda: hold_parameters(appointment=value),
    ):
        error: MappingError | None = None
        try:
            call()
        except MappingError as exc:
            error = exc
        assert error is None or error.path


@SETTINGS
@given(json_values)
def test_outbound_builders_take_arbitrary_json(value: Any) -> None:
    _outbound(value)


@SETTINGS
@given(st.sampled_from(PATIENTS + APPOINTMENTS).flatmap(lambda r: corrupted(r)))
def test_outbound_builders_take_garbage_inside_real_records(value: Any) -> None:
    _outbound(value)
