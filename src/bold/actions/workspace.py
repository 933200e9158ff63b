"""Creating a workspace, opening one, and where it stands."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bold import store
from bold.actions.access import require
from bold.actions.retention import enforce
from bold.governance import people, projects, retention
from bold.governance.lifecycle import ProjectState
from bold.governance.people import User
from bold.governance.permissions import Permission, Role
from bold.ingest import optout
from bold.ingest.pipeline import Batch, batches
from bold.linkage.run import RunSummary, latest_run
from bold.sources import source_types
from bold.studies import outputs
from bold.workspace import Workspace


def init(folder: Path, admin: str, password: str, name: str | None = None) -> Workspace:
    """A new workspace with its first person, an admin; nothing is left behind if any step fails."""
    people.check_password(password)
    existed = folder.exists()
    ws = Workspace.init(folder, name)
    try:
        with store.transaction(ws) as tx:
            tx.audit(admin, "workspace created", ws.root.name, {"name": ws.settings["workspace"]["name"]})
        people.add_person(ws, admin, [Role.ADMIN], password, by=admin)
    except BaseException:
        if existed:
            for child in ws.root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(ws.root)
        raise
    return ws


def open_workspace(root: Path, enforce_retention: bool = True) -> Workspace:
    """Open a workspace, first deleting anything past its retention (``bold.actions.retention.enforce``)."""
    ws = Workspace.open(root)
    if enforce_retention:
        enforce(ws)
    return ws


@dataclass
class Status:
    name: str
    batches: list[Batch]
    sources_without_data: list[str]
    records_stored: int
    deleted_after_optout: int
    deleted_after_retention: int
    optout_entries: int
    latest_run: RunSummary | None
    projects: dict[ProjectState, int]
    outputs_waiting: int
    store_version: int
    quarantine_unresolved: dict[str, int]  # source -> quarantined rows no later batch resolved (withdrawn aside)


def status(ws: Workspace, user: User) -> Status:
    require(ws, user, Permission.STATUS)
    found = batches(ws)
    register = optout.counts(ws)
    expired = retention.deleted(ws)
    return Status(
        name=ws.settings["workspace"]["name"],
        batches=found,
        sources_without_data=[s for s in source_types() if s not in {b.source for b in found}],
        records_stored=sum(b.rows_accepted - b.rows_updated - b.records_withdrawn for b in found)
        - register["deleted"]
        - expired,
        deleted_after_optout=register["deleted"],
        deleted_after_retention=expired,
        optout_entries=register["nhs_number"] + register["name_dob"],
        latest_run=latest_run(ws),
        projects=projects.counts(ws),
        outputs_waiting=outputs.waiting(ws),
        store_version=store.version(ws),
        quarantine_unresolved={
            s: n for s in source_types() if (n := sum(b.quarantine_unresolved for b in found if b.source == s))
        },
    )
