"""Read a custodian's file (CSV, gzipped CSV or Parquet) into a table of text columns.

Every value is read as text, so validation (not the reader) decides what is wrong and says so
per row and column. Rows the CSV reader cannot parse at all (wrong number of fields, bytes that
are not valid in the encoding) are kept, with their row number and the reason, for quarantine.
Row numbers count data rows from 1, after the header, in file order.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from bold.errors import Invalid
from bold.ingest.rules import q, sql_text
from bold.sources import Contract

ENCODINGS = ("utf-8", "latin-1", "utf-16")
MAX_LINE_BYTES = 64 * 1024 * 1024  # long enough that an overlong field is reported by column, not by line


class IngestError(Invalid):
    """The file as a whole cannot be ingested; nothing from it has been stored."""


@dataclass
class ReadResult:
    file_format: str
    columns: list[str]  # contract columns present in the file
    missing_optional: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    parsed: int = 0
    unreadable: int = 0


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_format(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    return "csv"


def check_gzip(path: Path) -> None:
    """Refuse a gzip file that is cut short or whose checksum (CRC) does not match: the reader would
    otherwise take the rows it could decompress as the whole file."""
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        reason = "cut short" if isinstance(exc, EOFError) else "damaged (bad checksum or data)"
        raise IngestError(f"{path}: the gzip file is {reason}; nothing was ingested, ask for the file again") from None


def _csv_source(path: Path, encoding: str) -> str:
    return (
        f"read_csv({sql_text(str(path))}, header = true, all_varchar = true, delim = ',', quote = '\"', "
        f"escape = '\"', ignore_errors = true, store_rejects = true, rejects_table = 'reject_errors', "
        f"rejects_scan = 'reject_scans', max_line_size = {MAX_LINE_BYTES}, encoding = {sql_text(encoding)}, "
        "null_padding = false, compression = 'auto')"
    )


def _header(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    return [d[0] for d in con.execute(f"describe select * from {source}").fetchall()]


def _match_columns(
    found: list[str], contract: Contract, mapping: dict[str, str]
) -> tuple[dict[str, str], list[str], list[str]]:
    """File column -> contract column, the missing required and the extra columns."""
    wanted = {c.name.upper(): c.name for c in contract.columns}
    matched: dict[str, str] = {}
    extra = []
    for name in found:
        clean = name.replace("\ufeff", "").strip()
        target = mapping.get(clean) or wanted.get(clean.upper())
        # (a mapping made for the plain contract may name columns an encoded file does not have)
        if target in wanted.values() and target not in matched.values():
            matched[name] = target
        else:
            extra.append(clean)
    missing_required = [c.name for c in contract.columns if c.required and c.name not in matched.values()]
    return matched, missing_required, extra


def read(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    mapping: dict[str, str],
    encoding: str,
    extra: tuple[str, ...] = (),
) -> ReadResult:
    """Create temp tables ``raw`` (``_row`` + one text column per contract column present) and
    ``unreadable`` (``_row``, ``_reasons``, ``_line``: one row per row of the file it could not parse)."""
    if encoding not in ENCODINGS:
        raise IngestError(f"encoding {encoding!r} is not supported; use one of {', '.join(ENCODINGS)}")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty; expected a header row naming the columns")
    fmt = file_format(path)
    if fmt == "csv.gz":
        check_gzip(path)
    source = f"read_parquet({sql_text(str(path))})" if fmt == "parquet" else _csv_source(path, encoding)
    try:
        found = _header(con, source)
    except duckdb.Error as exc:
        hint = "" if fmt == "parquet" else f" (is it a CSV file in {encoding}? see --encoding)"
        raise IngestError(f"{path}: cannot read the file{hint}: {str(exc).splitlines()[0]}") from None
    matched, missing, ignored = _match_columns(found, contract, mapping)
    kept = [c for c in found if c in extra]  # special columns the caller reads beside the contract's
    ignored = [c for c in ignored if c not in extra]
    if missing:
        raise IngestError(
            f"{path}: required column(s) missing: {', '.join(missing)} (the {contract.source} contract "
            f"expects {', '.join(c.name for c in contract.columns)}; a --mapping file can rename columns)"
        )
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {source})").fetchall())
    selects = []
    for file_col, name in matched.items():
        col = contract.column(name)
        if col.type == "date" and types[file_col] in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
            selects.append(f"strftime({q(file_col)}, {sql_text(col.format)}) as {q(name)}")
        else:
            selects.append(f"{q(file_col)}::varchar as {q(name)}")
    selects += [f"{q(c)}::varchar as {q(c)}" for c in kept]
    try:
        con.execute(f"create or replace temp table raw_read as select {', '.join(selects)} from {source}")
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read the file: {str(exc).splitlines()[0]}") from None
    # Data rows in file order: the reader keeps insertion order, and rowid follows it. Rows it
    # could not parse have their own numbers (DuckDB's 'line' counts rows, header as 1); the rows it
    # parsed take the remaining numbers in order.
    if fmt == "parquet":
        con.execute("create or replace temp table unreadable (_row bigint, _reasons varchar[], _line varchar)")
    else:  # one row per row of the file, whatever number of problems the reader found in it
        con.execute(
            """create or replace temp table unreadable as
               select (line - 1)::bigint as _row,
                      list(distinct 'row could not be read: ' || lower(error_type) order by 1) as _reasons,
                      any_value(csv_line) as _line
               from reject_errors group by line"""
        )
    parsed = con.execute("select count(*) from raw_read").fetchone()[0]
    unreadable = con.execute("select count(*) from unreadable").fetchone()[0]
    con.execute(
        f"""create or replace temp table row_numbers as
            select row_number() over (order by n) - 1 as ordinal, n::bigint as _row
            from range(1, {parsed + unreadable + 1}) t(n) where n not in (select _row from unreadable)"""
    )
    con.execute(
        """create or replace temp table raw as
           select r._row, t.* from (select rowid as ordinal, * from raw_read) t
           join row_numbers r using (ordinal)"""
    )
    con.execute("alter table raw drop column ordinal")
    con.execute("drop table raw_read")
    present = list(matched.values())
    missing_optional = [c.name for c in contract.columns if c.name not in present]
    for name in missing_optional + [c for c in extra if c not in kept]:
        con.execute(f"alter table raw add column {q(name)} varchar")
    return ReadResult(fmt, present, missing_optional, ignored, parsed, unreadable)
