"""Run a study on a project's extract: check it is allowed, compute, refuse row-level results, write the
tables and charts as a pending output, and record the run in the audit chain.

The study sees the extract only (never the identifiers or content zones), and only through an ``Extract``
limited to the agreement's fields; a study needing anything else is refused before it starts.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from ibis.common.exceptions import IbisError

from bold import store
from bold.errors import Kind
from bold.governance import projects
from bold.security.private import owner_only
from bold.studies import outputs
from bold.studies.builtin import catalogue
from bold.studies.guard import check_aggregate, check_no_keys
from bold.studies.language import Extract, StudyError
from bold.studies.spec import load_spec
from bold.studies.study import Study
from bold.workspace import Workspace

BACKENDS = ("duckdb", "pyspark")


def agreed_fields(project: projects.Project) -> dict[str, list[str]]:
    return {d: list(fields) for d, fields in project.agreement.datasets.items()}


def check_allowed(study: Study, project: projects.Project) -> None:
    """Refuse a study that needs a field outside the agreement, naming every missing field."""
    missing = sorted(set(study.needs) - project.agreement.requested())
    if missing:
        raise StudyError(
            f"study {study.id} needs {', '.join(missing)}, not in the agreement of project {project.id}; "
            "ask for an amended agreement",
            kind=Kind.REFUSED,
        )


def open_extract(ws: Workspace, project: projects.Project, backend: str = "duckdb", spark=None) -> Extract:
    """The project's extract, read-only; whatever DuckDB spills goes to the workspace's ``tmp/``."""
    path = projects.project_dir(ws, project.id) / "extract.duckdb"
    config = ws.duckdb_config()
    key = projects.extract_key(ws, project.id) if path.exists() else None  # no extract: refused just below
    if backend == "duckdb":
        return Extract.duckdb(path, agreed_fields(project), config, key)
    if backend == "pyspark":
        if spark is None:
            from bold.spark import session

            spark = session()
        return Extract.pyspark(path, agreed_fields(project), spark, config, key)
    raise StudyError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def find_study(name: str) -> Study:
    """A built-in study by id, or an analyst's study file (YAML, see ``bold.studies.spec``)."""
    study = catalogue().get(name)
    if study is not None:
        return study
    if name.endswith((".yaml", ".yml")):
        return load_spec(Path(name))
    raise StudyError(f"no study {name!r}; see bold study list, or give a study file (.yaml)", kind=Kind.NOT_FOUND)


@owner_only()  # what the run makes (spill files, the output's folder) is for the workspace's owner only
def run(
    ws: Workspace,
    project_id: str,
    study_id: str,
    *,
    parameters: dict[str, Any] | None = None,
    backend: str = "duckdb",
    spark=None,
    by: str,
    today: dt.date | None = None,
) -> outputs.PendingOutput:
    """Run one study for one project, for the analyst ``by``, and write its results as a pending output."""
    if backend not in BACKENDS:  # a bad argument, before the project's state is judged
        raise StudyError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    project = projects.get(ws, project_id)
    extract = None
    try:
        study = find_study(study_id)
        projects.usable(project, today)
        if by not in project.team("analyst"):
            raise StudyError(f"{by} is not an analyst of project {project_id}", kind=Kind.REFUSED)
        check_allowed(study, project)
        params = study.resolve(parameters)
        extract = open_extract(ws, project, backend, spark)
        started = time.perf_counter()
        try:
            result = study.compute(extract, params)
        except (ValueError, IbisError) as exc:  # a model that cannot be fitted, a date field that is not a date
            raise StudyError(f"study {study.id} could not run on this extract: {exc}") from exc
        seconds = time.perf_counter() - started
        people = extract.people()
        for name, table in result.tables.items():
            check_aggregate(name, table, people)
        for name, table in result.reference.items():
            check_no_keys(name, table)
    except (StudyError, projects.ProjectError) as exc:
        store.audit.record(ws, "study run refused", project_id, {"study": study_id, "reason": str(exc)}, by=by)
        raise
    finally:
        if extract is not None:
            extract.close()
    run_details = {
        "parameters": params,
        "fields_used": sorted(extract.used),
        "engine": extract.backend,
        "seconds": round(seconds, 2),
    }
    return outputs.write_pending(ws, project, study, result, run_details, by=by)
