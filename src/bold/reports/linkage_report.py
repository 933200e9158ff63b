"""The linkage quality report: one HTML file, charts inline, covering docs/design/DOMAIN.md section 9.

It brings together the identifier-side measures (``bold.linkage.quality``, run in the linker's zone)
and the impossible-event checks (``bold.reports.linkage_checks``, run over content and links only).
Both return counts and shares, never a row about a person, so the report can be shared with
governance boards and custodians.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bold import __version__, html
from bold.linkage import quality
from bold.reports import charts
from bold.reports.linkage_checks import impossible_events, match_rates_by_ethnicity
from bold.security.paths import holds, output_path
from bold.security.private import private_dir, write_private
from bold.store import audit

IDENTIFIER_LABELS = {
    "forename": "forename",
    "surname": "surname",
    "initials": "initials",
    "date_of_birth": "date of birth",
    "sex": "sex",
    "postcode": "postcode",
    "postcode_district": "district",
    "nhs_number": "NHS number",
    "pnc_id": "PNC ID",
    "ni_number": "NI number",
    "source_person_id": "own person id",
}


def _charts(m: dict) -> dict[str, str]:
    completeness = [
        {"source": row["source"], "identifier": label, "share": row[col]}
        for row in m["completeness"]
        for col, label in IDENTIFIER_LABELS.items()
    ]
    weights = [
        {"level": f"{p['comparison']}: {p['level']}", "match weight": p["match_weight"]}
        for p in m["parameters"]
        if p["match_weight"] is not None
    ]
    rates = [
        {"group": f"{r['subgroup']}: {r['value']}", "threshold": lv, "share linked": r[lv]}
        for r in m["match_rates"]
        for lv in quality.LEVELS
    ]
    out = {
        "completeness": charts.heatmap(
            completeness, "identifier", "source", "share", "Share of records holding each identifier"
        ),
        "weights": charts.bars(
            weights,
            "level",
            "match weight",
            title="Match weight of each comparison level (log2 m/u): positive is evidence for a match",
            horizontal=True,
        ),
        "rates": charts.bars(
            rates,
            "group",
            "share linked",
            "threshold",
            percent=True,
            horizontal=True,
            title="Records whose person also appears in another source",
        ),
        "sizes": charts.bars(
            m["cluster_sizes"], "size", "people", "threshold", title="People by number of records (20 = 20 or more)"
        ),
    }
    if m.get("accuracy"):
        acc = [
            {"group": f"{a['subgroup']}: {a['value']}", "threshold": a["threshold"], "recall": a["recall"]}
            for a in m["accuracy"]
        ]
        out["accuracy"] = charts.bars(
            acc,
            "group",
            "recall",
            "threshold",
            percent=True,
            horizontal=True,
            title="Recall of true pairs by subgroup (ground truth)",
        )
    return out


def model_charts(model: dict | None) -> dict[str, str]:
    """The match weights and m/u parameters charts as Splink draws them, from the saved model, as inline SVG
    (their zoom and selections do nothing in an SVG, so the hint to use them is left out)."""
    if not model:
        return {}
    import warnings

    from splink.internals.settings_creator import SettingsCreator

    settings = SettingsCreator.from_path_or_dict(model).get_settings("duckdb")
    out = {}
    for name, chart in (
        ("splink_weights", settings.match_weights_chart()),
        ("splink_m_u", settings.m_u_parameters_chart()),
    ):
        with warnings.catch_warnings():  # Altair notes that Splink's two charts share a selection
            warnings.simplefilter("ignore", UserWarning)
            altair_chart = chart.altair_chart
            spec = altair_chart.to_dict()
            if isinstance(spec.get("title"), dict):
                spec["title"].pop("subtitle", None)
            out[name] = charts.svg(type(altair_chart).from_dict(spec))
    return out


def _run_model(ws, measures: dict) -> dict | None:
    """The model that scored the run (kept with it), else the saved one (runs made before runs kept theirs)."""
    import json

    from bold.linkage.run import model_path

    kept = measures["run"].pop("model", None)
    if kept:
        return json.loads(kept)
    return json.loads(model_path(ws).read_text()) if model_path(ws).exists() else None


REPORT_MARKER = b"<title>BOLD linkage quality report"  # in every report this module writes
GROUND_TRUTH = "ground truth (synthetic)"  # what a report run with --truth estimated its recall from


def build(ws, out: Path | None = None, run_id: int | None = None, truth_dir: Path | None = None, *, by: str) -> Path:
    def confined(path: Path) -> Path:  # refused before any work, when the person chose the path
        return output_path(
            path,
            kind="linkage report",
            workspace=ws.root,
            inside="reports",
            suffixes=(".html",),
            written_by_bold=holds(REPORT_MARKER),
        )

    if out is not None:
        confined(out)
    measures = quality.measure(ws, run_id, truth_dir)
    out = confined(out or ws.root / "reports" / f"linkage-run-{measures['run']['run_id']}.html")
    checks = impossible_events(ws, measures["run"]["run_id"])
    ethnicity = match_rates_by_ethnicity(ws, measures["run"]["run_id"])
    page = (
        html.environment("bold.reports")
        .get_template("linkage_report.html")
        .render(
            m=measures,
            checks=checks,
            ethnicity=ethnicity,
            charts=_charts(measures) | model_charts(_run_model(ws, measures)),
            labels=IDENTIFIER_LABELS,
            version=__version__,
            made=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            truth=truth_dir is not None,
        )
    )
    if out.resolve().is_relative_to(ws.root.resolve()):  # in the workspace, owner-only like all else there
        private_dir(out.parent)
        write_private(out, page)
    else:  # a copy to share, where the person chose to put it
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page)
    if truth_dir is not None:  # a gold standard's recall, kept with the run for the studies' correction
        quality.record_recall(ws, measures["run"]["run_id"], measures["recall_between_sources"], GROUND_TRUTH, by=by)
    audit.record(
        ws,
        "linkage report",
        str(out.relative_to(ws.root)) if out.is_relative_to(ws.root) else str(out),
        {"run": measures["run"]["run_id"], "with_truth": truth_dir is not None},
        by=by,
    )
    return out
