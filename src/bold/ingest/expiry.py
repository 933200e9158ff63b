"""The stored versions of a source that came from given batches, for retention (``bold.governance.retention``).

A record is kept for its source's retention period after the batch that stored its current version arrived: the
record keys here are those whose version in the zone table came from one of the batches, found through the
identifiers zone (as opt-outs find theirs: a deletion killed between the zones, content first, finds the rest next
time). They are deleted with every version of theirs by ``bold.ingest.optout.delete_records``, the opt-outs' path.
An earlier version that a later batch superseded keeps the date of the batch that sent it: it leaves the history
when that batch expires, though the record itself stays (:func:`delete_superseded`).
"""

from __future__ import annotations

from bold.ingest import versions
from bold.workspace import Workspace, zone_tables


def _ids(batch_ids: list[int]) -> str:
    return ", ".join(str(int(b)) for b in batch_ids)


def records_of(ws: Workspace, batches: dict[str, list[int]]) -> dict[str, dict[int, list]]:
    """The record keys whose current version came from these batches, by source and batch (nothing is changed)."""
    found: dict[str, dict[int, list]] = {}
    with ws.identifiers(read_only=True) as con:
        stored = {source for _, source in zone_tables(con, "identifiers")}
        for source, ids in batches.items():
            found[source] = {int(b): [] for b in ids}
            if source in stored and ids:
                rows = con.execute(
                    f"select batch_id, record_key from identifiers.{source} where batch_id in ({_ids(ids)}) order by 2"
                )
                for batch_id, key in rows.fetchall():
                    found[source][batch_id].append(key)
    return found


def superseded(ws: Workspace, batches: dict[str, list[int]], delete: bool = False) -> dict[str, dict[int, int]]:
    """Versions in history that came from these batches, by source and batch (counted in the identifiers zone);
    deleted from both zones' history, content first, when ``delete``."""
    counts: dict[str, dict[int, int]] = {}
    with ws.ingest_session() if delete else ws.identifiers(read_only=True) as con:
        held = set(versions.history_tables(con))
        for source, ids in batches.items():
            counts[source] = {int(b): 0 for b in ids}
            if ("identifiers", source) in held and ids:
                rows = con.execute(
                    f"select batch_id, count(*) from identifiers.{versions.HISTORY}.{source} "
                    f"where batch_id in ({_ids(ids)}) group by 1"
                )
                counts[source].update(dict(rows.fetchall()))
            for zone in ("content", "identifiers") if delete else ():
                if (zone, source) in held and ids:
                    con.execute(f"delete from {zone}.{versions.HISTORY}.{source} where batch_id in ({_ids(ids)})")
    return counts


def delete_superseded(ws: Workspace, batches: dict[str, list[int]]) -> dict[str, dict[int, int]]:
    """Delete from both zones' history the versions that came from these batches; how many, by source and batch."""
    return superseded(ws, batches, delete=True)
