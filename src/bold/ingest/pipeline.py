"""Ingest one custodian file: read, validate, quarantine, normalise, apply opt-outs, split into zones.

Every row read ends in exactly one place: accepted (identifiers zone + content zone, joined only by
a random ``record_key``), quarantined (with a reason per row), or opted out (counted, never stored).
The counts are checked to add up before anything is committed, and are recorded with the batch's
provenance in the governance store. The same file twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bold import store
from bold.errors import Kind
from bold.ingest import optout
from bold.ingest.reader import IngestError, read, sha256
from bold.ingest.rules import (
    MACROS,
    cleaned,
    content_columns,
    identifier_columns,
    issues_sql,
    prepare_sql,
    q,
    sql_text,
)
from bold.security.paths import check_name, name_from
from bold.security.private import private_dir
from bold.sources import ISSUES_COLUMN, Contract, encoded_contract, load_contract
from bold.workspace import Workspace, now

EXAMPLES_PER_REASON = 3


@dataclass
class IngestReport:
    source: str
    batch: str
    file: Path
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    opted_out: int = 0
    # reason -> rows with that reason; a row with several reasons is under each, so these may sum to more than
    # ``quarantined`` (which counts each row once); ``several_reasons`` says how many rows have more than one.
    reasons: Counter = field(default_factory=Counter)
    several_reasons: int = 0
    examples: dict[str, list[int]] = field(default_factory=dict)  # reason -> first row numbers
    warnings: list[str] = field(default_factory=list)
    quarantine_file: Path | None = None
    already_ingested_as: str | None = None
    batch_id: int | None = None

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined + self.opted_out


def _batch_name(path: Path, name: str | None) -> str:
    """The batch name given (checked: it names the quarantine file), or one made safe from the file's name."""
    if name is not None:
        return check_name(name, "batch name")
    stem = path.name
    for suffix in (".gz", ".csv", ".parquet"):
        stem = stem.removesuffix(suffix)
    return name_from(stem, "batch")


def _create_zone_tables(con, contract: Contract) -> None:
    """Zone tables take their shape from the contract: identifiers by role, content by field."""
    src = contract.source
    ids = ", ".join(f"{expr} as {q(name)}" for name, expr in identifier_columns(contract))
    content = ", ".join(f"{expr} as {q(name)}" for name, expr in content_columns(contract))
    con.execute(
        f"create table if not exists identifiers.{src} as select null::uuid as record_key, "
        f"null::integer as batch_id, {ids} from raw limit 0"
    )
    shape = f"select null::uuid as record_key, null::integer as batch_id, {content} from raw limit 0"
    con.execute(f"create table if not exists content.{src} as {shape}")
    # A later contract version may add content columns: add them to a zone made under an earlier one, empty
    # for the batches already stored (rows are inserted by name, so column order does not matter).
    stored = {c for (c,) in con.execute(f"select column_name from (describe content.{src})").fetchall()}
    for name, kind in con.execute(f"select column_name, column_type from (describe {shape})").fetchall():
        if name not in stored:
            con.execute(f"alter table content.{src} add column {q(name)} {kind}")


def ingest(
    ws: Workspace,
    source: str,
    path: Path,
    batch: str | None = None,
    mapping: dict[str, str] | None = None,
    encoding: str = "utf-8",
    progress: Callable[[str], None] = lambda phase: None,
    today: dt.date | None = None,
    encoded: bool = False,
    *,
    by: str,
) -> IngestReport:
    """Ingest one file for ``by``. ``encoded``: a file made by ``bold encode`` (identifiers as Bloom filters)."""
    contract = encoded_contract(load_contract(source)) if encoded else load_contract(source)
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    name = _batch_name(path, batch)
    report = IngestReport(source, name, path)
    progress("hashing")
    file_hash = sha256(path)
    with store.transaction(ws) as tx:
        seen = tx.execute(
            "select name from batches where source = ? and file_sha256 = ?", (source, file_hash)
        ).fetchone()
        if seen:
            report.already_ingested_as = seen["name"]
            tx.audit(by, "ingest repeated (nothing added)", f"{source}/{seen['name']}", {"file_sha256": file_hash})
    if report.already_ingested_as:
        return report
    with store.connect(ws) as db:
        if db.execute("select 1 from batches where source = ? and name = ?", (source, name)).fetchone():
            raise IngestError(
                f"batch name {name!r} is already used for {source}; choose another with --batch", kind=Kind.CONFLICT
            )
    started = now()
    today = today or dt.date.today()
    entries = optout.register(ws)
    with ws.ingest_session() as con:
        con.execute(MACROS)
        progress("reading")
        result = read(con, path, contract, mapping or {}, encoding, extra=(ISSUES_COLUMN,) if encoded else ())
        if result.extra:
            report.warnings.append(
                f"columns not in the contract were ignored and not stored: {', '.join(result.extra)}"
            )
        if result.missing_optional:
            report.warnings.append(f"optional columns absent from the file: {', '.join(result.missing_optional)}")
        report.rows_read = result.parsed + result.unreadable

        progress("validating")
        con.execute(f"create or replace temp table prepared as select *, {prepare_sql(contract)} from raw")
        con.execute("drop table raw")
        con.execute("alter table prepared rename to raw")
        rid = cleaned(contract.record_id)
        con.execute(
            f"""create or replace temp table checked as
                select _row, {issues_sql(contract, set(result.columns), today)} as _issues,
                       row_number() over (partition by {rid} order by _row) as _copy
                from raw"""
        )
        _create_zone_tables(con, contract)
        _check_same_mode(con, contract, encoded)
        if encoded:  # identifier problems the custodian's bold encode found before encoding
            con.execute(
                f"""update checked set _issues = list_concat(_issues, string_split(raw.{q(ISSUES_COLUMN)}, '; '))
                    from raw where raw._row = checked._row and clean(raw.{q(ISSUES_COLUMN)}) is not null"""
            )
        con.execute(
            f"""update checked set _issues = list_append(_issues,
                    {sql_text(contract.record_id + ": duplicate record id (also earlier in this file)")})
                where _copy > 1"""
        )
        con.execute(
            f"""update checked set _issues = list_append(_issues,
                    {sql_text(contract.record_id + ": duplicate record id (already ingested in an earlier batch)")})
                from raw where raw._row = checked._row and raw.{rid} in
                    (select source_record_id from identifiers.{source})"""
        )

        progress("quarantining")
        quarantined = _quarantine(ws, con, contract, name, report)

        progress("normalising")
        ids = ", ".join(f"{expr} as {q(col)}" for col, expr in identifier_columns(contract))
        content = ", ".join(f"{expr} as {q(col)}" for col, expr in content_columns(contract))
        con.execute(
            f"""create or replace temp table accepted as
                select gen_random_uuid() as record_key, raw._row as _id, {ids}, {content}
                from raw join checked using (_row) where len(checked._issues) = 0"""
        )
        progress("applying opt-outs")
        # Encoded identifiers cannot be matched to the register here: custodians apply opt-outs before
        # encoding (docs/linkage.md), and the report says so.
        kinds = [] if encoded else optout.matchable(contract)
        if encoded and any(entries.values()):
            report.warnings.append(
                "opt-outs cannot be matched to encoded identifiers here; the custodian must "
                "remove opted-out people before running bold encode"
            )
        hits = optout.opted_out(con, "accepted", kinds, ws.key("optout"), entries)
        if hits:
            con.execute("create or replace temp table hits as select unnest(?::bigint[]) as _id", [hits])
            con.execute("delete from accepted where _id in (select _id from hits)")
        report.opted_out = len(hits)
        report.accepted = con.execute("select count(*) from accepted").fetchone()[0]
        report.quarantined = quarantined
        if not report.balanced:  # never store a batch that does not account for every row
            raise IngestError(
                f"{path}: rows do not add up (read {report.rows_read}, accepted {report.accepted}, "
                f"quarantined {report.quarantined}, opted out {report.opted_out}); nothing stored"
            )

        progress("writing zones")
        with store.transaction(ws) as tx:  # the batch, its rows in both zones and its audit entry, together
            if tx.execute("select 1 from batches where source = ? and file_sha256 = ?", (source, file_hash)).fetchone():
                raise IngestError(f"{path}: ingested by someone else meanwhile; nothing added", kind=Kind.CONFLICT)
            cur = tx.execute(
                """insert into batches (source, name, file_name, file_sha256, file_format, contract_version,
                       rows_read, rows_accepted, rows_quarantined, rows_opted_out, quarantine_file, actor,
                       started_at, finished_at)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    source,
                    name,
                    path.name,
                    file_hash,
                    result.file_format,
                    contract.version,
                    report.rows_read,
                    report.accepted,
                    report.quarantined,
                    report.opted_out,
                    str(report.quarantine_file.relative_to(ws.root)) if report.quarantine_file else None,
                    by,
                    started,
                    now(),
                ),
            )
            report.batch_id = cur.lastrowid
            id_cols = ", ".join(q(c) for c, _ in identifier_columns(contract))
            content_cols = ", ".join(q(c) for c, _ in content_columns(contract))
            con.execute(
                f"insert into identifiers.{source} select record_key, {report.batch_id}, {id_cols} from accepted"
            )
            try:
                con.execute(
                    f"insert into content.{source} by name "
                    f"select record_key, {report.batch_id} as batch_id, {content_cols} from accepted"
                )
            except Exception:  # DuckDB cannot write two databases in one transaction: undo by hand
                con.execute(f"delete from identifiers.{source} where batch_id = {report.batch_id}")
                raise
            tx.audit(
                by,
                "ingest",
                f"{source}/{name}",
                {
                    "batch_id": report.batch_id,
                    "file": path.name,
                    "file_sha256": file_hash,
                    "contract_version": contract.version,
                    "encoded": encoded,
                    "rows_read": report.rows_read,
                    "accepted": report.accepted,
                    "quarantined": report.quarantined,
                    "opted_out": report.opted_out,
                },
            )
    return report


def _check_same_mode(con, contract: Contract, encoded: bool) -> None:
    """A source is stored either encoded or in plaintext, never both: linkage compares like with like."""
    cols = {c for (c,) in con.execute(f"select column_name from (describe identifiers.{contract.source})").fetchall()}
    stored_encoded = any(c.endswith("_bf") for c in cols)
    if stored_encoded != encoded:
        mode = "encoded" if stored_encoded else "plaintext"
        raise IngestError(
            f"{contract.source} is already stored {mode}; ingest this file "
            f"{'with' if stored_encoded else 'without'} --encoded, or use another workspace"
        )


def _quarantine(ws: Workspace, con, contract: Contract, batch: str, report: IngestReport) -> int:
    """Write rejected rows, with their reasons, to an encrypted Parquet file; fill in the report."""
    columns = ", ".join(f"raw.{q(c.name)}" for c in contract.columns)
    con.execute(
        f"""create or replace temp table rejected as
            select raw._row, checked._issues as _reasons, null::varchar as _line, {columns}
            from raw join checked using (_row) where len(checked._issues) > 0
            union all by name
            select _row, _reasons, _line from unreadable"""
    )
    n = con.execute("select count(*) from rejected").fetchone()[0]
    if not n:
        return 0
    # Each row is counted once in the totals; under each of its reasons once (a reason found twice in a row,
    # e.g. by bold encode and again here, still counts that row once).
    report.several_reasons = con.execute(
        "select count(*) from rejected where len(list_distinct(_reasons)) > 1"
    ).fetchone()[0]
    for reason, rows, first in con.execute(
        f"""select reason, count(distinct _row), list(distinct _row order by _row)[1:{EXAMPLES_PER_REASON}]
            from (select _row, unnest(_reasons) as reason from rejected) group by reason order by 2 desc, 1"""
    ).fetchall():
        report.reasons[reason] = rows
        report.examples[reason] = first
    folder = private_dir(ws.quarantine_dir(contract.source))
    target = (
        folder / f"{check_name(batch, 'batch name')}.parquet"
    )  # written by DuckDB under the session's owner-only umask
    con.execute(f"pragma add_parquet_key('quarantine', {sql_text(ws.key('quarantine'))})")
    con.execute(
        f"copy (select * from rejected order by _row) to {sql_text(str(target))} "
        "(format parquet, encryption_config {footer_key: 'quarantine'})"
    )
    report.quarantine_file = target
    return n


@dataclass(frozen=True)
class Batch:
    source: str
    name: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_opted_out: int
    finished_at: str


def batches(ws: Workspace) -> list[Batch]:
    """Every batch ingested, by source and order of arrival."""
    with store.connect(ws) as db:
        rows = db.execute(
            "select source, name, rows_read, rows_accepted, rows_quarantined, rows_opted_out, finished_at "
            "from batches order by source, batch_id"
        ).fetchall()
    return [Batch(*r) for r in rows]
