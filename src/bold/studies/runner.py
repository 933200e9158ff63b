"""Run a study on a project's extract: check it is allowed, compute, refuse row-level results, write the
tables and charts as a pending output, and record the run in the audit chain.

The study sees the extract only (never the identifiers or content zones), and only through an ``Extract``
limited to the agreement's fields; a study needing anything else is refused before it starts.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

from ibis.common.exceptions import IbisError

from bold import store
from bold.errors import Kind
from bold.governance import projects
from bold.security.private import workspace_umask
from bold.studies import outputs, uncertainty
from bold.studies.builtin import catalogue
from bold.studies.guard import check_aggregate, check_no_keys
from bold.studies.language import Extract, StudyError
from bold.studies.spec import load_spec
from bold.studies.study import Study
from bold.workspace import Workspace

BACKENDS = ("duckdb", "pyspark")

# Bounds on a study's result: more tables or rows than this is not a statistic anyone can check for disclosure.
MAX_TABLES = 50
MAX_TABLE_ROWS = 100_000
# Wall-clock seconds a study may compute for; a workspace sets its own in bold.toml: [limits] study_seconds.
DEFAULT_STUDY_SECONDS = 600.0


def time_limit(ws: Workspace) -> float:
    """The workspace's limit on a study's compute time, in seconds."""
    value = ws.settings.get("limits", {}).get("study_seconds", DEFAULT_STUDY_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise StudyError(f"{ws.settings_path}: [limits] study_seconds must be a number of seconds above 0")
    return float(value)


class _Stopwatch:
    """Stops a study's compute at the time limit: from then on, every query running on the extract's
    connection is interrupted (DuckDB) or its jobs cancelled (Spark), until the compute gives up."""

    def __init__(self, extract: Extract, seconds: float):
        self.extract, self.seconds, self.expired = extract, seconds, False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while not self._done.is_set():
            raw = getattr(self.extract.con, "con", None)  # the DuckDB connection under Ibis
            if hasattr(raw, "interrupt"):
                raw.interrupt()
            session = getattr(self.extract.con, "_session", None)
            if session is not None:
                session.sparkContext.cancelAllJobs()
            self._done.wait(0.2)

    def __enter__(self) -> _Stopwatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def check_size(study: Study, result) -> None:
    """Refuse a result with more tables, or a table with more rows, than anyone can check."""
    tables = {**result.tables, **result.reference}
    if len(tables) > MAX_TABLES:
        raise StudyError(f"study {study.id} made {len(tables)} tables; at most {MAX_TABLES} are allowed")
    for name, table in tables.items():
        if len(table) > MAX_TABLE_ROWS:
            raise StudyError(
                f"study {study.id}: table {name} has {len(table):,} rows; at most {MAX_TABLE_ROWS:,} are allowed"
            )


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

            spark = session(ws.tmp_dir)
        return Extract.pyspark(path, agreed_fields(project), spark, ws.tmp_dir, config, key)
    raise StudyError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def find_study(name: str) -> Study:
    """A built-in study by id, or an analyst's study file (YAML, see ``bold.studies.spec``)."""
    study = catalogue().get(name)
    if study is not None:
        return study
    if name.endswith((".yaml", ".yml")):
        return load_spec(Path(name))
    raise StudyError(f"no study {name!r}; see bold study list, or give a study file (.yaml)", kind=Kind.NOT_FOUND)


@workspace_umask  # what the run makes (spill files, the output's folder): owner-only, or its group's if set up
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
        limit = time_limit(ws)
        extract = open_extract(ws, project, backend, spark)
        started = time.perf_counter()
        stopped = StudyError(
            f"study {study.id} stopped: it ran longer than the limit of {limit:g} s "
            f"([limits] study_seconds in {ws.settings_path.name})"
        )
        with _Stopwatch(extract, limit) as watch:
            try:
                result = study.compute(extract, params)
                linkage = uncertainty.add(study, extract, params, result)  # the main measure at every threshold
            except Exception as exc:
                if watch.expired:
                    raise stopped from None
                if isinstance(exc, ValueError | IbisError):  # a model that cannot be fitted, a date not a date
                    raise StudyError(f"study {study.id} could not run on this extract: {exc}") from exc
                raise
        seconds = time.perf_counter() - started
        if watch.expired or seconds > limit:  # (the compute may have finished between two queries)
            raise stopped
        check_size(study, result)
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
        "linkage": linkage,
    }
    return outputs.write_pending(ws, project, study, result, run_details, by=by, evidence=extract.evidence)
