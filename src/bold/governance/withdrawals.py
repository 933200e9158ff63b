"""Withdrawing a batch: a file sent in error leaves everything BOLD made of it, and its history stays.

``bold batch withdraw SOURCE BATCH`` removes the batch's records from both zones (found by ``batch_id``,
``bold.ingest.withdraw``), from the links of every run (``bold.linkage.run.forget_records``, as opt-outs do),
and deletes its quarantine file with its rows in the quarantine index; the earlier quarantined rows it resolved
(``bold.ingest.resolved``) are unresolved again unless another standing batch resolved them too. The batch's row
in ``batches`` stays, marked withdrawn with who, when and what was removed, so the batch list and its report still
show it. A withdrawn batch is no longer a committed batch (``bold.ingest.pipeline.committed_batches``), so no later
link or build reads it, and its quarantined rows no longer count in the quality the project assessment reads.
Extracts already built are not rewritten (their rows carry no record key to find the batch's rows by): each
project records the batches its extract was built from, and its next build, which leaves the batch out, says which
withdrawn batches the extract before it used.

Like an opt-out, all of it happens in one store transaction with its audit entry, in the order links, content,
identifiers, batch row: each step needs what the next deletes (the links are found through the records'
keys), so a withdrawal killed midway leaves the batch not withdrawn, and withdrawing it again finishes the job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bold import faults, store
from bold.errors import BoldError, Kind
from bold.governance import projects
from bold.ingest import resolved
from bold.ingest import withdraw as zones
from bold.linkage import run as linkage
from bold.sources import source_types
from bold.workspace import Workspace, now


class WithdrawalError(BoldError):
    """A batch that cannot be withdrawn: unknown, of another source, or already withdrawn."""

    kind = Kind.CONFLICT


@dataclass
class Withdrawal:
    """What withdrawing a batch removes (a plan) or removed."""

    source: str
    batch: str
    batch_id: int
    accepted: int  # the rows the batch stored when it arrived
    quarantined: int
    records: dict[str, int] = field(default_factory=dict)  # zone -> records (rows) removed
    links: dict[str, int] = field(default_factory=dict)  # links table -> rows removed, every run
    extracts: list[str] = field(default_factory=list)  # projects whose extract on disk used the batch
    quarantine_file_deleted: bool = False
    unresolved: int = 0  # earlier batches' quarantined rows only this batch resolved: unresolved again
    withdrawn_at: str | None = None  # None: a plan, nothing changed yet
    withdrawn_by: str | None = None

    def details(self) -> dict:
        """Counts only, never a record: for the audit entry and the batch's row."""
        return {
            "batch_id": self.batch_id,
            "records": self.records,
            "links": self.links,
            "extracts_affected": self.extracts,
            "quarantine_file_deleted": self.quarantine_file_deleted,
            "quarantine_unresolved_again": self.unresolved,
        }


def _find(db, source: str, batch: str):
    """The batch's row: by name within the source, else by number; a clear error otherwise (nothing changed)."""
    if source not in source_types():
        raise WithdrawalError(
            f"no source type {source!r} (one of {', '.join(source_types())}); nothing changed", kind=Kind.INVALID
        )
    row = db.execute("select * from batches where source = ? and name = ?", (source, batch)).fetchone()
    if row is None and batch.isdigit():
        row = db.execute("select * from batches where batch_id = ?", (int(batch),)).fetchone()
    if row is None:
        elsewhere = [r[0] for r in db.execute("select source from batches where name = ? order by 1", (batch,))]
        hint = f" ({', '.join(elsewhere)} has a batch of that name)" if elsewhere else ""
        raise WithdrawalError(f"no {source} batch {batch!r}{hint}; nothing changed", kind=Kind.NOT_FOUND)
    if row["source"] != source:
        raise WithdrawalError(
            f"batch {batch} is a {row['source']} batch ({row['name']!r}), not {source}; nothing changed",
            kind=Kind.INVALID,
        )
    if row["withdrawn_at"] is not None:
        raise WithdrawalError(
            f"{source} batch {row['name']!r} was already withdrawn on {row['withdrawn_at'][:16]} by "
            f"{row['withdrawn_by']}; nothing changed"
        )
    return row


def _affected(ws: Workspace, db, source: str, row) -> list[str]:
    """Projects whose extract on disk was built from this batch."""
    on_disk = set(projects.built_extracts(ws))
    found = []
    for project_id, built_batches, built_at, agreement in db.execute(
        "select id, built_batches, built_at, agreement from projects order by id"
    ).fetchall():
        if project_id not in on_disk:
            continue
        if projects.used_batch(built_batches, built_at, agreement, source, row["batch_id"], row["finished_at"]):
            found.append(project_id)
    return found


def _start(ws: Workspace, db, source: str, batch: str) -> Withdrawal:
    row = _find(db, source, batch)
    return Withdrawal(
        source,
        row["name"],
        row["batch_id"],
        row["rows_accepted"],
        row["rows_quarantined"],
        extracts=_affected(ws, db, source, row),
    )


def plan(ws: Workspace, source: str, batch: str) -> Withdrawal:
    """What withdrawing the batch would remove (the same errors as :func:`apply`); changes nothing."""
    with store.connect(ws) as db:
        result = _start(ws, db, source, batch)
        quarantine = db.execute("select quarantine_file from batches where batch_id = ?", (result.batch_id,))
        quarantine = quarantine.fetchone()[0]
        result.unresolved = resolved.unresolving(db, result.batch_id)
    keys, result.records = zones.batch_records(ws, source, result.batch_id)
    result.links = linkage.link_rows(ws, keys)
    result.quarantine_file_deleted = bool(quarantine) and (ws.root / quarantine).exists()
    return result


def apply(ws: Workspace, source: str, batch: str, *, by: str) -> Withdrawal:
    """Withdraw the batch: its records out of the zones and the links, its quarantine file deleted, what it resolved
    of earlier quarantines unresolved, its row marked; one store transaction, one audit entry (counts only)."""
    with store.transaction(ws) as tx:
        result = remove(ws, tx, source, batch, by=by)
        faults.point("withdraw:before-commit")
        tx.audit(by, "batch withdrawn", f"{source}/{result.batch}", result.details())
    return result


def remove(ws: Workspace, tx, source: str, batch: str, *, by: str) -> Withdrawal:
    """The work of a withdrawal inside the caller's store transaction ``tx`` (which audits it): the batch's records
    out of the links and the zones, its quarantine file deleted, its row marked withdrawn."""
    result = _start(ws, tx.db, source, batch)
    keys, _ = zones.batch_records(ws, source, result.batch_id)
    result.links = linkage.forget_records(ws, keys)  # first: the records' keys are what finds their links
    faults.point("withdraw:after-links")
    result.records = zones.delete_batch(ws, source, result.batch_id)
    quarantine = tx.execute("select quarantine_file from batches where batch_id = ?", (result.batch_id,))
    quarantine = quarantine.fetchone()[0]
    if quarantine and (ws.root / quarantine).exists():
        (ws.root / quarantine).unlink()
        result.quarantine_file_deleted = True
    result.unresolved = resolved.withdraw(tx, result.batch_id)
    result.withdrawn_at, result.withdrawn_by = now(), by
    tx.execute(
        "update batches set withdrawn_at = ?, withdrawn_by = ?, withdrawal = ? where batch_id = ?",
        (result.withdrawn_at, by, json.dumps(result.details()), result.batch_id),
    )
    return result
