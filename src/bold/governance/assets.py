"""The data asset register (seed 003: "a co-ordinated data asset registry" so partners know what exists): for each
source, what the platform holds of it, measured now, in aggregate only.

Each measure comes from the one place that holds it, opened alone, so measuring keeps the zones apart as every
other reader does: record counts and coverage from the content zone, identifier completeness from the identifiers
zone, the linkage rate from the links, and the update history and quarantine share from the governance store.
A zone this account may not open (in a deployment of one user per service, the governance service holds no zone
key) or that another process holds is reported as not measured, with why, rather than stopping the register.

Coverage runs from the first month of the source's main event (its contract's ``event_date``) by which at least
``min_count`` records have happened to the last month from which as many are still to come, so that neither end is
ever one record's date; the counts are published rounded by the caller (``bold.actions.sources``, with the
disclosure rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bold import store
from bold.errors import BoldError, Kind
from bold.governance.projects import source_quality
from bold.ingest.pipeline import committed_batches
from bold.ingest.rules import committed_sql, q
from bold.sources import load_contract, source_types
from bold.workspace import Workspace, zone_tables

LINK_THRESHOLD = "medium"  # the clusters the linkage rate counts (the agreements' default threshold)


@dataclass
class Update:
    """One batch as the store keeps it: when it arrived, under which contract version, its counts."""

    batch_id: int
    arrived: str
    contract_version: int
    rows_read: int
    rows_accepted: int
    rows_updated: int
    rows_quarantined: int
    withdrawn: str | None


@dataclass
class Measures:
    """What the platform holds of one source, raw (unrounded): for the caller to publish."""

    source: str
    records: int | None = None  # current records in the content zone (None: not measured)
    coverage: tuple[str, str] | None = None  # (first, last) month, YYYY-MM, each min_count records from its end
    identifiers: dict[str, float] | None = None  # identifier role -> share of records that have it
    linked: float | None = None  # share of records linked to a record of another source
    linkage_run: int | None = None
    quarantine_share: float | None = None  # of rows read, quarantined and not resolved by a later batch
    updates: list[Update] = field(default_factory=list)
    not_measured: list[str] = field(default_factory=list)  # what could not be measured, and why


def _opened(measures: dict[str, Measures], what: str, read):
    """Run ``read`` (which opens one zone); a zone this account may not open, or that is busy, is noted on every
    source as not measured."""
    try:
        read()
    except PermissionError as exc:
        for m in measures.values():
            m.not_measured.append(f"{what}: this account may not open it ({exc.strerror or exc})")
    except BoldError as exc:
        if exc.kind not in (Kind.REFUSED, Kind.CONFLICT):
            raise
        for m in measures.values():
            m.not_measured.append(f"{what}: {exc}")


def _content(ws: Workspace, measures: dict[str, Measures], committed: dict, min_count: int) -> None:
    with ws.content(read_only=True) as con:
        for m in measures.values():
            m.records = 0  # the zone opened: a source with no table holds no records
        for _, source in zone_tables(con, "content"):
            if source not in measures:
                continue
            where = committed_sql(committed, source)
            m = measures[source]
            m.records = con.execute(f"select count(*) from content.{q(source)} where {where}").fetchone()[0]
            event = load_contract(source).event_date
            if event is None:
                continue
            # the first month with at least min_count records on or before it, and the last with as many on or
            # after it: the ends of the coverage are each min_count records deep, never one record's date
            first, last = con.execute(
                f"""with m as (select date_trunc('month', {q(event)}) as month, count(*) as n from content.{q(source)}
                               where {where} and {q(event)} is not null group by 1),
                         c as (select month, sum(n) over (order by month) as upto,
                                      sum(n) over (order by month desc) as onwards from m)
                    select strftime(min(month) filter (where upto >= {int(min_count)}), '%Y-%m'),
                           strftime(max(month) filter (where onwards >= {int(min_count)}), '%Y-%m') from c"""
            ).fetchone()
            if first is not None and last is not None and first <= last:
                m.coverage = (first, last)


def _identifiers(ws: Workspace, measures: dict[str, Measures], committed: dict) -> None:
    with ws.identifiers(read_only=True) as con:
        for _, source in zone_tables(con, "identifiers"):
            if source not in measures:
                continue
            described = con.execute(f"select column_name from (describe identifiers.{q(source)})").fetchall()
            stored = {c for (c,) in described}
            roles = [c.role for c in load_contract(source).identifiers if c.role != "record_id"]
            columns = {r: next((c for c in (r, f"{r}_bf") if c in stored), None) for r in dict.fromkeys(roles)}
            columns = {r: c for r, c in columns.items() if c is not None}
            if not columns:
                continue
            shares = ", ".join(f"avg(({q(c)} is not null)::double)" for c in columns.values())
            row = con.execute(
                f"select count(*), {shares} from identifiers.{q(source)} where {committed_sql(committed, source)}"
            ).fetchone()
            if row[0]:
                measures[source].identifiers = dict(zip(columns, row[1:], strict=True))


def _links(ws: Workspace, measures: dict[str, Measures]) -> None:
    if not ws.links_path.exists():
        return  # never linked
    with ws.links(read_only=True) as con:
        if not zone_tables(con, "links") or not con.execute("select count(*) from links.runs").fetchone()[0]:
            return
        run = con.execute("select max(run_id) from links.runs").fetchone()[0]
        person = f"person_{LINK_THRESHOLD}"
        rows = con.execute(
            f"""with r as (select source, {person} as p from links.record_person where run_id = {int(run)}),
                     shared as (select p from r group by p having count(distinct source) > 1)
                select source, avg((p in (select p from shared))::double) from r group by source"""
        ).fetchall()
    for source, share in rows:
        if source in measures:
            measures[source].linked = share
            measures[source].linkage_run = run


def _store(ws: Workspace, measures: dict[str, Measures]) -> None:
    for source, share in source_quality(ws).items():
        if source in measures:
            measures[source].quarantine_share = share
    with store.connect(ws) as db:
        rows = db.execute(
            "select source, batch_id, finished_at, contract_version, rows_read, rows_accepted, rows_updated, "
            "rows_quarantined, withdrawn_at from batches order by batch_id"
        ).fetchall()
    for source, batch_id, finished, version, read, accepted, updated, quarantined, withdrawn in rows:
        if source in measures:
            withdrawn = withdrawn[:10] if withdrawn else None
            measures[source].updates.append(
                Update(batch_id, finished[:10], version, read, accepted, updated, quarantined, withdrawn)
            )


def measure(ws: Workspace, min_count: int) -> list[Measures]:
    """Every source type of the platform, ingested or not, with what can be measured of it now."""
    measures = {s: Measures(s) for s in source_types()}
    committed = committed_batches(ws)
    _store(ws, measures)
    _opened(measures, "the content zone (records, coverage)", lambda: _content(ws, measures, committed, min_count))
    _opened(measures, "the identifiers zone (completeness)", lambda: _identifiers(ws, measures, committed))
    _opened(measures, "the links (linkage rate)", lambda: _links(ws, measures))
    return list(measures.values())
