"""Why a pair scored what it did: each comparison's level and partial match weight, and the waterfall.

A Fellegi-Sunter match weight is a sum: the prior (log2 of the odds that two random records match) plus, for
each comparison, the log2 Bayes factor of the level the pair reached (and a term-frequency adjustment where the
comparison has one). ``pairs.csv`` and the workspace's ``pairs`` table carry the levels, so a linkage team can
read a decision without re-running anything; ``explain`` re-scores one pair with the model and draws the sum.

Splink returns each comparison's partial weight (``mw_<comparison>``, and ``mw_tf_adj_<comparison>``) but not
its level unless it also keeps every identifier of both records beside each pair, which at scale costs more
memory than the pairs themselves. A level's weight is the literal Splink writes into its SQL
(``cast(<weight> as float8)``), so the level is read back exactly from the weight; two levels of one
comparison with the same weight carry the same evidence, and the first (the stronger) is named.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from splink import DuckDBAPI, Linker
from splink.internals.waterfall_chart import records_to_waterfall_data

from bold.errors import Invalid, Kind
from bold.ingest.rules import q, sql_text


class ExplainError(Invalid):
    """The pair cannot be explained as asked (no such record, no model)."""


def partial_weights_on(linker: Linker) -> Linker:
    """Make ``predict`` return each comparison's partial weight (what ``level_columns`` reads)."""
    linker._settings_obj._retain_intermediate_calculation_columns = True
    return linker


def prior_weight(probability: float) -> float:
    """The starting match weight: log2 of the prior odds that two random records match."""
    return math.log2(probability / (1 - probability))


def _levels(linker: Linker) -> list[tuple[str, list]]:
    return [(c.output_column_name, list(c.comparison_levels)) for c in linker._settings_obj.comparisons]


def _has_tf(linker: Linker, name: str) -> bool:
    return any(c.output_column_name == name and c._has_tf_adjustments for c in linker._settings_obj.comparisons)


def _gamma_case(name: str, levels: list, value) -> str:
    """SQL: for each level (strongest first), when the partial weight is that level's, ``value(level)``."""
    whens = " ".join(
        f"when {q('mw_' + name)} = cast({lv._match_weight} as float8) then {value(lv)}"
        for lv in sorted(levels, key=lambda lv: -lv.comparison_vector_value)
        if not lv.is_null_level
    )
    null = next((lv for lv in levels if lv.is_null_level), None)
    return f"case {whens} else {value(null) if null is not None else 'null'} end"


def level_columns(linker: Linker) -> list[str]:
    """SQL select expressions over a predictions table: ``<comparison>_level`` (the level's label) and
    ``<comparison>_weight`` (its partial weight, with any term-frequency adjustment), comparison by comparison."""
    out = []
    for name, levels in _levels(linker):
        out.append(f"{_gamma_case(name, levels, lambda lv: sql_text(lv.label_for_charts))} as {q(name + '_level')}")
        tf = f" + coalesce({q('mw_tf_adj_' + name)}, 0)" if _has_tf(linker, name) else ""
        out.append(f"{q('mw_' + name)}{tf} as {q(name + '_weight')}")
    return out


def gamma_json(linker: Linker) -> str:
    """SQL: a JSON object of each comparison's level number (Splink's gamma: -1 null, 0 else, higher closer)."""
    parts = ", ".join(
        f"{sql_text(name)}, {_gamma_case(name, levels, lambda lv: str(lv.comparison_vector_value))}"
        for name, levels in _levels(linker)
    )
    return f"json_object({parts})"


def levels_from_gammas(model: dict, gammas: dict) -> dict[str, str]:
    """Level labels for a pair's stored gammas, read from the model that scored it (Splink numbers a
    comparison's levels from the strongest, n - 1, down to 0, the null level -1)."""
    out = {}
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        nulls = [lv for lv in comparison["comparison_levels"] if lv.get("is_null_level")]
        gamma = gammas.get(name)
        if gamma is None:
            continue
        if gamma == -1 and nulls:
            out[name] = nulls[0].get("label_for_charts", "")
        elif 0 <= gamma < len(levels):
            out[name] = levels[len(levels) - 1 - gamma].get("label_for_charts", "")
    return out


@dataclass
class Step:
    """One bar of the waterfall: a comparison's level (or its term-frequency adjustment) and its weight."""

    comparison: str
    level: str
    weight: float
    value_l: str = ""
    value_r: str = ""


@dataclass
class Explanation:
    id_l: str
    id_r: str
    prior: float
    steps: list[Step]
    match_weight: float
    match_probability: float
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


def score(linker: Linker, con, table: str, id_l: str, id_r: str, show_values: bool = True) -> Explanation:
    """Score the pair ``id_l``, ``id_r`` of ``table`` (the full linkage input, so term frequencies are the
    model's) and return its waterfall."""
    found = {
        r[0]
        for r in con.execute(
            f"select unique_id from {table} where unique_id in (?, ?)", [str(id_l), str(id_r)]
        ).fetchall()
    }
    for rid in (id_l, id_r):
        if str(rid) not in found:
            raise ExplainError(f"no record with id {rid!r} in the linkage input", kind=Kind.NOT_FOUND)
    if str(id_l) == str(id_r):
        raise ExplainError("give two different records")
    db = linker._db_api
    for side, rid in (("l", id_l), ("r", id_r)):
        con.execute(
            f"create or replace temp table explain_{side} as select * from {table} where unique_id = ?", [str(rid)]
        )
    scored = linker.inference.score_pair(db.register("explain_l"), db.register("explain_r"))
    record = scored.as_record_list()[0]
    rows = records_to_waterfall_data([record], linker._settings_obj, hide_details=not show_values)
    steps = []
    for row in rows:
        if row["column_name"] in ("Prior", "Final score"):
            continue
        if row["term_frequency_adjustment"] and not row["log2_bayes_factor"]:
            continue  # a level without a term-frequency adjustment: nothing to show
        steps.append(
            Step(
                row["column_name"],
                row["label_for_charts"],
                float(row["log2_bayes_factor"]),
                _shown(row["value_l"]),
                _shown(row["value_r"]),
            )
        )
    return Explanation(
        str(id_l),
        str(id_r),
        prior_weight(linker._settings_obj._probability_two_random_records_match),
        steps,
        float(record["match_weight"]),
        float(record["match_probability"]),
    )


def _shown(value) -> str:
    """A value for the table: Splink joins a comparison's columns with ", " and writes a missing one as None."""
    if value in (None, "None"):
        return ""
    return ", ".join("-" if part == "None" else part for part in str(value).split(", "))[:60]


def linker_for(con, tables: list[str], model: dict | Path) -> Linker:
    """A linker over ``tables`` with a saved model (its term frequencies computed from the tables)."""
    db = DuckDBAPI(con)
    frames = [db.register(t) for t in tables]
    settings = json.loads(Path(model).read_text()) if isinstance(model, Path) else dict(model)
    settings["blocking_rules_to_generate_predictions"] = []  # one pair is scored, never blocked
    try:
        return Linker(frames if len(frames) > 1 else frames[0], settings, log_level=logging.ERROR)
    except Exception as exc:  # Splink raises several types for a file that is not one of its models
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExplainError(f"cannot use the model ({first})") from None


def chart(e: Explanation) -> str:
    """The waterfall as inline SVG: the prior, each comparison's partial weight, then the final weight."""
    import altair as alt
    import pandas as pd

    from bold.reports import charts

    rows, total = [], e.prior
    rows.append({"step": "prior", "start": 0.0, "end": e.prior, "weight": e.prior, "kind": "prior"})
    for s in e.steps:
        label = f"{s.comparison}: {s.level}"
        rows.append(
            {
                "step": label,
                "start": total,
                "end": total + s.weight,
                "weight": s.weight,
                "kind": "for a match" if s.weight >= 0 else "against",
            }
        )
        total += s.weight
    rows.append(
        {"step": "final match weight", "start": 0.0, "end": e.match_weight, "weight": e.match_weight, "kind": "final"}
    )
    data = pd.DataFrame(rows)
    order = list(data["step"])
    colours = alt.Scale(
        domain=["prior", "for a match", "against", "final"], range=["#6b7280", "#15803d", "#b91c1c", "#1d4ed8"]
    )
    base = alt.Chart(
        data,
        title=f"Match weight of {e.id_l} and {e.id_r}: {e.match_weight:.2f} (probability {e.match_probability:.4f})",
    )
    bars = base.mark_bar().encode(
        y=alt.Y("step:N", sort=order, title=None),
        x=alt.X("start:Q", title="match weight (log2 Bayes factor, cumulative)"),
        x2="end:Q",
        color=alt.Color("kind:N", scale=colours, title=None),
    )
    text = base.mark_text(align="left", dx=4, fontSize=10).encode(
        y=alt.Y("step:N", sort=order), x=alt.X("end:Q"), text=alt.Text("weight:Q", format="+.2f")
    )
    return charts.svg((bars + text).properties(width=charts.WIDTH))


def page(e: Explanation, source: str) -> str:
    """A self-contained HTML page: the waterfall and the table of steps."""
    from bold import html

    return (
        html.environment("bold.linkage")
        .get_template("explain.html")
        .render(e=e, chart=chart(e), source=source, total=e.prior + sum(s.weight for s in e.steps))
    )


MARKER = b"<title>BOLD pair explanation"  # in every page this module writes


def _write(e: Explanation, out: Path, source: str) -> Path:
    from bold.security.private import write_private

    out.parent.mkdir(parents=True, exist_ok=True)
    write_private(out, page(e, source))
    e.path = out
    return out


def files_input(folder: Path) -> tuple[Path, Path]:
    """The model and records link-files wrote into ``folder`` (clear errors if it did not)."""
    from bold.linkage.files import OUTPUT_FILES

    folder = Path(folder)
    if not folder.is_dir():
        raise ExplainError(
            f"--pairs-from {folder}: no such folder; give the --out folder of bold link-files", kind=Kind.NOT_FOUND
        )
    for name in ("model.json", "records.parquet"):
        path = folder / name
        if not path.is_file() or not OUTPUT_FILES[name](path):
            raise ExplainError(
                f"--pairs-from {folder}: no {name} written by bold link-files there; run bold link-files again "
                "(records.parquet is written since BOLD 0.3)"
            )
    return folder / "model.json", folder / "records.parquet"


def files_tables(con, model_file: Path, records: Path) -> list[str]:
    """The linkage input of a link-files run as tables: one to deduplicate, or one per file to link."""
    con.execute(f"create or replace table lf_records as select * from read_parquet({sql_text(str(records))})")
    link_type = json.loads(model_file.read_text()).get("link_type")
    if link_type != "link_only":
        return ["lf_records"]
    tables = []
    for i, (ds,) in enumerate(con.execute("select distinct source_dataset from lf_records order by 1").fetchall()):
        con.execute(f"create or replace table lf_input_{i} as select * from lf_records where source_dataset = ?", [ds])
        tables.append(f"lf_input_{i}")
    return tables


def explain_files(folder: Path, id_l: str, id_r: str, out: Path | None = None) -> Explanation:
    """Explain one pair of a ``bold link-files`` run: re-scored with its model over its records."""
    import duckdb

    from bold.security.paths import holds, name_from, output_path

    model_file, records = files_input(folder)
    out = Path(out) if out else Path(folder) / f"explain-{name_from(id_l, 'l')}-{name_from(id_r, 'r')}.html"
    output_path(out, kind="pair explanation", suffixes=(".html",), written_by_bold=holds(MARKER))
    con = duckdb.connect()
    tables = files_tables(con, model_file, records)
    con.execute(f"create or replace view lf_all as {' union all by name '.join(f'select * from {t}' for t in tables)}")
    linker = linker_for(con, tables, model_file)
    e = score(linker, con, "lf_all", id_l, id_r)
    _write(e, out, f"Records from {folder} (bold link-files), scored with its model.json")
    return e


def workspace_model(ws, con) -> tuple[dict, str]:
    """The model of the latest run (stored with it), or the saved model for runs made before that was kept."""
    from bold.linkage.run import LinkageError, model_path

    row = con.execute("select run_id, model from links.runs order by run_id desc limit 1").fetchone()
    if row is None:
        raise LinkageError("no linkage run yet: run bold link first")
    if row[1]:
        return json.loads(row[1]), f"the model of linkage run {row[0]}"
    if not model_path(ws).exists():
        raise ExplainError(
            f"linkage run {row[0]} kept no model and none is saved: run bold link --retrain", kind=Kind.CONFLICT
        )
    note = f"the saved model (linkage run {row[0]} was made before runs kept their model)"
    return json.loads(model_path(ws).read_text()), note


def explain_workspace(ws, key_l: str, key_r: str, out: Path | None = None, *, by: str) -> Explanation:
    """Explain one pair of records of the workspace, from the identifiers zone and the latest run's model.

    The page shows identifiers (never content), so it stays inside the workspace (``linkage/explain/``), owner-only."""
    import uuid

    from bold import store
    from bold.ingest.pipeline import committed_batches
    from bold.linkage import features
    from bold.linkage.run import LinkageError, stored_sources
    from bold.security.paths import confined_output, holds

    for key in (key_l, key_r):
        try:
            uuid.UUID(str(key))
        except ValueError:
            raise ExplainError(f"{key!r} is not a record key (a UUID, as in links.duckdb)") from None
    if not ws.links_path.exists():
        raise LinkageError("no linkage run yet: run bold link first")
    folder = ws.root / "linkage" / "explain"
    out = Path(out) if out else folder / f"explain-{key_l}-{key_r}.html"
    confined_output(
        out,
        kind="pair explanation",
        why="an explanation shows identifiers",
        workspace=ws.root,
        inside="linkage/explain",
        suffixes=(".html",),
        written_by_bold=holds(MARKER),
    )
    committed = committed_batches(ws)
    with ws.identifiers(read_only=True) as con:
        ws.attach(con, "links", read_only=True)
        model, which = workspace_model(ws, con)
        stored = con.execute(
            "select match_weight from links.pairs where run_id = (select max(run_id) from links.runs) and "
            "((record_key_l = ?::uuid and record_key_r = ?::uuid) "
            "or (record_key_l = ?::uuid and record_key_r = ?::uuid))",
            [key_l, key_r, key_r, key_l],
        ).fetchone()
        sources = [s for s in stored_sources(con) if s in committed]
        if not sources:
            raise LinkageError("nothing to explain: no source is ingested")
        encoded = any(features.is_encoded(con, s) for s in sources)
        (features.workspace_input_encoded if encoded else features.workspace_input)(con, sources, committed=committed)
        linker = linker_for(con, ["linkage_input"], model)
        e = score(linker, con, "linkage_input", key_l, key_r, show_values=not encoded)
    e.notes.append(f"Scored with {which}.")
    if stored is None:
        e.notes.append(
            "The latest run kept no pair of these records (they scored below its lowest threshold, or "
            "were never compared: blocking)."
        )
    from bold.security.private import private_dir

    private_dir(folder)
    _write(e, out, "Records of the identifiers zone")
    store.audit.record(ws, "pair explained", f"{key_l} {key_r}", {"match_weight": round(e.match_weight, 4)}, by=by)
    return e
