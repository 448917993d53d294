"""Splink runs of a build: train the model, link every record, cluster the links.

Runs in a worker (blocking, CPU-bound: call it in a thread). Splink's working data is
scratch: DuckDB's database and spill files live in a temporary directory removed when
the run ends, whatever happens. Spark (``backend="spark"``) is the same model on Splink's
Spark backend, for hospital groups whose records don't fit one machine; the caller
brings the SparkSession.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splink import Linker, block_on
from splink.internals.clustering import cluster_pairwise_predictions_at_threshold
from splink.internals.database_api import DatabaseAPISubClass

from .features import COLUMNS, Row, key_columns
from .model import Policy, for_dialect, settings_dict, write_policy

__all__ = ["Edge", "Linkage", "link", "split", "train"]

# Splink logs each step at INFO; the gateway's log is for the gateway.
logging.getLogger("splink").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Edge:
    left: str
    right: str
    probability: float
    weight: float


@dataclass(frozen=True)
class Linkage:
    edges: list[Edge]
    # record id -> cluster id (the smallest record id of the cluster)
    clusters: dict[str, str]


def _table(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [{**{c: row.get(c) for c in COLUMNS}, **key_columns(row)} for row in rows]


def _spark_frame(spark: Any, records: list[dict[str, Any]]) -> Any:
    """Every column a string: Spark would otherwise guess types from the first rows (and
    a column that starts with missing values has none)."""
    from pyspark.sql.types import StringType, StructField, StructType

    columns = list(records[0]) if records else [*COLUMNS]
    schema = StructType([StructField(c, StringType(), True) for c in columns])
    return spark.createDataFrame([[r.get(c) for c in columns] for r in records], schema=schema)


@contextmanager
def _duckdb() -> Iterator[DatabaseAPISubClass]:
    import duckdb
    from splink import DuckDBAPI

    with tempfile.TemporaryDirectory(prefix="frontdesk-linkage-") as scratch:
        connection = duckdb.connect(str(Path(scratch) / "work.duckdb"))
        connection.execute(f"SET temp_directory = '{Path(scratch) / 'spill'}'")
        try:
            yield DuckDBAPI(connection)
        finally:
            connection.close()


@contextmanager
def _backend(backend: str, spark: Any = None) -> Iterator[DatabaseAPISubClass]:
    if backend == "duckdb":
        with _duckdb() as api:
            yield api
    elif backend == "spark":
        from splink import SparkAPI

        if spark is None:
            raise ValueError("the spark backend needs a SparkSession")
        yield SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
    else:
        raise ValueError(f"unknown backend {backend!r}")


def train(rows: Sequence[Row], out: Path, policy: Policy | None = None) -> dict[str, Any]:
    """Estimate the model from ``rows`` without labels and write it to ``out``
    (Splink's settings JSON and the policy). Returns the settings."""
    with _duckdb() as api:
        table = api.register(_table(rows), table_name="records")
        linker = Linker(table, settings_dict(), validate_settings=True)
        training = linker.training
        # The prior from near-certain pairs (same names and birth date, or same phone and
        # birth date); such rules find most but not all true pairs.
        training.estimate_probability_two_random_records_match(
            [block_on("first_name", "surname", "dob"), block_on("phone", "dob")], recall=0.7
        )
        training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
        # m by expectation maximisation, each pass blocked on fields whose m it leaves be.
        # (A field nobody's records carry, e.g. no phones in this EHR, is no training rule.)
        for column in ("dob", "surname", "phone", "postcode"):
            if sum(1 for r in rows if r.get(column)) < 0.1 * len(rows):
                continue
            training.estimate_parameters_using_expectation_maximisation(
                block_on(column), estimate_without_term_frequencies=True
            )
        out.mkdir(parents=True, exist_ok=True)
        settings = linker.misc.save_model_to_json(str(out / "settings.json"), overwrite=True)
    write_policy(out, policy or Policy(), trained_on_records=len(rows))
    return settings


def link(
    rows: Sequence[Row],
    settings: dict[str, Any],
    policy: Policy,
    *,
    different: Sequence[tuple[str, str]] = (),
    same: Sequence[tuple[str, str]] = (),
    backend: str = "duckdb",
    spark: Any = None,
) -> Linkage:
    """Every pair the blocking rules bring together, scored; clusters at the link
    threshold, with people's decisions applied: "different" pairs lose their edge and
    are split apart if a chain still joins them, "same" pairs are joined."""
    with _backend(backend, spark) as api:
        records: Any = _table(rows)
        if backend == "spark":
            records = _spark_frame(spark, records)
        table = api.register(records, table_name="records")
        linker = Linker(table, for_dialect(settings, backend))
        predictions = linker.inference.predict(
            threshold_match_probability=policy.review_probability
        )
        edges = [
            Edge(
                str(r["unique_id_l"]),
                str(r["unique_id_r"]),
                float(r["match_probability"]),
                float(r["match_weight"]),
            )
            for r in predictions.as_record_list()
        ]
        forbidden = {frozenset(p) for p in different}
        kept = [e for e in edges if frozenset((e.left, e.right)) not in forbidden]
        kept += [Edge(a, b, 1.0, 99.0) for a, b in same]
        clusters = _cluster(api, [r["unique_id"] for r in rows], kept, policy)
    return Linkage(edges=kept, clusters=split(clusters, kept, forbidden, policy))


def _cluster(
    api: DatabaseAPISubClass, ids: list[str | None], edges: list[Edge], policy: Policy
) -> dict[str, str]:
    if not edges:
        return {str(i): str(i) for i in ids}
    clustered = cluster_pairwise_predictions_at_threshold(
        [{"unique_id": str(i)} for i in ids],
        [
            {"unique_id_l": e.left, "unique_id_r": e.right, "match_probability": e.probability}
            for e in edges
        ],
        api,
        "unique_id",
        threshold_match_probability=policy.link_probability,
    )
    out = {str(r["unique_id"]): str(r["cluster_id"]) for r in clustered.as_record_list()}
    # Splink names a cluster after one of its records; name it after the smallest.
    members: dict[str, list[str]] = {}
    for record, cluster_id in out.items():
        members.setdefault(cluster_id, []).append(record)
    return {r: min(group) for group in members.values() for r in group}


def split(
    clusters: dict[str, str],
    edges: list[Edge],
    forbidden: set[frozenset[str]],
    policy: Policy,
) -> dict[str, str]:
    """Clusters holding a pair people said are different, cut apart: the weakest links
    of that cluster go first until no such pair shares a cluster."""
    if not forbidden:
        return clusters
    members: dict[str, set[str]] = {}
    for record, cluster_id in clusters.items():
        members.setdefault(cluster_id, set()).add(record)
    out = dict(clusters)
    for group in members.values():
        if not any(pair <= group for pair in forbidden):
            continue
        inner = sorted(
            (
                e
                for e in edges
                if e.left in group and e.right in group and e.probability >= policy.link_probability
            ),
            key=lambda e: e.probability,
        )
        while True:
            parts = _components(group, inner)
            if not any(
                len({parts[a], parts[b]}) == 1
                for a, b in (tuple(p) for p in forbidden if p <= group)
            ):
                break
            inner.pop(0)
        for record, part in parts.items():
            out[record] = part
    return out


def _components(nodes: set[str], edges: list[Edge]) -> dict[str, str]:
    parent = {n: n for n in nodes}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for e in edges:
        a, b = find(e.left), find(e.right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = {n: find(n) for n in nodes}
    smallest: dict[str, str] = {}
    for n, r in roots.items():
        smallest[r] = min(smallest.get(r, n), n)
    return {n: smallest[r] for n, r in roots.items()}
