"""``bold audit``, ``bold register`` and ``bold retention``: the tamper-evident audit chain, the public transparency
register, and deleting what is past its retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli.common import JsonOption, WorkspaceOption, console, err, parse_date, print_json, shown, signed_in, table
from bold.errors import Conflict, Invalid

audit_app = typer.Typer(help="The tamper-evident audit chain of every action.", no_args_is_help=True)
register_app = typer.Typer(help="The public transparency register.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Retention: records past their source's period and extracts past their project's end are deleted.",
    no_args_is_help=True,
)


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


TodayOption = Annotated[
    str | None, typer.Option("--today", help="Apply the periods as on this date (YYYY-MM-DD; default: today).")
]


def _print_retention(result, done: bool) -> None:
    """Per source and per project, what is (or was) deleted."""
    rows = [
        (
            s.source,
            s.period or "kept (no period)",
            s.set_in or "",
            ", ".join(s.due_batches) or "none",
            f"{s.records:,}" if s.due_batches else "",
            f"{s.versions:,}" if s.due_batches else "",
            f"{s.deleted_so_far:,}",
            (s.last_deleted or "")[:10],
        )
        for s in result.sources
    ]
    verb = "deleted" if done else "due"
    columns = ("source", "period", "set in", f"batches {verb}", f"records {verb}", "old versions", "deleted before")
    console.print(table((*columns, "last deleted"), rows, ids=("source",), title=f"Retention on {result.today}"))
    for p in result.projects:
        extract = "its extract " + ("deleted" if done else "to be deleted") if p.extract else "no extract on disk"
        console.print(f"Project {shown(p.project)} ended on {p.end}: {extract}; builds are refused.")
    if any(result.links.values()) or result.extracts:
        people = ", ".join(f"{shown(k)} {n:,}" for k, n in result.extracts.items()) or "none"
        console.print(
            f"Links {verb}: {sum(result.links.values()):,} rows (every run); people leaving built extracts: {people}"
        )
    if not result.due:
        console.print("Nothing is due: nothing " + ("was deleted." if done else "would be deleted."))


@retention_app.command("show")
def retention_show(workspace: WorkspaceOption = Path("."), today: TodayOption = None, as_json: JsonOption = False):
    """Each source's retention period (and where it is set), and what is due now."""
    from bold.actions import retention

    result = retention.show(*signed_in(workspace, enforce_retention=False), parse_date(today, "--today"))
    print_json(result) if as_json else _print_retention(result, done=False)


@retention_app.command("apply")
def retention_apply(
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")] = False,
    today: TodayOption = None,
    as_json: JsonOption = False,
):
    """Delete the records past their source's retention (both zones, their history, the links, built extracts)
    and the extracts of projects past their end date; audited, and shown in the register."""
    from bold.actions import retention

    ws, user = signed_in(workspace, enforce_retention=False)
    result = retention.apply(ws, user, parse_date(today, "--today"), dry_run=dry_run)
    print_json(result) if as_json else _print_retention(result, done=not dry_run)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(register_app, name="register")
    app.add_typer(retention_app, name="retention")
