"""The release workflow's commands: ``bold outputs report | request | votes | review | decide | release | withdraw``
and ``bold releases list | show | verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli import remote
from bold.cli.common import JsonOption, WorkspaceOption, console, print_json, shown, signed_in, table
from bold.cli.studies import ProjectArgument, outputs_app
from bold.errors import Conflict, Invalid

releases_app = typer.Typer(
    help="Released outputs: list, show or download, and verify their checksums.", no_args_is_help=True
)
OutputArgument = Annotated[str, typer.Argument(help="The output (see bold outputs list).")]
RequestArgument = Annotated[str, typer.Argument(help="The release request (printed by bold outputs request).")]
ReleaseArgument = Annotated[str, typer.Argument(help="The release (see bold releases list).")]


def _print_request(req) -> None:
    console.print(
        f"Request [bold]{shown(req.id)}[/] by {shown(req.requested_by)}, round {req.round}: "
        f"{shown(req.context)} (controls: {shown(req.controls)})"
    )
    if req.summary:
        console.print(f"Summary for the public (checked with the outputs): {shown(req.summary)}")
    console.print(
        table(
            ("output", "version", "status"),
            [(o.output, o.version, o.status.value) for o in req.outputs],
            ids=("output",),
        )
    )


@outputs_app.command("check")
def outputs_check(
    project_id: ProjectArgument,
    output_id: OutputArgument,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """Check an output for disclosure again (after other outputs were made or released, for differencing)."""
    from bold.actions import outputs

    checked = outputs.check(*signed_in(workspace), project_id, output_id)
    summary = checked.report["summary"]
    if as_json:
        print_json({"output": output_id, "outcome": checked.outcome, "summary": summary})
        return
    console.print(
        f"{shown(output_id)}: {checked.outcome} under {shown(checked.output.profile)}; "
        f"{summary['suppressed']} cells suppressed, {summary['rounded']} rounded, {summary['for_review']} for review"
    )


@outputs_app.command("report")
def outputs_report(
    project_id: ProjectArgument,
    output_id: OutputArgument,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """The check report of an output: which rule flagged which cell (never a suppressed value)."""
    from bold.actions import outputs

    found = outputs.report(*signed_in(workspace), project_id, output_id)
    if as_json:
        print_json(found)
        return
    summary = found.get("summary") or {}
    console.print(
        f"Output {shown(output_id)}: profile {shown(found.get('profile'))}; "
        f"{summary.get('suppressed', 0)} cells suppressed, {summary.get('rounded', 0)} rounded"
    )
    print_json(found)


@outputs_app.command("request")
def outputs_request(
    project_id: ProjectArgument,
    output_ids: Annotated[list[str] | None, typer.Argument(help="The outputs to release.")] = None,
    context: Annotated[str, typer.Option(help="What the outputs are for and how to read them.")] = "",
    controls: Annotated[str, typer.Option(help="The disclosure controls you applied.")] = "",
    summary: Annotated[
        str | None,
        typer.Option(help="A plain-language summary for the public register; the checkers review it with the outputs."),
    ] = None,
    resubmit: Annotated[
        str | None,
        typer.Option(help="Resubmit this returned request instead (its returned outputs get a new version)."),
    ] = None,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """Ask two output checkers of the agreement to release your checked outputs (or resubmit a returned request)."""
    from bold.actions import outputs

    ws, user = signed_in(workspace)
    if resubmit:
        if output_ids:
            raise Invalid("--resubmit takes the request, not outputs")
        req = outputs.resubmit(ws, user, project_id, resubmit, context or None, summary)
    else:
        req = outputs.request(ws, user, project_id, list(output_ids or []), context, controls, summary)
    if as_json:
        print_json(req)
        return
    _print_request(req)
    console.print("Two output checkers of the agreement now review each output (bold outputs review).")


@outputs_app.command("votes")
def outputs_votes(
    project_id: ProjectArgument,
    request_id: RequestArgument,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """A release request and the votes you may see (a checker sees the other's vote only after casting their own)."""
    from bold.actions import outputs

    req = outputs.show_request(*signed_in(workspace), project_id, request_id)
    if as_json:
        print_json(req)
        return
    _print_request(req)
    rows = [(v.output, v.version, v.checker, v.vote, v.comment) for v in req.votes]
    console.print(table(("output", "version", "checker", "vote", "comment"), rows, ids=("output",)))
    if req.hidden_votes:
        console.print(f"{req.hidden_votes} vote(s) by others are hidden until you have voted.")


@outputs_app.command("review")
def outputs_review(
    project_id: ProjectArgument,
    output_id: OutputArgument,
    vote: Annotated[str, typer.Option(help="approve, changes_requested or reject.")],
    comment: Annotated[str, typer.Option(help="Why: the analyst reads it once the request is decided.")],
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """Vote on the current version of a requested output, as one of the agreement's output checkers."""
    if (url := remote.server()) is not None:
        cast = remote.outputs_review(url, project_id, output_id, vote.replace("-", "_"), comment)
        if as_json:
            print_json(cast)
        else:
            console.print(f"Voted {cast['vote']} on version {cast['version']} of {shown(output_id)}.")
        return
    from bold.actions import outputs

    cast = outputs.review(*signed_in(workspace), project_id, output_id, vote.replace("-", "_"), comment)
    if as_json:
        print_json(cast)
        return
    console.print(f"Voted {cast.vote} on version {cast.version} of {shown(output_id)}.")


@outputs_app.command("decide")
def outputs_decide(
    project_id: ProjectArgument,
    request_id: RequestArgument,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """The one decision on a request, from the two checkers' votes on each output."""
    from bold.actions import outputs

    result = outputs.decide(*signed_in(workspace), project_id, request_id)
    if as_json:
        print_json(result)
        return
    for output_id, state in result.items():
        console.print(f"{shown(output_id)}: {state.value}")


@outputs_app.command("release")
def outputs_release(
    project_id: ProjectArgument,
    output_id: OutputArgument,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """Release an approved output: its checked files go to the project's release folder with checksums."""
    from bold.actions import outputs

    found = outputs.release_output(*signed_in(workspace), project_id, output_id)
    if as_json:
        print_json(found)
        return
    console.print(
        f"Released {shown(output_id)} as {shown(found.id)}: {len(found.checksums)} files in {shown(found.folder)}"
    )


@outputs_app.command("withdraw")
def outputs_withdraw(project_id: ProjectArgument, output_id: OutputArgument, workspace: WorkspaceOption = Path(".")):
    """Withdraw your output (pending, or returned with changes requested)."""
    from bold.actions import outputs

    state = outputs.withdraw(*signed_in(workspace), project_id, output_id)
    console.print(f"{shown(output_id)}: {state.value}")


@releases_app.command("list")
def releases_list(project_id: ProjectArgument, workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """A project's releases."""
    from bold.actions import outputs

    found = outputs.list_releases(*signed_in(workspace), project_id)
    if as_json:
        print_json([{k: v for k, v in vars(r).items() if k != "folder"} for r in found])
        return
    rows = [(r.id, r.output, r.version, r.released_by, r.released_at[:16], len(r.checksums)) for r in found]
    console.print(table(("release", "output", "version", "by", "at", "files"), rows, ids=("release", "output")))


@releases_app.command("show")
def releases_show(
    project_id: ProjectArgument,
    release_id: ReleaseArgument,
    out: Annotated[Path | None, typer.Option("--out", help="Download the released files into this folder.")] = None,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """A release's files and checksums; with --out, a copy of them (audited as a download)."""
    from bold.actions import outputs

    found = outputs.show_release(*signed_in(workspace), project_id, release_id, out)
    if as_json:
        print_json({k: v for k, v in vars(found).items() if k != "folder"})
        return
    console.print(
        f"Release {shown(found.id)} of {shown(found.output)} (version {found.version}), by {shown(found.released_by)}"
    )
    for name, digest in sorted(found.checksums.items()):
        console.print(f"  {digest}  {shown(name)}", highlight=False)
    if out is not None:
        console.print(f"Downloaded to {shown(out)}")


@releases_app.command("verify")
def releases_verify(
    project_id: ProjectArgument,
    release_id: ReleaseArgument,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """Recompute every checksum of a release; exits non-zero when a file changed or is missing."""
    from bold.actions import outputs

    problems = outputs.verify_release(*signed_in(workspace), project_id, release_id)
    if as_json:
        print_json({"release": release_id, "ok": not problems, "problems": problems})
    elif not problems:
        console.print(f"Release {shown(release_id)}: every checksum matches.")
    if problems:
        raise Conflict(f"release {release_id} does not verify: {'; '.join(problems)}")


@releases_app.command("impact")
def releases_impact(
    project_id: ProjectArgument,
    release_id: ReleaseArgument,
    note: Annotated[str, typer.Option(help="What the released result changed, in plain language, for the public.")],
    workspace: WorkspaceOption = Path("."),
):
    """Add governance's note of a release's impact; it is published with the release on the register."""
    from bold.actions import outputs

    outputs.add_impact_note(*signed_in(workspace), project_id, release_id, note)
    console.print(f"Impact note added to release {shown(release_id)}; it shows on the register once rebuilt.")


def register(app: typer.Typer) -> None:
    app.add_typer(releases_app, name="releases")


@releases_app.command("report")
def releases_report(
    project_id: ProjectArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write (outside the workspace).")],
    workspace: WorkspaceOption = Path("."),
):
    """One page of the project's released outputs only (charts and tables), each verified against its checksums."""
    from bold.actions import outputs

    path, shown_ids, left_out = outputs.release_report(*signed_in(workspace), project_id, out)
    console.print(f"Report of {len(shown_ids)} released outputs written to {shown(path)}")
    if left_out:
        console.print(f"Left out, their files changed since release: {', '.join(shown(r) for r in left_out)}")
