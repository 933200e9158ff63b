"""The quarantine for its sender: a batch's rejected rows, with the reason for each, for the custodian to fix and
send again.

The rows are kept encrypted under ``keys/quarantine.key`` (``pipeline._write_quarantine``) with every value as the
custodian sent it. Only the person who ingested the batch (the ``actor`` of its row in ``batches``), or an admin,
may take them out: the rule depends on the batch, so it is kept here, where no caller can skip it. The export is an
owner-only CSV outside the workspace, and it is audited (the batch and the number of rows, never a value).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from bold import store
from bold.errors import Kind, Refused
from bold.ingest import resolved
from bold.ingest.reader import IngestError
from bold.ingest.rules import sql_text
from bold.security.paths import holds, output_path
from bold.security.private import write_private
from bold.sources import load_contract
from bold.workspace import Workspace

MARKER = "quarantined_row"  # the export's first column, by which BOLD knows a file it may overwrite
ADMIN = "admin"  # the role that may export any batch's quarantine (bold.governance.permissions.Role.ADMIN)


@dataclass(frozen=True)
class QuarantineExport:
    batch_id: int
    source: str
    batch: str
    rows: int
    file: Path
    resolved: int = 0  # of ``rows``, those a later batch resolved (``bold.ingest.resolved``)


def _batch_row(db, batch: int | str):
    """A batch by its id (``3``) or as ``SOURCE/NAME`` (``deaths/registrations``, as the audit names it)."""
    text = str(batch).strip()
    if text.isdigit():
        return db.execute("select * from batches where batch_id = ?", (int(text),)).fetchone()
    source, slash, name = text.partition("/")
    if not slash or not source or not name:
        raise IngestError(f"batch {text!r}: expected a batch id (a number) or SOURCE/NAME, e.g. prison/prison-2026-11")
    return db.execute("select * from batches where source = ? and name = ?", (source, name)).fetchone()


def export(ws: Workspace, batch_ref: int | str, out: Path, *, by: str) -> QuarantineExport:
    """Write the quarantined rows of batch ``batch_ref`` (an id, or ``SOURCE/NAME``) to ``out`` (CSV): the row
    number in the file sent, the reasons (``COLUMN: reason``, joined by ``; ``), the id of the later batch that
    resolved the row (``bold.ingest.resolved``; empty while unresolved), then the contract's columns with the values
    as sent, and the raw line of a row the reader could not parse."""
    out = output_path(
        Path(out),
        kind="quarantine export",
        workspace=ws.root,
        suffixes=(".csv",),
        written_by_bold=holds(MARKER.encode()),
    )
    with store.connect(ws) as db:
        batch = _batch_row(db, batch_ref)
        person = db.execute("select roles from people where name = ?", (by,)).fetchone()
        resolvers = resolved.resolvers(db, batch["batch_id"]) if batch is not None else {}
    if batch is None:
        raise IngestError(f"no batch {batch_ref}", kind=Kind.NOT_FOUND)
    batch_id, what = batch["batch_id"], f"{batch['source']}/{batch['name']}"
    admin = person is not None and ADMIN in person["roles"].split(",")
    if by != batch["actor"] and not admin:
        store.audit.record(ws, "refused", "batch quarantine export", {"batch_id": batch_id}, by=by)
        raise Refused(
            f"{by} did not send batch {batch_id} ({what}): only its sender, {batch['actor']}, or an admin may "
            "export its quarantined rows"
        )
    if not batch["quarantine_file"]:
        raise IngestError(f"batch {batch_id} ({what}) has no quarantined rows; nothing written", kind=Kind.NOT_FOUND)
    stored = ws.root / batch["quarantine_file"]
    if not stored.is_file():
        raise IngestError(f"batch {batch_id} ({what}): its quarantine file is missing", kind=Kind.NOT_FOUND)
    columns = [c.name for c in load_contract(batch["source"]).columns]
    with ws.duckdb_connection() as con:
        con.execute(f"pragma add_parquet_key('quarantine', {sql_text(ws.key('quarantine'))})")
        rows = con.execute(
            f"""select * from read_parquet({sql_text(str(stored))}, encryption_config = {{footer_key: 'quarantine'}})
                order by _row"""
        ).fetchall()
        names = [d[0] for d in con.description]
    kept = [c for c in columns if c in names]  # a contract column the quarantine lacks is left out
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([MARKER, "reasons", "resolved_by_batch", *kept, "unreadable_line"])
    for row in rows:
        values = dict(zip(names, row, strict=True))
        reasons = "; ".join(dict.fromkeys(values["_reasons"] or []))
        by_batch = resolvers.get(values["_row"], "")
        writer.writerow([values["_row"], reasons, by_batch, *(values[c] for c in kept), values["_line"]])
    existed = out.exists()
    try:  # the file and its audit entry together: a file whose entry did not commit is removed
        with store.transaction(ws) as tx:
            details = {"batch_id": batch_id, "rows": len(rows), "resolved": len(resolvers), "file": out.name}
            tx.audit(by, "quarantine export", what, details)
            write_private(out, text.getvalue())
    except BaseException:
        if not existed:
            out.unlink(missing_ok=True)
        raise
    return QuarantineExport(batch_id, batch["source"], batch["name"], len(rows), out, len(resolvers))
