"""The same studies give the same numbers on DuckDB and on PySpark (local mode), from one project extract."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bold.governance import projects
from bold.linkage.run import link_workspace
from bold.studies import runner
from bold.studies.builtin import catalogue
from bold.studies.language import StudyError
from tests.conftest import approved_and_built, ingested, make_population

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'bold[spark]')")
if shutil.which("java") is None or shutil.which("javac") is None:
    pytest.skip("Spark needs Java, and a JDK (javac) for its key client, on the PATH", allow_module_level=True)

AGREEMENT = Path(__file__).parents[2] / "docs" / "examples" / "bold-questions.yaml"
TODAY = dt.date(2026, 11, 22)


def outcome(ws, project, study, extract):
    params = {"pilot_areas": "E08000024,E08000012,E08000003", "pilot_start": "2020-10-19"} if study.required else {}
    try:
        return study.compute(extract, study.resolve(params)).tables
    except StudyError as exc:  # too little data for a model, say: it must fail the same way on both engines
        return str(exc)
    finally:
        extract.close()


def test_every_study_gives_the_same_tables_on_duckdb_and_pyspark(tmp_path):
    from bold.spark import session

    out, _ = make_population(tmp_path, people=1_000, seed=8)
    ws = ingested(tmp_path / "ws", out)
    link_workspace(ws, retrain=True, by="lin")
    approved_and_built(ws, AGREEMENT, TODAY)
    project = projects.get(ws, "bold-questions")
    spark = session(ws.tmp_dir, cores=2, memory="2g")
    compared = 0
    for study in catalogue().values():
        on_duckdb = outcome(ws, project, study, runner.open_extract(ws, project, "duckdb"))
        on_spark = outcome(ws, project, study, runner.open_extract(ws, project, "pyspark", spark))
        if isinstance(on_duckdb, str):
            assert on_spark == on_duckdb, study.id
            continue
        assert on_duckdb.keys() == on_spark.keys(), study.id
        for name in on_duckdb:
            pd.testing.assert_frame_equal(
                on_duckdb[name].reset_index(drop=True),
                on_spark[name].reset_index(drop=True),
                check_dtype=False,
                rtol=1e-6,
                obj=f"{study.id}: {name}",
            )
        compared += 1
    assert compared >= len(catalogue()) - 2  # at most the two models may lack data at this size
