"""Linkage quality measures from the identifiers side (GUILD guidance, docs/design/DOMAIN.md section 9).

Everything here is computed from the identifiers zone, the links and the model: identifier
completeness by source and subgroup, blocking and comparison counts, model parameters, expected false
and missed matches at each threshold, match rates by source and subgroup, linked against unlinked
records, cluster sizes, sensitivity to the threshold, two deaths in one person, and, where ground
truth exists, precision, recall and F1 by subgroup. Checks that need event dates (events after death,
overlapping prison spells) need the content zone and live in ``bold.reports.linkage_checks``.
Results are plain tables (lists of dicts) for the report to draw.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from bold.errors import Kind
from bold.ingest.rules import sql_text
from bold.linkage import features, model
from bold.linkage.run import RECALL_ESTIMATES, LinkageError, model_path, stored_sources
from bold.store import audit
from bold.workspace import now

LEVELS = ("high", "medium", "low")
IDENTIFIERS = tuple(f for f in features.IDENTIFIER_FEATURES if f not in ("address", "locality"))
AGE_BANDS = (
    "case when age is null then 'unknown' when age < 25 then '18-24' when age < 35 then '25-34' "
    "when age < 45 then '35-44' when age < 55 then '45-54' else '55+' end"
)


def _rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _prepare(con, run_id: int) -> bool:
    """Tables ``q_input`` (the linkage input) and ``q_records`` (one row per record with its people and
    the subgroup columns). In the encoded mode, identifiers are encodings: completeness is measured on
    them, and sex and age, which cannot be read from an encoding, show as unknown. Returns whether the
    workspace is encoded."""
    sources = stored_sources(con)
    encoded = any(features.is_encoded(con, s) for s in sources)
    if encoded:
        features.workspace_input_encoded(con, sources, "q_input")
        cols = ", ".join(f"{f}_bf as {f}" for f in features.ENCODED_FEATURES)
        con.execute(f"""create or replace temp view q_view as select unique_id, source_dataset, {cols},
                        false as no_fixed_abode from q_input""")
        sex, age = "'unknown'", "null::bigint"
    else:
        features.workspace_input(con, sources, "q_input")
        con.execute("create or replace temp view q_view as select * from q_input")
        sex, age = "coalesce(i.sex, 'unknown')", "date_diff('year', i.date_of_birth, current_date)"
    con.execute(
        f"""create or replace temp table q_records as
            select i.*, coalesce(i.no_fixed_abode, false) as nfa, {sex} as sex_group, {age} as age,
                   r.person_high, r.person_medium, r.person_low
            from q_view i join links.record_person r
              on r.record_key = i.unique_id::uuid and r.run_id = {int(run_id)}"""
    )
    con.execute(f"alter table q_records add column age_band varchar; update q_records set age_band = {AGE_BANDS}")
    return encoded


def completeness(con) -> list[dict]:
    cols = ", ".join(f"avg(({c} is not null)::int) as {c}" for c in IDENTIFIERS)
    return _rows(
        con,
        f"""select source_dataset as source, count(*) as records, avg(nfa::int) as no_fixed_abode,
                                 {cols} from q_records group by 1 order by 1""",
    )


def completeness_by_subgroup(con) -> list[dict]:
    out = []
    for name, expr in (
        ("sex", "sex_group"),
        ("age band", "age_band"),
        ("no fixed abode", "case when nfa then 'yes' else 'no' end"),
    ):
        out += _rows(
            con,
            f"""select '{name}' as subgroup, {expr} as value, count(*) as records,
                                     avg((nhs_number is not null)::int) as nhs_number,
                                     avg((forename is not null)::int) as forename,
                                     avg((postcode_district is not null)::int) as postcode_district
                              from q_records group by all order by 1, 2""",
        )
    return out


def match_rates(con) -> list[dict]:
    """Share of records whose person also has a record in another source, per threshold."""
    out = []
    for level in LEVELS:
        con.execute(
            f"""create or replace temp table q_multi_{level} as
                select person_{level} as person, count(distinct source_dataset) > 1 as multi
                from q_records group by 1"""
        )
    for name, expr in (
        ("source", "source_dataset"),
        ("sex", "sex_group"),
        ("age band", "age_band"),
        ("no fixed abode", "case when nfa then 'yes' else 'no' end"),
    ):
        joins = " ".join(f"join q_multi_{lv} m_{lv} on m_{lv}.person = r.person_{lv}" for lv in LEVELS)
        rates = ", ".join(f"avg(m_{lv}.multi::int) as {lv}" for lv in LEVELS)
        out += _rows(
            con,
            f"select '{name}' as subgroup, {expr} as value, count(*) as records, {rates} "
            f"from q_records r {joins} group by all order by 1, 2",
        )
    return out


def linked_vs_unlinked(con, level: str = "medium") -> list[dict]:
    return _rows(
        con,
        f"""with sizes as (select person_{level} as person, count(*) as n from q_records group by 1)
        select case when s.n > 1 then 'linked' else 'unlinked' end as status, count(*) as records,
               avg(r.nfa::int) as no_fixed_abode, avg((r.nhs_number is not null)::int) as with_nhs_number,
               avg((r.forename is not null)::int) as with_full_name, avg(r.age) as mean_age
        from q_records r join sizes s on s.person = r.person_{level} group by 1 order by 1""",
    )


def cluster_sizes(con) -> list[dict]:
    out = []
    for level in LEVELS:
        out += _rows(
            con,
            f"""select '{level}' as threshold, least(n, 20) as size, count(*) as people
                              from (select count(*) as n from q_records group by person_{level}) group by all
                              order by 2""",
        )
    return out


def sensitivity(con, run_id: int, thresholds: dict) -> list[dict]:
    """People, records linked across sources, and expected false and missed matches at each threshold.

    Expected false matches among pairs kept = sum(1 - p); expected missed matches = sum(p) over the
    pairs scored but not kept (pairs scored below the lowest stored threshold are not counted)."""
    out = []
    for level in LEVELS:
        t = thresholds[level]
        people = con.execute(f"select count(distinct person_{level}) from q_records").fetchone()[0]
        fp, fn, kept = con.execute(
            f"""select sum(1 - match_probability) filter (where match_probability >= {t}),
                       sum(match_probability) filter (where match_probability < {t}),
                       count(*) filter (where match_probability >= {t})
                from links.pairs where run_id = {int(run_id)}"""
        ).fetchone()
        multi = con.execute(
            f"select avg(multi::int) from q_records r join q_multi_{level} m on m.person = r.person_{level}"
        ).fetchone()[0]
        out.append(
            {
                "threshold": level,
                "match_probability": t,
                "people": people,
                "pairs_kept": kept,
                "expected_false_matches": fp or 0.0,
                "expected_missed_matches": fn or 0.0,
                "linked_across_sources": multi,
            }
        )
    return out


def recall_between_sources(con) -> list[dict]:
    """Per threshold and ordered pair of sources, of source A's records whose person has records in source B,
    the share the run's clusters put with at least one of them: how often a study counting B's events for A's
    records (treatment starts after a release) misses them all. ``records``: A's records with a true match in B.
    Needs ``truth_map`` (a gold standard: the synthetic truth here); joined per person and cluster, not by pairs."""
    out = []
    for level in LEVELS:
        out += _rows(
            con,
            f"""with r as (select t.source, t.person_id, t.record_key, q.person_{level} as cluster
                           from q_records q join truth_map t on t.record_key = q.unique_id),
                b as (select distinct source, person_id, cluster from r)
                select '{level}' as threshold, a.source as source_a, b.source as source_b,
                       count(distinct a.record_key) as true_pairs,
                       count(distinct a.record_key) filter (where a.cluster = b.cluster)
                         / count(distinct a.record_key) as recall
                from r a join b on a.person_id = b.person_id and a.source != b.source
                group by all order by 2, 3""",
        )
    return out


def record_recall(ws, run_id: int, rows: list[dict], estimated_from: str, *, by: str) -> None:
    """Keep a report's recall between sources with its run (replacing what an earlier report recorded), so that
    project extracts built from the run carry it for the studies' missed-match correction; audited."""
    with ws.links() as con:  # links made before the table existed get it here
        con.execute(RECALL_ESTIMATES.replace("create table if not exists ", "create table if not exists links."))
        con.execute("begin")
        con.execute("delete from links.recall_estimates where run_id = ?", [run_id])
        con.executemany(
            "insert into links.recall_estimates values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    run_id,
                    r["threshold"],
                    r["source_a"],
                    r["source_b"],
                    r["true_pairs"],
                    r["recall"],
                    estimated_from,
                    now(),
                ]
                for r in rows
            ],
        )
        con.execute("commit")
    audit.record(
        ws, "linkage recall recorded", f"run {run_id}", {"estimated_from": estimated_from, "rows": len(rows)}, by=by
    )


def two_deaths(con) -> list[dict]:
    return _rows(
        con,
        """select threshold, count(*) filter (where deaths > 1) as people_with_two_deaths
        from (select 'high' as threshold, person_high as p, count(*) filter (where source_dataset = 'deaths') as deaths
              from q_records group by all
              union all select 'medium', person_medium, count(*) filter (where source_dataset = 'deaths')
              from q_records group by all
              union all select 'low', person_low, count(*) filter (where source_dataset = 'deaths')
              from q_records group by all) group by 1 order by 1""",
    )


def model_parameters(path: Path) -> list[dict]:
    settings = json.loads(path.read_text())
    out = []
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            out.append(
                {
                    "comparison": comparison["output_column_name"],
                    "level": level["label_for_charts"],
                    "m": m,
                    "u": u,
                    "match_weight": weight,
                }
            )
    return out


def blocking(con, run: dict, encoded: bool) -> dict:
    """The prediction blocking rules with the candidate pairs each added, as the run counted them (runs from
    before runs recorded it are counted again here with today's rules, by Splink: slow at millions of records)."""
    if run.get("blocking"):
        added = json.loads(run["blocking"])
    else:
        from splink import DuckDBAPI
        from splink.blocking_analysis import count_comparisons_from_blocking_rules

        suffix = "_bf" if encoded else ""
        columns = model.present_columns(con, "q_input")
        model.add_block_sizes(con, "q_input", suffix)
        counts = count_comparisons_from_blocking_rules(
            DuckDBAPI(con).register("q_input"),
            blocking_rules=model.blocking_rules(columns, suffix=suffix),
            link_type="dedupe_only",
            record_sample_proportion=1.0,
        )
        added = [{"rule": c["blocking_rule"], "added": c["marginal_comparison_count"]} for c in counts]
    cumulative = 0
    rules = []
    for r in added:
        cumulative += r["added"]
        rules.append({**r, "cumulative": cumulative})
    return {
        "rules": rules,
        "comparisons": run["comparisons"],
        "records": run["records"],
        "all_pairs": run["records"] * (run["records"] - 1) // 2,
        "incremental": run.get("mode") == "incremental",
        "based_on": run.get("based_on"),
        "rescored": run.get("rescored"),
    }


def accuracy_by_subgroup(con, truth_dir: Path) -> list[dict]:
    """Pairwise precision, recall and F1 of each threshold's clusters against the truth, by subgroup."""
    from bold.linkage.evaluate import cluster_accuracy, load_truth_mapping

    load_truth_mapping(con, truth_dir, stored_sources(con))
    con.execute(f"""create or replace temp table q_truth_people as select person_id, sex, ethnicity, homeless,
                    date_diff('year', date_of_birth, current_date) as age
                    from read_parquet({sql_text(str(truth_dir / "people.parquet"))})""")
    out = []
    groups = [
        ("all", "'all'"),
        ("sex", "p.sex"),
        ("ethnicity", "p.ethnicity"),
        ("age band", AGE_BANDS.replace("age", "p.age")),
        ("homeless", "case when p.homeless then 'yes' else 'no' end"),
    ]
    for level in LEVELS:
        for name, expr in groups:
            values = [v for (v,) in con.execute(f"select distinct {expr} from q_truth_people p").fetchall()]
            for value in values:
                con.execute(
                    f"""create or replace temp view q_sub as select r.unique_id as record_key,
                               r.person_{level} as cluster_id
                        from q_records r join truth_map t on t.record_key = r.unique_id
                        join q_truth_people p using (person_id) where {expr} = {sql_text(str(value))}"""
                )
                acc = cluster_accuracy(con, "q_sub")["all"]
                out.append(
                    {
                        "threshold": level,
                        "subgroup": name,
                        "value": value,
                        "precision": acc.precision,
                        "recall": acc.recall,
                        "f1": acc.f1,
                        "true_pairs": acc.true_pairs,
                    }
                )
    return out


def measure(ws, run_id: int | None = None, truth_dir: Path | None = None) -> dict:
    """All the identifier-side measures for one linkage run (the latest by default)."""
    if not ws.links_path.exists():
        raise LinkageError("no linkage run yet: run bold link first")
    with ws.identifiers(read_only=True) as con:
        ws.attach(con, "links", read_only=True)
        runs = _rows(con, "select * from links.runs order by run_id")
        if not runs:
            raise LinkageError("no linkage run yet: run bold link first")
        run = next((r for r in runs if r["run_id"] == run_id), None) if run_id else runs[-1]
        if run is None:
            raise LinkageError(
                f"no linkage run {run_id}; runs are {', '.join(str(r['run_id']) for r in runs)}", kind=Kind.NOT_FOUND
            )
        encoded = _prepare(con, run["run_id"])
        thresholds = json.loads(run["thresholds"])
        result = {
            "run": {k: (str(v) if k in ("started_at", "finished_at") else v) for k, v in run.items()},
            "completeness": completeness(con),
            "completeness_by_subgroup": completeness_by_subgroup(con),
            "blocking": blocking(con, run, encoded),
            "encoded": encoded,
            "match_rates": match_rates(con),
            "sensitivity": sensitivity(con, run["run_id"], thresholds),
            "linked_vs_unlinked": linked_vs_unlinked(con),
            "cluster_sizes": cluster_sizes(con),
            "two_deaths": two_deaths(con),
            "parameters": model_parameters(model_path(ws)) if model_path(ws).exists() else [],
            "thresholds": thresholds,
        }
        if truth_dir is not None:
            result["accuracy"] = accuracy_by_subgroup(con, truth_dir)
            result["recall_between_sources"] = recall_between_sources(con)
        return result
