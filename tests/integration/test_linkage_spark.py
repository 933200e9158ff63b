"""The same linkage on Splink's Spark backend (local mode) gives the same people as on DuckDB."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.synth.config import SOURCES
from tests.conftest import make_population

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'bold[spark]')")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java on the PATH", allow_module_level=True)


def test_spark_gives_the_same_clusters_as_duckdb(tmp_path):
    from bold.workspace import Workspace

    out, _ = make_population(tmp_path, people=400, seed=3)
    ws = Workspace.init(tmp_path / "ws")
    for source in SOURCES:
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    on_duckdb = link_workspace(ws, retrain=True, by="lin")
    on_spark = link_workspace(ws, backend="spark", by="lin")  # the saved model, scored by Spark
    assert on_spark.comparisons == on_duckdb.comparisons
    assert on_spark.pairs == on_duckdb.pairs
    con = duckdb.connect()
    ws.attach(con, "links", read_only=True)
    con.execute("use links")
    for level in ("high", "medium", "low"):
        people_a, people_b, joint = con.execute(
            f"""with a as (select record_key, person_{level} as p from record_person where run_id = {on_duckdb.run_id}),
                     b as (select record_key, person_{level} as p from record_person where run_id = {on_spark.run_id}),
                     j as (select a.p as pa, b.p as pb from a join b using (record_key))
                select count(distinct pa), count(distinct pb), count(distinct (pa, pb)) from j"""
        ).fetchone()
        assert people_a == people_b == joint  # the same partition of records into people
