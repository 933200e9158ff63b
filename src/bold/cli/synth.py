"""``bold synth``: a synthetic multi-agency population."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bold.cli.common import console, err, parse_date, shown


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
    from bold.actions import synth as action

    cfg = action.config(
        people,
        seed,
        parse_date(start, "--start"),
        parse_date(end, "--end"),
        parse_date(pilot_start, "--pilot-start"),
        corruption,
    )
    columns = (TextColumn("[bold]simulating people"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("people", total=cfg.people)
        figures = action.synth(cfg, out, fmt, progress=lambda n: bar.advance(task, n))
    _print_summary(figures, out)


def _print_summary(f: dict, out: Path) -> None:
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
    console.print(f"Extracts in {shown(out)}/, ground truth in {shown(out)}/truth/ (never ingest it).")


def register(app: typer.Typer) -> None:
    app.command()(synth)
