"""``bold audit`` and ``bold register``: the tamper-evident audit chain and the public transparency register."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli.common import JsonOption, WorkspaceOption, console, err, parse_date, print_json, shown, signed_in, table
from bold.errors import Conflict, Invalid

audit_app = typer.Typer(help="The tamper-evident audit chain of every action.", no_args_is_help=True)
register_app = typer.Typer(help="The public transparency register.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    workspace: WorkspaceOption = Path("."),
    published: Annotated[
        list[Path] | None,
        typer.Option(
            "--published",
            help="A register.json, audit head or witness file kept outside the workspace; its head must still "
            "be in the chain (repeat for more).",
        ),
    ] = None,
    as_json: JsonOption = False,
):
    """Check every link of the audit chain, the governance tables against the state it seals, every output's
    files, and that heads published or witnessed earlier are still in the chain."""
    from bold.actions import audit

    result = audit.verify(*signed_in(workspace), published or [])
    if as_json:
        print_json(result)
    elif result.ok:
        sealed = (
            f"governance state as sealed (sealed from entry {result.state_from:,})"
            if result.state_from
            else "governance state not sealed yet"
        )
        console.print(
            f"Audit chain intact: {result.entries:,} entries, every link verified; {sealed}; "
            f"{result.outputs_checked:,} outputs and {result.releases_checked:,} releases match their manifests; "
            f"{result.heads_checked:,} heads kept elsewhere found in the chain."
        )
    if not as_json:
        for note in result.notes:
            err.print(f"note: {note}")
        for problem in result.problems[1:]:
            err.print(f"also: {problem}")
    if not result.ok:
        more = f" (and {len(result.problems) - 1} more problems)" if len(result.problems) > 1 else ""
        raise Conflict(f"audit chain broken: {result.problem}{more}")


@audit_app.command("witness")
def audit_witness(
    out: Annotated[Path, typer.Option("--out", "-o", help="The witness file, outside the workspace (appended to).")],
    workspace: WorkspaceOption = Path("."),
):
    """Append the chain's head, sealed, to a witness file kept outside the workspace; `bold audit verify
    --published FILE` later proves the chain was not cut, rolled back or wiped since."""
    from bold.actions import audit

    seq, _ = audit.witness(*signed_in(workspace), out)
    console.print(f"Head of the audit chain (entry {seq:,}) appended to {out}")


@audit_app.command("show")
def audit_show(
    workspace: WorkspaceOption = Path("."),
    action: Annotated[str | None, typer.Option(help="Only this action (* as a wildcard), e.g. 'ingest*'.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only actions by this person.")] = None,
    obj: Annotated[str | None, typer.Option("--object", help="Only this object (* as a wildcard).")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this date (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries, newest first.")] = 50,
    as_json: JsonOption = False,
):
    """Show audit entries, newest first."""
    from bold.actions import audit
    from bold.actions.audit import describe

    start = parse_date(since, "--since")
    if limit < 1:
        raise Invalid(f"--limit {limit}: expected at least 1 entry")
    rows = audit.show(
        *signed_in(workspace), action=action, actor=actor, obj=obj, since=start and start.isoformat(), limit=limit
    )
    if as_json:
        print_json(rows)
        return
    lines = [
        (r["seq"], r["at"][:16].replace("T", " "), r["actor"], r["action"], r["object"], describe(r["details"]))
        for r in rows
    ]
    console.print(table(("#", "when (UTC)", "who", "action", "object", "details"), lines, ids=("#", "when (UTC)")))


@register_app.command("build")
def register_build(
    workspace: WorkspaceOption = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the site (default: register/ in the workspace).")
    ] = None,
):
    """Write the transparency register: every project, what the platform will and won't do, how to opt out."""
    from bold.actions import register

    folder = register.build(*signed_in(workspace), out)
    console.print(f"Transparency register written to {shown(folder)}/ (index.html, promises.html, register.json)")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(register_app, name="register")
