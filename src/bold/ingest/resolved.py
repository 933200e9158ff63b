"""Quarantined rows that a later batch resolves: the custodian fixed the row and sent it again.

A quarantined row is kept whole only in its batch's encrypted quarantine file. So that a later batch can find the
rows it resolves without opening those files, ingest also keeps an index of each quarantined row in the
governance store (``quarantined_rows``): its batch, its row number, its reasons (a column and a rule, never a
value) and a keyed digest of its source record id, HMAC-SHA256 under the quarantine key (``bold.keyed``). Ingest
alone holds that key, so the store never holds a record id and nobody reading it can test a guess. A row whose
record id cannot be read (empty, or a line the reader could not parse) has no digest and cannot be resolved.

A later batch of the same source resolves a row when one of its rows with that record id passes validation:
stored (new or updated), or found unchanged (the stored version is already what the custodian meant).
``quarantine_resolutions`` holds each (row, batch that resolved it), written in the resolving batch's own store
transaction, so a batch killed before it commits resolves nothing. A row stays resolved while any batch that
resolved it stands: withdrawing a batch deletes its resolutions (``withdraw``), and its own quarantined rows leave
the index with its quarantine file.

The unresolved rows of a batch are ``rows_quarantined`` less its resolved rows (``unresolved_sql``): what
``bold status`` shows and the quarantine share the acceptability assessment reads. A batch ingested before the
index existed has no index rows, so all its quarantined rows stay unresolved.

Opt-outs follow the quarantine file's rule: a row of an opted-out person is dropped before quarantine, so it never
reaches the index; rows quarantined before an opt-out stay in their file and in the index, which holds nothing the
file does not (a digest of a value the file holds, and its reasons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bold import keyed, store
from bold.ingest.rules import q
from bold.sources import Contract
from bold.workspace import Workspace

LABEL = "quarantined record id:"


@dataclass
class Pending:
    """What a batch adds to the index, gathered in its ingest session and written when it commits."""

    rows: list[tuple[int, str | None, str]] = field(default_factory=list)  # its own: (row, record digest, reasons)
    resolves: list[tuple[int, int]] = field(default_factory=list)  # earlier batches' rows it resolves: (batch, row)
    newly: int = 0  # of ``resolves``, the rows no batch had resolved before


def _digest_sql(key: str, source: str, value_sql: str) -> str:
    return keyed.digest_sql(key.encode(), f"{LABEL}{source}:", value_sql)


def digest(key: str, source: str, record_id: str) -> str:
    """The digest the index keeps of a (cleaned) source record id: :func:`_digest_sql` in Python."""
    return keyed.digest(key.encode(), f"{LABEL}{source}:{record_id}")


def gather(ws: Workspace, con, contract: Contract) -> Pending:
    """This batch's quarantined rows (temp table ``rejected``) for the index, and the earlier quarantined rows of
    its source whose record id it accepts (temp table ``accepted``, before the rows sent unchanged leave it)."""
    source, key = contract.source, ws.key("quarantine")
    rid = f"clean({q(contract.record_id)})"  # as ingest cleans it for ``source_record_id``
    found = con.execute(
        f"select _row, case when {rid} is not null then {_digest_sql(key, source, rid)} end, _reasons "
        "from rejected order by _row"
    ).fetchall()
    pending = Pending(rows=[(row, d, "; ".join(dict.fromkeys(reasons or []))) for row, d, reasons in found])
    with store.connect(ws) as db:
        earlier = db.execute(
            """select q.batch_id, q.file_row, q.record_digest,
                      exists (select 1 from quarantine_resolutions r
                              where r.batch_id = q.batch_id and r.file_row = q.file_row)
               from quarantined_rows q join batches b using (batch_id)
               where b.source = ? and b.withdrawn_at is null and b.expired_at is null
                 and q.record_digest is not null""",
            (source,),
        ).fetchall()
    if not earlier:
        return pending
    con.execute(
        "create or replace temp table quarantined_digests as select unnest(?::varchar[]) as digest",
        [sorted({d for _, _, d, _ in earlier})],
    )
    accepted = {
        d
        for (d,) in con.execute(
            "select digest from quarantined_digests where digest in "
            f"(select {_digest_sql(key, source, 'source_record_id')} from accepted)"
        ).fetchall()
    }
    con.execute("drop table quarantined_digests")
    pending.resolves = [(b, r) for b, r, d, _ in earlier if d in accepted]
    pending.newly = sum(1 for _, _, d, done in earlier if d in accepted and not done)
    return pending


def record(tx, batch_id: int, pending: Pending) -> int:
    """In the batch's store transaction: index its quarantined rows, resolve the earlier rows it accepts, and keep
    on its row how many it resolved that no batch had before (returned)."""
    tx.executemany(
        "insert into quarantined_rows (batch_id, file_row, record_digest, reasons) values (?, ?, ?, ?)",
        [(batch_id, *row) for row in pending.rows],
    )
    newly = 0
    for quarantined, row in pending.resolves:
        before = tx.execute(
            "select 1 from quarantine_resolutions where batch_id = ? and file_row = ?", (quarantined, row)
        ).fetchone()
        added = tx.execute(  # unless its batch was withdrawn meanwhile
            """insert or ignore into quarantine_resolutions (batch_id, file_row, resolved_by)
               select ?, ?, ? where exists (select 1 from quarantined_rows where batch_id = ? and file_row = ?)""",
            (quarantined, row, batch_id, quarantined, row),
        ).rowcount
        newly += bool(added and before is None)
    tx.execute("update batches set rows_resolved = ? where batch_id = ?", (newly, batch_id))
    return newly


def unresolving(db, batch_id: int) -> int:
    """Earlier quarantined rows that only this batch resolved: unresolved again if it is withdrawn."""
    return db.execute(
        """select count(*) from quarantine_resolutions r where r.resolved_by = ? and not exists
               (select 1 from quarantine_resolutions o
                where o.batch_id = r.batch_id and o.file_row = r.file_row and o.resolved_by != r.resolved_by)""",
        (batch_id,),
    ).fetchone()[0]


def withdraw(tx, batch_id: int) -> int:
    """In the withdrawal's store transaction: the batch's resolutions go (rows only it resolved are unresolved
    again: how many), and its own quarantined rows leave the index, as its quarantine file is deleted."""
    again = unresolving(tx.db, batch_id)
    tx.execute("delete from quarantine_resolutions where resolved_by = ? or batch_id = ?", (batch_id, batch_id))
    tx.execute("delete from quarantined_rows where batch_id = ?", (batch_id,))
    return again


def resolvers(db, batch_id: int) -> dict[int, int]:
    """Row number -> the first standing batch that resolved it, for a batch's resolved quarantined rows."""
    rows = db.execute(
        "select file_row, min(resolved_by) from quarantine_resolutions where batch_id = ? group by file_row",
        (batch_id,),
    )
    return dict(rows.fetchall())


def unresolved_sql(batches: str = "batches") -> str:
    """SQL for a batch's quarantined rows not resolved, over its row in ``batches`` (a withdrawn one has none:
    its rows no longer count)."""
    return (
        f"(case when {batches}.withdrawn_at is not null then 0 else {batches}.rows_quarantined - "
        f"(select count(distinct r.file_row) from quarantine_resolutions r where r.batch_id = {batches}.batch_id) end)"
    )
