"""``bold project``: data sharing agreements through their lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli.common import JsonOption, WorkspaceOption, console, phases, print_json, shown, signed_in, table

project_app = typer.Typer(
    help="Projects as data sharing agreements: submit, approve or refuse, amend, withdraw, build, close.",
    no_args_is_help=True,
)
ProjectArgument = Annotated[str, typer.Argument(help="The project id.")]
AgreementArgument = Annotated[Path, typer.Argument(help="The agreement (YAML); see docs/governance.md.")]


def _print_assessment(project) -> None:
    a = project.assessment
    verdict = "[green]no red line crossed[/]" if a["acceptable"] else "[red]red lines crossed: cannot be approved[/]"
    console.print(f"Project [bold]{shown(project.id)}[/] ({project.status.value}): {verdict}")
    for line in a["red_lines"]:
        console.print(f"  [red]x[/] {shown(line)}")
    for line in a["passed"]:
        console.print(f"  [green]ok[/] {shown(line)}")
    console.print("  For the board to judge:")
    for line in a["for_the_board"]:
        console.print(f"    - {shown(line)}")


@project_app.command("submit")
def project_submit(file: AgreementArgument, workspace: WorkspaceOption = Path(".")):
    """Submit a project; it is assessed against the red lines at once."""
    from bold.actions import projects

    _print_assessment(projects.submit(*signed_in(workspace), file))


AnswersOption = Annotated[
    Path | None,
    typer.Option(
        "--answers",
        help="The board's answer (yes or no) and reason on each human criterion, as YAML "
        "(docs/examples/board-answers.yaml; `bold project criteria` lists them).",
    ),
]


def _answers(path: Path | None):
    from bold.actions.projects import load_answers

    return None if path is None else load_answers(path)


@project_app.command("criteria")
def project_criteria():
    """List the criteria only people can judge, by the ids the board's answers use."""
    from bold.actions.projects import HUMAN_CRITERIA

    console.print(table(("criterion", "the board answers"), list(HUMAN_CRITERIA.items()), ids=("criterion",)))


@project_app.command("dpia")
def project_dpia(
    project_id: ProjectArgument,
    file: Annotated[Path, typer.Argument(help="The DPIA (YAML): docs/examples/dpia.yaml shows its fields.")],
    workspace: WorkspaceOption = Path("."),
):
    """Record the data protection impact assessment of the version under review (before the board decides)."""
    from bold.actions import projects

    project = projects.record_dpia(*signed_in(workspace), project_id, file)
    console.print(f"DPIA of {shown(project.id)} version {project.version} recorded")


@project_app.command("approve")
def project_approve(project_id: ProjectArgument, answers: AnswersOption = None, workspace: WorkspaceOption = Path(".")):
    """Approve a submitted project: its DPIA recorded, yes to every human criterion with a reason (never by its
    submitter; not if it crosses a red line)."""
    from bold.actions import projects

    project = projects.approve(*signed_in(workspace), project_id, _answers(answers))
    console.print(f"Project {shown(project.id)} version {project.version} approved by {shown(project.approved_by)}")


@project_app.command("refuse")
def project_refuse(
    project_id: ProjectArgument,
    reason: Annotated[str, typer.Option(help="Why, for the project team and the public register.")],
    answers: AnswersOption = None,
    workspace: WorkspaceOption = Path("."),
):
    """Refuse a submitted project, with the reason; the team may amend and resubmit it."""
    from bold.actions import projects

    project = projects.refuse(*signed_in(workspace), project_id, reason, _answers(answers))
    console.print(
        f"Project {shown(project.id)} refused by {shown(project.decided_by)}: {shown(project.decision_reason)}"
    )


@project_app.command("sign-off")
def project_sign_off(
    project_id: ProjectArgument,
    source: Annotated[str, typer.Option(help="Your source whose use you agree to.")],
    conditions: Annotated[str | None, typer.Option(help="Any conditions you attach, for the register.")] = None,
    workspace: WorkspaceOption = Path("."),
):
    """As a source's custodian, agree to this version of the project's use of it (needed before it is built)."""
    from bold.actions import projects

    project = projects.sign_off(*signed_in(workspace), project_id, source, conditions)
    console.print(f"{shown(source)} signed off for {shown(project.id)} version {project.version}")


@project_app.command("history")
def project_history(project_id: ProjectArgument, workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """Every version of the project's agreement: who submitted it, its DPIA, sign-offs and the board's decision."""
    from bold.actions import projects

    found = projects.versions(*signed_in(workspace), project_id)
    if as_json:
        print_json([v.summary() for v in found])
        return
    for v in found:
        s = v.summary()
        console.print(
            f"[bold]version {v.number}[/] submitted by {shown(v.submitted_by)} {v.submitted_at[:10]}: "
            + (f"{v.outcome} by {shown(v.decided_by)} {v.decided_at[:10]}" if v.outcome else "awaiting the board")
            + (f" ({shown(v.reason)})" if v.reason else "")
        )
        dpia = s["dpia"]
        console.print(
            f"  DPIA: {dpia['residual_risk']} residual risk, {dpia['risks']} risks, "
            f"{len(dpia['public_involvement'])} public involvement(s)"
            if dpia
            else "  DPIA: not recorded"
        )
        for a in v.answers or []:
            console.print(f"  {shown(a['criterion'])}: {a['answer']} ({shown(a['reason'])})")
        signed = ", ".join(f"{shown(o.source)} by {shown(o.signed_by)}" for o in v.sign_offs)
        console.print(f"  Signed off: {signed or 'none yet'}")


@project_app.command("amend")
def project_amend(project_id: ProjectArgument, file: AgreementArgument, workspace: WorkspaceOption = Path(".")):
    """Replace a project's agreement with an amended one; it goes back to the board (any extract is deleted)."""
    from bold.actions import projects

    _print_assessment(projects.amend(*signed_in(workspace), project_id, file))


@project_app.command("withdraw")
def project_withdraw(project_id: ProjectArgument, workspace: WorkspaceOption = Path(".")):
    """Withdraw a submitted or refused project (its team only)."""
    from bold.actions import projects

    projects.withdraw(*signed_in(workspace), project_id)
    console.print(f"Project {shown(project_id)} withdrawn")


@project_app.command("show")
def project_show(project_id: ProjectArgument, workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """Show a project: its agreement, status and assessment."""
    from bold.actions import projects

    project = projects.show(*signed_in(workspace), project_id)
    if as_json:
        print_json({**project.summary(), "agreement": project.agreement, "assessment": project.assessment})
        return
    a = project.agreement
    console.print(
        f"[bold]{shown(a.title)}[/] ({shown(a.id)}), {project.status.value}; "
        f"submitted by {shown(project.submitted_by)} "
        f"{project.submitted_at[:10]}" + (f", approved by {shown(project.approved_by)}" if project.approved_by else "")
    )
    if project.decision_reason:
        console.print(f"Decision by {shown(project.decided_by)}: {shown(project.decision_reason)}")
    console.print(
        f"Purpose: {shown(a.purpose)}\nPublic benefit: {shown(a.public_benefit)}\nLegal basis: {shown(a.legal_basis)}"
    )
    console.print(
        f"Runs {a.start} to {a.end}; linkage threshold {a.linkage_threshold}; dates to the {a.date_precision}"
    )
    for dataset, fields in a.datasets.items():
        console.print(f"  {shown(dataset)}: " + "; ".join(f"{shown(f)} ({shown(why)})" for f, why in fields.items()))
    _print_assessment(project)


@project_app.command("list")
def project_list(workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """List every project with its status."""
    from bold.actions import projects

    found = projects.list_projects(*signed_in(workspace))
    if as_json:
        print_json([p.summary() for p in found])
        return
    rows = [
        (p.id, p.agreement.title, p.status.value, "yes" if p.assessment["acceptable"] else "no",
         p.agreement.start, p.agreement.end)
        for p in found
    ]  # fmt: skip
    console.print(table(("id", "title", "status", "acceptable", "from", "to"), rows, ids=("id",)))


@project_app.command("build")
def project_build(project_id: ProjectArgument, workspace: WorkspaceOption = Path(".")):
    """Write the project's extract: agreed fields only, persons under project pseudonyms."""
    from bold.actions import projects

    ws, user = signed_in(workspace)
    with phases(f"building {shown(project_id)}"):
        path = projects.build(ws, user, project_id)
    console.print(f"Extract written to {shown(path)}")
    for n in projects.show(ws, user, project_id).build_notice or []:  # what this build left out, and why
        console.print(
            f"[yellow]note:[/] the previous extract used {shown(n['source'])} batch {shown(repr(n['batch']))}, "
            f"withdrawn by {shown(n['withdrawn_by'])} on {n['withdrawn_at'][:10]}; its records are not in this one"
        )


@project_app.command("close")
def project_close(project_id: ProjectArgument, workspace: WorkspaceOption = Path(".")):
    """Close a project: delete its extract and key (pseudonyms can never be recomputed)."""
    from bold.actions import projects

    projects.close(*signed_in(workspace), project_id)
    console.print(f"Project {shown(project_id)} closed: extract and project key deleted; outputs and audit kept")


def register(app: typer.Typer) -> None:
    app.add_typer(project_app, name="project")
