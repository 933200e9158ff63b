"""Records whose identifiers are identical are scored once.

Half the records of the synthetic population, and of real administrative data, repeat another record of the
same source exactly: a person's next hospital episode or prison spell carries the same name, date of birth,
postcode and numbers. Scoring each copy against every candidate multiplies the pairs for nothing (at a million
people, 48 million true pairs, most between copies), so linkage scores one record per group of identical
ones, its *representative*, and gives every copy its representative's person and pairs.

Only records that identify someone are grouped: identical sparse records (a sex and a postcode district)
may be different people, so a record is grouped only when it holds a person's own number (NHS number, PNC
id, NI number, the source's person id) or a full name with a date of birth. Copies are grouped within a
source only, as the comparison of a source's own person id depends on the source.
"""

from __future__ import annotations

STRONG = ("nhs_number", "pnc_id", "ni_number", "source_person_id")


def group(con, records: str, scored: str, members: str, suffix: str = "") -> int:
    """Make ``members(unique_id, representative)`` for every record of ``records`` and ``scored``, the
    representatives with their columns; returns how many records are scored."""
    cols = [
        c
        for (c,) in con.execute(f"select column_name from (describe {records})").fetchall()
        if c != "unique_id" and not c.startswith("block_n_")
    ]
    present = set(cols)

    def has(name):
        return f"{name}{suffix}" in present

    strong = [f"{c}{suffix} is not null" for c in STRONG if has(c)]
    named = [f"{c}{suffix} is not null" for c in ("forename", "surname", "date_of_birth") if has(c)]
    tests = strong + ([" and ".join(named)] if len(named) == 3 else [])
    identifying = " or ".join(f"({t})" for t in tests) or "false"
    partition = ", ".join(f'"{c}"' for c in cols)
    con.execute(
        f"""create or replace temp table {members} as
            select unique_id,
                   case when {identifying} then min(unique_id) over (partition by {partition})
                        else unique_id end as representative
            from {records}"""
    )
    con.execute(
        f"""create or replace table {scored} as select r.* from {records} r
            semi join (select distinct representative from {members}) m on m.representative = r.unique_id"""
    )
    return con.execute(f"select count(*) from {scored}").fetchone()[0]


def expand_clusters(con, clusters: str, members: str) -> None:
    """Replace ``clusters(unique_id, cluster_id)`` of representatives with every record's cluster."""
    con.execute(
        f"""create or replace temp table {clusters} as select m.unique_id, c.cluster_id
            from {members} m join {clusters} c on c.unique_id = m.representative"""
    )


def expand_pairs(con, pairs: str, members: str, out: str) -> None:
    """``out``: the scored pairs of representatives as pairs of records, each copy of either side taking the
    pair's score (copies of one record are not paired with each other: they share a person at any
    threshold)."""
    con.execute(
        f"""create or replace temp table {out} as
            select l.unique_id as unique_id_l, r.unique_id as unique_id_r, p.* exclude (unique_id_l, unique_id_r)
            from {pairs} p join {members} l on l.representative = p.unique_id_l
            join {members} r on r.representative = p.unique_id_r"""
    )
