"""Analysts' actions: the question library, and running studies on a project's extract into pending outputs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bold.actions.access import require
from bold.disclosure import check
from bold.errors import BoldError, Kind
from bold.governance import projects
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.studies import outputs, runner
from bold.studies.builtin import catalogue
from bold.studies.language import StudyError
from bold.studies.outputs import PendingOutput
from bold.studies.study import Study
from bold.workspace import Workspace

log = logging.getLogger("bold.studies")


def list_studies(ws: Workspace, user: User) -> list[Study]:
    require(ws, user, Permission.STUDY_LIST)
    return list(catalogue().values())


def show(ws: Workspace, user: User, study_id: str) -> Study:
    """A built-in study by id, or an analyst's study file (.yaml)."""
    require(ws, user, Permission.STUDY_LIST)
    return runner.find_study(study_id)


def run(
    ws: Workspace,
    user: User,
    project_id: str,
    study_id: str,
    *,
    parameters: dict[str, Any] | None = None,
    backend: str = "duckdb",
    today: dt.date | None = None,
) -> PendingOutput:
    """Run one study; only an analyst named in the project's agreement may (checked by the runner). Every
    output is checked for disclosure as it is made, so what waits for the checkers always has its report."""
    require(ws, user, Permission.STUDY_RUN)
    output = runner.run(ws, project_id, study_id, parameters=parameters, backend=backend, by=user.name, today=today)
    check.check_output(ws, project_id, output.id, by=user.name)
    return outputs.get(ws, project_id, output.id)


@dataclass
class RunAllPlan:
    """What ``study run PROJECT all`` runs: every built-in study the agreement allows that needs no parameter."""

    runs: list[str]
    outside_agreement: list[str]
    need_parameters: dict[str, list[str]]


def plan_all(ws: Workspace, user: User, project_id: str) -> RunAllPlan:
    require(ws, user, Permission.STUDY_RUN)
    allowed = projects.get(ws, project_id).agreement.requested()
    studies = catalogue().values()
    outside = [s.id for s in studies if not set(s.needs) <= allowed]
    return RunAllPlan(
        runs=[s.id for s in studies if s.id not in outside and not s.required],
        outside_agreement=outside,
        need_parameters={s.id: list(s.required) for s in studies if s.required and s.id not in outside},
    )


@dataclass(frozen=True)
class StudyRun:
    """One study of ``run_all``: its pending output, or the one-line reason it failed and the kind of failure
    (``None``: an internal error, a bug in BOLD, logged)."""

    study: str
    output: PendingOutput | None = None
    error: str | None = None
    kind: Kind | None = None

    @property
    def failed(self) -> bool:
        return self.output is None


def run_all(
    ws: Workspace,
    user: User,
    project_id: str,
    *,
    parameters: dict[str, Any] | None = None,
    backend: str = "duckdb",
    started: Callable[[str], None] = lambda study_id: None,
) -> Iterator[StudyRun]:
    """Run every study of ``plan_all``, yielding each one's run as it ends; the arguments and the project are
    checked at once, before the first study runs. A study that fails does not stop the others: its run holds
    the reason (a ``BoldError``'s message; any other error is a bug, logged, and named as one)."""
    if parameters:
        raise StudyError("--param applies to one study; run studies one by one to set parameters", kind=Kind.INVALID)
    runs = plan_all(ws, user, project_id).runs

    def one(study_id: str) -> StudyRun:
        """One study, its failure caught and told in one line as the command line tells it."""
        try:
            return StudyRun(study_id, output=run(ws, user, project_id, study_id, backend=backend))
        except BoldError as exc:
            return StudyRun(study_id, error=str(exc), kind=exc.kind)
        except OSError as exc:  # a file the account may not open is a refusal, as on the command line
            where = f"{exc.filename}: " if exc.filename else ""
            kind = Kind.REFUSED if isinstance(exc, PermissionError) else Kind.INVALID
            return StudyRun(study_id, error=f"{where}{exc.strerror or exc}", kind=kind)
        except Exception as exc:  # a bug: one line for the person and the log, the traceback at debug level only
            log.error("study %s on project %s: internal error (%s): %s", study_id, project_id, type(exc).__name__, exc)
            log.debug("the traceback of study %s's internal error", study_id, exc_info=exc)
            return StudyRun(
                study_id, error=f"internal error ({type(exc).__name__}); this is a bug in BOLD, please report it"
            )

    def each() -> Iterator[StudyRun]:
        for study_id in runs:
            started(study_id)
            yield one(study_id)

    return each()
