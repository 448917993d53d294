"""The match model: which fields are compared and how (Splink comparisons), and scoring a
pair of rows in process with the weights Splink estimated.

The model is data: Splink's own settings JSON (comparisons, blocking rules, m and u per
level, the prior) as ``Linker.misc.save_model_to_json`` writes it and ``Linker`` loads it,
plus a small policy file (the link and review thresholds, the version). This module
holds the one definition of each comparison level, as a Splink creator and as the same
test in Python; ``MatchModel.load`` refuses a settings file whose levels are not the
ones defined here (a model trained by other code), so the two can't drift apart.
Weights are read from the file, never written here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jellyfish
from splink import block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.internals.comparison_level_creator import ComparisonLevelCreator

from .features import KEY_KINDS, Row

__all__ = [
    "DEFAULT_MODEL_DIR",
    "FieldAgreement",
    "Match",
    "MatchModel",
    "ModelMismatch",
    "Policy",
    "settings_dict",
]

DEFAULT_MODEL_DIR: Final = Path(__file__).with_name("default_model")
SETTINGS_FILE: Final = "settings.json"
POLICY_FILE: Final = "policy.json"

Test = Callable[[Row, Row], bool]


def _both(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None


def _eq(col: str) -> Test:
    return lambda left, right: _both(left[col], right[col]) and left[col] == right[col]


def _null(col: str) -> Test:
    return lambda left, right: left[col] is None or right[col] is None


def _dl(col: str, most: int) -> Test:
    def test(left: Row, right: Row) -> bool:
        a, b = left[col], right[col]
        return (
            a is not None and b is not None and jellyfish.damerau_levenshtein_distance(a, b) <= most
        )

    return test


def _jw(col: str, least: float) -> Test:
    def test(left: Row, right: Row) -> bool:
        a, b = left[col], right[col]
        return a is not None and b is not None and jellyfish.jaro_winkler_similarity(a, b) >= least

    return test


def _cross(left: str, right: str) -> Test:
    return lambda a_, b_: _both(a_[left], b_[right]) and a_[left] == b_[right]


def _dob_transposed(left: Row, right: Row) -> bool:
    a, b = left["dob"], right["dob"]
    return (
        a is not None
        and b is not None
        and a[:4] == b[:4]
        and a[5:7] == b[8:10]
        and a[8:10] == b[5:7]
    )


def _else(left: Row, right: Row) -> bool:
    return True


@dataclass(frozen=True)
class _Level:
    creator: ComparisonLevelCreator
    test: Test
    # The words a desk reads for this level (no values).
    says: str


@dataclass(frozen=True)
class _Comparison:
    name: str
    levels: tuple[_Level, ...]


def _custom(sql: str, label: str) -> ComparisonLevelCreator:
    return cll.CustomLevel(sql, label, base_dialect_str="duckdb")


# The comparisons, strongest level first; a level's test is its SQL condition in Python.
COMPARISONS: Final = (
    _Comparison(
        "first_name",
        (
            _Level(cll.NullLevel("first_name"), _null("first_name"), "missing"),
            _Level(cll.ExactMatchLevel("first_name"), _eq("first_name"), "exact"),
            _Level(cll.ExactMatchLevel("first_root"), _eq("first_root"), "nickname"),
            _Level(cll.DamerauLevenshteinLevel("first_name", 1), _dl("first_name", 1), "one edit"),
            _Level(cll.JaroWinklerLevel("first_name", 0.88), _jw("first_name", 0.88), "similar"),
            _Level(
                _custom("first_name_l = surname_r", "first name is the other's surname"),
                _cross("first_name", "surname"),
                "swapped with family",
            ),
            _Level(cll.ElseLevel(), _else, "different"),
        ),
    ),
    _Comparison(
        "surname",
        (
            _Level(cll.NullLevel("surname"), _null("surname"), "missing"),
            _Level(cll.ExactMatchLevel("surname"), _eq("surname"), "exact"),
            _Level(cll.DamerauLevenshteinLevel("surname", 1), _dl("surname", 1), "one edit"),
            _Level(cll.JaroWinklerLevel("surname", 0.88), _jw("surname", 0.88), "similar"),
            _Level(
                _custom("surname_l = first_name_r", "surname is the other's first name"),
                _cross("surname", "first_name"),
                "swapped with given",
            ),
            _Level(cll.ElseLevel(), _else, "different"),
        ),
    ),
    _Comparison(
        "dob",
        (
            _Level(cll.NullLevel("dob"), _null("dob"), "missing"),
            _Level(cll.ExactMatchLevel("dob"), _eq("dob"), "exact"),
            _Level(cll.DamerauLevenshteinLevel("dob", 1), _dl("dob", 1), "one digit"),
            _Level(
                _custom(
                    "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND "
                    "substr(dob_l, 6, 2) = substr(dob_r, 9, 2) AND "
                    "substr(dob_l, 9, 2) = substr(dob_r, 6, 2)",
                    "day and month swapped",
                ),
                _dob_transposed,
                "day and month swapped",
            ),
            _Level(cll.ElseLevel(), _else, "different"),
        ),
    ),
    _Comparison(
        "postcode",
        (
            _Level(cll.NullLevel("postcode"), _null("postcode"), "missing"),
            _Level(cll.ExactMatchLevel("postcode"), _eq("postcode"), "exact"),
            _Level(cll.ElseLevel(), _else, "different"),
        ),
    ),
    _Comparison(
        "street",
        (
            _Level(cll.NullLevel("street"), _null("street"), "missing"),
            _Level(cll.ExactMatchLevel("street"), _eq("street"), "exact"),
            _Level(cll.JaroWinklerLevel("street", 0.88), _jw("street", 0.88), "similar"),
            _Level(cll.ElseLevel(), _else, "different"),
        ),
    ),
    _Comparison(
        "phone",
        (
            _Level(cll.NullLevel("phone"), _null("phone"), "missing"),
            _Level(cll.ExactMatchLevel("phone"), _eq("phone"), "exact"),
            _Level(cll.ElseLevel(), _else, "different"),
        ),
    ),
    _Comparison(
        "sex",
        (
            _Level(cll.NullLevel("sex"), _null("sex"), "missing"),
            _Level(cll.ExactMatchLevel("sex"), _eq("sex"), "exact"),
            _Level(cll.ElseLevel(), _else, "different"),
        ),
    ),
)


def settings_dict(*, prior: float = 0.001) -> dict[str, Any]:
    """The untrained model as Splink settings (comparisons, blocking rules, prior)."""
    return {
        "link_type": "link_and_dedupe",
        "unique_id_column_name": "unique_id",
        "source_dataset_column_name": "source_dataset",
        "probability_two_random_records_match": prior,
        "comparisons": [
            cl.CustomComparison(
                [level.creator for level in c.levels],
                output_column_name=c.name,
                comparison_description=c.name,
            )
            for c in COMPARISONS
        ],
        # One rule per blocking key: a pair is compared when any key agrees.
        "blocking_rules_to_generate_predictions": [block_on(f"bk_{k}") for k in KEY_KINDS],
        "retain_intermediate_calculation_columns": False,
        "retain_matching_columns": False,
    }


def for_dialect(settings: dict[str, Any], dialect: str) -> dict[str, Any]:
    """``settings`` (trained on DuckDB) with its SQL written for another backend: the same
    levels and blocking rules built by the same creators for ``dialect``; the weights
    and prior are the file's, untouched."""
    out: dict[str, Any] = json.loads(json.dumps(settings))
    if dialect == "duckdb":
        return out
    by_name = {c["output_column_name"]: c for c in out["comparisons"]}
    for comparison in COMPARISONS:
        built = cl.CustomComparison([lv.creator for lv in comparison.levels], comparison.name)
        levels = built.get_comparison(dialect).as_dict()["comparison_levels"]  # type: ignore[no-untyped-call]
        for level, sql in zip(by_name[comparison.name]["comparison_levels"], levels, strict=True):
            level["sql_condition"] = sql["sql_condition"]
    out["blocking_rules_to_generate_predictions"] = [
        block_on(f"bk_{k}").get_blocking_rule(dialect).as_dict()  # type: ignore[no-untyped-call]
        for k in KEY_KINDS
    ]
    out["sql_dialect"] = dialect
    return out


class ModelMismatch(ValueError):
    """A settings file whose comparisons are not the ones this code defines."""


@dataclass(frozen=True)
class Policy:
    """When a scored pair is one person (link) or worth a person's look (review)."""

    link_probability: float = 0.99
    review_probability: float = 0.5


@dataclass(frozen=True)
class FieldAgreement:
    field: str
    level: str
    weight: float


@dataclass(frozen=True)
class Match:
    probability: float
    weight: float
    fields: tuple[FieldAgreement, ...]


@dataclass(frozen=True)
class _Scored:
    name: str
    levels: tuple[tuple[Test, str, float], ...]  # test, words, log2 Bayes factor


@functools.cache
def _expected_sql(comparison: _Comparison) -> list[str]:
    built = cl.CustomComparison([lv.creator for lv in comparison.levels], comparison.name)
    levels = built.get_comparison("duckdb").as_dict()["comparison_levels"]  # type: ignore[no-untyped-call]
    return [str(lv["sql_condition"]) for lv in levels]


class MatchModel:
    """A trained model: scores pairs of rows with the file's weights."""

    def __init__(self, settings: dict[str, Any], policy: Policy, version: str) -> None:
        self.settings = settings
        self.policy = policy
        self.version = version
        prior = float(settings["probability_two_random_records_match"])
        self._prior_weight = math.log2(prior / (1 - prior))
        by_name = {c["output_column_name"]: c for c in settings["comparisons"]}
        scored: list[_Scored] = []
        for comparison in COMPARISONS:
            found = by_name.get(comparison.name)
            if found is None:
                raise ModelMismatch(f"the model has no comparison {comparison.name}")
            levels = found["comparison_levels"]
            if [lv["sql_condition"] for lv in levels] != _expected_sql(comparison):
                raise ModelMismatch(f"comparison {comparison.name}: levels differ from the code's")
            scored.append(
                _Scored(
                    comparison.name,
                    tuple(
                        (spec.test, spec.says, _log2_bf(lv))
                        for spec, lv in zip(comparison.levels, levels, strict=True)
                    ),
                )
            )
        self._comparisons = tuple(scored)

    @classmethod
    def load(cls, directory: Path = DEFAULT_MODEL_DIR) -> MatchModel:
        """The model in ``directory``; read once per process while its files are unchanged."""
        files = (directory / SETTINGS_FILE, directory / POLICY_FILE)
        return _load(directory.resolve(), tuple(f.stat().st_mtime_ns for f in files))

    @classmethod
    def _read(cls, directory: Path) -> MatchModel:
        raw = (directory / SETTINGS_FILE).read_bytes()
        settings = json.loads(raw)
        policy_doc = json.loads((directory / POLICY_FILE).read_text())
        policy = Policy(
            link_probability=float(policy_doc["link_probability"]),
            review_probability=float(policy_doc["review_probability"]),
        )
        version = hashlib.sha256(raw + json.dumps(policy_doc, sort_keys=True).encode()).hexdigest()
        return cls(settings, policy, version[:16])

    def score(self, left: Row, right: Row) -> Match:
        weight = self._prior_weight
        fields: list[FieldAgreement] = []
        for comparison in self._comparisons:
            for test, says, bf in comparison.levels:
                if test(left, right):
                    weight += bf
                    fields.append(FieldAgreement(comparison.name, says, round(bf, 3)))
                    break
        return Match(_probability(weight), weight, tuple(fields))


@functools.lru_cache(maxsize=8)
def _load(directory: Path, stamps: tuple[int, ...]) -> MatchModel:
    return MatchModel._read(directory)


def _log2_bf(level: dict[str, Any]) -> float:
    if level.get("is_null_level"):
        return 0.0
    m, u = level.get("m_probability"), level.get("u_probability")
    if m is None or u is None:
        # Never seen in training (no record there carried the field): no evidence.
        return 0.0
    return math.log2(float(m) / float(u))


def _probability(weight: float) -> float:
    if weight > 60:
        return 1.0
    odds = float(2.0**weight)
    return odds / (1 + odds)


def write_policy(directory: Path, policy: Policy, **about: Any) -> None:
    doc = {
        "link_probability": policy.link_probability,
        "review_probability": policy.review_probability,
        **about,
    }
    (directory / POLICY_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
