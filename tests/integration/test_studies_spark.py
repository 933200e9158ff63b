"""The same studies give the same numbers on DuckDB and on PySpark (local mode), from one project extract."""

from __future__ import annotations

import datetime as dt
import inspect
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bold.governance import projects
from bold.linkage.run import link_workspace
from bold.studies import language, runner
from bold.studies.builtin import catalogue
from bold.studies.language import StudyError
from tests.conftest import approved_and_built, ingested, make_population

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'bold[spark]')")
if shutil.which("java") is None or shutil.which("javac") is None:
    pytest.skip("Spark needs Java, and a JDK (javac) for its key client, on the PATH", allow_module_level=True)

AGREEMENT = Path(__file__).parents[2] / "docs" / "examples" / "bold-questions.yaml"
TODAY = dt.date(2026, 11, 22)


def outcome(study, extract):
    params = {"pilot_areas": "E08000024,E08000012,E08000003", "pilot_start": "2020-10-19"} if study.required else {}
    try:
        return study.compute(extract, study.resolve(params)).tables
    except StudyError as exc:  # too little data for a model, say: it must fail the same way on both engines
        return str(exc)
    finally:
        extract.close()


def _operations(monkeypatch) -> set[str]:
    """Record every method of the study language (``Extract``, ``Cohort``) called from now on, by name."""
    called: set[str] = set()
    for cls in (language.Extract, language.Cohort):
        for name, method in vars(cls).items():
            if inspect.isfunction(method) and not name.startswith("_"):

                def traced(*args, _name=f"{cls.__name__}.{name}", _method=method, **kwargs):
                    called.add(_name)
                    return _method(*args, **kwargs)

                monkeypatch.setattr(cls, name, traced)
    return called


def covering(used: dict[str, set[str]]) -> list[str]:
    """Greedily, the fewest studies that between them call every operation any study calls."""
    left, chosen = set().union(*used.values()), []
    while left:
        best = max(used, key=lambda s: len(used[s] & left))  # ties: the first in catalogue order
        chosen.append(best)
        left -= used[best]
    return chosen


def test_studies_covering_every_operation_give_the_same_tables_on_duckdb_and_pyspark(tmp_path, monkeypatch):
    """Spark costs seconds per query whatever the data's size, so every study is run on DuckDB, recording which
    operations of the study language it calls, and the fewest studies that between them call every one are run
    on PySpark too and compared table by table. (What a study computes with Ibis directly, inside ``derive``
    and ``summarise``, is covered as far as those studies use it.)"""
    from bold.spark import session

    out, _ = make_population(tmp_path, people=1_000, seed=8)
    ws = ingested(tmp_path / "ws", out)
    link_workspace(ws, retrain=True, by="lin")
    approved_and_built(ws, AGREEMENT, TODAY)
    project = projects.get(ws, "bold-questions")
    called = _operations(monkeypatch)
    on_duckdb, used = {}, {}
    for study in catalogue().values():
        called.clear()
        on_duckdb[study.id] = outcome(study, runner.open_extract(ws, project, "duckdb"))
        used[study.id] = set(called)
    chosen = covering(used)
    assert len(chosen) < len(catalogue()) and set().union(*(used[s] for s in chosen)) == set().union(*used.values())
    spark = session(ws.tmp_dir, cores=2, memory="2g")
    compared = 0
    for study_id in chosen:
        study = catalogue()[study_id]
        on_spark = outcome(study, runner.open_extract(ws, project, "pyspark", spark))
        if isinstance(on_duckdb[study_id], str):
            assert on_spark == on_duckdb[study_id], study_id
            continue
        assert on_duckdb[study_id].keys() == on_spark.keys(), study_id
        for name, table in on_duckdb[study_id].items():
            pd.testing.assert_frame_equal(
                table.reset_index(drop=True),
                on_spark[name].reset_index(drop=True),
                check_dtype=False,
                rtol=1e-6,
                obj=f"{study_id}: {name}",
            )
        compared += 1
    assert compared >= len(chosen) - 1  # at most one model may lack data at this size
