"""Custodians' actions: ingest a file, withdraw a batch, and the opt-out register."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bold.actions.access import require
from bold.errors import Invalid
from bold.governance import lists, optouts, withdrawals
from bold.governance.lists import ListDeletion
from bold.governance.optouts import OptOutPlan, OptOutResult
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.governance.withdrawals import Withdrawal
from bold.ingest import optout, pipeline, quarantine
from bold.ingest.pipeline import Batch, BatchReport, IngestReport
from bold.ingest.pipeline import ingest as ingest_file
from bold.ingest.quarantine import QuarantineExport
from bold.sources import load_contract, load_mapping, source_types
from bold.workspace import Workspace


def ingest(
    ws: Workspace,
    user: User,
    file: Path,
    source: str,
    *,
    batch: str | None = None,
    mapping: Path | None = None,
    encoding: str = "utf-8",
    encoded: bool = False,
    progress: Callable[[str], None] = lambda phase: None,
    check: bool = False,
    max_quarantine: float | None = None,
) -> IngestReport:
    """Ingest a custodian's file; ``check``: say what it would do and store nothing. A file whose every row, or
    more than ``max_quarantine`` of its rows, would be quarantined is refused whole (``IngestError``)."""
    require(ws, user, Permission.INGEST)
    columns = load_mapping(mapping, load_contract(source)) if mapping else None
    return ingest_file(
        ws,
        source,
        file,
        batch,
        columns,
        encoding,
        progress=progress,
        encoded=encoded,
        by=user.name,
        check=check,
        max_quarantine=max_quarantine,
    )


@dataclass(frozen=True)
class Source:
    """A source type, who provides it, and its batches in order of arrival."""

    source: str
    title: str
    custodian: str
    batches: list[Batch]


def sources(ws: Workspace, user: User) -> list[Source]:
    """Every source type with the batches ingested for it (counts only: what a custodian checks arrived)."""
    require(ws, user, Permission.INGEST)
    found = pipeline.batches(ws)
    out = []
    for source in source_types():
        contract = load_contract(source)
        mine = [b for b in found if b.source == source]
        out.append(Source(source, contract.title, contract.custodian, mine))
    return out


def batch(ws: Workspace, user: User, batch_id: int) -> BatchReport:
    """One batch's report from the store: counts, quarantine reasons with their first row numbers, warnings;
    never a value from the file (those stay in the encrypted quarantine file)."""
    require(ws, user, Permission.INGEST)
    return pipeline.batch_report(ws, batch_id)


def quarantine_export(ws: Workspace, user: User, batch: int | str, out: Path) -> QuarantineExport:
    """A batch's quarantined rows with the reason for each, as an owner-only CSV, for its sender to fix and send
    again: only the person who ingested the batch, or an admin (the stage keeps that rule); audited."""
    require(ws, user, Permission.INGEST)
    return quarantine.export(ws, batch, Path(out), by=user.name)


def batch_name(file_name: str, given: str | None = None) -> str:
    """The name a batch of this file gets (``given``, checked, or one made from the file's name), before ingest."""
    return pipeline.batch_name(file_name, given)


def withdraw_plan(ws: Workspace, user: User, source: str, batch: str) -> Withdrawal:
    """What withdrawing a batch would remove (records per zone, link rows, extracts affected); changes nothing."""
    require(ws, user, Permission.BATCH_WITHDRAW)
    return withdrawals.plan(ws, source, batch)


def withdraw(ws: Workspace, user: User, source: str, batch: str, *, confirmed: bool = False) -> Withdrawal:
    """Withdraw a batch (by name, or number): its records leave the zones and the links, its row stays, marked.
    It cannot be undone, so the caller must have looked at :func:`withdraw_plan` and say so (``confirmed``)."""
    require(ws, user, Permission.BATCH_WITHDRAW)
    if not confirmed:
        raise Invalid(
            f"withdrawing {source} batch {batch!r} deletes its stored records and cannot be undone; look at the "
            "plan first (bold batch withdraw --dry-run, or withdraw_plan) and confirm it (--yes, or confirmed=True)"
        )
    return withdrawals.apply(ws, source, batch, by=user.name)


def optout_plan(ws: Workspace, user: User, file: Path) -> OptOutPlan:
    """What adding a file of opt-outs would do (records deleted per source, links, extracts); changes nothing."""
    require(ws, user, Permission.OPTOUT_ADD)
    return optouts.plan(ws, Path(file))


def optout_add(ws: Workspace, user: User, file: Path, *, confirmed: bool = False) -> OptOutResult:
    """Add a file of opt-outs and delete what matches everywhere. It cannot be undone, so the caller must have
    looked at :func:`optout_plan` and say so (``confirmed=True``; ``--yes`` on the command line)."""
    require(ws, user, Permission.OPTOUT_ADD)
    if not confirmed:
        raise Invalid(
            f"{file}: adding opt-outs deletes stored records and cannot be undone; look at the plan first "
            "(bold optout add --dry-run, or optout_plan) and confirm it (--yes, or confirmed=True)"
        )
    return optouts.apply(ws, Path(file), by=user.name)


def optout_count(ws: Workspace, user: User) -> dict[str, int]:
    """Entries by kind (the entries themselves are keyed hashes and never shown)."""
    require(ws, user, Permission.OPTOUT_COUNT)
    counts = optout.counts(ws)
    return {"nhs_number": counts["nhs_number"], "name_dob": counts["name_dob"]}


def delete_list_plan(ws: Workspace, user: User, source: str) -> ListDeletion:
    """What deleting a participant list would remove (its batches, rows per zone, link rows, extracts); changes
    nothing. Withdrawing batches is the custodian's, so is deleting a list."""
    require(ws, user, Permission.BATCH_WITHDRAW)
    return lists.plan(ws, source)


def delete_list(ws: Workspace, user: User, source: str, *, confirmed: bool = False) -> ListDeletion:
    """Delete a participant list after its report: every batch of it withdrawn, its dataset dropped from built
    extracts, the zones rewritten; audited. It cannot be undone, so the caller must confirm it (``confirmed``)."""
    require(ws, user, Permission.BATCH_WITHDRAW)
    if not confirmed:
        raise Invalid(
            f"deleting the {source} list removes it from the platform and cannot be undone; look at the plan first "
            "(bold batch delete-list --dry-run, or delete_list_plan) and confirm it (--yes, or confirmed=True)"
        )
    return lists.apply(ws, source, by=user.name)
