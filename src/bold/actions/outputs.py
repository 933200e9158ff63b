"""Output checkers' actions: list a project's outputs, and read one (audited, refusals too)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bold import store
from bold.actions.access import require
from bold.errors import Kind
from bold.governance import projects
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.studies import outputs
from bold.studies.language import StudyError
from bold.studies.outputs import PendingOutput
from bold.workspace import Workspace


def list_outputs(ws: Workspace, user: User, project_id: str) -> list[PendingOutput]:
    """A project's outputs and their states (never their contents)."""
    require(ws, user, Permission.OUTPUTS_LIST)
    projects.get(ws, project_id)  # a clear error for a project that does not exist
    return outputs.list_outputs(ws, project_id)


@dataclass
class OutputView:
    output: PendingOutput
    manifest: dict
    tables: dict[str, pd.DataFrame]
    damaged: list[str]  # files whose checksum no longer matches the manifest


def show(ws: Workspace, user: User, project_id: str, output_id: str, table: str | None = None) -> OutputView:
    """An output for one of the project's named output checkers who did not run it; every viewing is audited."""
    require(ws, user, Permission.OUTPUTS_SHOW)
    try:
        project = projects.get(ws, project_id)  # no such project is said as such, not as a missing output
        output = outputs.get(ws, project_id, output_id)
        outputs.check_reader(project, output, user.name)
    except (StudyError, projects.ProjectError) as exc:
        store.audit.record(ws, "refused", "outputs show", {"output": output_id, "reason": str(exc)}, by=user.name)
        raise
    manifest = output.manifest()
    available = [*manifest["tables"], *manifest.get("reference", {})]
    if table is not None and table not in available:
        raise StudyError(
            f"output {output_id} has no table {table!r}; tables: {', '.join(available)}", kind=Kind.NOT_FOUND
        )
    store.audit.record(ws, "output viewed", project_id, {"output": output_id}, by=user.name)
    names = [table] if table else available
    return OutputView(output, manifest, {n: output.table(n) for n in names}, outputs.verify_files(output))
