"""The opt-out register: people who asked that their records never be stored.

The register holds keyed hashes only (HMAC-SHA256 with the workspace's opt-out key), never an NHS
number or a name, so the register itself discloses nobody. An entry is an NHS number, or a
forename, surname and date of birth, normalised exactly as ingest normalises identifiers, so
'O'Brien' and 'OBRIEN ' match. Opting out applies to every later ingest (matching rows are counted and dropped before
validation, so they reach neither the zones nor quarantine) and to what is already stored: this module finds and
deletes the matching records in both zones; ``bold.governance.optouts`` also removes them from the links and from
every project extract already built.

The treatment source holds initials, not names: a name opt-out is also kept as initials and date of
birth so that its treatment records are dropped too (see ``KINDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from bold import faults, keyed, store
from bold.ingest import versions
from bold.ingest.reader import IngestError, sha256
from bold.ingest.rules import MACROS, sql_text
from bold.sources import Contract, load_contract, source_types
from bold.workspace import Workspace, zone_tables

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


OPTOUT_COLUMNS = ("nhs_number", *NAME_DOB)
# An opt-out file holds who opted out and little else. One with several columns of a source's contract, or many
# columns besides these, is a source extract given by mistake: adding it would delete that source's records.
MAX_OTHER_COLUMNS = 3


@dataclass
class OptOutFile:
    """A file of opt-outs, read and normalised: its entries by kind (values, not yet hashed) and unusable rows."""

    path: Path
    file_sha256: str
    entries: dict[str, list[str]]
    rejected: list[str]


def _looks_like_an_extract(path: Path, cols: list[str]) -> None:
    """Refuse a file that looks like a source extract rather than a list of opt-outs (nothing is changed)."""
    other = [c for c in cols if c not in OPTOUT_COLUMNS]
    overlaps = {}
    for source in source_types():
        names = {c.name.strip().lower() for c in load_contract(source).columns}
        overlaps[source] = [c for c in other if c in names]
    source, theirs = max(overlaps.items(), key=lambda item: len(item[1]))
    if len(theirs) >= 2:
        raise IngestError(
            f"{path}: this looks like a {source} extract, not a list of opt-outs (it has {source} columns "
            f"{', '.join(theirs[:5])}); nothing changed. An opt-out file has only the columns "
            f"{', '.join(OPTOUT_COLUMNS)}"
        )
    if len(other) > MAX_OTHER_COLUMNS:
        raise IngestError(
            f"{path}: {len(other)} columns besides {', '.join(OPTOUT_COLUMNS)} ({', '.join(other[:5])}...): "
            "this looks like an extract, not a list of opt-outs; nothing changed. Keep only those columns"
        )


def read_file(ws: Workspace, path: Path) -> OptOutFile:
    """Read a file of opt-outs: a CSV with a column nhs_number, or forename, surname, date_of_birth
    (YYYY-MM-DD), or both. Rows that cannot be used are listed by row number, without values."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise IngestError(f"{path}: no such file, or it is empty")
    file_hash = sha256(path)
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
        _looks_like_an_extract(path, cols)
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
    return OptOutFile(path, file_hash, entries, rejected)


def file_digests(ws: Workspace, parsed: OptOutFile) -> dict[str, set[str]]:
    """The file's entries as the register keeps them: keyed digests by kind."""
    key = ws.key("optout")
    return {kind: set(digests(key, kind, values)) for kind, values in parsed.entries.items()}


def new_entries(db, wanted: dict[str, set[str]]) -> tuple[int, int]:
    """(entries not yet in the register, entries already listed), counting a name entry once (not its initials)."""
    new = listed = 0
    for kind, found in wanted.items():
        if kind == "initials_dob" or not found:
            continue
        have = {d for (d,) in db.execute("select digest from optout_entries where kind = ?", (kind,)).fetchall()}
        new += len(found - have)
        listed += len(found & have)
    return new, listed


def stored_records(ws: Workspace) -> dict[str, int]:
    """Records stored per source, in the identifiers zone."""
    with ws.identifiers(read_only=True) as con:
        return {t: con.execute(f"select count(*) from identifiers.{t}").fetchone()[0] for t in _stored_sources(con)}


def _stored_sources(con) -> list[str]:
    tables = {source for _, source in zone_tables(con, "identifiers")}
    return [s for s in source_types() if s in tables]


def matching_records(ws: Workspace, entries: dict[str, set[str]]) -> dict[str, list]:
    """The ``record_key`` of every stored record matching ``entries``, by source (nothing is changed)."""
    key = ws.key("optout")
    found: dict[str, list] = {}
    with ws.identifiers(read_only=True) as con:
        con.execute(MACROS)
        for source in _stored_sources(con):
            kinds = matchable(load_contract(source))
            versions_of = f"select * from identifiers.main.{source}"  # and the versions they superseded
            if ("identifiers", source) in versions.history_tables(con):
                versions_of += f" union all by name select * exclude (superseded_by) from identifiers.history.{source}"
            con.execute(f"create or replace temp view stored as select record_key as _id, * from ({versions_of})")
            found[source] = opted_out(con, "stored", kinds, key, entries)
    return found


def delete_records(ws: Workspace, hits: dict[str, list]) -> dict[str, int]:
    """Delete these records from both zones; how many per source.

    Content first, then identifiers: the records are found through the identifiers zone, so a run killed
    between the two zones (each commits on its own) leaves records that the next opt-out finds again, never
    content whose identifiers are gone and that nothing could find."""
    removed: dict[str, int] = {}
    with ws.ingest_session() as con:
        for source, keys in hits.items():
            if keys:
                con.execute("create or replace temp table hits as select unnest(?::uuid[]) as record_key", [keys])
                con.execute(f"delete from content.{source} where record_key in (select record_key from hits)")
                versions.delete(con, source, "content")
                faults.point("optout:between-zones")
                versions.delete(con, source, "identifiers")
                con.execute(f"delete from identifiers.{source} where record_key in (select record_key from hits)")
            removed[source] = len(keys)
    return removed


def counts(ws: Workspace) -> dict[str, int]:
    """Entries in the register by kind, and ``deleted``: stored records deleted after an opt-out."""
    with store.connect(ws) as db:
        kinds = dict(db.execute("select kind, count(*) from optout_entries group by kind").fetchall())
        deleted = db.execute("select coalesce(sum(records), 0) from optout_purges").fetchone()[0]
    return {**{kind: kinds.get(kind, 0) for kind in KINDS}, "deleted": deleted}
