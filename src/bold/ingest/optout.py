"""The opt-out register: people who asked that their records never be stored.

The register holds keyed hashes only (HMAC-SHA256 with the workspace's opt-out key), never an NHS
number or a name, so the register itself discloses nobody. An entry is an NHS number, or a
forename, surname and date of birth, normalised exactly as ingest normalises identifiers, so
'O'Brien' and 'OBRIEN ' match. Opting out applies to records already stored (they are deleted from
both zones) and to every later ingest (matching rows are counted and dropped before storage).

The treatment source holds initials, not names: a name opt-out is also kept as initials and date of
birth so that its treatment records are dropped too (see ``KINDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from bold import keyed, store
from bold.ingest.reader import IngestError, sha256
from bold.ingest.rules import MACROS, sql_text
from bold.sources import Contract, load_contract, source_types
from bold.workspace import Workspace, now

NAME_DOB = ("forename", "surname", "date_of_birth")
# The treatment source holds initials, not names: a name-and-date-of-birth opt-out is also kept as its initials and
# date of birth, so treatment records are matched too. This can drop a record of someone else with the same
# initials and birthday (rare: about one in 17 million records per entry), erring on the side of the opt-out.
KINDS = ("nhs_number", "name_dob", "initials_dob")


def digests(key: str, kind: str, values: list[str | None]) -> list[str | None]:
    k = key.encode()
    return [None if v is None else keyed.digest(k, f"{kind}:{v}") for v in values]


def register(ws: Workspace, db=None) -> dict[str, set[str]]:
    """Every entry's digest by kind (read on ``db`` when given, to see a transaction's own entries)."""
    if db is None:
        with store.connect(ws) as own:
            return register(ws, own)
    rows = db.execute("select kind, digest from optout_entries").fetchall()
    out: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for kind, digest in rows:
        out[kind].add(digest)
    return out


def matchable(contract: Contract) -> list[str]:
    """Which kinds of opt-out entry a source can be matched on."""
    kinds = []
    if contract.has_role("nhs_number"):
        kinds.append("nhs_number")
    if all(contract.has_role(r) for r in NAME_DOB):
        kinds.append("name_dob")
    elif contract.has_role("initials") and contract.has_role("date_of_birth"):
        kinds.append("initials_dob")
    return kinds


def _value_sql(kind: str) -> str:
    """SQL for the normalised value an entry of this kind is hashed from, over identifier columns."""
    if kind == "nhs_number":
        return "nhs_number"
    if kind == "initials_dob":
        return "initials || '|' || strftime(date_of_birth, '%Y-%m-%d')"
    return "forename || '|' || surname || '|' || strftime(date_of_birth, '%Y-%m-%d')"


def hmac_sql(key: str, kind: str, value_sql: str) -> str:
    """:func:`digests` in SQL, so a million rows hash inside DuckDB."""
    return keyed.digest_sql(key.encode(), f"{kind}:", value_sql)


def opted_out(con: duckdb.DuckDBPyConnection, table: str, kinds: list[str], key: str, entries) -> list:
    """Values of ``_id`` in ``table`` whose identifiers match an opt-out entry."""
    hits: set = set()
    for kind in kinds:
        if not entries[kind]:
            continue
        con.execute(
            "create or replace temp table optout_digests as select unnest(?::varchar[]) as digest",
            [sorted(entries[kind])],
        )
        digest = hmac_sql(key, kind, _value_sql(kind))
        rows = con.execute(f"select _id from {table} where {digest} in (select digest from optout_digests)").fetchall()
        hits.update(r[0] for r in rows)
    return sorted(hits, key=str)


@dataclass
class OptOutResult:
    added: int
    already_listed: int
    rejected: list[str]
    records_removed: dict[str, int]
    already_added_file: bool = False


def add(ws: Workspace, path: Path, *, by: str) -> OptOutResult:
    """Add a file of opt-outs: a CSV with a column nhs_number, or forename, surname, date_of_birth
    (YYYY-MM-DD), or both. Rows that cannot be used are listed by row number, without values."""
    if not path.exists() or path.stat().st_size == 0:
        raise IngestError(f"{path}: no such file, or it is empty")
    file_hash = sha256(path)
    with store.connect(ws) as db:
        if db.execute("select 1 from optout_files where file_sha256 = ?", (file_hash,)).fetchone():
            return OptOutResult(0, 0, [], {}, already_added_file=True)
    with ws.duckdb_connection() as con:  # the file holds identifiers: spills stay in the workspace
        con.execute(MACROS)
        try:
            cols = [
                d[0].replace("\ufeff", "").strip().lower()
                for d in con.execute(
                    f"describe select * from read_csv({sql_text(str(path))}, header = true, all_varchar = true)"
                ).fetchall()
            ]
            con.execute(
                f"create temp table o as select row_number() over () as _row, * from "
                f"read_csv({sql_text(str(path))}, header = true, all_varchar = true, "
                f"names = {cols!r})"
            )
        except duckdb.Error as exc:
            raise IngestError(f"{path}: cannot read opt-out file: {str(exc).splitlines()[0]}") from None
        has_nhs, has_name = "nhs_number" in cols, all(c in cols for c in NAME_DOB)
        if not (has_nhs or has_name):
            raise IngestError(f"{path}: expected a column nhs_number, or columns forename, surname, date_of_birth")
        entries: dict[str, list[str]] = {kind: [] for kind in KINDS}
        rejected = []
        nhs, f, s, d = ("nhs_number" if has_nhs else "null", *(NAME_DOB if has_name else ("null", "null", "null")))
        rows = con.execute(
            f"""select _row, squeeze({nhs}), nhs_check_ok({nhs}), norm_name({f}), norm_name({s}),
                       strftime(try_strptime(clean({d}), '%Y-%m-%d'), '%Y-%m-%d'),
                       coalesce(clean({f}), clean({s}), clean({d})) is not null
                from o"""
        ).fetchall()
    for row, nhs_value, nhs_ok, f, s, d, name_given in rows:
        used = False
        if nhs_value:
            if nhs_ok:
                entries["nhs_number"].append(nhs_value)
                used = True
            else:
                rejected.append(f"row {row}: nhs_number is not a valid NHS number")
        if name_given:
            if f and s and d:
                entries["name_dob"].append(f"{f}|{s}|{d}")
                entries["initials_dob"].append(f"{f[0]}{s[0]}|{d}")
                used = True
            else:
                rejected.append(f"row {row}: forename, surname and date_of_birth (YYYY-MM-DD) are all needed")
        if not used and not nhs_value and not name_given:
            rejected.append(f"row {row}: empty")
    key = ws.key("optout")
    added = listed = 0
    stamp = now()
    with store.transaction(ws) as tx:  # the entries, the records they delete and the audit entry, together
        if tx.execute("select 1 from optout_files where file_sha256 = ?", (file_hash,)).fetchone():
            return OptOutResult(0, 0, [], {}, already_added_file=True)
        for kind, values in entries.items():
            for digest in digests(key, kind, values):
                cur = tx.execute(
                    "insert or ignore into optout_entries (kind, digest, added_at) values (?, ?, ?)",
                    (kind, digest, stamp),
                )
                if kind != "initials_dob":  # a companion of a name entry, not an entry of its own
                    added += cur.rowcount
                    listed += 1 - cur.rowcount
        tx.execute(
            "insert into optout_files (file_sha256, entries, added_at, actor) values (?, ?, ?, ?)",
            (file_hash, added, stamp, by),
        )
        removed = _purge(ws, register(ws, tx.db))
        tx.executemany(
            "insert into optout_purges (source, records, purged_at) values (?, ?, ?)",
            [(s, n, now()) for s, n in removed.items() if n],
        )
        tx.audit(
            by,
            "opt-out register updated",
            path.name,
            {
                "file_sha256": file_hash,
                "entries_added": added,
                "already_listed": listed,
                "rows_not_used": len(rejected),
                "stored_records_deleted": removed,
            },
        )
    return OptOutResult(added, listed, rejected, removed)


def _purge(ws: Workspace, entries: dict[str, set[str]]) -> dict[str, int]:
    """Delete already-stored records that match the register's ``entries``, from both zones."""
    key = ws.key("optout")
    removed: dict[str, int] = {}
    with ws.ingest_session() as con:
        con.execute(MACROS)
        stored = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'identifiers'"
            ).fetchall()
        }
        for source in source_types():
            if source not in stored:
                continue
            kinds = matchable(load_contract(source))
            con.execute(f"create or replace temp view stored as select record_key as _id, * from identifiers.{source}")
            hits = opted_out(con, "stored", kinds, key, entries)
            if hits:
                con.execute("create or replace temp table hits as select unnest(?::uuid[]) as record_key", [hits])
                con.execute(f"delete from identifiers.{source} where record_key in (select record_key from hits)")
                con.execute(f"delete from content.{source} where record_key in (select record_key from hits)")
            removed[source] = len(hits)
    return removed


def counts(ws: Workspace) -> dict[str, int]:
    """Entries in the register by kind, and ``deleted``: stored records deleted after an opt-out."""
    with store.connect(ws) as db:
        kinds = dict(db.execute("select kind, count(*) from optout_entries group by kind").fetchall())
        deleted = db.execute("select coalesce(sum(records), 0) from optout_purges").fetchone()[0]
    return {**{kind: kinds.get(kind, 0) for kind in KINDS}, "deleted": deleted}
