"""A batch's records in the two zones, found and deleted by its ``batch_id`` (for ``bold batch withdraw``).

Ingest alone sees both zones, so this is where a withdrawn batch's rows leave them; the links, the extracts and
the batch's row in the store are ``bold.governance.withdrawals``'s. Rows are found by ``batch_id`` in both
zones, not through one zone's record keys, so a withdrawal killed between the zones finds the rest next time.

A batch that updated records sent before (``bold.ingest.versions``) gives those records back their earlier
version from history, under the same record key, so they keep their links; its own versions that a later batch
superseded leave the history.
"""

from __future__ import annotations

from bold import faults
from bold.ingest import versions
from bold.workspace import Workspace, zone_tables

ZONES = ("identifiers", "content")


def batch_records(ws: Workspace, source: str, batch_id: int) -> tuple[list, dict[str, int]]:
    """The record keys of a batch's rows in either zone that go with it (not those it updated, which return to
    their earlier version), and its rows per zone (nothing is changed)."""
    with ws.ingest_session() as con:
        tables = set(zone_tables(con, *ZONES))
        present = [zone for zone in ZONES if (zone, source) in tables]
        counts = {zone: 0 for zone in ZONES}
        keys: set = set()
        for zone in present:
            rows = con.execute(f"select record_key from {zone}.{source} where batch_id = ?", [int(batch_id)])
            found = [r[0] for r in rows.fetchall()]
            counts[zone] = len(found)
            keys.update(found)
        keys -= versions.updated_by(con, source, batch_id)
    return sorted(keys, key=str), counts


def delete_batch(ws: Workspace, source: str, batch_id: int) -> dict[str, int]:
    """Delete a batch's rows from both zones, content first (as opt-outs do), and its versions from their
    history, putting back the versions it superseded; rows deleted per zone, and ``versions_restored``."""
    removed = {zone: 0 for zone in ZONES}
    restored = 0
    with ws.ingest_session() as con:
        tables = set(zone_tables(con, *ZONES))
        for zone in ("content", "identifiers"):
            if (zone, source) in tables:
                n = con.execute(f"delete from {zone}.{source} where batch_id = ?", [int(batch_id)]).fetchone()[0]
                removed[zone] = n
                restored = versions.withdraw(con, zone, source, batch_id)
            if zone == "content":
                faults.point("withdraw:between-zones")
    return {**removed, **({"versions_restored": restored} if restored else {})}
