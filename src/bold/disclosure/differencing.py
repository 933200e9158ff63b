"""Differencing: two published numbers whose groups of people differ by only a few people give those few away
by subtraction, even when each number is safe on its own.

For every count the check publishes, the project's secure area keeps which people stand behind it (the
``published`` table of the output's evidence file). A new output's counts are compared with those of every
other live output of the project (pending, under review or released): two cells whose groups differ by 1 to
``min_people - 1`` people (nested cohorts differing by one condition, a re-run whose end date moved by a day,
a count by one variable beside a cross-tabulation of it) are flagged for the output checkers. The comparison is
exact, on project pseudonyms, in DuckDB: candidate pairs are those whose sizes differ by less than the
threshold, and only those are intersected. A cell that repeats a cell of the other output exactly (the same
people) adds nothing to what that output already shows, so its differences from that output are not flagged
again; differences between two cells of one output are for secondary suppression (linked tables), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bold.security import encryption
from bold.workspace import Workspace


@dataclass(frozen=True)
class Conflict:
    table: str
    row: int
    column: str
    other_output: str
    other_table: str
    other_row: int
    other_column: str
    differ_by: int  # people in one group and not the other (never shown to the analyst)


def members_frame(members: dict[tuple[str, int, str], tuple[str, ...]]) -> pd.DataFrame:
    rows = [(t, r, c, p) for (t, r, c), people in members.items() for p in people]
    return pd.DataFrame(rows, columns=["tbl", "row", "col", "person_id"]).astype({"row": "int64"})


def find(
    ws: Workspace, key: str, members: dict[tuple[str, int, str], tuple[str, ...]], others: dict[str, Path], limit: int
) -> list[Conflict]:
    """Cells of this output whose people differ from a published cell of another output by 1 to ``limit``."""
    if not members or not others:
        return []
    mine = members_frame(members)  # noqa: F841 (read by DuckDB)
    found: list[Conflict] = []
    with ws.duckdb_connection() as con:
        encryption.prepare(con)
        con.execute("create temp table a as select * from mine")
        con.execute("create temp table a_size as select tbl, row, col, count(*) as n from a group by all")
        for output_id, path in sorted(others.items()):
            encryption.attach(con, path, "other", key, read_only=True)
            try:
                has = con.execute(
                    "select count(*) from duckdb_tables() where database_name = 'other' and table_name = 'published'"
                ).fetchone()[0]
                if not has:
                    continue
                rows = con.execute(
                    f"""
                    with b_size as (select tbl, row, col, count(*) as n from other.published group by all),
                    pairs as (
                        select a_size.tbl as at_, a_size.row as ar, a_size.col as ac, a_size.n as an,
                               b_size.tbl as bt, b_size.row as br, b_size.col as bc, b_size.n as bn
                        from a_size join b_size on abs(a_size.n - b_size.n) < {int(limit) + 1}
                    ),
                    shared as (
                        select p.at_, p.ar, p.ac, p.bt, p.br, p.bc, any_value(p.an) as an, any_value(p.bn) as bn,
                               count(b.person_id) as both_
                        from pairs p
                        join a on a.tbl = p.at_ and a.row = p.ar and a.col = p.ac
                        left join other.published b
                          on b.tbl = p.bt and b.row = p.br and b.col = p.bc and b.person_id = a.person_id
                        group by p.at_, p.ar, p.ac, p.bt, p.br, p.bc
                    ),
                    repeated as (select distinct at_, ar, ac from shared where an = bn and both_ = an)
                    select at_, ar, ac, bt, br, bc, an + bn - 2 * both_ as differ
                    from shared where an + bn - 2 * both_ between 1 and {int(limit)}
                      and not exists (select 1 from repeated r where r.at_ = shared.at_ and r.ar = shared.ar
                                      and r.ac = shared.ac)
                    order by at_, ar, ac, bt, br, bc
                    """
                ).fetchall()
            finally:
                con.execute("detach other")
            found += [
                Conflict(at, int(ar), ac, output_id, bt, int(br), bc, int(d)) for at, ar, ac, bt, br, bc, d in rows
            ]
    return found


def keep(ws: Workspace, path: Path, key: str, members: dict[tuple[str, int, str], tuple[str, ...]]) -> None:
    """Record, in the output's evidence file, the people behind each count the check published."""
    frame = members_frame(members)  # noqa: F841 (read by DuckDB)
    with ws.duckdb_connection() as con:
        encryption.attach(con, path, "ev", key)
        con.execute("create or replace table ev.published as select * from frame")
        con.execute("detach ev")
