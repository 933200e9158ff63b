"""The Python API, for notebooks and scripts: a small surface over the same actions the command line calls,
with the same sign-in and permission checks (a notebook gets no more than the CLI would give).

    import bold

    ws = bold.open("demo/workspace", user="ana", password=...)
    ws.studies()                                                # the question library
    output = ws.run_study("bold-questions", "continuity-of-care")
    ws.outputs("bold-questions")                                # ids and states, never contents

    linked = bold.link_files(left_frame, right_frame, id_column="id")   # no workspace needed
    linked.clusters.head()
"""

from __future__ import annotations

import getpass
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bold.actions import audit as audit_actions
from bold.actions import ingest as ingest_actions
from bold.actions import linkage as linkage_actions
from bold.actions import outputs as output_actions
from bold.actions import people as people_actions
from bold.actions import projects as project_actions
from bold.actions import studies as study_actions
from bold.actions import workspace as workspace_actions
from bold.governance.people import User
from bold.security.private import owner_only, private_dir


class Session:
    """A workspace opened by one signed-in person; every method is an action checked against their roles."""

    def __init__(self, workspace, user: User):
        self.workspace = workspace
        self.user = user

    def __repr__(self) -> str:
        return f"<bold.Session {self.workspace.root} as {self.user.name} ({', '.join(sorted(self.user.roles))})>"

    def status(self) -> workspace_actions.Status:
        return workspace_actions.status(self.workspace, self.user)

    def ingest(self, file: str | Path, source: str, **options) -> Any:
        """Ingest a custodian's file (options as ``bold ingest``: batch, mapping, encoding, encoded, check,
        max_quarantine)."""
        return ingest_actions.ingest(self.workspace, self.user, Path(file), source, **options)

    def optout_plan(self, file: str | Path) -> ingest_actions.OptOutPlan:
        """What adding a file of opt-outs would do (records deleted per source, links, extracts); changes nothing."""
        return ingest_actions.optout_plan(self.workspace, self.user, Path(file))

    def optout_add(self, file: str | Path, *, confirmed: bool = False) -> ingest_actions.OptOutResult:
        """Add a file of opt-outs; it deletes stored records for good, so look at ``optout_plan`` first and pass
        ``confirmed=True`` (refused without it)."""
        return ingest_actions.optout_add(self.workspace, self.user, Path(file), confirmed=confirmed)

    def withdraw_plan(self, source: str, batch: str) -> ingest_actions.Withdrawal:
        """What withdrawing a batch would remove (records per zone, links, extracts affected); changes nothing."""
        return ingest_actions.withdraw_plan(self.workspace, self.user, source, batch)

    def withdraw(self, source: str, batch: str, *, confirmed: bool = False) -> ingest_actions.Withdrawal:
        """Withdraw a batch sent in error; it deletes its records for good, so look at ``withdraw_plan`` first and
        pass ``confirmed=True`` (refused without it)."""
        return ingest_actions.withdraw(self.workspace, self.user, source, batch, confirmed=confirmed)

    def delete_list_plan(self, source: str) -> ingest_actions.ListDeletion:
        """What deleting a participant list would remove (batches, records per zone, links, extracts)."""
        return ingest_actions.delete_list_plan(self.workspace, self.user, source)

    def delete_list(self, source: str, *, confirmed: bool = False) -> ingest_actions.ListDeletion:
        """Delete a participant list after its report (``bold batch delete-list``); look at ``delete_list_plan``
        first and pass ``confirmed=True`` (refused without it)."""
        return ingest_actions.delete_list(self.workspace, self.user, source, confirmed=confirmed)

    def link(self, **options) -> Any:
        """Link the workspace (options as ``bold link``: retrain, encoded, backend)."""
        return linkage_actions.link(self.workspace, self.user, **options)

    def projects(self) -> list:
        return project_actions.list_projects(self.workspace, self.user)

    def project(self, project_id: str):
        return project_actions.show(self.workspace, self.user, project_id)

    def submit(self, agreement: str | Path):
        return project_actions.submit(self.workspace, self.user, Path(agreement))

    def studies(self) -> pd.DataFrame:
        """The built-in studies: id, title, question and the fields each needs."""
        found = study_actions.list_studies(self.workspace, self.user)
        return pd.DataFrame(
            [{"id": s.id, "title": s.title, "question": s.question, "needs": list(s.needs)} for s in found]
        )

    def run_study(self, project_id: str, study: str | Path, parameters: dict | None = None, **options):
        """Run a built-in study (by id) or a study file on a project's extract: a pending output, which only
        the project's output checkers may read."""
        return study_actions.run(self.workspace, self.user, project_id, str(study), parameters=parameters, **options)

    def outputs(self, project_id: str) -> pd.DataFrame:
        found = output_actions.list_outputs(self.workspace, self.user, project_id)
        return pd.DataFrame(
            [{"id": o.id, "study": o.study, "status": o.status.value, "by": o.created_by, "at": o.created_at}
             for o in found],
            columns=["id", "study", "status", "by", "at"],
        )  # fmt: skip

    def output(self, project_id: str, output_id: str) -> output_actions.OutputView:
        """Read an output (output checkers of the project only; audited)."""
        return output_actions.show(self.workspace, self.user, project_id, output_id)

    def verify_audit(self):
        return audit_actions.verify(self.workspace, self.user)


def open(path: str | Path, user: str, password: str | None = None) -> Session:
    """Open a workspace and sign in; the password is asked for when not given."""
    ws = workspace_actions.open_workspace(Path(path))
    secret = password if password is not None else getpass.getpass(f"Password for {user}: ")
    return Session(ws, people_actions.sign_in(ws, user, secret))


@dataclass
class LinkedFiles:
    records: int
    pairs: pd.DataFrame
    clusters: pd.DataFrame
    model: dict
    notice: str | None = None  # set when there were too few records to train and the default model was used


def link_files(
    *data: pd.DataFrame | str | Path,
    id_column: str | None = None,
    maps: Iterable[str] = (),
    out: str | Path | None = None,
    **options,
) -> LinkedFiles:
    """Link two data frames or files, or deduplicate one, with the same model as workspace linkage.

    Frames are written to an owner-only temporary folder first; results come back as frames (and stay in
    ``out`` when one is given). Options as ``bold link-files``: date_format, threshold, pairs_threshold, model,
    and per file id_a / id_b, maps_a / maps_b (lists of ROLE=COLUMN), date_format_a / date_format_b,
    mapping_a / mapping_b (mapping files)."""
    import json

    with tempfile.TemporaryDirectory(prefix="bold-") as scratch, owner_only():
        folder = Path(scratch)
        paths = []
        for i, item in enumerate(data):
            if isinstance(item, pd.DataFrame):
                path = folder / f"input-{i + 1}.parquet"
                item.astype("string").to_parquet(path, index=False)
                paths.append(path)
            else:
                paths.append(Path(item))
        target = private_dir(Path(out)) if out is not None else private_dir(folder / "out")
        for key in ("maps_a", "maps_b"):
            if key in options:
                options[key] = list(options[key])
        for key in ("model", "mapping_a", "mapping_b"):
            if options.get(key) is not None:
                options[key] = Path(options[key])
        result = linkage_actions.link_files(paths, id_column, target, maps=list(maps), **options)
        return LinkedFiles(
            notice=result.notice,
            records=result.records,
            pairs=pd.read_csv(target / "pairs.csv"),
            clusters=pd.read_csv(target / "clusters.csv"),
            model=json.loads((target / "model.json").read_text()),
        )
