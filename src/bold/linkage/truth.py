"""Links from the synthetic ground truth ("perfect linkage"), for measuring the stages after linkage without
linkage error: the studies benchmark, and tests that check a study against the generator's true rates.

Only a synthetic population has a ``truth/records.parquet``; real data never do, so this cannot stand in for
``bold link`` on a real workspace. The run it writes looks like any other (one run, the same person at every
threshold, sex and year of birth as ``bold link`` derives them) so project builds treat it the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from bold.ingest.rules import sql_text
from bold.linkage.run import LINKS_SCHEMA, stored_sources
from bold.workspace import Workspace, now

LEVELS = ("high", "medium", "low")


def write_true_links(ws: Workspace, truth: Path, *, by: str) -> int:
    """Write ``links.duckdb`` with one run whose people are the true people; returns the records linked."""
    if ws.links_path.exists():
        raise FileExistsError(f"{ws.links_path}: the workspace is already linked")
    with ws.identifiers(read_only=True) as con:
        sources = stored_sources(con)

        def nfa(s: str) -> str:  # only sources with an address record no fixed abode
            cols = {c for (c,) in con.execute(f"select column_name from (describe identifiers.{s})").fetchall()}
            return "no_fixed_abode" if "no_fixed_abode" in cols else "false"

        union = " union all ".join(
            f"select record_key, '{s}' as source, source_record_id, sex, date_of_birth, {nfa(s)} as no_fixed_abode "
            f"from identifiers.{s}"
            for s in sources
        )
        con.execute(
            f"""create temp table mapped as select i.*, t.person_id from ({union}) i
                join read_parquet({sql_text(str(Path(truth) / "records.parquet"))}) t
                  on t.source = i.source and t.record_id = i.source_record_id"""
        )
        people = "(select distinct person_id from mapped)"
        con.execute(f"create temp table keys as select person_id, uuid() as person_key from {people}")
        ws.attach(con, "links")
        con.execute(
            LINKS_SCHEMA.replace("create table if not exists ", "create table links.").replace(
                "alter table ", "alter table links."
            )
        )
        con.execute(
            "insert into links.record_person (run_id, record_key, source, person_high, person_medium, person_low) "
            "select 1, m.record_key, m.source, k.person_key, k.person_key, k.person_key "
            "from mapped m join keys k using (person_id)"
        )
        modes = "k.person_key, mode(m.sex), mode(year(m.date_of_birth)), bool_or(m.no_fixed_abode)"
        for level in LEVELS:  # as bold link derives them: the most common among the person's records
            con.execute(
                "insert into links.person_attributes (run_id, threshold, person_key, sex, birth_year, no_fixed_abode) "
                f"select 1, '{level}', {modes} from mapped m join keys k using (person_id) group by all"
            )
        records, people = con.execute("select count(*), count(distinct person_id) from mapped").fetchone()
        con.execute(
            "insert into links.runs (run_id, started_at, finished_at, actor, sources, records, comparisons, pairs, "
            "seconds, model_sha256, thresholds, clusters) values (1, ?, ?, ?, ?, ?, 0, 0, 0, null, ?, ?)",
            [now(), now(), by, sources, records, json.dumps({}), json.dumps(dict.fromkeys(LEVELS, people))],
        )
    return records
