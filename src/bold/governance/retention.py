"""Retention: records are deleted when their source's period has passed, and extracts when their project ends.

**The period.** Each source's contract states a default (``retention: 7 years``); the workspace's settings
override it, as the data sharing agreement with each custodian sets the period for that workspace::

    [retention]
    prison = "6 years"
    hospital = "18 months"

The contract carries a default because the period belongs to the kind of data; ``bold.toml`` overrides it
because the agreement that binds it is the workspace's. A source with neither is kept until a person deletes it.

**Measured from the batch.** A stored version is kept for the period after the ingest batch that sent it arrived
(its ``finished_at``): the one date every record of every source has, which BOLD recorded itself and nobody can
mistype. A record goes, everywhere, when its current version's batch expires; an earlier version that a later
batch superseded goes from the history when its own batch expires. A record sent again unchanged is not stored
again (``bold.ingest.versions``), so it does not renew its period; a record sent again changed does.

**What is deleted.** For records: both zones, with the history of superseded versions, the links of every run and
the rows of their people in every built extract, by the path opt-outs take (``bold.governance.forget``), and the
batch's quarantine file. The batch's row stays, marked expired with what was deleted. For an approved project past
its end date: its extract and the evidence made from it (its key and record are kept; closing deletes the key);
the project is marked expired, and a build is refused. All of it in one store transaction, each source's and
each project's deletion audited (what, how many rows, why), so a run killed midway leaves nothing marked and the
next run, finding the same batches and projects due, finishes the job; a run with nothing due changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from bold import faults, store
from bold.governance import projects
from bold.governance.forget import forget, keys, people_in_extracts
from bold.governance.lifecycle import ProjectState
from bold.ingest import expiry
from bold.linkage import run as linkage
from bold.sources import ContractError, Period, load_contract, period, source_types
from bold.workspace import Workspace, now


@dataclass
class SourceRetention:
    """One source: its period and where it is set, what is due now, and what retention has deleted so far."""

    source: str
    period: str | None
    set_in: str  # "bold.toml", "contract" or "" (no period: kept until a person deletes it)
    due_batches: list[str] = field(default_factory=list)  # names of the batches past the period
    records: int = 0  # records due (a plan) or deleted (a result)
    versions: int = 0  # superseded versions due, or deleted
    deleted_so_far: int = 0  # records retention deleted before now
    last_deleted: str | None = None


@dataclass
class ProjectExpiry:
    """An approved project past its end date: its extract is deleted."""

    project: str
    end: str
    extract: bool  # whether an extract was on disk


@dataclass
class Retention:
    """What is due on ``today`` (a plan, ``applied_at`` None) or what was deleted."""

    today: dt.date
    sources: list[SourceRetention]
    projects: list[ProjectExpiry] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)  # link rows (every run) due, or deleted
    extracts: dict[str, int] = field(default_factory=dict)  # project -> people due to leave, or removed
    applied_at: str | None = None

    @property
    def due(self) -> bool:
        return bool(self.projects or any(s.due_batches for s in self.sources))


def periods(ws: Workspace) -> dict[str, tuple[Period | None, str]]:
    """Each source's period and where it is set: ``[retention]`` in ``bold.toml`` over the contract's default."""
    settings = ws.settings.get("retention", {})
    unknown = sorted(set(settings) - set(source_types()))
    if unknown:
        raise ContractError(
            f"{ws.settings_path} [retention]: no source {', '.join(unknown)} (sources: {', '.join(source_types())})"
        )
    found: dict[str, tuple[Period | None, str]] = {}
    for source in source_types():
        if source in settings:
            found[source] = (period(settings[source], f"{ws.settings_path} [retention] {source}"), "bold.toml")
        else:
            default = load_contract(source).retention_period
            found[source] = (default, "contract" if default else "")
    return found


def _due_batches(db, periods_now: dict, today: dt.date) -> dict[str, list]:
    """The committed batches, by source, whose period has passed and that retention has not expired yet."""
    rows = db.execute(
        "select batch_id, source, name, finished_at from batches "
        "where withdrawn_at is null and expired_at is null order by batch_id"
    ).fetchall()
    due: dict[str, list] = {}
    for row in rows:
        kept, _ = periods_now.get(row["source"], (None, ""))
        if kept is not None and row["finished_at"][:10] <= kept.before(today).isoformat():
            due.setdefault(row["source"], []).append(row)
    return due


def _due_projects(ws: Workspace, today: dt.date) -> list[projects.Project]:
    """Approved projects past their end date not yet expired, or whose extract was built again since."""
    return [
        p
        for p in projects.all_projects(ws)
        if p.status == ProjectState.APPROVED
        and p.agreement.end is not None
        and today > p.agreement.end
        and (p.expired_at is None or projects.extract_path(ws, p.id).exists())
    ]


def due(ws: Workspace, today: dt.date | None = None) -> bool:
    """Whether anything is due: the store and the extracts' names only, cheap enough for every command."""
    today = today or dt.date.today()
    with store.connect(ws) as db:
        if _due_batches(db, periods(ws), today):
            return True
    return bool(_due_projects(ws, today))


def _so_far(db) -> dict[str, tuple[int, str | None]]:
    """Records retention has deleted per source, and when it last did."""
    found: dict[str, tuple[int, str | None]] = {}
    for source, done, last in db.execute(
        "select source, expiry, expired_at from batches where expired_at is not null order by expired_at"
    ).fetchall():
        n, _ = found.get(source, (0, None))
        found[source] = (n + json.loads(done)["records"], last)
    return found


def deleted(ws: Workspace) -> int:
    """Records retention has deleted, every source."""
    with store.connect(ws) as db:
        return sum(n for n, _ in _so_far(db).values())


def _start(ws: Workspace, db, today: dt.date) -> tuple[Retention, dict[str, list]]:
    periods_now = periods(ws)
    batches = _due_batches(db, periods_now, today)
    so_far = _so_far(db)
    sources = [
        SourceRetention(
            source,
            str(kept) if kept else None,
            where,
            [b["name"] for b in batches.get(source, [])],
            deleted_so_far=so_far.get(source, (0, None))[0],
            last_deleted=so_far.get(source, (0, None))[1],
        )
        for source, (kept, where) in periods_now.items()
    ]
    expiring = [
        ProjectExpiry(p.id, str(p.agreement.end), projects.extract_path(ws, p.id).exists())
        for p in _due_projects(ws, today)
    ]
    return Retention(today, sources, expiring), batches


def current(ws: Workspace) -> list[SourceRetention]:
    """Each source's period and what retention has deleted so far (what is due is not looked at)."""
    with store.connect(ws) as db:
        result, _ = _start(ws, db, dt.date.today())
    return result.sources


def _ids(batches: dict[str, list]) -> dict[str, list[int]]:
    return {source: [b["batch_id"] for b in rows] for source, rows in batches.items()}


def _count(result: Retention, hits: dict[str, dict[int, list]], versions: dict[str, dict[int, int]]) -> None:
    for s in result.sources:
        s.records = sum(len(k) for k in hits.get(s.source, {}).values())
        s.versions = sum(versions.get(s.source, {}).values())


def plan(ws: Workspace, today: dt.date | None = None) -> Retention:
    """What is due on ``today`` and what deleting it would remove; nothing is changed."""
    today = today or dt.date.today()
    with store.connect(ws) as db:
        result, batches = _start(ws, db, today)
    if not result.due:
        return result
    by_batch = expiry.records_of(ws, _ids(batches))
    _count(result, by_batch, expiry.superseded(ws, _ids(batches)))
    record_keys = keys(_flat(by_batch))
    result.links = linkage.link_rows(ws, record_keys)
    result.extracts = {p: len(people) for p, people in people_in_extracts(ws, record_keys).items()}
    return result


def _flat(by_batch: dict[str, dict[int, list]]) -> dict[str, list]:
    return {source: [k for found in batches.values() for k in found] for source, batches in by_batch.items()}


def apply(ws: Workspace, today: dt.date | None = None, *, by: str) -> Retention:
    """Delete what is due on ``today``: expired projects' extracts, then expired batches' records everywhere."""
    today = today or dt.date.today()
    with store.transaction(ws) as tx:
        result, batches = _start(ws, tx.db, today)
        if not result.due:
            return result
        stamp = result.applied_at = now()
        for p in result.projects:
            projects.delete_extract(ws, p.project)
            tx.execute("update projects set expired_at = ? where id = ?", (stamp, p.project))
            tx.audit(
                by,
                "project extract expired",
                p.project,
                {"reason": f"the project ended on {p.end}", "extract_deleted": p.extract},
            )
        faults.point("retention:after-extracts")
        ids = _ids(batches)
        by_batch = expiry.records_of(ws, ids)
        done = forget(ws, _flat(by_batch))  # extracts, links, zones: the opt-outs' path
        result.links = done.links
        result.extracts = {project: people for project, (people, _) in done.extracts.items()}
        faults.point("retention:after-records")
        versions = expiry.delete_superseded(ws, ids)
        _count(result, by_batch, versions)
        for s in result.sources:
            if s.due_batches:
                _expire_batches(ws, tx, s, batches[s.source], by_batch, versions, stamp, by)
        if batches:
            tx.audit(
                by,
                "retention applied",
                "records",
                {"link_rows_deleted": result.links, "extract_people_removed": result.extracts},
            )
        faults.point("retention:before-commit")
    return result


def _expire_batches(ws: Workspace, tx, s: SourceRetention, rows: list, by_batch, versions, stamp: str, by: str):
    """Mark a source's expired batches (what each lost), delete their quarantine files, and audit the source."""
    files = 0
    for row in rows:
        quarantine = tx.execute("select quarantine_file from batches where batch_id = ?", (row["batch_id"],))
        quarantine = quarantine.fetchone()[0]
        if quarantine and (ws.root / quarantine).exists():
            (ws.root / quarantine).unlink()
            files += 1
        details = {
            "period": s.period,
            "records": len(by_batch.get(s.source, {}).get(row["batch_id"], [])),
            "versions": versions.get(s.source, {}).get(row["batch_id"], 0),
        }
        tx.execute(
            "update batches set expired_at = ?, expiry = ? where batch_id = ?",
            (stamp, json.dumps(details), row["batch_id"]),
        )
    tx.audit(
        by,
        "records expired",
        s.source,
        {
            "reason": f"kept {s.period} after their batch arrived ({s.set_in})",
            "batches": s.due_batches,
            "records_deleted": s.records,
            "superseded_versions_deleted": s.versions,
            "quarantine_files_deleted": files,
        },
    )
