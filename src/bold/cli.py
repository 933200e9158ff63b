"""The ``bold`` command line: one command or sub-command group per stage, no logic of its own."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bold import __version__

app = typer.Typer(
    help="BOLD: link records about people with complex needs safely, and let out only checked statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@contextmanager
def phases(first: str = "starting"):
    """A spinner whose label follows the phases of a long job; yields the function to name a phase."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(first, total=None)
        yield lambda phase: bar.update(task, description=phase)


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD") from None


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}"


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False):
    if version:
        console.print(__version__)
        raise typer.Exit()


@app.command()
def synth(
    people: Annotated[int, typer.Option("--people", "-n", help="Number of people in the population.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the extracts and truth/.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 1,
    start: Annotated[str, typer.Option(help="First day of the period (YYYY-MM-DD).")] = "2018-01-01",
    end: Annotated[str, typer.Option(help="Last day of the period (YYYY-MM-DD).")] = "2024-12-31",
    pilot_start: Annotated[
        str | None,
        typer.Option(help="Day the continuity-of-care pilot starts in pilot areas (default: 40% into the period)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or both.")] = "both",
    corruption: Annotated[
        Path | None,
        typer.Option(help="YAML file of identifier corruption rates per source, merged over the defaults."),
    ] = None,
):
    """Generate a synthetic multi-agency population: seven source extracts plus ground truth in truth/."""
    from bold.synth.config import SynthConfig, load_corruption_overrides
    from bold.synth.generate import FORMATS, generate

    formats = FORMATS if fmt == "both" else (fmt,)
    if not set(formats) <= set(FORMATS):
        raise fail(f"--format {fmt!r} is not one of csv, parquet, both")
    settings = {"people": people, "seed": seed, "start": _date(start, "--start"), "end": _date(end, "--end")}
    if pilot_start:
        settings["pilot_start"] = _date(pilot_start, "--pilot-start")
    try:
        if corruption:
            settings["corruption"] = load_corruption_overrides(corruption)
        cfg = SynthConfig(**settings)
    except ValidationError as exc:
        raise fail(_one_line(exc)) from None
    except ValueError as exc:
        raise fail(str(exc)) from None

    columns = (TextColumn("[bold]simulating people"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("people", total=cfg.people)
        try:
            figures = generate(cfg, out, formats, progress=lambda n: bar.advance(task, n))
        except ValueError as exc:
            raise fail(str(exc)) from None
    _print_synth_summary(figures, out)


def _print_synth_summary(f: dict, out: Path) -> None:
    console.print(f"[bold]Synthetic population: {f['people']:,} people")
    table = Table()
    table.add_column("source")
    table.add_column("records", justify="right")
    for source, n in f["records"].items():
        table.add_row(source, f"{n:,}")
    table.add_row("[bold]all sources", f"[bold]{sum(f['records'].values()):,}")
    console.print(table)
    coc = f["continuity_of_care_21_days"]
    console.print(
        f"Releases from prison: {f['releases']:,}, of which {f['releases_with_substance_need']:,} "
        "with a substance misuse need"
    )
    console.print(
        f"True continuity of care (treatment within 21 days of release): [bold]{coc:.1%}[/]"
        if coc is not None
        else "True continuity of care: no releases"
    )
    rate = f["deaths_within_14_days_per_1000_person_years"]
    console.print(
        f"Deaths within 14 days of release: [bold]{f['deaths_within_14_days_of_release']:,}[/]"
        + (f" ({rate:.1f} per 1,000 person-years)" if rate is not None else "")
    )
    console.print(f"Extracts in {out}/, ground truth in {out}/truth/ (never ingest it).")


# --- workspace and ingest ---------------------------------------------------------------------------

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="BOLD_WORKSPACE", help="The workspace folder (or set BOLD_WORKSPACE)."),
]


def _new_password(variable: str, name: str) -> str:
    """A new person's password: from ``variable``, or asked for at a terminal."""
    import getpass
    import os

    password = os.environ.get(variable)
    if password:
        return password
    if not sys.stdin.isatty():
        raise fail(f"set {variable} for {name} (no terminal to ask on)")
    return getpass.getpass(f"New password for {name}: ")


def _open(workspace: Path, action: str):
    """Open the workspace and sign the person in for ``action`` (one-line error if either fails)."""
    from bold.governance.people import AccessError, authorise
    from bold.workspace import Workspace, WorkspaceError

    try:
        ws = Workspace.open(workspace)
        authorise(ws, action)
        return ws
    except (WorkspaceError, AccessError) as exc:
        raise fail(str(exc)) from None


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="A new, empty folder for the workspace.")],
    name: Annotated[str | None, typer.Option(help="A name for the workspace (default: the folder's).")] = None,
    admin: Annotated[
        str | None,
        typer.Option(help="The first person, an admin (default: BOLD_USER); password from BOLD_PASSWORD or a prompt."),
    ] = None,
):
    """Create a workspace: keys (mode 0600), settings, the governance store, the two zones and its admin."""
    import os

    from bold import audit
    from bold.governance.people import AccessError, add_person
    from bold.workspace import Workspace, WorkspaceError

    admin = admin or os.environ.get("BOLD_USER")
    if not admin:
        raise fail("name the workspace's admin with --admin (or BOLD_USER)")
    password = _new_password("BOLD_PASSWORD", admin)
    if len(password) < 12:
        raise fail("a password needs at least 12 characters")
    try:
        ws = Workspace.init(folder, name)
    except WorkspaceError as exc:
        raise fail(str(exc)) from None
    audit.record(ws, "workspace created", ws.root.name, {"name": ws.settings["workspace"]["name"]}, who=admin)
    try:
        add_person(ws, admin, ["admin"], password, by=admin)
    except AccessError as exc:
        shutil.rmtree(ws.root)
        raise fail(str(exc)) from None
    console.print(
        f"Workspace created in {ws.root}/ (identifiers zone encrypted; keys in {ws.keys_dir}/); admin: {admin}"
    )


@app.command()
def status(workspace: WorkspaceOption = Path(".")):
    """Show each source's batches and how many rows were accepted, quarantined and opted out."""
    from bold.sources import source_types

    ws = _open(workspace, "status")
    with ws.governance() as db:
        batches = db.execute("select * from batches order by source, batch_id").fetchall()
        optouts = db.execute("select count(*) from optout_entries").fetchone()[0]
        purged = db.execute("select coalesce(sum(records), 0) from optout_purges").fetchone()[0]
    table = Table(title=f"Workspace {ws.settings['workspace']['name']}", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("source", "batch", "read", "accepted", "quarantined", "opted out"):
        table.add_column(col, justify="left" if col in ("source", "batch") else "right", no_wrap=True)
    seen = set()
    for b in batches:
        seen.add(b["source"])
        table.add_row(
            b["source"],
            b["name"],
            f"{b['rows_read']:,}",
            f"{b['rows_accepted']:,}",
            f"{b['rows_quarantined']:,}",
            f"{b['rows_opted_out']:,}",
            b["finished_at"][:10],
        )
    for source in source_types():
        if source not in seen:
            table.add_row(source, "[dim]none", "", "", "", "")
    console.print(table)
    stored = sum(b["rows_accepted"] for b in batches) - purged
    console.print(
        f"Records stored: {stored:,} from {len(batches)} batch(es)"
        + (f" ({purged:,} deleted after an opt-out)" if purged else "")
        + f"; opt-out register: {optouts:,} entries"
    )
    _print_linkage_and_projects(ws)


def _print_linkage_and_projects(ws) -> None:
    """The latest linkage run, the projects and pending outputs, a line each: where the workspace stands."""
    import json

    from bold.governance import projects

    if ws.links_path.exists():
        with ws.duckdb_connection(ws.links_path, read_only=True) as con:
            run = con.execute("select run_id, finished_at, records, clusters from runs order by run_id desc limit 1")
            row = run.fetchone()
        if row:
            people = ", ".join(f"{k} {v:,}" for k, v in json.loads(row[3]).items())
            console.print(f"Latest linkage run: {row[0]} ({row[1][:16]}), {row[2]:,} records; people {people}")
    else:
        console.print("Not linked yet (bold link).")
    listed = projects.all_projects(ws)
    counts = {status: sum(p.status == status for p in listed) for status in ("submitted", "approved", "closed")}
    console.print("Projects: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    from bold.studies.outputs import list_outputs

    pending = sum(o.status == "pending" for p in listed for o in list_outputs(ws, p.id))
    if pending:
        console.print(f"Study outputs waiting for output checkers: {pending}")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="The custodian's file: CSV, gzipped CSV or Parquet.")],
    source: Annotated[str, typer.Option("--source", "-s", help="Source type (its contract), e.g. prison.")],
    workspace: WorkspaceOption = Path("."),
    batch: Annotated[str | None, typer.Option(help="A name for this batch (default: the file name).")] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML mapping of your column names to the contract's (THEIRS: CONTRACT)."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of a CSV file: utf-8, latin-1 or utf-16.")] = "utf-8",
    encoded: Annotated[bool, typer.Option(help="The file was made by bold encode (privacy-preserving mode).")] = False,
):
    """Validate a file against its contract; store identifiers and content apart; quarantine the rest."""
    from bold.ingest.pipeline import ingest as run_ingest
    from bold.ingest.reader import IngestError
    from bold.sources import ContractError, load_contract, load_mapping
    from bold.workspace import WorkspaceError

    ws = _open(workspace, "ingest")
    try:
        contract = load_contract(source)
        columns = load_mapping(mapping, contract) if mapping else None
        with phases() as phase:
            report = run_ingest(
                ws,
                source,
                file,
                batch,
                columns,
                encoding,
                encoded=encoded,
                progress=lambda name: phase(f"{source}: {name}"),
            )
    except (IngestError, ContractError, WorkspaceError) as exc:
        raise fail(str(exc)) from None
    _print_ingest_report(report)


def _print_ingest_report(r) -> None:
    if r.already_ingested_as:
        console.print(f"{r.file}: already ingested for {r.source} as batch {r.already_ingested_as!r}; nothing added.")
        return
    console.print(f"[bold]{r.source}[/] batch [bold]{r.batch}[/] from {r.file}")
    console.print(
        f"  rows read {r.rows_read:,} = accepted {r.accepted:,} + quarantined {r.quarantined:,} "
        f"+ opted out {r.opted_out:,}"
    )
    for warning in r.warnings:
        console.print(f"  [yellow]warning:[/] {warning}")
    if r.reasons:
        table = Table(title="Quarantined rows by reason (values are never shown)", title_justify="left")
        table.add_column("column: reason")
        table.add_column("rows", justify="right")
        table.add_column("first rows", justify="right")
        for reason, n in r.reasons.most_common():
            table.add_row(reason, f"{n:,}", ", ".join(str(x) for x in r.examples[reason]))
        console.print(table)
        console.print(f"  quarantine (encrypted): {r.quarantine_file}")


optout_app = typer.Typer(help="The opt-out register: people whose records are never stored.", no_args_is_help=True)
app.add_typer(optout_app, name="optout")


@optout_app.command("add")
def optout_add(
    file: Annotated[Path, typer.Argument(help="CSV with nhs_number, or forename, surname, date_of_birth.")],
    workspace: WorkspaceOption = Path("."),
):
    """Add opt-outs (stored only as keyed hashes) and delete any matching records already stored."""
    from bold.ingest.optout import add
    from bold.ingest.reader import IngestError

    ws = _open(workspace, "optout add")
    try:
        result = add(ws, file)
    except IngestError as exc:
        raise fail(str(exc)) from None
    if result.already_added_file:
        console.print(f"{file}: already added to the opt-out register; nothing changed.")
        return
    console.print(f"Opt-out register: {result.added:,} entries added, {result.already_listed:,} already listed.")
    for line in result.rejected[:20]:
        console.print(f"  [yellow]not used:[/] {line}")
    if len(result.rejected) > 20:
        console.print(f"  ... and {len(result.rejected) - 20:,} more rows not used")
    removed = {s: n for s, n in result.records_removed.items() if n}
    if removed:
        console.print(
            "Records already stored and now deleted from both zones: "
            + ", ".join(f"{s} {n:,}" for s, n in removed.items())
        )


@optout_app.command("count")
def optout_count(workspace: WorkspaceOption = Path(".")):
    """How many entries the register holds (the entries themselves are hashes and never shown)."""
    ws = _open(workspace, "optout count")
    with ws.governance() as db:
        rows = db.execute("select kind, count(*) from optout_entries group by kind").fetchall()
    for kind, n in rows or [("entries", 0)]:
        console.print(f"{kind}: {n:,}")


@app.command("link-files")
def link_files_command(
    files: Annotated[list[Path], typer.Argument(help="One file to deduplicate, or two to link (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for pairs.csv, clusters.csv and model.json.")],
    id_column: Annotated[str, typer.Option("--id", help="The column that identifies each record.")],
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="ROLE=COLUMN, repeatable (e.g. forename=given_name). Default: columns named after roles."
        ),
    ] = None,
    date_format: Annotated[str, typer.Option(help="Format of date_of_birth, e.g. %Y%m%d.")] = "%Y-%m-%d",
    threshold: Annotated[float, typer.Option(help="Match probability at which records join a cluster.")] = 0.9,
    pairs_threshold: Annotated[float, typer.Option(help="Lowest match probability written to pairs.csv.")] = 0.5,
    model_file: Annotated[
        Path | None, typer.Option("--model", help="A model.json to reuse instead of training.")
    ] = None,
):
    """Link two files, or deduplicate one, with the same model as workspace linkage."""
    from bold.linkage.files import LinkError, link_files, parse_map

    try:
        mapping = parse_map(maps or [])
        with phases() as phase:
            result = link_files(
                files,
                id_column,
                mapping,
                out,
                date_format,
                threshold,
                pairs_threshold,
                model_file,
                progress=phase,
            )
    except LinkError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"{result.records:,} records; {result.pairs:,} pairs with match probability >= {pairs_threshold}; "
        f"{result.clusters:,} clusters at {threshold}"
    )
    console.print(f"Wrote {out}/pairs.csv, {out}/clusters.csv and {out}/model.json")


link_app = typer.Typer(
    help="Link records into people from the identifiers zone; report on the linkage's quality.",
    invoke_without_command=True,
)
app.add_typer(link_app, name="link")


@link_app.callback()
def link(
    ctx: typer.Context,
    workspace: WorkspaceOption = Path("."),
    retrain: Annotated[bool, typer.Option(help="Train a new model even if one is saved.")] = False,
    encoded: Annotated[
        bool, typer.Option(help="Require the privacy-preserving mode: every source stored as Bloom-filter encodings.")
    ] = False,
    backend: Annotated[str, typer.Option(help="duckdb, or spark (local mode; needs Java and PySpark).")] = "duckdb",
):
    """Link every record in the identifiers zone into people (never opens the content zone)."""
    if ctx.invoked_subcommand is not None:
        return
    from bold.linkage.run import LinkageError, link_workspace

    ws = _open(workspace, "link")
    try:
        with phases() as phase:
            run = link_workspace(
                ws,
                retrain=retrain,
                require_encoded=encoded,
                backend=backend,
                progress=phase,
            )
    except LinkageError as exc:
        raise fail(str(exc)) from None
    mode = "encoded identifiers" if run.encoded else "plaintext identifiers"
    console.print(
        f"Linkage run {run.run_id} on {mode} ({backend}): {run.records:,} records, {run.comparisons:,} candidate "
        f"pairs scored, {run.pairs:,} pairs kept, in {run.seconds:.0f} s "
        f"({'trained' if run.trained else 'saved'} model)"
    )
    console.print("People at each threshold: " + ", ".join(f"{k} {v:,}" for k, v in run.clusters.items()))


@link_app.command("report")
def link_report(
    workspace: WorkspaceOption = Path("."),
    run: Annotated[int | None, typer.Option(help="The linkage run (default: the latest).")] = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Synthetic data only: a truth/ folder, to add precision, recall and F1 by subgroup."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="The HTML file (default: reports/linkage-run-N.html).")] = None,
):
    """Write the linkage quality report (HTML with charts): completeness, blocking, parameters,
    thresholds, match rates by subgroup, impossible events, cluster sizes, and accuracy where truth exists."""
    from bold.reports.linkage_report import build

    ws = _open(workspace, "link report")
    if truth is not None and not (truth / "records.parquet").exists():
        raise fail(f"--truth {truth}: no records.parquet there; give the truth/ folder bold synth wrote")
    try:
        with phases("measuring linkage quality"):
            path = build(ws, out, run, truth)
    except ValueError as exc:
        raise fail(str(exc)) from None
    console.print(f"Linkage quality report written to {path}")


@app.command()
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
    from bold.ingest.reader import IngestError
    from bold.linkage.encode import SecretError, encode_file, make_secret
    from bold.sources import ContractError, load_contract, load_mapping

    try:
        if new_secret:
            make_secret(secret)
        columns = load_mapping(mapping, load_contract(source)) if mapping else None
        with phases("encoding identifiers"):
            result = encode_file(file, source, secret, out, columns, encoding)
    except FileExistsError:
        raise fail(f"{secret} already exists; drop --new-secret to use it") from None
    except (IngestError, ContractError, SecretError) as exc:
        raise fail(str(exc)) from None
    console.print(f"Encoded {result['encoded']:,} rows into {out}: {', '.join(result['fields'])}")
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


audit_app = typer.Typer(help="The tamper-evident audit chain of every action.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(workspace: WorkspaceOption = Path(".")):
    """Check every link of the audit chain; name the first entry edited, inserted or deleted."""
    from bold import audit

    result = audit.verify(_open(workspace, "audit verify"))
    if result.ok:
        console.print(f"Audit chain intact: {result.entries:,} entries, every link verified.")
        return
    raise fail(f"audit chain broken: {result.problem}")


@audit_app.command("show")
def audit_show(
    workspace: WorkspaceOption = Path("."),
    action: Annotated[str | None, typer.Option(help="Only this action (* as a wildcard), e.g. 'ingest*'.")] = None,
    actor_name: Annotated[str | None, typer.Option("--actor", help="Only actions by this person.")] = None,
    object_name: Annotated[str | None, typer.Option("--object", help="Only this object (* as a wildcard).")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this date (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries, newest first.")] = 50,
):
    """Show audit entries, newest first."""
    from bold import audit

    rows = audit.entries(_open(workspace, "audit show"), action, actor_name, since, object_name, limit)
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("#", "when (UTC)", "who", "action", "object", "details"):
        table.add_column(col, overflow="fold", no_wrap=col in ("#", "when (UTC)"))
    for r in rows:
        when = r["at"][:16].replace("T", " ")
        table.add_row(str(r["seq"]), when, r["actor"], r["action"], r["object"], audit.describe(r["details"]))
    console.print(table)


project_app = typer.Typer(
    help="Projects as data sharing agreements: submit, approve, build, close.", no_args_is_help=True
)
app.add_typer(project_app, name="project")


def _project_call(fn, *args):
    from bold.governance.agreement import AgreementError
    from bold.governance.projects import ProjectError

    try:
        return fn(*args)
    except (ProjectError, AgreementError) as exc:
        raise fail(str(exc)) from None


@project_app.command("submit")
def project_submit(
    file: Annotated[Path, typer.Argument(help="The agreement (YAML); see docs/governance.md for the template.")],
    workspace: WorkspaceOption = Path("."),
):
    """Submit a project; it is assessed against the red lines at once."""
    from bold.governance import projects

    project = _project_call(projects.submit, _open(workspace, "project submit"), file)
    _print_assessment(project)


def _print_assessment(project) -> None:
    a = project.assessment
    verdict = "[green]no red line crossed[/]" if a["acceptable"] else "[red]red lines crossed: cannot be approved[/]"
    console.print(f"Project [bold]{project.id}[/] ({project.status}): {verdict}")
    for line in a["red_lines"]:
        console.print(f"  [red]x[/] {line}")
    for line in a["passed"]:
        console.print(f"  [green]ok[/] {line}")
    console.print("  For the board to judge:")
    for line in a["for_the_board"]:
        console.print(f"    - {line}")


@project_app.command("approve")
def project_approve(
    project_id: Annotated[str, typer.Argument(help="The project id.")], workspace: WorkspaceOption = Path(".")
):
    """Approve a submitted project (never by its submitter; not if it crosses a red line)."""
    from bold.governance import projects

    project = _project_call(projects.approve, _open(workspace, "project approve"), project_id)
    console.print(f"Project {project.id} approved by {project.approved_by}")


@project_app.command("show")
def project_show(
    project_id: Annotated[str, typer.Argument(help="The project id.")], workspace: WorkspaceOption = Path(".")
):
    """Show a project: its agreement, status and assessment."""
    from bold.governance import projects

    project = _project_call(projects.get, _open(workspace, "project show"), project_id)
    a = project.agreement
    console.print(
        f"[bold]{a.title}[/] ({a.id}), {project.status}; submitted by {project.submitted_by} "
        f"{project.submitted_at[:10]}" + (f", approved by {project.approved_by}" if project.approved_by else "")
    )
    console.print(f"Purpose: {a.purpose}\nPublic benefit: {a.public_benefit}\nLegal basis: {a.legal_basis}")
    console.print(
        f"Runs {a.start} to {a.end}; linkage threshold {a.linkage_threshold}; dates to the {a.date_precision}"
    )
    for dataset, fields in a.datasets.items():
        console.print(f"  {dataset}: " + "; ".join(f"{f} ({why})" for f, why in fields.items()))
    _print_assessment(project)


@project_app.command("list")
def project_list(workspace: WorkspaceOption = Path(".")):
    """List every project with its status."""
    from bold.governance import projects

    table = Table(box=box.SIMPLE_HEAD)
    for col in ("id", "title", "status", "acceptable", "from", "to"):
        table.add_column(col)
    for p in projects.all_projects(_open(workspace, "project list")):
        table.add_row(
            p.id,
            p.agreement.title,
            p.status,
            "yes" if p.assessment["acceptable"] else "no",
            str(p.agreement.start),
            str(p.agreement.end or ""),
        )
    console.print(table)


@project_app.command("build")
def project_build(
    project_id: Annotated[str, typer.Argument(help="The project id.")], workspace: WorkspaceOption = Path(".")
):
    """Write the project's extract: agreed fields only, persons under project pseudonyms."""
    from bold.governance import projects

    with phases(f"building {project_id}"):
        path = _project_call(projects.build, _open(workspace, "project build"), project_id)
    console.print(f"Extract written to {path}")


@project_app.command("close")
def project_close(
    project_id: Annotated[str, typer.Argument(help="The project id.")], workspace: WorkspaceOption = Path(".")
):
    """Close a project: delete its extract and key (pseudonyms can never be recomputed)."""
    from bold.governance import projects

    _project_call(projects.close, _open(workspace, "project close"), project_id)
    console.print(f"Project {project_id} closed: extract and project key deleted; outputs and audit kept")


user_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The person's user name.")],
    role: Annotated[
        list[str],
        typer.Option(help="A role (repeatable): custodian, linker, analyst, output_checker, governance, admin."),
    ],
    workspace: WorkspaceOption = Path("."),
):
    """Add a person (admin only); their password comes from BOLD_NEW_PASSWORD or a prompt."""
    import os

    from bold.governance.people import AccessError, add_person

    ws = _open(workspace, "user add")
    password = _new_password("BOLD_NEW_PASSWORD", name)
    try:
        person = add_person(ws, name, role, password, by=os.environ["BOLD_USER"])
    except AccessError as exc:
        raise fail(str(exc)) from None
    console.print(f"{person.name} added with role(s) {', '.join(sorted(person.roles))}")


@user_app.command("list")
def user_list(workspace: WorkspaceOption = Path(".")):
    """List people and their roles (never passwords)."""
    from bold.governance.people import people

    for person in people(_open(workspace, "user list")):
        console.print(f"{person.name}: {', '.join(sorted(person.roles))}")


register_app = typer.Typer(help="The public transparency register.", no_args_is_help=True)
app.add_typer(register_app, name="register")


@register_app.command("build")
def register_build(
    workspace: WorkspaceOption = Path("."),
    out: Annotated[Path | None, typer.Option(help="Folder for the site (default: register/ in the workspace).")] = None,
):
    """Write the transparency register: every project, what the platform will and won't do, how to opt out."""
    from bold.governance.register import build

    folder = build(_open(workspace, "register build"), out)
    console.print(f"Transparency register written to {folder}/ (index.html, promises.html, register.json)")


study_app = typer.Typer(
    help="Studies: built-in questions run on a project's extract; results become pending outputs.",
    no_args_is_help=True,
)
app.add_typer(study_app, name="study")


def _parameters(values: list[str]) -> dict:
    """``name=value`` pairs; values are read as YAML scalars (numbers, true/false, dates stay text)."""
    import yaml

    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise fail(f"--param {item!r}: expected name=value")
        loaded = yaml.safe_load(value) if value else None
        parsed[name] = value if hasattr(loaded, "isoformat") else loaded
    return parsed


@study_app.command("list")
def study_list(workspace: WorkspaceOption = Path(".")):
    """List the built-in studies, the question each answers and the fields it needs."""
    from bold.studies.builtin import catalogue

    _open(workspace, "study list")
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("id", "title", "question"):
        table.add_column(col, overflow="fold")
    for study in catalogue().values():
        table.add_row(study.id, study.title, study.question)
    console.print(table)
    console.print("bold study show ID gives a study's definition, the fields it needs and its parameters.")


@study_app.command("show")
def study_show(
    study_id: Annotated[str, typer.Argument(help="A study id (see bold study list) or a study file (.yaml).")],
    workspace: WorkspaceOption = Path("."),
):
    """Show a study's definition, the fields it needs or can use, and its parameters."""
    from bold.studies.language import StudyError
    from bold.studies.runner import find_study

    _open(workspace, "study list")
    try:
        study = find_study(study_id)
    except StudyError as exc:
        raise fail(str(exc)) from None
    console.print(f"[bold]{study.title}[/] ({study.id}), {study.question}\n\n{study.definition}\n")
    console.print("Needs: " + ", ".join(study.needs))
    if study.optional:
        console.print("Uses when agreed: " + ", ".join(study.optional))
    for name, value in study.parameters.items():
        required = "  (required)" if name in study.required else ""
        console.print(f"  --param {name}={'' if value is None else value}{required}", highlight=False)


@study_app.command("run")
def study_run(
    project_id: Annotated[str, typer.Argument(help="The project whose extract the study runs on.")],
    study_id: Annotated[
        str, typer.Argument(help="A study id, a study file (.yaml), or 'all' for every study the agreement allows.")
    ],
    param: Annotated[list[str], typer.Option("--param", help="A study parameter, name=value (repeatable).")] = [],  # noqa: B006
    backend: Annotated[str, typer.Option(help="Engine: duckdb (default) or pyspark (local Spark).")] = "duckdb",
    workspace: WorkspaceOption = Path("."),
):
    """Run a study; its tables and charts are written as a pending output for the output checkers."""
    import os

    from bold.governance.projects import ProjectError
    from bold.governance.projects import get as get_project
    from bold.studies import runner
    from bold.studies.builtin import catalogue
    from bold.studies.language import StudyError

    ws = _open(workspace, "study run")
    parameters = _parameters(param)
    if study_id == "all":
        if parameters:
            raise fail("--param applies to one study; run studies one by one to set parameters")
        project = _project_call(get_project, ws, project_id)
        allowed = project.agreement.requested()
        ids = [s.id for s in catalogue().values() if set(s.needs) <= allowed and not s.required]
        outside = [s.id for s in catalogue().values() if not set(s.needs) <= allowed]
        if outside:
            console.print(f"Not in this agreement's scope: {', '.join(outside)}")
        for s in catalogue().values():
            if s.required and s.id not in outside:
                console.print(f"Run {s.id} on its own: it needs " + ", ".join(f"--param {p}" for p in s.required))
    else:
        ids = [study_id]
    for one in ids:
        try:
            with phases(f"running {one}"):
                output = runner.run(
                    ws, project_id, one, parameters=parameters, backend=backend, by=os.environ["BOLD_USER"]
                )
        except (StudyError, ProjectError) as exc:
            raise fail(str(exc)) from None
        manifest = output.manifest()
        tables = ", ".join(f"{n} ({t['rows']} rows)" for n, t in manifest["tables"].items())
        console.print(f"{one}: pending output {output.id} in {manifest['seconds']} s: {tables}")
    console.print("Outputs wait for disclosure checking; an output checker can read them with bold outputs show.")


outputs_app = typer.Typer(help="Outputs of study runs, pending disclosure checks.", no_args_is_help=True)
app.add_typer(outputs_app, name="outputs")


@outputs_app.command("list")
def outputs_list(
    project_id: Annotated[str, typer.Argument(help="The project.")], workspace: WorkspaceOption = Path(".")
):
    """List a project's outputs and their status (never their contents)."""
    from bold.studies.outputs import list_outputs

    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("output", no_wrap=True)
    for col in ("status", "by", "at"):
        table.add_column(col, overflow="fold")
    for o in list_outputs(_open(workspace, "outputs list"), project_id):
        table.add_row(o.id, o.status, o.created_by, o.created_at[:16])
    console.print(table)


@outputs_app.command("show")
def outputs_show(
    project_id: Annotated[str, typer.Argument(help="The project.")],
    output_id: Annotated[str, typer.Argument(help="The output (see bold outputs list).")],
    table_name: Annotated[str | None, typer.Option("--table", help="Show only this table.")] = None,
    workspace: WorkspaceOption = Path("."),
):
    """Show a pending output to an output checker of the project: manifest, checksums and every table."""
    import os

    from bold import audit
    from bold.governance.projects import ProjectError, get
    from bold.studies.language import StudyError
    from bold.studies.outputs import check_reader, verify_files
    from bold.studies.outputs import get as get_output

    ws = _open(workspace, "outputs show")
    who = os.environ["BOLD_USER"]
    try:
        output = get_output(ws, project_id, output_id)
        check_reader(get(ws, project_id), output, who)
    except (StudyError, ProjectError) as exc:
        audit.record(ws, "refused", "outputs show", {"output": output_id, "reason": str(exc)}, who=who)
        raise fail(str(exc)) from None
    audit.record(ws, "output viewed", project_id, {"output": output_id}, who=who)
    manifest = output.manifest()
    damaged = verify_files(output)
    console.print(f"[bold]{manifest['title']}[/] ({output.id}), {output.status}; run by {output.created_by}")
    console.print(manifest["definition"])
    console.print(f"Fields used: {', '.join(manifest['fields_used'])}; engine {manifest['engine']}")
    console.print(f"Parameters: {manifest['parameters']}")
    for note in manifest["notes"]:
        console.print(f"Note: {note}")
    if damaged:
        console.print(f"[red]Checksum mismatch: {', '.join(damaged)} changed since the run[/]")
    available = [*manifest["tables"], *manifest.get("reference", {})]
    for name in [table_name] if table_name else available:
        if name not in available:
            raise fail(f"output {output_id} has no table {name!r}; tables: {', '.join(available)}")
        frame = output.table(name)
        console.print(f"\n[bold]{name}[/] ({len(frame)} rows)")
        console.out(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"), highlight=False)
    if manifest["charts"]:
        console.print(f"Charts (SVG and Vega-Lite) in {output.folder}: {', '.join(manifest['charts'])}")
    console.print(f"The whole output on one page: {output.folder / 'index.html'}")
