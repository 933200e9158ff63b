"""``bold link``, ``bold link report``, ``bold link-files`` and ``bold encode``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli.common import JsonOption, WorkspaceOption, console, counted, phases, print_json, shown, signed_in

link_app = typer.Typer(
    help="Link records into people from the identifiers zone; report on the linkage's quality.",
    invoke_without_command=True,
)


@link_app.callback()
def link(
    ctx: typer.Context,
    workspace: WorkspaceOption = Path("."),
    retrain: Annotated[bool, typer.Option(help="Train a new model even if one is saved.")] = False,
    encoded: Annotated[
        bool, typer.Option(help="Require the privacy-preserving mode: every source stored as Bloom-filter encodings.")
    ] = False,
    backend: Annotated[str, typer.Option(help="duckdb, or spark (local mode; needs Java and PySpark).")] = "duckdb",
    incremental: Annotated[
        bool,
        typer.Option(
            help="Score only records new or changed since the last run, with the saved model; "
            "keep the last run's scores for the rest."
        ),
    ] = False,
    as_json: JsonOption = False,
):
    """Link every record in the identifiers zone into people (never opens the content zone)."""
    if ctx.invoked_subcommand is not None:
        return
    from bold.actions.linkage import link as link_workspace

    ws, user = signed_in(workspace)
    with phases() as phase:
        run = link_workspace(
            ws, user, retrain=retrain, encoded=encoded, backend=backend, incremental=incremental, progress=phase
        )
    if as_json:
        print_json(run)
        return
    mode = "encoded identifiers" if run.encoded else "plaintext identifiers"
    if run.notice:
        console.print(f"[yellow]notice:[/] {run.notice}")
    console.print(
        f"Linkage run {run.run_id} on {mode} ({backend}): {run.records:,} records ({run.scored:,} distinct), "
        f"{run.comparisons:,} candidate pairs scored, {run.pairs:,} record pairs kept, in {run.seconds:.0f} s "
        f"({'default' if run.notice else 'trained' if run.trained else 'saved'} model)"
    )
    console.print("People at each threshold: " + ", ".join(f"{k} {v:,}" for k, v in run.clusters.items()))
    if run.incremental:
        console.print(f"Incremental on run {run.based_on}: {run.rescored:,} records new or changed were scored")
    if run.based_on:
        console.print(
            f"People who kept their key from run {run.based_on}: "
            + ", ".join(f"{k} {v:,}" for k, v in run.kept_keys.items())
        )


@link_app.command("runs")
def link_runs(
    workspace: WorkspaceOption = Path("."),
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
    as_json: JsonOption = False,
):
    """The latest linkage runs: when, records, what was scored (all, or only what changed since which run) and
    the people found at each threshold."""
    from bold.actions.linkage import runs
    from bold.cli.common import table

    ws, user = signed_in(workspace)
    found = runs(ws, user, limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("No linkage run yet: run bold link")
        return
    rows = [
        [
            r.run_id,
            r.finished_at[:16].replace("T", " "),
            f"{r.records:,}",
            f"{r.rescored:,} new or changed (on run {r.based_on})" if r.mode == "incremental" else "all",
            ", ".join(f"{k} {v:,}" for k, v in r.clusters.items()),
        ]
        for r in found
    ]
    console.print(table(["run", "finished", "records", "scored", "people (high, medium, low)"], rows, ids=["run"]))


@link_app.command("report")
def link_report(
    workspace: WorkspaceOption = Path("."),
    run: Annotated[int | None, typer.Option(help="The linkage run (default: the latest).")] = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Synthetic data only: a truth/ folder, to add precision, recall and F1 by subgroup."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="The HTML file (default: reports/linkage-run-N.html).")
    ] = None,
):
    """Write the linkage quality report (HTML with charts): completeness, blocking, parameters,
    thresholds, match rates by subgroup, impossible events, cluster sizes, and accuracy where truth exists."""
    from bold.actions.linkage import report

    ws, user = signed_in(workspace)
    with phases("measuring linkage quality"):
        path = report(ws, user, run=run, truth=truth, out=out)
    console.print(f"Linkage quality report written to {shown(path)}")


PairsFrom = Annotated[
    Path | None,
    typer.Option("--pairs-from", help="The --out folder of bold link-files (instead of a workspace's latest run)."),
]


def _explained(e) -> None:
    from bold.cli.common import table

    rows = [("prior", "starting match weight", "", "", f"{e.prior:+.2f}", f"{e.prior:.2f}")]
    total = e.prior
    for s in e.steps:
        total += s.weight
        rows.append((s.comparison, s.level, s.value_l, s.value_r, f"{s.weight:+.2f}", f"{total:.2f}"))
    rows.append(("final", "match weight", "", "", "", f"{e.match_weight:.2f}"))
    console.print(table(["comparison", "level", "left", "right", "weight", "total"], rows))
    console.print(f"Match weight {e.match_weight:.2f}, match probability {e.match_probability:.6f}")
    for note in e.notes:
        console.print(shown(note))
    console.print(f"Waterfall chart written to {shown(e.path)}")


@link_app.command("explain")
def link_explain(
    id_l: Annotated[str, typer.Argument(help="One record: its id (link-files) or record key (workspace).")],
    id_r: Annotated[str, typer.Argument(help="The other record.")],
    pairs_from: PairsFrom = None,
    workspace: WorkspaceOption = Path("."),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The HTML file for the waterfall chart.")] = None,
):
    """Why a pair scored what it did: a waterfall of its match weight (prior, each comparison's partial
    weight and level, the final weight and probability), as a table here and an HTML chart."""
    from bold.actions import linkage as actions

    if pairs_from is not None:
        with phases("scoring the pair"):
            e = actions.explain_files(pairs_from, id_l, id_r, out=out)
    else:
        ws, user = signed_in(workspace)
        with phases("scoring the pair"):
            e = actions.explain(ws, user, id_l, id_r, out=out)
    _explained(e)


def _estimated(r) -> None:
    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}%"

    def ci(c):
        return "" if c is None else f" (95% CI {100 * c[0]:.1f}% to {100 * c[1]:.1f}%)"

    console.print(
        f"{r.labelled:,} pairs labelled ({r.unsure:,} unsure, left out), weighted by each band's sampling rate"
    )
    console.print(
        f"At match probability {r.threshold}: precision {pct(r.precision)}{ci(r.precision_ci)}, "
        f"recall {pct(r.recall)}{ci(r.recall_ci)}, F1 {pct(r.f1)}"
    )
    if r.best_threshold is not None:
        console.print(f"The labels imply a threshold of {r.best_threshold} (highest estimated F1, {pct(r.best_f1)})")


@link_app.command("review")
def link_review(
    pairs_from: PairsFrom = None,
    workspace: WorkspaceOption = Path("."),
    labels: Annotated[
        Path | None, typer.Option(help="A review file with its label column filled in: report precision and recall.")
    ] = None,
    size: Annotated[int, typer.Option(help="Pairs to sample, spread over the probability bands.")] = 100,
    low: Annotated[float, typer.Option(help="Lowest match probability sampled.")] = 0.3,
    high: Annotated[float, typer.Option(help="Highest match probability sampled.")] = 0.99,
    seed: Annotated[int, typer.Option(help="Seed of the sample (the same seed draws the same pairs).")] = 1,
    threshold: Annotated[float, typer.Option(help="With --labels: the match probability to measure at.")] = 0.9,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The review CSV file.")] = None,
):
    """Sample pairs around the threshold, both records side by side, for people to label (match, non-match,
    blank if unsure); with --labels, read the labels back into precision, recall and the threshold they imply."""
    from bold.actions import linkage as actions

    if pairs_from is None:
        ws, user = signed_in(workspace)
    if labels is not None:
        with phases("reading labels"):
            if pairs_from is not None:
                result = actions.review_files_labels(pairs_from, labels, threshold=threshold)
            else:
                result = actions.review_labels(ws, user, labels, threshold=threshold)
        _estimated(result)
        return
    with phases("sampling pairs"):
        if pairs_from is not None:
            sample = actions.review_files_sample(pairs_from, out=out, size=size, low=low, high=high, seed=seed)
        else:
            sample = actions.review_sample(ws, user, out=out, size=size, low=low, high=high, seed=seed)
    bands = ", ".join(f"{b['band']}: {b['sampled']} of {b['pairs']:,}" for b in sample.bands)
    console.print(f"{sample.pairs:,} pairs sampled for review ({bands or 'no pairs in the range'})")
    console.print(
        f"Wrote {shown(sample.path)}: fill in its label column (match, non-match, or blank if unsure), "
        "then run bold link review --labels FILE"
    )


def link_files(
    files: Annotated[list[Path], typer.Argument(help="One file to deduplicate, or two to link (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for pairs.csv, clusters.csv and model.json.")],
    id_column: Annotated[
        str | None, typer.Option("--id", help="The column that identifies each record (in both files).")
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="ROLE=COLUMN for both files, repeatable (e.g. forename=given_name). Default: columns named after "
            "roles.",
        ),
    ] = None,
    date_format: Annotated[str, typer.Option(help="Format of date_of_birth, e.g. %Y%m%d.")] = "%Y-%m-%d",
    id_a: Annotated[str | None, typer.Option("--id-a", help="The id column of the first file.")] = None,
    id_b: Annotated[str | None, typer.Option("--id-b", help="The id column of the second file.")] = None,
    maps_a: Annotated[
        list[str] | None, typer.Option("--map-a", help="ROLE=COLUMN for the first file only, repeatable.")
    ] = None,
    maps_b: Annotated[
        list[str] | None, typer.Option("--map-b", help="ROLE=COLUMN for the second file only, repeatable.")
    ] = None,
    date_format_a: Annotated[
        str | None, typer.Option("--date-format-a", help="Format of date_of_birth in the first file.")
    ] = None,
    date_format_b: Annotated[
        str | None, typer.Option("--date-format-b", help="Format of date_of_birth in the second file.")
    ] = None,
    mapping_a: Annotated[
        Path | None,
        typer.Option("--mapping-a", help="YAML for the first file: id:, date_format: and columns: {ROLE: COLUMN}."),
    ] = None,
    mapping_b: Annotated[Path | None, typer.Option("--mapping-b", help="The same for the second file.")] = None,
    threshold: Annotated[float, typer.Option(help="Match probability at which records join a cluster.")] = 0.9,
    pairs_threshold: Annotated[float, typer.Option(help="Lowest match probability written to pairs.csv.")] = 0.5,
    model_file: Annotated[
        Path | None,
        typer.Option(
            "--model", help="A model.json (from link-files or a workspace's linkage/) to use instead of training."
        ),
    ] = None,
):
    """Link two files, or deduplicate one, with the same model as workspace linkage.

    Options ending -a or -b apply to one file and override the shared --id, --map and --date-format. With too
    few records to train, the shipped default model is used and said (exit status 0); see docs/linkage.md."""
    from bold.actions.linkage import link_files as link

    with phases() as phase:
        result = link(
            files,
            id_column,
            out,
            maps=maps,
            date_format=date_format,
            threshold=threshold,
            pairs_threshold=pairs_threshold,
            model=model_file,
            progress=phase,
            id_a=id_a,
            id_b=id_b,
            maps_a=maps_a,
            maps_b=maps_b,
            date_format_a=date_format_a,
            date_format_b=date_format_b,
            mapping_a=mapping_a,
            mapping_b=mapping_b,
        )
    if result.notice:
        console.print(f"[yellow]notice:[/] {result.notice}")
    console.print(
        f"{counted(result.records, 'record')}; {counted(result.pairs, 'pair')} with match probability >= "
        f"{pairs_threshold}; {counted(result.clusters, 'cluster')} at {threshold}"
    )
    console.print(f"Wrote {shown(out)}/pairs.csv, {shown(out)}/clusters.csv and {shown(out)}/model.json")


def encode(
    file: Annotated[Path, typer.Argument(help="The custodian's file: CSV, gzipped CSV or Parquet.")],
    source: Annotated[str, typer.Option("--source", "-s", help="Source type (its contract), e.g. prison.")],
    secret: Annotated[Path, typer.Option(help="The secret shared by custodians (never by the linker).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The encoded file (.csv or .parquet).")],
    new_secret: Annotated[bool, typer.Option(help="Create the secret file first (mode 0600).")] = False,
    mapping: Annotated[Path | None, typer.Option(help="YAML mapping of your column names to the contract's.")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of a CSV file.")] = "utf-8",
):
    """Custodians: turn identifiers into keyed, balanced Bloom-filter encodings before sending a file."""
    from bold.actions.linkage import encode as encode_file

    with phases("encoding identifiers"):
        result = encode_file(file, source, secret, out, new_secret=new_secret, mapping=mapping, text_encoding=encoding)
    console.print(f"Encoded {result['encoded']:,} rows into {shown(out)}: {', '.join(result['fields'])}")
    if result["with_identifier_issues"]:
        console.print(
            f"  {result['with_identifier_issues']:,} rows have identifier problems; ingest will quarantine "
            "them with the reasons"
        )
    if result["unreadable"]:
        rows = ", ".join(str(r) for r in result["unreadable"][:10])
        console.print(
            f"  [yellow]warning:[/] {len(result['unreadable']):,} rows could not be read and were not "
            f"encoded (rows {rows}{', ...' if len(result['unreadable']) > 10 else ''}); fix and re-send them"
        )


def register(app: typer.Typer) -> None:
    app.command("link-files")(link_files)
    app.add_typer(link_app, name="link")
    app.command()(encode)
