"""Ingest one custodian file: read, validate, apply opt-outs, quarantine, normalise, split into zones.

Every row read ends in exactly one place: accepted (identifiers zone + content zone, joined only by
a random ``record_key``; new, or an update superseding the stored version of the same record), unchanged (the
same as the stored version, not stored again; ``bold.ingest.versions``), quarantined (with a reason per row), or
opted out (counted, never stored).
The counts are checked to add up before anything is committed, and are recorded with the batch's
provenance in the governance store. The same file twice adds nothing.

Crash safety (docs/security.md): DuckDB cannot commit the two zones and SQLite cannot commit with them, so a
batch's zone rows carry its ``batch_id`` and count only once its row in ``batches`` is committed, which is the
last write. A batch killed before that leaves rows under an uncommitted ``batch_id``: every ingest first
deletes them (``sweep``, audited as ``ingest recovered``), and linkage and project builds read only the rows
of committed batches (``committed_batches``), so nothing half-written is ever linked, counted as a duplicate
or extracted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bold import faults, store
from bold.errors import Kind
from bold.ingest import optout, resolved, versions
from bold.ingest.reader import IngestError, read, sha256
from bold.ingest.rules import (
    MACROS,
    cleaned,
    committed_sql,
    content_columns,
    identifier_columns,
    issues_sql,
    prepare_sql,
    q,
    sql_text,
)
from bold.security.paths import check_name, name_from
from bold.security.private import private_dir
from bold.sources import ISSUES_COLUMN, ColumnMapping, Contract, as_mapping, encoded_contract, load_contract
from bold.workspace import Workspace, now, zone_tables

EXAMPLES_PER_REASON = 3


@dataclass
class IngestReport:
    source: str
    batch: str
    file: Path
    rows_read: int = 0
    accepted: int = 0  # stored: new records and updated ones
    quarantined: int = 0
    opted_out: int = 0
    updated: int = 0  # of ``accepted``, versions superseding a stored one (the rest are new)
    unchanged: int = 0  # the same as the stored version: counted, not stored again
    relink: int = 0  # of ``updated``, those whose identifiers changed
    resolved: int = 0  # earlier batches' quarantined rows, unresolved until now, whose record id this one accepts
    # reason -> rows with that reason; a row with several reasons is under each, so these may sum to more than
    # ``quarantined`` (which counts each row once); ``several_reasons`` says how many rows have more than one.
    reasons: Counter = field(default_factory=Counter)
    several_reasons: int = 0
    examples: dict[str, list[int]] = field(default_factory=dict)  # reason -> first row numbers
    warnings: list[str] = field(default_factory=list)
    quarantine_file: Path | None = None
    already_ingested_as: str | None = None
    batch_id: int | None = None
    checked: bool = False  # ``check``: what ingest would do; nothing was stored
    refusal: str | None = None  # ``check``: why ingest would refuse the file (too much of it quarantined)

    @property
    def new(self) -> int:
        return self.accepted - self.updated

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.accepted + self.unchanged + self.quarantined + self.opted_out


def batch_name(file_name: str, name: str | None = None) -> str:
    """The batch name given (checked: it names the quarantine file), or one made safe from the file's name: the
    one rule for the command line, the pages and the API."""
    if name is not None:
        return check_name(name, "batch name")
    stem = file_name
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


def check_share(max_quarantine: float | None) -> float | None:
    """The largest share of a file's rows that may be quarantined, checked: from 0 up to (not including) 1, since
    a file whose every row is quarantined is always refused."""
    if max_quarantine is not None and not 0 <= max_quarantine < 1:
        raise IngestError("--max-quarantine must be a share from 0 to below 1, e.g. 0.2 for 20% of the rows")
    return max_quarantine


def refusal(report: IngestReport, max_quarantine: float | None, *, check: bool = False) -> str | None:
    """Why the file must not be stored, or None: every row that was not opted out is quarantined, or more than
    ``max_quarantine`` of the rows read. The message gives counts and the commonest reasons, never a value."""
    n, read_ = report.quarantined, report.rows_read
    if not n:
        return None
    if report.accepted == 0:
        what = f"every row ({n:,}) would be quarantined"
    elif max_quarantine is not None and n / read_ > max_quarantine:
        what = (
            f"{n:,} of {read_:,} rows ({n / read_:.1%}) would be quarantined, more than the "
            f"{max_quarantine:.1%} allowed by --max-quarantine"
        )
    else:
        return None
    top = report.reasons.most_common(3)
    reasons = "; ".join(
        f"{reason} ({rows:,} rows, first {', '.join(str(r) for r in report.examples.get(reason, []))})"
        for reason, rows in top
    )
    more = f" and {len(report.reasons) - len(top)} more reason(s)" if len(report.reasons) > len(top) else ""
    then = "" if check else " (bold ingest --check lists every reason)"
    return (
        f"{report.file}: {what}, so nothing was stored; {reasons}{more}{then}: fix the file, or its --mapping or "
        "--encoding, and send it again"
    )


def ingest(
    ws: Workspace,
    source: str,
    path: Path,
    batch: str | None = None,
    mapping: ColumnMapping | dict[str, str] | None = None,
    encoding: str = "utf-8",
    progress: Callable[[str], None] = lambda phase: None,
    today: dt.date | None = None,
    encoded: bool = False,
    *,
    by: str,
    check: bool = False,
    max_quarantine: float | None = None,
) -> IngestReport:
    """Ingest one file for ``by``. ``encoded``: a file made by ``bold encode`` (identifiers as Bloom filters).

    ``mapping``: the custodian's own column names, date formats and codes (``bold.sources.load_mapping``).
    ``check``: read and validate exactly as ingest would and report it, storing nothing (no zone row, batch,
    quarantine file or audit entry, as a dry run changes nothing elsewhere). A file whose every row would be
    quarantined, or more than ``max_quarantine`` of its rows, is refused whole (nothing stored, IngestError):
    stored, its hash would make the corrected re-send look like a file already ingested."""
    mapping = as_mapping(mapping)
    plain = mapping.apply(load_contract(source))
    contract = encoded_contract(plain) if encoded else plain
    max_quarantine = check_share(max_quarantine)
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    name = batch_name(path.name, batch)
    report = IngestReport(source, name, path, checked=check)
    progress("hashing")
    file_hash = sha256(path)
    with store.connect(ws) if check else store.transaction(ws) as tx:
        seen = tx.execute(
            "select name from batches where source = ? and file_sha256 = ?", (source, file_hash)
        ).fetchone()
        if seen:
            report.already_ingested_as = seen["name"]
            if not check:
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
    with _session(ws, check) as con:
        con.execute(MACROS)
        if not check:
            sweep(ws, con, by=by)  # rows of a batch killed before it committed would look like duplicates
        progress("reading")
        result = read(con, path, contract, mapping.renames, encoding, extra=(ISSUES_COLUMN,) if encoded else ())
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
        stored = _zone_exists(con, source)  # (its zone tables are made once the file is known to be stored)
        if stored:
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

        # Opt-outs first, before quarantine: a row of an opted-out person is counted and never stored anywhere,
        # even when it also fails validation (else the quarantine file would keep it, identifiers and all).
        progress("applying opt-outs")
        report.opted_out = _drop_opted_out(ws, con, contract, entries, encoded, report)

        progress("quarantining")
        quarantined = _rejected(con, contract, report)
        report.quarantined = quarantined
        report.accepted = con.execute("select count(*) from checked where len(_issues) = 0").fetchone()[0]
        refused = refusal(report, max_quarantine, check=check)
        if refused and not check:
            raise IngestError(refused)
        if not check:
            _create_zone_tables(con, contract)
            _write_quarantine(ws, con, contract, name, report)

        progress("normalising")
        ids = ", ".join(f"{expr} as {q(col)}" for col, expr in identifier_columns(contract))
        content = ", ".join(f"{expr} as {q(col)}" for col, expr in content_columns(contract))
        con.execute(
            f"""create or replace temp table accepted as
                select gen_random_uuid() as record_key, raw._row as _id, {ids}, {content}
                from raw join checked using (_row) where len(checked._issues) = 0"""
        )
        index = resolved.gather(ws, con, contract)  # (before the rows sent unchanged leave ``accepted``)
        report.resolved = index.newly
        if stored or not check:  # (a check on a source never stored: every row is new)
            progress("comparing with stored versions")
            sent_again = versions.compare(con, contract)
            report.accepted = sent_again["new"] + sent_again["updated"]
            report.updated, report.unchanged, report.relink = (
                sent_again[k] for k in ("updated", "unchanged", "relink")
            )
        if not report.balanced:  # never store a batch that does not account for every row
            raise IngestError(
                f"{path}: rows do not add up (read {report.rows_read}, accepted {report.accepted}, unchanged "
                f"{report.unchanged}, quarantined {report.quarantined}, opted out {report.opted_out}); nothing stored"
            )
        if check:
            report.refusal = refused
            return report

        progress("writing zones")
        try:
            _write_batch(ws, con, contract, report, path, file_hash, result.file_format, started, encoded, by, index)
        except BaseException:
            # A failure after the zone writes (the audit key unreadable, a full disk at commit...) must not
            # leave their rows: remove them now unless the batch did commit; a kill is left to ``sweep``.
            if report.batch_id is not None and not _committed(ws, report.batch_id):
                _delete_batch_rows(con, source, report.batch_id)
            raise
    return report


def _write_batch(ws, con, contract, report, path, file_hash, file_format, started, encoded, by, index) -> None:
    """The batch row, its quarantine index (``bold.ingest.resolved``), its rows in both zones and its audit entry;
    the store transaction, with the batch row, commits last of all."""
    source, name = contract.source, report.batch
    with store.transaction(ws) as tx:
        if tx.execute("select 1 from batches where source = ? and file_sha256 = ?", (source, file_hash)).fetchone():
            raise IngestError(f"{path}: ingested by someone else meanwhile; nothing added", kind=Kind.CONFLICT)
        cur = tx.execute(
            """insert into batches (source, name, file_name, file_sha256, file_format, contract_version,
                   rows_read, rows_accepted, rows_quarantined, rows_opted_out, quarantine_file, actor,
                   started_at, finished_at, reasons, warnings, rows_updated, rows_unchanged, rows_relink)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                source,
                name,
                path.name,
                file_hash,
                file_format,
                contract.version,
                report.rows_read,
                report.accepted,
                report.quarantined,
                report.opted_out,
                str(report.quarantine_file.relative_to(ws.root)) if report.quarantine_file else None,
                by,
                started,
                now(),
                _reasons_json(report),
                json.dumps(report.warnings),
                report.updated,
                report.unchanged,
                report.relink,
            ),
        )
        report.batch_id = cur.lastrowid
        report.resolved = resolved.record(tx, report.batch_id, index)
        versions.supersede(con, source, report.batch_id)
        id_cols = ", ".join(q(c) for c, _ in identifier_columns(contract))
        content_cols = ", ".join(q(c) for c, _ in content_columns(contract))
        con.execute(f"insert into identifiers.{source} select record_key, {report.batch_id}, {id_cols} from accepted")
        faults.point("ingest:after-identifiers")
        con.execute(
            f"insert into content.{source} by name "
            f"select record_key, {report.batch_id} as batch_id, {content_cols} from accepted"
        )
        faults.point("ingest:after-content")
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
                "updated": report.updated,
                "unchanged": report.unchanged,
                "to_relink": report.relink,
                "quarantined": report.quarantined,
                "quarantine_resolved": report.resolved,
                "opted_out": report.opted_out,
            },
        )
        faults.point("ingest:before-commit")


def _reasons_json(report: IngestReport) -> str:
    """What the batch report shows of its quarantine: each reason (a column and a rule, never a value) with its
    rows and first row numbers. Kept in the store so it can be read without the quarantine key."""
    reasons = [
        {"reason": reason, "rows": rows, "first_rows": report.examples.get(reason, [])}
        for reason, rows in report.reasons.most_common()
    ]
    return json.dumps({"reasons": reasons, "several_reasons": report.several_reasons})


def _committed(ws: Workspace, batch_id: int) -> bool:
    with store.connect(ws) as db:
        return db.execute("select 1 from batches where batch_id = ?", (batch_id,)).fetchone() is not None


def _delete_batch_rows(con, source: str, batch_id: int) -> None:
    for zone in ("identifiers", "content"):
        con.execute(f"delete from {zone}.{source} where batch_id = {int(batch_id)}")


def committed_batches(ws: Workspace) -> dict[str, list[int]]:
    """The committed batch ids of each source: the only zone rows that count (see the module's docstring).
    A withdrawn batch is not among them (``bold.governance.withdrawals``): nothing reads its rows again."""
    with store.connect(ws) as db:
        rows = db.execute("select source, batch_id from batches where withdrawn_at is null order by batch_id")
        rows = rows.fetchall()
    found: dict[str, list[int]] = {}
    for source, batch_id in rows:
        found.setdefault(source, []).append(batch_id)
    return found


def sweep(ws: Workspace, con, *, by: str) -> dict:
    """Delete zone rows and quarantine files of batches that never committed (an ingest killed midway).

    Run at the start of every ingest, in its session: it holds both zones' write locks, so no other ingest
    is between its zone writes and its commit, and every uncommitted ``batch_id`` is dead. The recovery is
    audited (``ingest recovered``, with the rows removed per zone and source) before the rows are deleted,
    so a kill during the sweep is reported again, never lost. Returns what was (or would be) removed."""
    committed = committed_batches(ws)
    with store.connect(ws) as db:
        kept_files = {r[0] for r in db.execute("select quarantine_file from batches where quarantine_file is not null")}
    tables = zone_tables(con, "identifiers", "content")
    orphans: dict[str, dict[str, int]] = {}
    for zone, source in tables:
        n = con.execute(f"select count(*) from {zone}.{source} where not ({committed_sql(committed, source)})")
        n = n.fetchone()[0]
        if n:
            orphans.setdefault(zone, {})[source] = n
    stray = sorted(
        f for f in (ws.root / "quarantine").glob("*/*.parquet") if str(f.relative_to(ws.root)) not in kept_files
    )
    superseded = versions.pending(con, committed)  # versions moved to history by those batches, to be put back
    if not orphans and not stray and not superseded:
        return {}
    found = {
        **orphans,
        **({"versions_restored": superseded} if superseded else {}),
        "quarantine_files": [str(f.relative_to(ws.root)) for f in stray],
    }
    store.audit.record(ws, "ingest recovered", "zones", found, by=by)
    for zone, sources in orphans.items():
        for source in sources:
            con.execute(f"delete from {zone}.{source} where not ({committed_sql(committed, source)})")
    versions.restore(con, committed)
    for zone, source in tables:  # a source whose first batch never committed: its table's shape is not yet set
        if source not in committed:
            con.execute(f"drop table if exists {zone}.{source}")
    for f in stray:
        f.unlink(missing_ok=True)
    return found


def _drop_opted_out(ws: Workspace, con, contract: Contract, entries, encoded: bool, report: IngestReport) -> int:
    """Delete every parsed row matching the register, valid or not; how many.

    Rows are matched on their normalised identifiers, computed as for storage (each with a ``try_`` parse, so an
    invalid value gives nothing rather than an error): a row whose NHS number or date of birth cannot be read
    cannot be matched on it. Rows the CSV reader could not parse at all have no identifiers to match."""
    # Encoded identifiers cannot be matched to the register here: custodians apply opt-outs before
    # encoding (docs/linkage.md), and the report says so.
    kinds = [] if encoded else optout.matchable(contract)
    if encoded and any(entries.values()):
        report.warnings.append(
            "opt-outs cannot be matched to encoded identifiers here; the custodian must "
            "remove opted-out people before running bold encode"
        )
    if not kinds or not any(entries[k] for k in kinds):
        return 0
    wanted = {"nhs_number", "forename", "surname", "initials", "date_of_birth"}
    ids = ", ".join(f"{expr} as {q(col)}" for col, expr in identifier_columns(contract) if col in wanted)
    con.execute(f"create or replace temp table identities as select _row as _id, {ids} from raw")
    hits = optout.opted_out(con, "identities", kinds, ws.key("optout"), entries)
    con.execute("drop table identities")
    if hits:
        con.execute("create or replace temp table hits as select unnest(?::bigint[]) as _row", [hits])
        con.execute("delete from raw where _row in (select _row from hits)")
        con.execute("delete from checked where _row in (select _row from hits)")
    return len(hits)


@contextlib.contextmanager
def _session(ws: Workspace, check: bool):
    """The ingest session; a check reads both zones read-only (to compare records sent again)."""
    if not check:
        with ws.ingest_session() as con:
            yield con
        return
    with ws.duckdb_connection() as con:
        ws.attach(con, "identifiers", read_only=True)
        ws.attach(con, "content", read_only=True)
        yield con


def _zone_exists(con, source: str) -> bool:
    return ("identifiers", source) in zone_tables(con, "identifiers")


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


def _rejected(con, contract: Contract, report: IngestReport) -> int:
    """Gather the rejected rows with their reasons (table ``rejected``) and fill in the report's counts: how many."""
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
    return n


def _write_quarantine(ws: Workspace, con, contract: Contract, batch: str, report: IngestReport) -> None:
    """Write the rejected rows, with their reasons and the values as the custodian sent them, to an encrypted
    Parquet file."""
    if not report.quarantined:
        return
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


@dataclass(frozen=True)
class Batch:
    source: str
    name: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_opted_out: int
    finished_at: str
    batch_id: int = 0
    rows_updated: int = 0  # of rows_accepted, updates of stored records
    rows_unchanged: int = 0
    withdrawn_at: str | None = None  # withdrawn: its records removed everywhere, its row kept as history
    withdrawn_by: str | None = None
    records_withdrawn: int = 0  # stored records its withdrawal deleted
    rows_resolved: int = 0  # earlier batches' quarantined rows it resolved when it arrived (bold.ingest.resolved)
    quarantine_unresolved: int = 0  # of its own quarantined rows, those no later batch has resolved


def batches(ws: Workspace) -> list[Batch]:
    """Every batch ingested, withdrawn ones included, by source and order of arrival."""
    with store.connect(ws) as db:
        rows = db.execute(
            "select source, name, rows_read, rows_accepted, rows_quarantined, rows_opted_out, finished_at, batch_id, "
            "rows_updated, rows_unchanged, withdrawn_at, withdrawn_by, "
            "coalesce(json_extract(withdrawal, '$.records.identifiers'), 0) "
            "- coalesce(json_extract(withdrawal, '$.records.versions_restored'), 0), "
            f"rows_resolved, {resolved.unresolved_sql()} "
            "from batches order by source, batch_id"
        ).fetchall()
    return [Batch(*r) for r in rows]


@dataclass(frozen=True)
class Reason:
    reason: str  # "column: rule broken"; never a value from the file
    rows: int
    first_rows: list[int]  # row numbers in the file (data rows from 1, after the header)


@dataclass(frozen=True)
class BatchReport:
    """What the store keeps of a batch after the fact: its counts, provenance, quarantine reasons and warnings.

    ``reasons`` and ``warnings`` are None for a batch ingested before the store kept them."""

    batch_id: int
    source: str
    name: str
    file_name: str
    file_sha256: str
    file_format: str
    contract_version: int
    rows_read: int
    accepted: int
    quarantined: int
    opted_out: int
    actor: str
    started_at: str
    finished_at: str
    reasons: list[Reason] | None
    several_reasons: int
    warnings: list[str] | None
    updated: int = 0  # of ``accepted``, updates of stored records
    unchanged: int = 0  # the same as the stored version, not stored again
    relink: int = 0  # of ``updated``, those whose identifiers changed
    withdrawn_at: str | None = None
    withdrawn_by: str | None = None
    withdrawal: dict | None = None  # what the withdrawal removed: records per zone, link rows, extracts affected
    resolved: int = 0  # earlier batches' quarantined rows it resolved when it arrived (bold.ingest.resolved)
    quarantine_unresolved: int = 0  # of its own quarantined rows, those no later batch has resolved

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.accepted + self.unchanged + self.quarantined + self.opted_out


def batch_report(ws: Workspace, batch_id: int) -> BatchReport:
    """The report of one committed batch, read from the governance store (no zone and no key opened)."""
    with store.connect(ws) as db:
        row = db.execute(
            f"select *, {resolved.unresolved_sql()} as unresolved from batches where batch_id = ?", (batch_id,)
        ).fetchone()
    if row is None:
        raise IngestError(f"no batch {batch_id}", kind=Kind.NOT_FOUND)
    found = json.loads(row["reasons"]) if row["reasons"] is not None else None
    return BatchReport(
        batch_id=row["batch_id"],
        source=row["source"],
        name=row["name"],
        file_name=row["file_name"],
        file_sha256=row["file_sha256"],
        file_format=row["file_format"],
        contract_version=row["contract_version"],
        rows_read=row["rows_read"],
        accepted=row["rows_accepted"],
        quarantined=row["rows_quarantined"],
        opted_out=row["rows_opted_out"],
        actor=row["actor"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        reasons=[Reason(**r) for r in found["reasons"]] if found is not None else None,
        several_reasons=found["several_reasons"] if found is not None else 0,
        warnings=json.loads(row["warnings"]) if row["warnings"] is not None else None,
        updated=row["rows_updated"],
        unchanged=row["rows_unchanged"],
        relink=row["rows_relink"],
        withdrawn_at=row["withdrawn_at"],
        withdrawn_by=row["withdrawn_by"],
        withdrawal=json.loads(row["withdrawal"]) if row["withdrawal"] is not None else None,
        resolved=row["rows_resolved"],
        quarantine_unresolved=row["unresolved"],
    )
