"""The match model: the in-process scores are Splink's, the explanation says why, and a
missing sex weighs nothing."""

from __future__ import annotations

import copy
from functools import cache

import pytest

from gateway.identity.features import blocking_keys, query_row, row_of
from gateway.identity.linkage import link
from gateway.identity.model import DEFAULT_MODEL_DIR, MatchModel, ModelMismatch
from mappers import from_fhir
from mappers.model import Patient
from simulators.seed.corruption import corrupted_pair


@cache
def _rows() -> list[dict[str, str | None]]:
    pair = corrupted_pair(300, seed=4)
    return [row_of(from_fhir(r, source="ehr-a", expect=Patient)) for r in pair.ehr_a] + [
        row_of(from_fhir(r, source="ehr-b", expect=Patient)) for r in pair.ehr_b
    ]


def test_in_process_scores_equal_splinks_predictions():
    model = MatchModel.load()
    rows = _rows()
    linkage = link(rows, model.settings, model.policy)
    assert len(linkage.edges) > 100
    by_id = {r["unique_id"]: r for r in rows}
    for edge in linkage.edges:
        mine = model.score(by_id[edge.left], by_id[edge.right])
        assert mine.weight == pytest.approx(edge.weight, abs=1e-6)
        assert mine.probability == pytest.approx(edge.probability, abs=1e-9)


def test_a_model_with_other_levels_is_refused():
    model = MatchModel.load()
    settings = copy.deepcopy(model.settings)
    settings["comparisons"][0]["comparison_levels"][1]["sql_condition"] = (
        '"first_name_l" <> "first_name_r"'
    )
    with pytest.raises(ModelMismatch):
        MatchModel(settings, model.policy, "x")


def _row(**fields: str | None) -> dict[str, str | None]:
    row = query_row(family=None, given=None, birthdate=None, phone=None)
    row.update(fields)
    return row


def test_missing_sex_weighs_nothing_and_differing_sex_counts_against():
    model = MatchModel.load()
    base = {"first_name": "maria", "first_root": "maria", "surname": "garcia", "dob": "1980-03-07"}
    both = model.score(_row(**base, sex="female"), _row(**base, sex="female"))
    missing = model.score(_row(**base, sex="female"), _row(**base, sex=None))
    differ = model.score(_row(**base, sex="female"), _row(**base, sex="male"))
    sex = {f.field: f for f in missing.fields}["sex"]
    assert sex.level == "missing" and sex.weight == 0
    assert missing.probability >= model.policy.link_probability
    assert differ.weight < missing.weight < both.weight


def test_swapped_names_and_transposed_dates_are_explained():
    model = MatchModel.load()
    a = _row(
        first_name="maria",
        first_root="maria",
        surname="garcia",
        dob="1980-03-07",
        phone="6175550101",
    )
    b = _row(
        first_name="garcia",
        first_root="garcia",
        surname="maria",
        dob="1980-07-03",
        phone="6175550101",
    )
    levels = {f.field: f.level for f in model.score(a, b).fields}
    assert levels["first_name"] == "swapped with family"
    assert levels["surname"] == "swapped with given"
    assert levels["dob"] == "day and month swapped"


def test_blocking_keys_are_the_same_for_swapped_names_and_carry_no_raw_name():
    a = _row(first_name="maria", surname="garcia", dob="1980-03-07")
    b = _row(first_name="garcia", surname="maria", dob="1999-01-01")
    assert dict(blocking_keys(a))["names"] == dict(blocking_keys(b))["names"]
    sx = dict(blocking_keys(a))["sx"]
    assert sx.startswith("G620") and "garcia" not in sx


def test_the_shipped_model_loads_once():
    assert MatchModel.load(DEFAULT_MODEL_DIR) is MatchModel.load(DEFAULT_MODEL_DIR)
