"""Records sent again: a later batch's version of a record supersedes the stored one.

A custodian's monthly extract re-sends records: an open treatment journey now closed, a corrected date of
birth, or nothing new at all. A row whose source record id is already stored is compared with the stored
version, field by field, after normalisation (identifiers and content alike):

- the same in every field: *unchanged*, counted and not stored again;
- different: *updated*. The new version takes the stored one's ``record_key`` (so the record keeps its links
  and its place in extracts until the next linkage run), and the stored version moves, in both zones, to a
  ``history`` schema beside the zone's tables (``identifiers.history.<source>``, ``content.history.<source>``)
  with the batch that superseded it. Linkage, extracts and reports read only the zones' own tables, so a
  superseded version is never linked or extracted; it stays as the record's history, and opt-outs delete it
  with the record. An update that changes identifiers is counted as *to re-link*: the next ``bold link``
  links the record on its new identifiers.

Crash safety: versions move to history inside the ingest, before the batch commits. A batch killed midway
leaves history rows whose superseding batch never committed; ``restore`` (called by the ingest's sweep, after
the uncommitted rows are deleted) puts them back, so the stored version is never lost.
"""

from __future__ import annotations

from bold import faults
from bold.ingest.rules import committed_sql, content_columns, identifier_columns, q
from bold.sources import Contract
from bold.workspace import zone_tables

HISTORY = "history"
ZONES = ("identifiers", "content")


def compare(con, contract: Contract) -> dict[str, int]:
    """Match the ``accepted`` rows to stored versions by source record id: drop the unchanged, give the updated
    their stored ``record_key`` (kept in temp table ``superseded``). Counts of new, updated, unchanged and
    to re-link."""
    source = contract.source
    ids = [c for c, _ in identifier_columns(contract) if c != "source_record_id"]
    content = [c for c, _ in content_columns(contract)]

    def same(alias: str, columns: list[str]) -> str:
        return " and ".join(f"a.{q(c)} is not distinct from {alias}.{q(c)}" for c in columns) or "true"

    con.execute(
        f"""create or replace temp table versions as
            select a.record_key as new_key, i.record_key as old_key,
                   {same("i", ids)} as same_identifiers, {same("c", content)} as same_content
            from accepted a
            join identifiers.main.{source} i on i.source_record_id = a.source_record_id
            join content.main.{source} c on c.record_key = i.record_key"""
    )
    updated, unchanged, relink = con.execute(
        """select count(*) filter (where not (same_identifiers and same_content)),
                  count(*) filter (where same_identifiers and same_content),
                  count(*) filter (where not same_identifiers)
           from versions"""
    ).fetchone()
    con.execute(
        "delete from accepted where record_key in "
        "(select new_key from versions where same_identifiers and same_content)"
    )
    con.execute(
        """update accepted set record_key = v.old_key from versions v
           where accepted.record_key = v.new_key and not (v.same_identifiers and v.same_content)"""
    )
    con.execute(
        "create or replace temp table superseded as "
        "select old_key as record_key from versions where not (same_identifiers and same_content)"
    )
    con.execute("drop table versions")
    new = con.execute("select count(*) from accepted").fetchone()[0] - updated
    return {"new": new, "updated": updated, "unchanged": unchanged, "relink": relink}


def _ensure_history(con, zone: str, source: str) -> None:
    """The history table of a zone's source: the zone table's columns and ``superseded_by`` (a batch id),
    given any column a later contract added to the zone table."""
    con.execute(f"create schema if not exists {zone}.{HISTORY}")
    con.execute(
        f"create table if not exists {zone}.{HISTORY}.{source} as "
        f"select *, null::integer as superseded_by from {zone}.main.{source} limit 0"
    )
    have = {c for (c,) in con.execute(f"select column_name from (describe {zone}.{HISTORY}.{source})").fetchall()}
    for name, kind in con.execute(f"select column_name, column_type from (describe {zone}.main.{source})").fetchall():
        if name not in have:
            con.execute(f"alter table {zone}.{HISTORY}.{source} add column {q(name)} {kind}")


def supersede(con, source: str, batch_id: int) -> None:
    """Move the stored versions in temp table ``superseded`` to history, marked with ``batch_id``, one zone
    after the other (a kill at any point is undone by ``restore``)."""
    if not con.execute("select count(*) from superseded").fetchone()[0]:
        return
    for zone in ZONES:
        _ensure_history(con, zone, source)
        con.execute(
            f"""insert into {zone}.{HISTORY}.{source} by name
                select *, {int(batch_id)} as superseded_by from {zone}.main.{source}
                where record_key in (select record_key from superseded)"""
        )
        faults.point(f"ingest:{zone}-history-copied")
        con.execute(f"delete from {zone}.main.{source} where record_key in (select record_key from superseded)")


def history_tables(con) -> list[tuple[str, str]]:
    """(zone, source) of every history table."""
    return zone_tables(con, *ZONES, schema=HISTORY)


def _dead(committed: dict[str, list[int]], source: str) -> str:
    """History rows superseded by a batch that never committed."""
    return f"not ({committed_sql(committed, source, 'superseded_by')})"


def pending(con, committed: dict[str, list[int]]) -> dict[str, int]:
    """Versions superseded by batches that never committed, per ``zone.source``: what ``restore`` puts back."""
    found = {}
    for zone, source in history_tables(con):
        n = con.execute(f"select count(*) from {zone}.{HISTORY}.{source} where {_dead(committed, source)}")
        if n := n.fetchone()[0]:
            found[f"{zone}.{source}"] = n
    return found


def restore(con, committed: dict[str, list[int]]) -> None:
    """Put back the versions superseded by batches that never committed (run after their rows are deleted):
    a version whose record is back in the zone table was never removed, and only its copy is dropped."""
    for zone, source in history_tables(con):
        dead = _dead(committed, source)
        con.execute(
            f"""insert into {zone}.main.{source} by name
                select * exclude (superseded_by) from {zone}.{HISTORY}.{source}
                where {dead} and record_key not in (select record_key from {zone}.main.{source})"""
        )
        con.execute(f"delete from {zone}.{HISTORY}.{source} where {dead}")


def updated_by(con, source: str, batch_id: int) -> set:
    """The record keys a batch updated: their earlier versions are in history, superseded by it."""
    keys: set = set()
    for zone, table in history_tables(con):
        if table == source:
            found = con.execute(
                f"select record_key from {zone}.{HISTORY}.{source} where superseded_by = ?", [int(batch_id)]
            )
            keys.update(r[0] for r in found.fetchall())
    return keys


def withdraw(con, zone: str, source: str, batch_id: int) -> int:
    """After a withdrawn batch's rows are deleted from a zone table: put back the versions it superseded, and
    delete its own versions that a later batch superseded; the versions put back."""
    if (zone, source) not in history_tables(con):
        return 0
    table = f"{zone}.{HISTORY}.{source}"
    con.execute(
        f"""insert into {zone}.main.{source} by name
            select * exclude (superseded_by) from {table}
            where superseded_by = {int(batch_id)} and record_key not in (select record_key from {zone}.main.{source})"""
    )
    restored = con.execute(f"select count(*) from {table} where superseded_by = {int(batch_id)}").fetchone()[0]
    con.execute(f"delete from {table} where superseded_by = {int(batch_id)} or batch_id = {int(batch_id)}")
    return restored


def delete(con, source: str, zone: str) -> None:
    """Delete every version of the records in temp table ``hits`` from a zone's history (opt-outs)."""
    if (zone, source) in history_tables(con):
        con.execute(f"delete from {zone}.{HISTORY}.{source} where record_key in (select record_key from hits)")
