"""``bold study`` and ``bold outputs``: studies on a project's extract, and the pending outputs they write."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli import remote
from bold.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    err,
    phases,
    print_json,
    shown,
    signed_in,
    table,
)
from bold.errors import EXIT_CODES, Invalid

study_app = typer.Typer(
    help="Studies: built-in questions run on a project's extract; results become pending outputs.",
    no_args_is_help=True,
)
outputs_app = typer.Typer(help="Outputs of study runs, pending disclosure checks.", no_args_is_help=True)
ProjectArgument = Annotated[str, typer.Argument(help="The project.")]
CHECKED = (
    "Each output was checked for disclosure (bold outputs report shows its findings); "
    "ask for release with bold outputs request."
)


def parameters(values: list[str]) -> dict:
    """``name=value`` pairs; values are read as YAML scalars (numbers, true/false; dates stay text)."""
    import yaml

    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise Invalid(f"--param {item!r}: expected name=value")
        try:
            loaded = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            loaded = value
        parsed[name] = value if hasattr(loaded, "isoformat") or isinstance(loaded, dict | list) else loaded
    return parsed


def _study(s) -> dict:
    return {
        "id": s.id,
        "title": s.title,
        "question": s.question,
        "definition": s.definition,
        "needs": list(s.needs),
        "optional": list(s.optional),
        "parameters": s.parameters,
        "required": list(s.required),
    }


@study_app.command("list")
def study_list(workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """List the built-in studies, the question each answers and the fields it needs."""
    from bold.actions import studies

    found = studies.list_studies(*signed_in(workspace))
    if as_json:
        print_json([_study(s) for s in found])
        return
    console.print(table(("id", "title", "question"), [(s.id, s.title, s.question) for s in found], ids=("id",)))
    console.print("bold study show ID gives a study's definition, the fields it needs and its parameters.")


@study_app.command("show")
def study_show(
    study_id: Annotated[str, typer.Argument(help="A study id (see bold study list) or a study file (.yaml).")],
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """Show a study's definition, the fields it needs or can use, and its parameters."""
    from bold.actions import studies

    study = studies.show(*signed_in(workspace), study_id)
    if as_json:
        print_json(_study(study))
        return
    console.print(
        f"[bold]{shown(study.title)}[/] ({shown(study.id)}), {shown(study.question)}\n\n"
        f"{shown(study.definition, lines=True)}\n"
    )
    console.print("Needs: " + ", ".join(shown(n) for n in study.needs))
    if study.optional:
        console.print("Uses when agreed: " + ", ".join(shown(n) for n in study.optional))
    for name, value in study.parameters.items():
        required = "  (required)" if name in study.required else ""
        console.print(f"  --param {shown(name)}={shown(value)}{required}", highlight=False)


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
    if (url := remote.server()) is not None:
        values = parameters(param)
        with phases(f"running {study_id} on {url}"):
            _print_run(remote.run_view(remote.study_run(url, project_id, study_id, values, backend)))
        console.print(CHECKED)
        return
    from bold.actions import studies

    ws, user = signed_in(workspace)
    values = parameters(param)
    if study_id == "all":
        with phases() as phase:
            runs = studies.run_all(  # checks the arguments before anything is printed
                ws, user, project_id, parameters=values, backend=backend, started=lambda s: phase(f"running {s}")
            )
            plan = studies.plan_all(ws, user, project_id)
            if plan.outside_agreement:
                console.print(f"Not in this agreement's scope: {', '.join(shown(f) for f in plan.outside_agreement)}")
            for one, needed in plan.need_parameters.items():
                needs = ", ".join(f"--param {shown(p)}" for p in needed)
                console.print(f"Run {shown(one)} on its own: it needs {needs}")
            done = []
            for ran in runs:
                done.append(ran)
                if ran.failed:
                    console.print(f"{shown(ran.study)}: failed (the reason is given at the end)")
                else:
                    _print_run(ran.output)
        failed = [ran for ran in done if ran.failed]
        if len(failed) < len(done):
            console.print(CHECKED)
        if failed:
            _failures(failed, len(done))
        return
    with phases(f"running {study_id}"):
        _print_run(studies.run(ws, user, project_id, study_id, parameters=values, backend=backend))
    console.print(CHECKED)


def _failures(failed: list, runs: int) -> None:
    """Each failed study of ``study run PROJECT all`` with its reason, then exit with the code of the first
    failure's kind (an internal error's if any was a bug): the others ran all the same."""
    from bold.cli import INTERNAL_ERROR

    err.print(f"[bold red]{len(failed)} of {runs} studies failed:[/]", highlight=False)
    for one in failed:
        err.print(f"  {shown(one.study)}: {shown(one.error)}", highlight=False, soft_wrap=True)
    bug = any(one.kind is None for one in failed)
    raise typer.Exit(INTERNAL_ERROR if bug else EXIT_CODES[failed[0].kind])


def _print_run(output) -> None:
    manifest = output.manifest()
    tables = ", ".join(f"{n} ({t['rows']} rows)" for n, t in manifest["tables"].items())
    console.print(
        f"{shown(output.study)}: pending output {shown(output.id)} in {manifest['seconds']} s: {shown(tables)}"
    )
    if output.check_outcome:
        console.print(f"  checked under {shown(output.profile)}: {shown(output.check_outcome)}")


@outputs_app.command("list")
def outputs_list(project_id: ProjectArgument, workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """List a project's outputs and their status (never their contents)."""
    if (url := remote.server()) is not None:
        answer = remote.outputs_list(url, project_id)
        if as_json:
            print_json([remote.output_json(o) for o in answer])
            return
        found = [remote.output_view(o) for o in answer]
    else:
        from bold.actions import outputs

        found = outputs.list_outputs(*signed_in(workspace), project_id)
        if as_json:
            print_json([{k: v for k, v in vars(o).items() if k != "folder"} for o in found])
            return
    rows = [
        (
            o.id,
            o.status.value,
            o.created_by,
            o.created_at[:16],
            f"{o.optout_people:,} opted out since" if o.optout_people else "",
        )
        for o in found
    ]
    console.print(table(("output", "status", "by", "at", "opt-outs"), rows, ids=("output",)))
    for o in found:
        if o.optout_note:
            console.print(f"[yellow]{o.id}:[/] {o.optout_note}")


@outputs_app.command("show")
def outputs_show(
    project_id: ProjectArgument,
    output_id: Annotated[str, typer.Argument(help="The output (see bold outputs list).")],
    table_name: Annotated[str | None, typer.Option("--table", help="Show only this table.")] = None,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """Show a pending output to an output checker of the project: manifest, checksums and every table."""
    from bold.actions import outputs

    view = outputs.show(*signed_in(workspace), project_id, output_id, table_name)
    if as_json:
        print_json(
            {
                "manifest": view.manifest,
                "damaged": view.damaged,
                "optout_note": view.output.optout_note,
                "tables": view.tables,
            }
        )
        return
    manifest, output = view.manifest, view.output
    console.print(
        f"[bold]{shown(manifest['title'])}[/] ({shown(output.id)}), {output.status.value}; "
        f"run by {shown(output.created_by)}"
    )
    console.print(shown(manifest["definition"], lines=True))
    console.print(f"Fields used: {shown(', '.join(manifest['fields_used']))}; engine {shown(manifest['engine'])}")
    console.print(f"Parameters: {shown(manifest['parameters'])}")
    for note in manifest["notes"]:
        console.print(f"Note: {shown(note)}")
    if view.output.optout_note:
        console.print(f"[yellow]Opt-outs: {shown(view.output.optout_note)}[/]")
    if view.damaged:
        console.print(f"[red]Checksum mismatch: {shown(', '.join(view.damaged))} changed since the run[/]")
    for name, frame in view.tables.items():
        console.print(f"\n[bold]{shown(name)}[/] ({len(frame)} rows)")
        console.out(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"), highlight=False)
    if manifest["charts"]:
        console.print(f"Charts (SVG and Vega-Lite) in {shown(output.folder)}: {shown(', '.join(manifest['charts']))}")
    console.print(f"The whole output on one page: {shown(output.folder / 'index.html')}")


def register(app: typer.Typer) -> None:
    app.add_typer(study_app, name="study")
    app.add_typer(outputs_app, name="outputs")
