"""The same linkage on Splink's Spark backend (local mode) gives the same people as on DuckDB, and Spark
holds nothing on disk in the clear: its inputs, Splink's checkpoints and its results are Parquet files
encrypted under a key of the run's own, its spills and shuffles are encrypted, all inside the workspace,
and gone when the run ends."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.synth.config import SOURCES
from tests.conftest import make_population

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'bold[spark]')")
if shutil.which("java") is None or shutil.which("javac") is None:
    pytest.skip("Spark needs Java, and a JDK (javac) for its key client, on the PATH", allow_module_level=True)


def spark_files(tmp: Path) -> dict[str, list[Path]]:
    """What Spark has under the workspace's tmp/: its Parquet files and everything else it wrote."""
    files = [p for p in tmp.rglob("*") if p.is_file() and not p.name.endswith(".crc")]
    return {
        "parquet": [p for p in files if p.suffix == ".parquet"],
        "checkpoints": [p for p in files if "checkpoints" in p.parts and p.suffix == ".parquet"],
        "spill": [p for p in files if any(part.startswith("blockmgr-") for part in p.parts)],
        "all": files,
    }


def test_spark_gives_the_same_clusters_as_duckdb_and_leaves_nothing_readable(tmp_path):
    from bold.workspace import Workspace

    out, _ = make_population(tmp_path, people=400, seed=3)
    ws = Workspace.init(tmp_path / "ws")
    for source in SOURCES:
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    surnames = [
        s.encode()
        for (s,) in duckdb.sql(
            f"select distinct SURNAME from '{out / 'prison.parquet'}' where length(SURNAME) > 6"
        ).fetchall()
    ]
    on_duckdb = link_workspace(ws, retrain=True, by="lin")

    seen = {"parquet": set(), "checkpoints": set(), "spill": set(), "readable": set(), "magic": set()}

    def look(phase: str) -> None:
        """At every step of the run, what Spark holds then: shuffle files come and go as Spark's cleaner runs,
        so the files of every step are gathered, each read while it still exists."""
        found = spark_files(ws.tmp_dir)
        for kind in ("parquet", "checkpoints", "spill"):
            seen[kind] |= set(found[kind])
        for path in found["all"]:
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # removed by Spark since it was listed
                continue
            if any(s in data for s in surnames):
                seen["readable"].add(path)
            if path.suffix == ".parquet":
                seen["magic"].add(data[:4])

    on_spark = link_workspace(ws, backend="spark", by="lin", progress=look)  # the saved model, scored by Spark
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

    # Inputs, Splink's checkpoints and spills were all in the workspace, and none of it was readable.
    assert seen["parquet"] and seen["checkpoints"] and seen["spill"], seen
    assert seen["magic"] == {b"PARE"}  # Parquet with an encrypted footer, every one
    assert seen["readable"] == set()  # no surname in plaintext in any file Spark wrote, spills included
    # The run's files and their key are gone with it: a later reader finds nothing.
    assert not [p for p in ws.tmp_dir.rglob("spark-files-*")]


def test_handed_off_files_read_only_with_the_runs_key_and_refuse_a_changed_byte(tmp_path, monkeypatch):
    """On Spark's pseudo-cluster: executors in JVMs of their own get the run's key only through the job's
    configuration, as a real cluster's would."""
    import pyarrow.parquet as pq

    from bold.spark import session
    from bold.spark.sealed import Handoff

    monkeypatch.setenv("BOLD_SPARK_MASTER", "local-cluster[2,1,1024]")
    spark = session(tmp_path / "tmp")
    con = duckdb.connect()
    con.execute("create table people as select 'Featherstonehaugh' as surname, range as i from range(1000)")
    with Handoff(spark, tmp_path / "tmp") as handoff:
        handoff.to_spark(con, "people", "people")
        (written,) = handoff.folder.rglob("*.parquet")
        raw = written.read_bytes()
        assert raw[:4] == raw[-4:] == b"PARE" and b"Featherstonehaugh" not in raw
        with pytest.raises(OSError, match=r"(?i)encrypt|decrypt"):  # without the run's key, nothing
            pq.read_table(written)
        handoff.to_duckdb(con, "people", "back")  # Spark writes it out encrypted; DuckDB reads it back
        assert con.execute("select count(*), min(surname) from back").fetchone() == (1000, "Featherstonehaugh")
        assert spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() == 3  # the driver and two executors
        altered = tmp_path / "altered"
        altered.mkdir()
        middle = len(raw) // 2
        (altered / "part-0.parquet").write_bytes(raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1 :])
        with pytest.raises(Exception, match=r"(?i)tag|decrypt|crypto"):  # AES-GCM: one changed bit is refused
            spark.read.parquet(str(altered)).collect()
    assert not handoff.folder.exists()
