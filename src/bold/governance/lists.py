"""Deleting a participant list after its report (Justice Data Lab style): the list leaves the platform whole.

A list (a source whose contract says ``participant_list: true``) is sent for one evaluation. ``bold batch delete-list
SOURCE`` withdraws every standing batch of it as ``bold batch withdraw`` does (``withdrawals.remove``: its records
out of both zones with their history, out of the links of every run, its quarantine files deleted, each batch's row
marked), drops the dataset from every built extract, and writes the zones and the links afresh so that the deleted
rows do not linger in the files' free blocks (``Workspace.rewrite``). All in one store transaction with one audit
entry, ``participant list deleted`` (counts only); a deletion killed midway leaves the list standing, and deleting
it again finishes the job, as a withdrawal does.

What stays: the batches' rows (marked withdrawn, so the register shows a list came and went), released outputs
(aggregates only), and in the links the people the list's records were linked to, whose attributes (sex, year of
birth) the linker derives again at its next run from the records that remain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bold import store
from bold.errors import BoldError, Kind
from bold.governance import projects, withdrawals
from bold.sources import ContractError, load_contract
from bold.workspace import ZONES, Workspace, now


class ListError(BoldError):
    """A source that is not a participant list, or a list with nothing standing to delete."""

    kind = Kind.CONFLICT


@dataclass
class ListDeletion:
    """What deleting a list removes (a plan) or removed."""

    source: str
    batches: list[withdrawals.Withdrawal] = field(default_factory=list)
    extracts: dict[str, int] = field(default_factory=dict)  # project -> the list's rows dropped from its extract
    deleted_at: str | None = None  # None: a plan, nothing changed yet
    deleted_by: str | None = None

    def _summed(self, counts: str) -> dict[str, int]:
        total: dict[str, int] = {}
        for batch in self.batches:
            for name, n in getattr(batch, counts).items():
                total[name] = total.get(name, 0) + n
        return total

    @property
    def records(self) -> dict[str, int]:
        """Rows removed per zone, over every batch."""
        return self._summed("records")

    @property
    def links(self) -> dict[str, int]:
        """Rows removed per links table, over every batch."""
        return self._summed("links")

    def details(self) -> dict:
        """Counts only, never a record: for the audit entry."""
        return {
            "batches": [b.batch for b in self.batches],
            "records": self.records,
            "links": self.links,
            "extracts": self.extracts,
            "quarantine_files_deleted": sum(b.quarantine_file_deleted for b in self.batches),
            "zones_rewritten": list(ZONES),
        }


def _check(source: str) -> None:
    try:
        contract = load_contract(source)
    except ContractError as exc:
        raise ListError(f"{exc}; nothing changed", kind=Kind.INVALID) from None
    if not contract.participant_list:
        raise ListError(
            f"{source} is not a participant list (its contract does not say participant_list: true): withdraw a "
            "batch sent in error with bold batch withdraw; nothing changed",
            kind=Kind.INVALID,
        )


def _standing(db, source: str) -> list[str]:
    rows = db.execute(
        "select name from batches where source = ? and withdrawn_at is null order by batch_id", (source,)
    ).fetchall()
    if not rows:
        raise ListError(f"no standing {source} batch: the list was never sent or is already deleted; nothing changed")
    return [r[0] for r in rows]


def _extracts_holding(ws: Workspace, source: str) -> list[str]:
    return [p for p in projects.built_extracts(ws) if source in projects.get(ws, p).agreement.datasets]


def plan(ws: Workspace, source: str) -> ListDeletion:
    """What deleting the list would remove (the same errors as :func:`apply`); changes nothing."""
    _check(source)
    with store.connect(ws) as db:
        names = _standing(db, source)
    result = ListDeletion(source, [withdrawals.plan(ws, source, name) for name in names])
    result.extracts = {p: 0 for p in _extracts_holding(ws, source)}  # rows are counted when they are dropped
    return result


def apply(ws: Workspace, source: str, *, by: str) -> ListDeletion:
    """Delete the list: every standing batch withdrawn, the dataset dropped from built extracts, the zones and links
    written afresh; one store transaction, one audit entry."""
    _check(source)
    with store.transaction(ws) as tx:
        result = ListDeletion(source)
        for name in _standing(tx.db, source):
            result.batches.append(withdrawals.remove(ws, tx, source, name, by=by))
        for project_id in _extracts_holding(ws, source):
            dropped = projects.drop_dataset(ws, project_id, source)
            if dropped is not None:
                result.extracts[project_id] = dropped
        for zone in ZONES:
            ws.rewrite(zone)
        result.deleted_at, result.deleted_by = now(), by
        tx.audit(by, "participant list deleted", source, result.details())
    return result
