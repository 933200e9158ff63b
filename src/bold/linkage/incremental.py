"""Linkage over time: what changed since the last run, the pairs that need no new score, and person keys that
stay with the people they name.

Custodians send data monthly. After a new batch most records are as they were, and so are most of the pairs
between them: a pair's score depends only on its two records (and the model). So ``bold link --incremental``
scores only the candidate pairs that involve a *fresh* record (new, or changed since the last run: a
correction, an update, a version restored by a withdrawal), and takes every other pair's score from the last
run; it then clusters all of them together, as a full run would. Two things can still differ from a full
re-link, and the benchmark measures how much: term frequencies and the caps on busy blocks are counted on
today's records for the new pairs but were counted on the last run's for the reused ones.

Which records are fresh is read from a *fingerprint* stored beside each record's person in
``links.record_person``: a keyed hash (HMAC, its key derived from the links zone's own) of the record's key and
its linkage features. It changes when anything the model compares changes and nothing else, and being keyed
and including the record key, it tells nobody holding ``links.duckdb`` which records are identical or what
they hold.

Person keys are random, but a run (full or incremental) gives a cluster the key of the last run's person when
the two hold the same people's records: every earlier record of the cluster was that one person's, and every
record of that person still linked is in this cluster. A person whose records did not change, or who only
gained new ones, keeps their key; people who split or merge get new ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from bold import keyed
from bold.errors import BoldError, Kind
from bold.workspace import Workspace

FRESH = "bold_fresh"  # the column of the scored records that says a record needs new scores


class IncrementalError(BoldError):
    """An incremental run cannot reuse the last run's scores (no run, another model, other thresholds)."""

    kind = Kind.CONFLICT


@dataclass(frozen=True)
class Previous:
    """The last linkage run, as far as the next one needs it."""

    run_id: int
    thresholds: dict[str, float]
    parameters: str  # the model's parameters, as ``parameters`` writes them
    fingerprinted: bool  # its records carry fingerprints (runs before BOLD kept them do not)


def fingerprint_key(ws: Workspace) -> bytes:
    """The HMAC key of record fingerprints: derived from the links zone's key, so only whoever can read the
    links could compute one, and never used for anything else."""
    return hashlib.sha256(b"bold record fingerprint\0" + ws.key("links").encode()).digest()


def fingerprint(con, records: str, key: bytes, out: str = "linkage_fingerprints") -> None:
    """``out(unique_id, fingerprint)``: each record's keyed hash of its key and features. Made before any
    column that depends on other records (the block sizes) is added."""
    value = keyed.digest_sql(key, "record:", "(t::varchar)")
    con.execute(
        f"create or replace temp table {out} as select t.unique_id, left({value}, 32) as fingerprint from {records} t"
    )


def parameters(model_json: dict) -> str:
    """What makes two models score a pair alike: each comparison's levels with their m and u, and the prior;
    not the blocking rules (which pairs get scored) nor the SQL dialect the levels are written in."""

    def level(lv: dict) -> list:
        return [lv.get("label_for_charts"), lv.get("m_probability"), lv.get("u_probability")]

    comparisons = [
        [c.get("output_column_name"), *map(level, c["comparison_levels"])] for c in model_json.get("comparisons", [])
    ]
    return json.dumps([model_json.get("probability_two_random_records_match"), comparisons])


def previous_run(con) -> Previous | None:
    """The latest committed run on the attached ``links`` (None before the first); its records' keys,
    fingerprints and people are copied to the temp table ``previous_people``."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where database_name = 'links' and table_name = 'runs'"
    ).fetchone()[0]
    row = exists and con.execute("select run_id, thresholds, model from links.runs order by run_id desc limit 1")
    row = row and row.fetchone()
    if not row:
        return None
    run_id = int(row[0])
    columns = {c for (c,) in con.execute("select column_name from (describe links.record_person)").fetchall()}
    fp = "fingerprint" if "fingerprint" in columns else "null::varchar"
    con.execute(
        f"""create or replace temp table previous_people as
            select record_key::varchar as unique_id, {fp} as fingerprint, person_high, person_medium, person_low
            from links.record_person where run_id = {run_id}"""
    )
    fingerprinted = con.execute("select count(fingerprint) > 0 from previous_people").fetchone()[0]
    model_json = json.loads(row[2]) if row[2] else {}
    return Previous(run_id, json.loads(row[1]), parameters(model_json), bool(fingerprinted))


def check_reusable(previous: Previous | None, thresholds: dict[str, float], model_json: dict) -> Previous:
    """The last run, if its scores can be reused by a run with these thresholds and this model; else why not."""
    if previous is None:
        raise IncrementalError("--incremental: there is no earlier linkage run to build on; run bold link first")
    if previous.thresholds != thresholds:
        raise IncrementalError(
            f"--incremental: run {previous.run_id} used other thresholds ({previous.thresholds}); run a full bold link"
        )
    if previous.parameters != parameters(model_json):
        raise IncrementalError(
            f"--incremental: the saved model is not the one run {previous.run_id} scored with; run a full bold link"
        )
    return previous


def mark_fresh(con, fingerprints: str, members: str, scored: str) -> int:
    """Add ``bold_fresh`` to the scored records: true where any record a representative stands for is new or
    changed since the previous run (``previous_people``). Returns how many records are fresh."""
    con.execute(
        f"""create or replace temp table linkage_fresh as
            select f.unique_id from {fingerprints} f left join previous_people p using (unique_id)
            where p.fingerprint is distinct from f.fingerprint"""
    )
    con.execute(f"alter table {scored} add column {FRESH} boolean default false")
    con.execute(
        f"""update {scored} set {FRESH} = true where unique_id in
            (select m.representative from {members} m semi join linkage_fresh f using (unique_id))"""
    )
    return con.execute("select count(*) from linkage_fresh").fetchone()[0]


def fresh_only(rules: list[dict]) -> list[dict]:
    """Prediction blocking rules that keep only pairs with a fresh record on either side."""
    out = []
    for rule in rules:
        rule = dict(rule)
        rule["blocking_rule"] = f"({rule['blocking_rule']}) and (l.{FRESH} or r.{FRESH})"
        out.append(rule)
    return out


def reused_pairs(con, run_id: int, members: str, out: str = "reused_pairs") -> None:
    """``out``: the previous run's scored pairs between two records neither of which is fresh, as pairs of
    today's representatives (each side's record replaced by the one it is scored through)."""
    con.execute(
        f"""create or replace temp table linkage_members_kept as
            select m.unique_id::uuid as record_key, m.representative from {members} m
            anti join linkage_fresh f using (unique_id)"""
    )
    con.execute(
        f"""create or replace temp table {out} as
            select least(l.representative, r.representative) as unique_id_l,
                   greatest(l.representative, r.representative) as unique_id_r,
                   max(p.match_weight) as match_weight, max(p.match_probability) as match_probability,
                   any_value(p.levels) as levels
            from links.pairs p
            join linkage_members_kept l on l.record_key = p.record_key_l
            join linkage_members_kept r on r.record_key = p.record_key_r
            where p.run_id = {int(run_id)} and l.representative <> r.representative
            group by all"""
    )


def stable_keys(con, clusters: str, level: str, out: str) -> int:
    """``out(cluster_id, person_key)``: the previous run's person key for a cluster holding exactly that
    person's still-linked records (and perhaps new ones), a new random key otherwise. Returns how many
    clusters kept a key."""
    has_previous = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'previous_people' and temporary"
    ).fetchone()[0]
    if not has_previous:
        con.execute(
            f"create or replace temp table {out} as select cluster_id, uuid() as person_key "
            f"from (select distinct cluster_id from {clusters})"
        )
        return 0
    con.execute(
        f"""create or replace temp table {out} as
            with seen as (
                select c.cluster_id, p.person_{level} as old from {clusters} c join previous_people p using (unique_id)
            ), one_person as (
                select cluster_id, any_value(old) as old from seen group by cluster_id having count(distinct old) = 1
            ), one_cluster as (
                select old from seen group by old having count(distinct cluster_id) = 1
            )
            select d.cluster_id, coalesce(k.old, uuid()) as person_key
            from (select distinct cluster_id from {clusters}) d
            left join (select * from one_person semi join one_cluster using (old)) k using (cluster_id)"""
    )
    return con.execute(
        f"select count(*) from {out} semi join (select distinct person_{level} as person_key from previous_people) "
        "using (person_key)"
    ).fetchone()[0]
