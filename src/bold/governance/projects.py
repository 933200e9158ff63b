"""Projects: submit, approve, build the extract, close.

A project moves ``submitted -> approved -> closed``. Only an approved project within its dates can be
built; its extract holds only the datasets and fields the agreement names, and each person appears
under a project-specific pseudonym, ``HMAC(project key, person_key)``, so two projects' extracts cannot
be joined. Closing deletes the extract and the project key, so the pseudonyms can never be recomputed;
released outputs and the audit chain are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from bold import audit, keyed
from bold.governance.agreement import PERSON_DATASET, Agreement, assess, load_agreement
from bold.ingest.rules import q, sql_text
from bold.security.private import private_dir, write_private
from bold.sources import load_contract
from bold.workspace import Workspace, actor, now

SCHEMA = """
create table if not exists projects (
    id text primary key,
    title text not null,
    agreement text not null,
    status text not null check (status in ('submitted', 'approved', 'closed')),
    assessment text not null,
    submitted_by text not null,
    submitted_at text not null,
    approved_by text,
    approved_at text,
    closed_by text,
    closed_at text,
    built_at text
);
"""


class ProjectError(Exception):
    """A project action that the rules do not allow, or a project that does not exist."""


@dataclass
class Project:
    id: str
    agreement: Agreement
    text: str
    status: str
    assessment: dict
    submitted_by: str
    submitted_at: str
    approved_by: str | None
    approved_at: str | None
    closed_at: str | None
    built_at: str | None


def source_quality(ws: Workspace) -> dict[str, float]:
    """Share of rows quarantined per source over all its batches."""
    with ws.governance() as db:
        rows = db.execute(
            "select source, sum(rows_quarantined) * 1.0 / max(sum(rows_read), 1) from batches group by source"
        ).fetchall()
    return {s: share for s, share in rows}


def get(ws: Workspace, project_id: str) -> Project:
    with ws.governance() as db:
        db.executescript(SCHEMA)
        row = db.execute("select * from projects where id = ?", (project_id,)).fetchone()
    if row is None:
        raise ProjectError(f"no project {project_id!r}")
    agreement = Agreement(**yaml.safe_load(row["agreement"]))
    return Project(
        row["id"],
        agreement,
        row["agreement"],
        row["status"],
        json.loads(row["assessment"]),
        row["submitted_by"],
        row["submitted_at"],
        row["approved_by"],
        row["approved_at"],
        row["closed_at"],
        row["built_at"],
    )


def all_projects(ws: Workspace) -> list[Project]:
    with ws.governance() as db:
        db.executescript(SCHEMA)
        ids = [r[0] for r in db.execute("select id from projects order by submitted_at").fetchall()]
    return [get(ws, i) for i in ids]


def submit(ws: Workspace, path: Path) -> Project:
    agreement, text = load_agreement(path)
    assessment = assess(agreement, source_quality(ws))
    with ws.governance() as db:
        db.executescript(SCHEMA)
        if db.execute("select 1 from projects where id = ?", (agreement.id,)).fetchone():
            raise ProjectError(f"project {agreement.id!r} already exists; a changed agreement needs a new id")
        db.execute(
            "insert into projects (id, title, agreement, status, assessment, submitted_by, submitted_at) "
            "values (?, ?, ?, 'submitted', ?, ?, ?)",
            (agreement.id, agreement.title, text, json.dumps(assessment), actor(), now()),
        )
    audit.record(
        ws,
        "project submitted",
        agreement.id,
        {"acceptable": assessment["acceptable"], "red_lines": len(assessment["red_lines"])},
    )
    return get(ws, agreement.id)


def approve(ws: Workspace, project_id: str) -> Project:
    project = get(ws, project_id)
    who = actor()
    if project.status != "submitted":
        raise ProjectError(f"project {project_id} is {project.status}; only a submitted project can be approved")
    if who == project.submitted_by:
        audit.record(ws, "project approval refused", project_id, {"reason": "submitter cannot approve"})
        raise ProjectError(f"{who} submitted {project_id} and cannot also approve it")
    if not project.assessment["acceptable"]:
        audit.record(ws, "project approval refused", project_id, {"reason": "red lines crossed"})
        raise ProjectError(
            f"{project_id} crosses red lines and cannot be approved: " + "; ".join(project.assessment["red_lines"])
        )
    with ws.governance() as db:
        db.execute(
            "update projects set status = 'approved', approved_by = ?, approved_at = ? where id = ?",
            (who, now(), project_id),
        )
    audit.record(ws, "project approved", project_id)
    return get(ws, project_id)


def project_dir(ws: Workspace, project_id: str) -> Path:
    return ws.root / "projects" / project_id


def _project_key(ws: Workspace, project_id: str, create: bool) -> str:
    path = ws.keys_dir / "projects" / f"{project_id}.key"
    if create and not path.exists():
        private_dir(path.parent)
        write_private(path, secrets.token_hex(32), exclusive=True)
    if not path.exists():
        raise ProjectError(f"project {project_id} has no key (it was closed)")
    return path.read_text().strip()


def usable(project: Project, today: dt.date | None = None) -> None:
    """Refuse a project that is not approved, has not started, has expired or is closed."""
    today = today or dt.date.today()
    if project.status == "closed":
        raise ProjectError(f"project {project.id} is closed")
    if project.status != "approved":
        raise ProjectError(f"project {project.id} is not approved")
    if today < project.agreement.start:
        raise ProjectError(f"project {project.id} starts on {project.agreement.start}")
    if project.agreement.end is not None and today > project.agreement.end:
        raise ProjectError(f"project {project.id} expired on {project.agreement.end}")


def build(ws: Workspace, project_id: str, today: dt.date | None = None) -> Path:
    """Write ``projects/ID/extract.duckdb``: the agreed fields only, under project pseudonyms."""
    project = get(ws, project_id)
    try:
        usable(project, today)
    except ProjectError as exc:
        audit.record(ws, "project build refused", project_id, {"reason": str(exc)})
        raise
    quality = source_quality(ws)
    sources = [d for d in project.agreement.datasets if d != PERSON_DATASET]
    failing = [d for d in sources if d not in quality or quality[d] > 0.05]
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
    with ws.governance() as db:
        db.execute("update projects set built_at = ? where id = ?", (now(), project_id))
    audit.record(
        ws,
        "project built",
        project_id,
        {"linkage_run": run_id, "threshold": level, "datasets": sorted(project.agreement.datasets)},
    )
    return target


def _hmac_sql(key: str, value_sql: str) -> str:
    """The project pseudonym of a person key, in SQL."""
    return keyed.digest_sql(key.encode(), "person:", value_sql)


def close(ws: Workspace, project_id: str) -> None:
    """Delete the extract and the project key; keep the record, released outputs and the audit."""
    project = get(ws, project_id)
    if project.status == "closed":
        raise ProjectError(f"project {project_id} is already closed")
    extract = project_dir(ws, project_id) / "extract.duckdb"
    extract.unlink(missing_ok=True)
    (ws.keys_dir / "projects" / f"{project_id}.key").unlink(missing_ok=True)
    with ws.governance() as db:
        db.execute(
            "update projects set status = 'closed', closed_by = ?, closed_at = ? where id = ?",
            (actor(), now(), project_id),
        )
    audit.record(ws, "project closed", project_id, {"extract_deleted": True, "key_deleted": True})
