"""Linkage accuracy against ground truth (synthetic data only): pairwise precision, recall and F1 of
the person clusters, overall and for the groups linkage error falls hardest on.

A pair of records is a true match when the truth gives both the same person; a predicted match when
the run put both in the same cluster. Counting is done per group with n*(n-1)/2, never by listing
pairs, so it scales to millions of records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from bold.ingest.rules import sql_text


@dataclass
class Accuracy:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int


def _acc(tp: float, predicted: float, true: float) -> Accuracy:
    p = tp / predicted if predicted else 1.0
    r = tp / true if true else 1.0
    return Accuracy(p, r, 2 * p * r / (p + r) if p + r else 0.0, int(true), int(predicted))


def load_truth_mapping(
    con: duckdb.DuckDBPyConnection, truth_dir: Path, sources: list[str], secret: bytes | None = None
) -> None:
    """Table ``truth_map(record_key, source, person_id, nfa_person)`` from the identifiers zone's
    source record ids and the synthetic truth files. In the encoded mode the stored ids are keyed
    hashes, so the evaluator (who holds the custodians' ``secret`` for this purpose) hashes the
    truth's ids the same way."""
    union = " union all ".join(
        f"select record_key, '{s}' as source, source_record_id from identifiers.{s}" for s in sources
    )
    records = f"read_parquet({sql_text(str(truth_dir / 'records.parquet'))})"
    if secret is not None:
        from bold.linkage.encode import hmac_sql_for_ids

        records = f"(select * replace ({hmac_sql_for_ids(secret, 'record_id')} as record_id) from {records})"
    con.execute(
        f"""create or replace temp table truth_map as
            select k.record_key::varchar as record_key, k.source, r.person_id, p.homeless as nfa_person
            from ({union}) k
            join {records} r
              on r.source = k.source and r.record_id = k.source_record_id
            join read_parquet({sql_text(str(truth_dir / "people.parquet"))}) p using (person_id)"""
    )


def cluster_accuracy(
    con: duckdb.DuckDBPyConnection, clusters: str, cluster_col: str = "cluster_id", id_col: str = "record_key"
) -> dict[str, Accuracy]:
    """Accuracy of ``clusters(id_col, cluster_col)`` against ``truth_map``: overall, for people who are
    homeless (no fixed abode), and for pairs involving a treatment (initials-only) record."""
    con.execute(
        f"""create or replace temp view eval_base as
            select c.{cluster_col}::varchar as cluster_id, t.person_id, t.nfa_person,
                   (t.source = 'treatment') as is_tx
            from {clusters} c join truth_map t on t.record_key = c.{id_col}::varchar"""
    )
    row = con.execute(
        """with g as (select cluster_id, person_id, any_value(nfa_person) as nfa, count(*) as n,
                             count(*) filter (where is_tx) as t from eval_base group by all),
                c as (select cluster_id, count(*) as n, count(*) filter (where not nfa_person) as o,
                             count(*) filter (where not is_tx) as nt from eval_base group by all),
                p as (select person_id, any_value(nfa_person) as nfa, count(*) as n,
                             count(*) filter (where is_tx) as t from eval_base group by all)
           select
             (select sum(n * (n - 1) / 2) from g),
             (select sum(n * (n - 1) / 2) from c),
             (select sum(n * (n - 1) / 2) from p),
             (select sum(n * (n - 1) / 2) filter (where nfa) from g),
             (select sum(n * (n - 1) / 2 - o * (o - 1) / 2) from c),
             (select sum(n * (n - 1) / 2) filter (where nfa) from p),
             (select sum(n * (n - 1) / 2 - (n - t) * (n - t - 1) / 2) from g),
             (select sum(n * (n - 1) / 2 - nt * (nt - 1) / 2) from c),
             (select sum(n * (n - 1) / 2 - (n - t) * (n - t - 1) / 2) from p)"""
    ).fetchone()
    tp, pred, true, tp_nfa, pred_nfa, true_nfa, tp_tx, pred_tx, true_tx = (float(x or 0) for x in row)
    return {
        "all": _acc(tp, pred, true),
        "no fixed abode": _acc(tp_nfa, pred_nfa, true_nfa),
        "treatment records": _acc(tp_tx, pred_tx, true_tx),
    }


def evaluate_run(ws, run_id: int, truth_dir: Path, secret: bytes | None = None) -> dict[str, dict[str, Accuracy]]:
    """Accuracy of each threshold's clusters in a workspace linkage run."""
    from bold.linkage.run import stored_sources

    with ws.identifiers(read_only=True) as con:
        load_truth_mapping(con, truth_dir, stored_sources(con), secret)
        ws.attach(con, "links", read_only=True)
        out = {}
        for level in ("high", "medium", "low"):
            con.execute(
                f"create or replace temp view run_clusters as select record_key, person_{level} as cluster_id "
                f"from links.record_person where run_id = {int(run_id)}"
            )
            out[level] = cluster_accuracy(con, "run_clusters")
        return out


def clusters_against_pairs(con: duckdb.DuckDBPyConnection, clusters: str, truth: str) -> Accuracy:
    """Pairwise accuracy of ``clusters(unique_id, cluster_id)`` against a table of true pairs ``truth(id_l,
    id_r)`` (each pair once, either order), for labelled files such as FEBRL: every two records in one
    cluster are a predicted match, so a false link that chains two clusters costs every pair it joins."""
    tp, predicted, true = con.execute(
        f"""select
              (select count(*) from (select distinct least(t.id_l, t.id_r), greatest(t.id_l, t.id_r)
                                     from {truth} t
                                     join {clusters} a on a.unique_id = t.id_l
                                     join {clusters} b on b.unique_id = t.id_r
                                     where a.cluster_id = b.cluster_id)),
              (select coalesce(sum(n * (n - 1) / 2), 0)
               from (select count(*) as n from {clusters} group by cluster_id)),
              (select count(*) from (select distinct least(id_l, id_r), greatest(id_l, id_r) from {truth}))"""
    ).fetchone()
    return _acc(float(tp), float(predicted), float(true))


def runs_agreement(ws, run_a: int, run_b: int, level: str = "medium") -> Accuracy:
    """Pairwise agreement of two runs' clusters over the records both linked, ``run_b`` taken as the reference:
    precision is the share of ``run_a``'s within-person pairs that ``run_b`` also makes (an incremental run
    against a full re-link, say). Needs no truth, so it also holds for real data."""
    if level not in ("high", "medium", "low"):
        raise ValueError(level)
    with ws.duckdb_connection() as con:
        ws.attach(con, "links", read_only=True)
        tp, predicted, true = con.execute(
            f"""with both_runs as (
                    select a.person_{level} as pa, b.person_{level} as pb
                    from links.record_person a join links.record_person b using (record_key)
                    where a.run_id = ? and b.run_id = ?)
                select (select sum(n * (n - 1) / 2) from (select count(*) as n from both_runs group by pa, pb)),
                       (select sum(n * (n - 1) / 2) from (select count(*) as n from both_runs group by pa)),
                       (select sum(n * (n - 1) / 2) from (select count(*) as n from both_runs group by pb))""",
            [int(run_a), int(run_b)],
        ).fetchone()
    return _acc(float(tp or 0), float(predicted or 0), float(true or 0))
