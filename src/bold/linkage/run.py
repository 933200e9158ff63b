"""``bold link``: link every record in a workspace's identifiers zone into people.

Reads the identifiers zone only (the connection it opens has no other database attached), trains
the model without labels or reuses the saved one, scores candidate pairs, and clusters records into
people at three thresholds kept side by side (high, medium, low), as BOLD's own linked tables do. With
``incremental``, only pairs involving a record new or changed since the last run are scored; the rest keep the
last run's scores (``bold.linkage.incremental``, which also keeps person keys stable across runs).
Results go to ``links.duckdb``: ``record_person`` maps each ``record_key`` to a ``person_key`` per
threshold, ``pairs`` keeps scored pairs, and ``runs`` records each linkage run. Person keys are
random, so nothing about a person can be read from one.

Crash safety (docs/security.md): a run's rows and its ``runs`` row are written in one DuckDB transaction on
``links.duckdb``, so a run killed midway leaves nothing; rows under a run id missing from ``runs`` (left by
older code) are deleted by the next run, in its transaction, and readers take runs from ``runs`` only. The
audit entry follows the commit while ``links.duckdb`` is still held; a run committed but never audited
(killed in between) is audited as ``linkage run recovered`` by the next run. Only the rows of committed
ingest batches are linked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from splink import DuckDBAPI, Linker

from bold import faults, store
from bold.errors import BoldError, Kind
from bold.ingest.pipeline import committed_batches
from bold.linkage import clusters, explain, features, identical, incremental, model
from bold.security.private import private_dir, write_private
from bold.sources import BLOOM_BITS
from bold.workspace import Workspace, now, zone_tables

RECALL_ESTIMATES = """
create table if not exists recall_estimates (
    run_id integer, threshold varchar, source_a varchar, source_b varchar, true_pairs bigint, recall double,
    estimated_from varchar, recorded_at varchar
);"""
LINKS_SCHEMA = (
    """
create table if not exists runs (
    run_id integer primary key, started_at varchar, finished_at varchar, actor varchar, sources varchar[],
    records bigint, comparisons bigint, pairs bigint, seconds double, model_sha256 varchar, thresholds json,
    clusters json
);
create table if not exists record_person (
    run_id integer, record_key uuid, source varchar, person_high uuid, person_medium uuid, person_low uuid
);
create table if not exists person_attributes (
    run_id integer, threshold varchar, person_key uuid, sex varchar, birth_year integer
);
create table if not exists pairs (
    run_id integer, record_key_l uuid, record_key_r uuid, match_weight double, match_probability double
);"""
    + RECALL_ESTIMATES
    + """
alter table runs add column if not exists model json;
alter table pairs add column if not exists levels json;
alter table runs add column if not exists blocking json;
alter table runs add column if not exists mode varchar;
alter table runs add column if not exists based_on integer;
alter table runs add column if not exists batches json;
alter table runs add column if not exists rescored bigint;
alter table runs add column if not exists kept_keys json;
alter table record_person add column if not exists fingerprint varchar;
alter table person_attributes add column if not exists no_fixed_abode boolean;
"""
)
# ``runs.model``: the model that scored the run (older runs: null). ``pairs.levels``: each comparison's level
# number (Splink's gamma) for the pair, read with that model (``explain.levels_from_gammas``; older runs: null).
# ``runs.blocking``: the candidate pairs each blocking rule added (older runs: null).
# ``runs.mode``: full or incremental; ``based_on``: the run whose scores and person keys it built on;
# ``batches``: the ingest batches it linked, per source; ``rescored``: the records new or changed since
# ``based_on``; ``kept_keys``: people per threshold who kept ``based_on``'s key. ``record_person.fingerprint``:
# the keyed hash a later run tells changed records by (all null for older runs). ``person_attributes.
# no_fixed_abode``: any of the person's records gives no fixed abode (null for older runs and encoded runs).
# ``recall_estimates``: per threshold and ordered pair of sources, the share of the first's records linked to the
# person's records in the second, as a linkage report against a gold standard measured it (``quality.record_recall``);
# studies divide by it for their missed-match correction (``bold.studies.uncertainty``).


BACKENDS = ("duckdb", "spark")


class LinkageError(BoldError):
    """The workspace cannot be linked (nothing ingested, a bad model file, ...)."""

    kind = Kind.CONFLICT


@dataclass
class LinkRun:
    run_id: int
    records: int
    comparisons: int
    pairs: int
    seconds: float
    clusters: dict[str, int] = field(default_factory=dict)
    trained: bool = True
    phases: dict[str, float] = field(default_factory=dict)
    encoded: bool = False
    recovered: dict[str, int] = field(default_factory=dict)  # rows of unfinished runs deleted, per table
    scored: int = 0  # records scored: one per group of identical ones (bold.linkage.identical)
    notice: str | None = None  # too few records to train: why the shipped default model was used
    incremental: bool = False
    based_on: int | None = None  # the earlier run whose person keys (and, incremental, scores) it built on
    rescored: int = 0  # incremental: records new or changed since ``based_on``, whose pairs were scored
    kept_keys: dict[str, int] = field(default_factory=dict)  # people per threshold who kept their key


def model_path(ws: Workspace) -> Path:
    return ws.root / "linkage" / "model.json"


def stored_sources(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [source for _, source in zone_tables(con, "identifiers")]


def link_workspace(
    ws: Workspace,
    retrain: bool = False,
    thresholds: dict[str, float] | None = None,
    generic: bool = False,
    progress=lambda phase: None,
    require_encoded: bool = False,
    backend: str = "duckdb",
    incremental_run: bool = False,
    *,
    by: str,
) -> LinkRun:
    """Link the workspace for ``by``; ``generic`` uses the plain Splink baseline (for benchmarks);
    ``incremental_run`` scores only what changed since the last run, with the saved model."""
    if backend not in BACKENDS:
        raise LinkageError(f"unknown backend {backend!r}; use {' or '.join(BACKENDS)}", kind=Kind.INVALID)
    if incremental_run and (retrain or generic):
        raise LinkageError("--incremental reuses the saved model's scores; it cannot be combined with --retrain")
    thresholds = thresholds or model.THRESHOLDS
    started, t0 = now(), time.perf_counter()
    phases: dict[str, float] = {}
    saved = model_path(ws)
    committed = committed_batches(ws)  # rows of an ingest killed before it committed are never linked
    with ws.identifiers(read_only=True) as con, contextlib.ExitStack() as held:
        sources = [s for s in stored_sources(con) if s in committed]
        if not sources:
            raise LinkageError("nothing to link: ingest some sources first (bold ingest)")
        progress("preparing identifiers")
        modes = {features.is_encoded(con, s) for s in sources}
        if len(modes) > 1:
            raise LinkageError(
                "some sources are stored encoded and some in plaintext; link them in separate workspaces"
            )
        encoded = modes.pop()
        if require_encoded and not encoded:
            raise LinkageError("--encoded: the sources are stored in plaintext; ingest files made by bold encode")
        if encoded and generic:
            raise LinkageError("the plain baseline compares plaintext; it cannot run on encoded identifiers")
        if encoded and backend != "duckdb":
            raise LinkageError("encoded identifiers are compared with DuckDB bit functions; use the duckdb backend")
        records = (features.workspace_input_encoded if encoded else features.workspace_input)(
            con, sources, committed=committed
        )
        incremental.fingerprint(con, "linkage_input", incremental.fingerprint_key(ws))
        previous = _previous(ws, con)
        columns = model.present_columns(con, "linkage_input")
        suffix = "_bf" if encoded else ""
        scored = identical.group(con, "linkage_input", "linkage_scored", "linkage_members", suffix)
        rescored = 0
        if incremental_run:
            if previous is None or not saved.exists():
                raise incremental.IncrementalError(
                    "--incremental needs an earlier linkage run and its saved model; run bold link first"
                )
            rescored = incremental.mark_fresh(con, "linkage_fingerprints", "linkage_members", "linkage_scored")
            progress(f"{rescored:,} records new or changed since run {previous.run_id}")
        for table in ("linkage_input", "linkage_scored"):  # trained on every record, scored on the distinct
            model.add_block_sizes(con, table, suffix)
        phases["prepare"] = time.perf_counter() - t0
        handoff = _handoff(backend, ws, con, held)
        db = _backend(backend, con, handoff)
        trained = retrain or generic or not saved.exists()
        bits = 2 * BLOOM_BITS if encoded else None
        notice = None
        t = time.perf_counter()
        if trained:
            progress("training the model (u by sampling, m by EM)")
            settings = model.settings(columns, generic=generic, encoded_bits=bits, dialect=backend)
            try:  # too few pairs to train: the default model (plaintext only; it has no encoded comparisons)
                linker, notice = model.train_or_default(
                    db, ["linkage_input"], settings, columns, fallback=not (encoded or generic),
                    suffix=suffix,
                )  # fmt: skip
            except model.TooFewPairs as exc:
                raise LinkageError(f"{exc}; ingest more records (no default model for this mode)") from None
        else:
            progress("loading the saved model")
            try:
                trained_json = json.loads(saved.read_text())
                today = model.settings(columns, encoded_bits=bits, dialect=backend).create_settings_dict(backend)
                if backend != "duckdb":  # the same parameters, with the comparisons written for the other engine
                    trained_json = model.with_parameters(today, trained_json)
                # the parameters are the model's; which pairs to score is today's rules' on today's records
                trained_json["blocking_rules_to_generate_predictions"] = today["blocking_rules_to_generate_predictions"]
                linker = Linker(db.register("linkage_input"), trained_json, log_level=logging.ERROR)
            except Exception as exc:  # Splink raises several types for a bad or stale model file
                raise LinkageError(f"{saved}: cannot use the saved model ({exc}); run with --retrain") from None
        rules = linker.misc.save_model_to_json()["blocking_rules_to_generate_predictions"]
        if incremental_run:
            incremental.check_reusable(previous, thresholds, linker.misc.save_model_to_json())
        fresh_rules = incremental.fresh_only(rules) if incremental_run else None
        linker = model.rescope(linker, _backend(backend, con, handoff), "linkage_scored", fresh_rules)
        phases["train"] = time.perf_counter() - t
        t = time.perf_counter()
        progress("blocking: finding candidate pairs")
        blocked = linker.inference.compute_blocked_pairs_for_predict()
        comparisons = _count(con, blocked)
        by_rule = _count_by_rule(con, blocked, [r["blocking_rule"] for r in rules])
        progress(f"scoring {comparisons:,} candidate pairs among {scored:,} distinct records")
        explain.partial_weights_on(linker)
        predictions = linker.inference.predict(threshold_match_probability=min(thresholds.values()))
        phases["predict"] = time.perf_counter() - t
        t = time.perf_counter()
        progress("clustering into people")
        scored_pairs = _local(con, predictions, "predictions", handoff)
        _pairs_with_levels(con, scored_pairs, explain.gamma_json(linker), "link_pairs")
        if incremental_run:
            _add_reused_pairs(ws, con, previous.run_id, "link_pairs")
        level_tables = clusters.cluster(con, "linkage_scored", "link_pairs", thresholds)
        for table in level_tables.values():
            identical.expand_clusters(con, table, "linkage_members")
        identical.expand_pairs(con, "link_pairs", "linkage_members", "record_pairs")
        pairs_table = "record_pairs"
        phases["cluster"] = time.perf_counter() - t
        t = time.perf_counter()
        progress("writing links")
        trained_model = linker.misc.save_model_to_json()
        trained_model["blocking_rules_to_generate_predictions"] = rules  # the model's rules, not this run's filter
        if trained and not generic and not notice:  # written as Splink writes it, but owner-only; never the default
            private_dir(saved.parent)
            write_private(saved, json.dumps(trained_model, indent=4))
        model_json = json.dumps(trained_model, sort_keys=True)
        result = _write_links(
            ws,
            con,
            pairs_table,
            level_tables,
            by_rule,
            sources,
            records,
            comparisons,
            started,
            t0,
            model_json,
            thresholds,
            by,
            about={
                "mode": "incremental" if incremental_run else "full",
                "based_on": previous.run_id if previous else None,
                "batches": {s: committed[s] for s in sources},
                "rescored": rescored if incremental_run else records,
            },
        )
        phases["write"] = time.perf_counter() - t
        result.incremental = incremental_run
        result.based_on = previous.run_id if previous else None
        result.rescored = rescored if incremental_run else records
        result.trained = trained
        result.scored = scored
        result.phases = phases
        result.encoded = encoded
        result.notice = notice
        faults.point("link:after-commit")
        # Audited while links.duckdb is still attached (so held): no other run can take this one for unaudited.
        store.audit.record(
            ws,
            "linkage run",
            f"run {result.run_id}",
            {
                "records": result.records,
                "scored_records": scored,
                "candidate_pairs": result.comparisons,
                "pairs": result.pairs,
                "clusters": result.clusters,
                "trained": trained and not notice,
                **({"model": "default (too few records to train)"} if notice else {}),
                "encoded": encoded,
                "backend": backend,
                "baseline": generic,
                "mode": "incremental" if incremental_run else "full",
                **({"based_on": result.based_on, "kept_keys": result.kept_keys} if previous else {}),
                **({"rescored_records": rescored} if incremental_run else {}),
                **({"recovered": result.recovered} if result.recovered else {}),
            },
            by=by,
        )
    return result


def _previous(ws: Workspace, con) -> incremental.Previous | None:
    """The last run (its people copied into ``previous_people``), read from a read-only attach of the links
    that is detached again: the run writes them only at its end."""
    if not ws.links_path.exists():
        return None
    ws.attach(con, "links", read_only=True)
    try:
        return incremental.previous_run(con)
    finally:
        con.execute("detach links")


def _pairs_with_levels(con, predictions: str, levels_sql: str, out: str) -> None:
    """``out``: the scored pairs (lower id on the left) with each comparison's level as JSON, and nothing
    else of Splink's many columns: what clustering needs and ``links.pairs`` keeps."""
    con.execute(
        f"""create or replace temp table {out} as
            select least(unique_id_l, unique_id_r) as unique_id_l, greatest(unique_id_l, unique_id_r) as unique_id_r,
                   match_weight, match_probability, {levels_sql} as levels
            from {predictions}"""
    )


def _add_reused_pairs(ws: Workspace, con, run_id: int, pairs: str) -> None:
    """Add to ``pairs`` the last run's scores of pairs between unchanged records (not scored again)."""
    ws.attach(con, "links", read_only=True)
    try:
        incremental.reused_pairs(con, run_id, "linkage_members")
    finally:
        con.execute("detach links")
    con.execute(
        f"""create or replace temp table {pairs} as
            select * from {pairs}
            union all (select * from reused_pairs anti join {pairs} using (unique_id_l, unique_id_r))"""
    )


def _handoff(backend: str, ws: Workspace, con, held: contextlib.ExitStack):
    """For Spark: a session, and the linkage tables handed to it as encrypted files, removed when the run
    ends (``held``)."""
    if backend == "duckdb":
        return None
    from bold.spark import SparkUnavailable, session
    from bold.spark.sealed import Handoff

    try:
        spark = session(ws.tmp_dir)
    except SparkUnavailable as exc:
        raise LinkageError(str(exc)) from None
    handoff = held.enter_context(Handoff(spark, ws.tmp_dir))
    for table in ("linkage_input", "linkage_scored"):
        handoff.to_spark(con, table, table)
    return handoff


def _backend(backend: str, con, handoff=None):
    """The Splink database API for a backend (for Spark, the session of ``handoff``)."""
    if backend == "duckdb":
        return DuckDBAPI(con)
    from splink import SparkAPI

    return SparkAPI(spark_session=handoff.spark)


def _count(con, frame) -> int:
    if isinstance(frame.db_api, DuckDBAPI):
        return con.execute(f"select count(*) from {frame.physical_name}").fetchone()[0]
    return frame.db_api.spark.table(frame.physical_name).count()


def _count_by_rule(con, blocked, rules: list[str]) -> list[dict]:
    """The candidate pairs each prediction blocking rule added (a pair counts for the first rule it passes,
    Splink's ``match_key``), so the quality report need not block again to say where pairs come from. ``rules``
    are the model's (an incremental run's filter on fresh records is not part of them)."""
    sql = f"select match_key::integer as k, count(*) as n from {blocked.physical_name} group by 1"
    if isinstance(blocked.db_api, DuckDBAPI):
        counts = dict(con.execute(sql).fetchall())
    else:
        counts = {row["k"]: row["n"] for row in blocked.db_api.spark.sql(sql).collect()}
    return [{"rule": rule, "added": counts.get(i, 0)} for i, rule in enumerate(rules)]


def _local(con, frame, name: str, handoff) -> str:
    """A Splink result as a DuckDB table name (from Spark, through an encrypted file)."""
    if isinstance(frame.db_api, DuckDBAPI):
        return frame.physical_name
    handoff.to_duckdb(con, frame.physical_name, name)
    return name


def _write_person_attributes(con, run_id: int, levels: list[str]) -> None:
    """Each person's sex and year of birth (the most common among their records) and whether any record gives no
    fixed abode, for studies' breakdowns and adjustment.

    Studies never see identifiers, so the linker, who does, derives these coarse attributes once per person
    and threshold; a project extract carries them only if its agreement asks. Encoded identifiers hold no
    readable sex or date of birth, so in that mode the attributes are empty."""
    cols = {c for (c,) in con.execute("select column_name from (describe linkage_input)").fetchall()}
    sex = "mode(i.sex)" if "sex" in cols else "null::varchar"
    year = "mode(year(i.date_of_birth))" if "date_of_birth" in cols else "null::integer"
    nfa = "bool_or(i.no_fixed_abode)" if "no_fixed_abode" in cols else "null::boolean"
    for level in levels:
        con.execute(
            f"""insert into links.person_attributes (run_id, threshold, person_key, sex, birth_year, no_fixed_abode)
                select {run_id}, '{level}', r.person_{level}, {sex}, {year}, {nfa}
                from linkage_input i join links.record_person r
                  on r.record_key = i.unique_id::uuid and r.run_id = {run_id}
                group by r.person_{level}"""
        )


def runs(ws: Workspace, limit: int = 20) -> list[RunSummary]:
    """The latest linkage runs, newest first (none before the first run)."""
    if not ws.links_path.exists():
        return []
    with ws.links(read_only=True) as con:
        rows = con.execute(f"{_summary_sql(con)} order by run_id desc limit ?", [int(limit)]).fetchall()
    return [_summary(r) for r in rows]


LINK_TABLES = ("record_person", "pairs", "person_attributes")


def _recover(ws: Workspace, con, by: str) -> dict[str, int]:
    """Audit runs committed but never audited; delete rows of runs never committed (in the open transaction)."""
    with store.connect(ws) as db:
        audited = {
            r[0]
            for r in db.execute("select object from audit where action in ('linkage run', 'linkage run recovered')")
        }
    for row in con.execute(
        "select run_id, finished_at, actor, records, pairs, clusters from links.runs order by run_id"
    ).fetchall():
        if f"run {row[0]}" not in audited:
            details = {"finished_at": row[1], "actor": row[2], "records": row[3], "pairs": row[4]}
            details["clusters"] = json.loads(row[5])
            store.audit.record(ws, "linkage run recovered", f"run {row[0]}", details, by=by)
    removed = {}
    for table in LINK_TABLES:
        orphan = f"from links.{table} where run_id not in (select run_id from links.runs)"
        n = con.execute(f"select count(*) {orphan}").fetchone()[0]
        if n:
            con.execute(f"delete {orphan}")
            removed[table] = n
    return removed


def _write_links(
    ws,
    con,
    pairs_table,
    level_tables,
    by_rule,
    sources,
    records,
    comparisons,
    started,
    t0,
    model_json,
    thresholds,
    by,
    about: dict,
) -> LinkRun:
    """Write the run in one transaction on links.duckdb, its ``runs`` row last; leaves links attached."""
    ws.attach(con, "links")
    con.execute(
        LINKS_SCHEMA.replace("create table if not exists ", "create table if not exists links.").replace(
            "alter table ", "alter table links."
        )
    )
    # one person key per cluster and level, the last run's where it names the same person (temp tables, made
    # before the links transaction)
    joins, selects, kept = [], [], {}
    for level, table in level_tables.items():
        kept[level] = incremental.stable_keys(con, table, level, f"keys_{level}")
        joins.append(
            f"join {table} c_{level} on c_{level}.unique_id = i.unique_id "
            f"join keys_{level} k_{level} on k_{level}.cluster_id = c_{level}.cluster_id"
        )
        selects.append(f"k_{level}.person_key as person_{level}")
    pairs = con.execute(f"select count(*) from {pairs_table}").fetchone()[0]
    clusters = {
        level: con.execute(f"select count(distinct cluster_id) from {table}").fetchone()[0]
        for level, table in level_tables.items()
    }
    con.execute("begin transaction")
    try:
        recovered = _recover(ws, con, by)
        run_id = con.execute("select coalesce(max(run_id), 0) + 1 from links.runs").fetchone()[0]
        con.execute(
            "insert into links.record_person (run_id, record_key, source, person_high, person_medium, person_low, "
            f"fingerprint) select {run_id}, i.unique_id::uuid, i.source_dataset, {', '.join(selects)}, f.fingerprint "
            f"from linkage_input i {' '.join(joins)} join linkage_fingerprints f on f.unique_id = i.unique_id"
        )
        faults.point("link:after-record-person")
        con.execute(
            "insert into links.pairs (run_id, record_key_l, record_key_r, match_weight, match_probability, levels) "
            f"select {run_id}, unique_id_l::uuid, unique_id_r::uuid, match_weight, match_probability, levels "
            f"from {pairs_table}"
        )
        _write_person_attributes(con, run_id, list(level_tables))
        seconds = time.perf_counter() - t0
        con.execute(
            "insert into links.runs (run_id, started_at, finished_at, actor, sources, records, comparisons, pairs, "
            "seconds, model_sha256, thresholds, clusters, model, blocking, mode, based_on, batches, rescored, "
            "kept_keys) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                started,
                now(),
                by,
                sources,
                records,
                comparisons,
                pairs,
                seconds,
                hashlib.sha256(model_json.encode()).hexdigest(),
                json.dumps(thresholds),
                json.dumps(clusters),
                model_json,
                json.dumps(by_rule),
                about["mode"],
                about["based_on"],
                json.dumps(about["batches"]),
                about["rescored"],
                json.dumps(kept),
            ],
        )
        faults.point("link:before-commit")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return LinkRun(run_id, records, comparisons, pairs, seconds, clusters, recovered=recovered, kept_keys=kept)


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    finished_at: str
    records: int
    clusters: dict[str, int]
    mode: str = "full"
    based_on: int | None = None
    rescored: int | None = None  # records whose pairs were scored (None: a run before BOLD counted them)


def _summary_sql(con) -> str:
    """The runs' summary columns (null where a ``links.duckdb`` made by older BOLD lacks one: readers do not
    migrate the file, the next run does)."""
    have = {c for (c,) in con.execute("select column_name from (describe links.runs)").fetchall()}
    extra = [c if c in have else "null" for c in ("mode", "based_on", "rescored")]
    return f"select run_id, finished_at, records, clusters, {', '.join(extra)} from links.runs"


def _summary(row) -> RunSummary:
    return RunSummary(row[0], row[1], row[2], json.loads(row[3]), row[4] or "full", row[5], row[6])


def latest_run(ws: Workspace) -> RunSummary | None:
    """The latest linkage run, or None before the first."""
    if not ws.links_path.exists():
        return None
    with ws.links(read_only=True) as con:
        found = con.execute(f"{_summary_sql(con)} order by run_id desc limit 1").fetchone()
    return _summary(found) if found else None


LINK_TABLES = ("record_person", "pairs", "person_attributes")


def _forget_sql(con, record_keys: list) -> None:
    """Temp tables of the records to forget and of every person (run, threshold, person key) they belonged to."""
    con.execute("create or replace temp table forget as select unnest(?::uuid[]) as record_key", [record_keys])
    people = " union ".join(
        f"select run_id, '{level}' as threshold, person_{level} as person_key from links.record_person "
        "where record_key in (select record_key from forget)"
        for level in model.THRESHOLDS
    )
    con.execute(f"create or replace temp table forget_people as {people}")


_WHERE = {
    "record_person": "record_key in (select record_key from forget)",
    "pairs": "record_key_l in (select record_key from forget) or record_key_r in (select record_key from forget)",
    "person_attributes": "exists (select 1 from forget_people f where f.run_id = a.run_id "
    "and f.threshold = a.threshold and f.person_key = a.person_key)",
}


def link_rows(ws: Workspace, record_keys: list) -> dict[str, int]:
    """Rows of ``links.duckdb`` (every run) that :func:`forget_records` would delete for these records."""
    if not record_keys or not ws.links_path.exists():
        return dict.fromkeys(LINK_TABLES, 0)
    with ws.duckdb_connection() as con:
        ws.attach(con, "links", read_only=True)
        _forget_sql(con, record_keys)
        count = "select count(*) from links.{} a where {}"
        return {t: con.execute(count.format(t, _WHERE[t])).fetchone()[0] for t in LINK_TABLES}


def forget_records(ws: Workspace, record_keys: list) -> dict[str, int]:
    """Delete records from the links of every run: their person mappings, their scored pairs, and the attributes
    (sex, year of birth) of every person they belonged to, which were derived partly from them; rows deleted.

    A person who keeps other records has no attributes until the next ``bold link`` derives them again from
    what remains, erring on the side of the opt-out."""
    if not record_keys or not ws.links_path.exists():
        return dict.fromkeys(LINK_TABLES, 0)
    with ws.duckdb_connection() as con:
        ws.attach(con, "links")
        _forget_sql(con, record_keys)
        deleted = {}
        for table in ("person_attributes", "pairs", "record_person"):  # record_person last: it names the people
            deleted[table] = con.execute(f"delete from links.{table} a where {_WHERE[table]}").fetchone()[0]
        con.execute("checkpoint links")
    return {t: deleted[t] for t in LINK_TABLES}
