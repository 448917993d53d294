"""The same model on Splink's Spark backend (local Spark, Java 17) links a small dataset
into the same person clusters as on DuckDB."""

from __future__ import annotations

import shutil

import pytest

from gateway.identity.features import row_of
from gateway.identity.linkage import link
from gateway.identity.model import MatchModel
from mappers import from_fhir
from mappers.model import Patient
from simulators.seed.corruption import corrupted_pair
from tests.servers import missing


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        missing("Java", "install a JDK 17 (Spark needs one)")
    pyspark = pytest.importorskip("pyspark.sql")
    from splink.backends.spark import similarity_jar_location

    session = (
        pyspark.SparkSession.builder.master("local[1]")
        .appName("frontdesk-identity-test")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir("/tmp/frontdesk-spark-checkpoints")
    yield session
    session.stop()


def test_spark_links_the_same_clusters_as_duckdb(spark):
    pair = corrupted_pair(120, seed=9, prefix="sp")
    rows = [row_of(from_fhir(r, source="ehr-a", expect=Patient)) for r in pair.ehr_a] + [
        row_of(from_fhir(r, source="ehr-b", expect=Patient)) for r in pair.ehr_b
    ]
    model = MatchModel.load()
    on_duckdb = link(rows, model.settings, model.policy)
    on_spark = link(rows, model.settings, model.policy, backend="spark", spark=spark)

    def people(clusters: dict[str, str]) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for record, cluster in clusters.items():
            groups.setdefault(cluster, set()).add(record)
        return {frozenset(g) for g in groups.values()}

    assert people(on_spark.clusters) == people(on_duckdb.clusters)
    assert sum(1 for g in people(on_duckdb.clusters) if len(g) > 1) >= 50
