"""Opt-outs that reach everything: the register, both zones, the links and every extract already built.

Adding a file of opt-outs is done in two steps, so that a wrong file is caught before it deletes anything:
:func:`plan` reads the file and says what adding it would do (entries to add, stored records it would delete per
source, rows of the links, people in each built extract, pending outputs to mark) and changes nothing;
:func:`apply` does it, in one store transaction with its audit entry. A file that looks like a source extract
is refused by both, and a plan that would delete more than :data:`WARN_SHARE` of a source's records says so.

What is removed (``bold.governance.forget``, the path retention takes too): the matching records from both zones
(``bold.ingest.optout``); their rows in ``links.duckdb`` for every run (``bold.linkage.run.forget_records``); and,
from each extract on disk, every row of the people they belonged to, found by their project pseudonyms
``HMAC(project key, person_key)`` at the extract's own run and threshold (computed from the links before they
change); the zones and links are then rewritten, so no deleted row stays in their files. Pending outputs of a
project whose extract held such a person are marked for the output checkers. The audit entry holds counts only,
never who.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bold import faults, store
from bold.governance.forget import forget, keys, people_in_extracts
from bold.governance.lifecycle import OutputState
from bold.ingest import optout
from bold.linkage import run as linkage
from bold.workspace import Workspace, now

WARN_SHARE = 0.01  # a plan deleting more than 1% of a source's stored records is worth a second look


@dataclass
class ExtractChange:
    """What an opt-out does to one built extract: people (and their rows) removed, pending outputs marked."""

    project: str
    people: int
    rows: int = 0
    pending_outputs: int = 0


@dataclass
class OptOutPlan:
    """What adding a file of opt-outs would do; nothing has changed yet."""

    file: Path
    file_sha256: str
    entries_new: int = 0
    already_listed: int = 0
    rejected: list[str] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)  # source -> stored records it would delete
    stored: dict[str, int] = field(default_factory=dict)  # source -> stored records now
    links: dict[str, int] = field(default_factory=dict)  # links table -> rows it would delete (every run)
    extracts: list[ExtractChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    already_added_file: bool = False

    @property
    def changes_anything(self) -> bool:
        return bool(self.entries_new or any(self.records.values()))


@dataclass
class OptOutResult:
    """What adding a file of opt-outs did."""

    added: int
    already_listed: int
    rejected: list[str]
    records_removed: dict[str, int]
    already_added_file: bool = False
    links_removed: dict[str, int] = field(default_factory=dict)
    extracts: list[ExtractChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def outputs_marked(self) -> int:
        return sum(e.pending_outputs for e in self.extracts)


def _warnings(records: dict[str, int], stored: dict[str, int]) -> list[str]:
    out = []
    for source, n in records.items():
        total = stored.get(source, 0)
        if total and n / total > WARN_SHARE:
            out.append(
                f"this would delete {n:,} of the {total:,} {source} records stored ({n / total:.1%}, more than "
                f"{WARN_SHARE:.0%}): check that the file is a list of opt-outs"
            )
    return out


def _pending(db, project_id: str) -> int:
    return db.execute(
        "select count(*) from outputs where project = ? and status = ?", (project_id, OutputState.PENDING.value)
    ).fetchone()[0]


def plan(ws: Workspace, path: Path) -> OptOutPlan:
    """What adding this file would do, without changing anything (the file is read and checked as by apply)."""
    parsed = optout.read_file(ws, path)
    result = OptOutPlan(parsed.path, parsed.file_sha256, rejected=parsed.rejected)
    wanted = optout.file_digests(ws, parsed)
    with store.connect(ws) as db:
        if db.execute("select 1 from optout_files where file_sha256 = ?", (parsed.file_sha256,)).fetchone():
            result.already_added_file = True
            return result
        result.entries_new, result.already_listed = optout.new_entries(db, wanted)
        entries = optout.register(ws, db)
    for kind, digests in wanted.items():
        entries[kind] |= digests
    hits = optout.matching_records(ws, entries)
    result.records = {s: len(k) for s, k in hits.items()}
    result.stored = optout.stored_records(ws)
    record_keys = keys(hits)
    result.links = linkage.link_rows(ws, record_keys)
    with store.connect(ws) as db:
        for project_id, people in people_in_extracts(ws, record_keys).items():
            result.extracts.append(ExtractChange(project_id, len(people), pending_outputs=_pending(db, project_id)))
    result.warnings = _warnings(result.records, result.stored)
    return result


def apply(ws: Workspace, path: Path, *, by: str) -> OptOutResult:
    """Add the file's entries to the register and remove every matching record from the zones, the links and
    the built extracts; mark the pending outputs made from those extracts. One transaction, one audit entry."""
    parsed = optout.read_file(ws, path)
    wanted = optout.file_digests(ws, parsed)
    stamp = now()
    with store.transaction(ws) as tx:  # the entries, what they delete and the audit entry, together
        if tx.execute("select 1 from optout_files where file_sha256 = ?", (parsed.file_sha256,)).fetchone():
            return OptOutResult(0, 0, [], {}, already_added_file=True)
        added, listed = optout.new_entries(tx.db, wanted)
        for kind, digests in wanted.items():
            tx.executemany(
                "insert or ignore into optout_entries (kind, digest, added_at) values (?, ?, ?)",
                [(kind, d, stamp) for d in sorted(digests)],
            )
        tx.execute(
            "insert into optout_files (file_sha256, entries, added_at, actor) values (?, ?, ?, ?)",
            (parsed.file_sha256, added, stamp, by),
        )
        hits = optout.matching_records(ws, optout.register(ws, tx.db))
        stored = optout.stored_records(ws)
        done = forget(ws, hits)  # extracts, links, zones: a failure part-way is finished by adding the file again
        changes = []
        for project_id, (people, rows) in done.extracts.items():
            marked = tx.execute(
                "update outputs set optout_people = optout_people + ?, optout_marked_at = ? "
                "where project = ? and status = ?",
                (people, stamp, project_id, OutputState.PENDING.value),
            ).rowcount
            changes.append(ExtractChange(project_id, people, rows, marked))
        links, removed = done.links, done.records
        tx.executemany(
            "insert into optout_purges (source, records, purged_at) values (?, ?, ?)",
            [(s, n, stamp) for s, n in removed.items() if n],
        )
        faults.point("optout:before-commit")
        tx.audit(
            by,
            "opt-out register updated",
            parsed.path.name,
            {
                "file_sha256": parsed.file_sha256,
                "entries_added": added,
                "already_listed": listed,
                "rows_not_used": len(parsed.rejected),
                "stored_records_deleted": removed,
                "link_rows_deleted": links,
                "extracts_changed": {c.project: {"people": c.people, "rows": c.rows} for c in changes},
                "pending_outputs_marked": sum(c.pending_outputs for c in changes),
            },
        )
    return OptOutResult(
        added,
        listed,
        parsed.rejected,
        removed,
        links_removed=links,
        extracts=changes,
        warnings=_warnings(removed, stored),
    )
