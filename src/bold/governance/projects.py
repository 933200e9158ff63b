"""Projects: submit, approve or refuse, amend, withdraw, build the extract, close.

A project's states and the moves between them are data (``bold.governance.lifecycle.PROJECT``); each move
re-reads the project inside the transaction that changes it, so two people deciding at once cannot both
succeed, and its audit entry commits with it. Only an approved project within its dates can be built; its
extract holds only the datasets and fields the agreement names, and each person appears under a
project-specific pseudonym, ``HMAC(project key, person_key)``, so two projects' extracts cannot be joined.
Closing deletes the extract and the project key, so the pseudonyms can never be recomputed; released
outputs and the audit chain are kept.

Rules of separation of duties that depend on the record (the submitter may not decide on their own
project; only its team may amend or withdraw it) are kept here, so no caller can skip them; which roles
may attempt each move is the actions' check (``bold.governance.permissions``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import yaml

from bold import keyed, store
from bold.errors import BoldError, Kind
from bold.governance.agreement import PERSON_DATASET, Agreement, assess, load_agreement
from bold.governance.lifecycle import PROJECT, ProjectState
from bold.ingest.rules import q, sql_text
from bold.security.paths import check_name
from bold.security.private import private_dir, write_private
from bold.sources import load_contract
from bold.workspace import Workspace, now

MAX_QUARANTINE_SHARE = 0.05


class ProjectError(BoldError):
    """A project action that the rules do not allow, or a project that does not exist."""

    kind = Kind.CONFLICT


@dataclass
class Project:
    id: str
    agreement: Agreement
    text: str
    status: ProjectState
    assessment: dict
    submitted_by: str
    submitted_at: str
    approved_by: str | None
    approved_at: str | None
    closed_at: str | None
    built_at: str | None
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    amendments: int = 0

    def team(self, role: str) -> set[str]:
        """The people the agreement names in ``role``."""
        return {p.name for p in self.agreement.people if p.role == role}


def source_quality(ws: Workspace) -> dict[str, float]:
    """Share of rows quarantined per source over all its batches."""
    with store.connect(ws) as db:
        rows = db.execute(
            "select source, sum(rows_quarantined) * 1.0 / max(sum(rows_read), 1) from batches group by source"
        ).fetchall()
    return {s: share for s, share in rows}


def _from_row(row: sqlite3.Row) -> Project:
    return Project(
        id=row["id"],
        agreement=Agreement(**yaml.safe_load(row["agreement"])),
        text=row["agreement"],
        status=ProjectState(row["status"]),
        assessment=json.loads(row["assessment"]),
        submitted_by=row["submitted_by"],
        submitted_at=row["submitted_at"],
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
        closed_at=row["closed_at"],
        built_at=row["built_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_reason=row["decision_reason"],
        amendments=row["amendments"],
    )


def _read(db, project_id: str) -> Project:
    check_name(project_id, "project id")
    row = db.execute("select * from projects where id = ?", (project_id,)).fetchone()
    if row is None:
        raise ProjectError(f"no project {project_id!r}", kind=Kind.NOT_FOUND)
    return _from_row(row)


def get(ws: Workspace, project_id: str) -> Project:
    with store.connect(ws) as db:
        return _read(db, project_id)


def all_projects(ws: Workspace) -> list[Project]:
    with store.connect(ws) as db:
        return [_from_row(r) for r in db.execute("select * from projects order by submitted_at, id").fetchall()]


def counts(ws: Workspace) -> dict[ProjectState, int]:
    """Projects in each state (every state listed, zero where none)."""
    with store.connect(ws) as db:
        found = dict(db.execute("select status, count(*) from projects group by status").fetchall())
    return {state: found.get(state.value, 0) for state in ProjectState}


def _people(ws: Workspace) -> dict[str, tuple[frozenset[str], bool]]:
    """Everyone on the platform: their roles and whether they are active (for the assessment)."""
    from bold.governance.people import people

    return {p.name: (frozenset(r.value for r in p.roles), p.active) for p in people(ws)}


def submit(ws: Workspace, path: Path, *, by: str) -> Project:
    agreement, text = load_agreement(path)
    assessment = assess(agreement, source_quality(ws), MAX_QUARANTINE_SHARE, _people(ws))
    with store.transaction(ws) as tx:
        if tx.execute("select 1 from projects where id = ?", (agreement.id,)).fetchone():
            raise ProjectError(
                f"project {agreement.id!r} already exists; to change its agreement use bold project amend"
            )
        tx.execute(
            "insert into projects (id, title, agreement, status, assessment, submitted_by, submitted_at) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            (agreement.id, agreement.title, text, PROJECT.initial.value, json.dumps(assessment), by, now()),
        )
        tx.audit(
            by,
            "project submitted",
            agreement.id,
            {"acceptable": assessment["acceptable"], "red_lines": len(assessment["red_lines"])},
        )
        return _read(tx.db, agreement.id)


def _refuse(ws: Workspace, action: str, project_id: str, reason: str, message: str, by: str) -> ProjectError:
    """Record a refusal in the audit chain (in its own transaction) and return the error to raise."""
    store.audit.record(ws, action, project_id, {"reason": reason}, by=by)
    return ProjectError(message, kind=Kind.REFUSED)


def approve(ws: Workspace, project_id: str, *, by: str) -> Project:
    return _decide(ws, project_id, "approve", None, by)


def refuse(ws: Workspace, project_id: str, reason: str, *, by: str) -> Project:
    if not reason.strip():
        raise ProjectError("a refusal needs a reason, for the team and the register", kind=Kind.INVALID)
    return _decide(ws, project_id, "refuse", reason, by)


def _decide(ws: Workspace, project_id: str, move: str, reason: str | None, by: str) -> Project:
    """The board's decision on a submitted project; never by its submitter, never approving a red line."""
    refusal = None
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move(move, project.status, project_id, ProjectError)
        if by == project.submitted_by:
            refusal = ("submitter cannot approve", f"{by} submitted {project_id} and cannot also {move} it")
        elif move == "approve" and not project.assessment["acceptable"]:
            refusal = (
                "red lines crossed",
                f"{project_id} crosses red lines and cannot be approved: " + "; ".join(project.assessment["red_lines"]),
            )
        else:
            stamp = now()
            approved = (by, stamp) if move == "approve" else (None, None)
            tx.execute(
                "update projects set status = ?, decided_by = ?, decided_at = ?, decision_reason = ?, "
                "approved_by = ?, approved_at = ? where id = ?",
                (target.value, by, stamp, reason, *approved, project_id),
            )
            tx.audit(by, f"project {target.value}", project_id, {"reason": reason} if reason else None)
            return _read(tx.db, project_id)
    raise _refuse(ws, f"project {'approval' if move == 'approve' else 'refusal'} refused", project_id, *refusal, by)


def _check_team(project: Project, by: str, move: str) -> None:
    if by != project.submitted_by and by not in project.team("analyst"):
        raise ProjectError(
            f"{by} is neither the submitter nor an analyst of {project.id}, so cannot {move} it", kind=Kind.REFUSED
        )


def amend(ws: Workspace, project_id: str, path: Path, *, by: str) -> Project:
    """Replace the agreement with an amended one; it goes back to the board, and any extract is deleted."""
    agreement, text = load_agreement(path)
    if agreement.id != project_id:
        raise ProjectError(f"{path} is the agreement of {agreement.id!r}, not {project_id!r}", kind=Kind.INVALID)
    assessment = assess(agreement, source_quality(ws), MAX_QUARANTINE_SHARE, _people(ws))
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move("amend", project.status, project_id, ProjectError)
        _check_team(project, by, "amend")
        tx.execute(
            "update projects set title = ?, agreement = ?, assessment = ?, status = ?, approved_by = null, "
            "approved_at = null, decided_by = null, decided_at = null, decision_reason = null, built_at = null, "
            "amendments = amendments + 1 where id = ?",
            (agreement.title, text, json.dumps(assessment), target.value, project_id),
        )
        extract_deleted = _delete_extract(ws, project_id)
        tx.audit(
            by,
            "project amended",
            project_id,
            {
                "from": project.status.value,
                "amendment": project.amendments + 1,
                "acceptable": assessment["acceptable"],
                "extract_deleted": extract_deleted,
            },
        )
        return _read(tx.db, project_id)


def withdraw(ws: Workspace, project_id: str, *, by: str) -> Project:
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move("withdraw", project.status, project_id, ProjectError)
        _check_team(project, by, "withdraw")
        tx.execute(
            "update projects set status = ?, closed_by = ?, closed_at = ? where id = ?",
            (target.value, by, now(), project_id),
        )
        tx.audit(by, "project withdrawn", project_id)
        return _read(tx.db, project_id)


def project_dir(ws: Workspace, project_id: str) -> Path:
    return ws.root / "projects" / check_name(project_id, "project id")


def extract_path(ws: Workspace, project_id: str) -> Path:
    return project_dir(ws, project_id) / "extract.duckdb"


def _delete_extract(ws: Workspace, project_id: str) -> bool:
    path = extract_path(ws, project_id)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def _project_key(ws: Workspace, project_id: str, create: bool) -> str:
    path = ws.keys_dir / "projects" / f"{check_name(project_id, 'project id')}.key"
    if create and not path.exists():
        private_dir(path.parent)
        write_private(path, secrets.token_hex(32), exclusive=True)
    if not path.exists():
        raise ProjectError(f"project {project_id} has no key (it was closed)")
    return ws.key(f"projects/{project_id}")  # refused, like every key, if others can read it


def usable(project: Project, today: dt.date | None = None) -> None:
    """Refuse a project that is not approved, has not started, has expired or is closed."""
    today = today or dt.date.today()
    if project.status != ProjectState.APPROVED:
        raise ProjectError(f"project {project.id} is {'closed' if project.status == 'closed' else 'not approved'}")
    if today < project.agreement.start:
        raise ProjectError(f"project {project.id} starts on {project.agreement.start}")
    if project.agreement.end is not None and today > project.agreement.end:
        raise ProjectError(f"project {project.id} expired on {project.agreement.end}")


def build(ws: Workspace, project_id: str, today: dt.date | None = None, *, by: str) -> Path:
    """Write ``projects/ID/extract.duckdb``: the agreed fields only, under project pseudonyms."""
    project = get(ws, project_id)
    try:
        usable(project, today)
    except ProjectError as exc:
        store.audit.record(ws, "project build refused", project_id, {"reason": str(exc)}, by=by)
        raise
    quality = source_quality(ws)
    sources = [d for d in project.agreement.datasets if d != PERSON_DATASET]
    failing = [d for d in sources if d not in quality or quality[d] > MAX_QUARANTINE_SHARE]
    if failing:
        raise ProjectError(f"sources below the quality thresholds or not ingested: {', '.join(failing)}")
    if not ws.links_path.exists():
        raise ProjectError("no linkage yet: run bold link before building a project")
    key = _project_key(ws, project_id, create=True)
    level = project.agreement.linkage_threshold
    folder = private_dir(project_dir(ws, project_id))
    target = folder / "extract.duckdb"  # made by DuckDB under the connection's owner-only umask
    target.unlink(missing_ok=True)
    try:
        with ws.content(read_only=True) as con:
            con.execute(f"attach {sql_text(str(ws.links_path))} as links (read_only)")
            con.execute(f"attach {sql_text(str(target))} as extract")
            run_id = con.execute("select max(run_id) from links.runs").fetchone()[0]
            # Every record must have a person in the run, or the inner join below would drop it unseen.
            unlinked = [
                d
                for d in sources
                if con.execute(
                    f"""select count(*) from content.{d} c where not exists (select 1 from links.record_person r
                        where r.run_id = {int(run_id)} and r.record_key = c.record_key)"""
                ).fetchone()[0]
            ]
            if unlinked:
                raise ProjectError(
                    f"records of {', '.join(unlinked)} arrived after the latest linkage run: run bold link again"
                )
            pseudonym = _hmac_sql(key, f"person_{level}::varchar")
            con.execute(
                f"""create temp table pseudonyms as select record_key, {pseudonym} as person_id
                    from links.record_person where run_id = {int(run_id)}"""
            )
            person_fields = project.agreement.datasets.get(PERSON_DATASET)
            if person_fields:
                person_key = _hmac_sql(key, "person_key::varchar")
                cols = ", ".join(q(f) for f in person_fields)
                con.execute(
                    f"""create table extract.person as select {person_key} as person_id, {cols}
                        from links.person_attributes where run_id = {int(run_id)} and threshold = '{level}'"""
                )
            for dataset, fields in project.agreement.datasets.items():
                if dataset == PERSON_DATASET:
                    continue
                contract = load_contract(dataset)
                types = {c.field: c.type for c in contract.content}
                cols = ", ".join(
                    f"date_trunc('month', c.{q(f)})::date as {q(f)}"
                    if types[f] == "date" and project.agreement.date_precision == "month"
                    else f"c.{q(f)}"
                    for f in fields
                )
                con.execute(
                    f"""create table extract.{dataset} as select p.person_id, {cols}
                        from content.{dataset} c join pseudonyms p using (record_key)"""
                )
            con.execute(
                "create table extract.about as select ? as project, ? as built_at, ? as linkage_run, ? as threshold",
                [project_id, now(), run_id, level],
            )
    except Exception:
        target.unlink(missing_ok=True)  # never leave a half-built extract behind
        raise
    with store.transaction(ws) as tx:  # the project may have changed while the extract was written
        if _read(tx.db, project_id).status != ProjectState.APPROVED:
            target.unlink(missing_ok=True)
            raise ProjectError(f"project {project_id} changed while its extract was built; nothing kept")
        tx.execute("update projects set built_at = ? where id = ?", (now(), project_id))
        tx.audit(
            by,
            "project built",
            project_id,
            {"linkage_run": run_id, "threshold": level, "datasets": sorted(project.agreement.datasets)},
        )
    return target


def _hmac_sql(key: str, value_sql: str) -> str:
    """The project pseudonym of a person key, in SQL."""
    return keyed.digest_sql(key.encode(), "person:", value_sql)


def close(ws: Workspace, project_id: str, *, by: str) -> None:
    """Delete the extract and the project key; keep the record, released outputs and the audit."""
    with store.transaction(ws) as tx:
        project = _read(tx.db, project_id)
        target = PROJECT.move("close", project.status, project_id, ProjectError)
        tx.execute(
            "update projects set status = ?, closed_by = ?, closed_at = ? where id = ?",
            (target.value, by, now(), project_id),
        )
        _delete_extract(ws, project_id)
        (ws.keys_dir / "projects" / f"{project_id}.key").unlink(missing_ok=True)
        tx.audit(by, "project closed", project_id, {"extract_deleted": True, "key_deleted": True})
