"""``bold init``, ``bold status`` and ``bold user``: the workspace and the people in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from bold.cli import remote
from bold.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    new_password,
    parse_date,
    print_json,
    shown,
    signed_in,
    table,
)
from bold.errors import Invalid


def init(
    folder: Annotated[Path, typer.Argument(help="A new, empty folder for the workspace.")],
    name: Annotated[str | None, typer.Option(help="A name for the workspace (default: the folder's).")] = None,
    admin: Annotated[
        str | None,
        typer.Option(help="The first person, an admin (default: BOLD_USER); password from BOLD_PASSWORD or a prompt."),
    ] = None,
):
    """Create a workspace: keys (mode 0600), settings, the governance store, the two zones and its admin."""
    from bold.actions.workspace import init as create

    admin = admin or os.environ.get("BOLD_USER")
    if not admin:
        raise Invalid("name the workspace's admin with --admin (or BOLD_USER)")
    ws = create(folder, admin, new_password("BOLD_PASSWORD", admin), name)
    console.print(
        f"Workspace created in {ws.root}/ (identifiers zone encrypted; keys in {ws.keys_dir}/); admin: {admin}"
    )


def status(workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """Show each source's batches, the latest linkage run, the projects and outputs waiting for checkers."""
    if (url := remote.server()) is not None:
        answer = remote.status(url)
        if as_json:
            print_json(answer)
        else:
            _print_status(remote.status_view(answer))
        return
    from bold.actions.workspace import status as workspace_status

    s = workspace_status(*signed_in(workspace))
    if as_json:
        print_json(s)
        return
    _print_status(s)


def _print_status(s) -> None:
    rows = [
        (b.source, b.name, f"{b.rows_read:,}", f"{b.rows_accepted:,}", f"{b.rows_quarantined:,}",
         _unresolved(b), f"{b.rows_opted_out:,}",
         b.finished_at[:10] + (f", withdrawn {b.withdrawn_at[:10]}" if getattr(b, "withdrawn_at", None) else ""))
        for b in s.batches
    ]  # fmt: skip
    rows += [(source, "none", "", "", "", "", "", "") for source in s.sources_without_data]
    columns = ("source", "batch", "read", "accepted", "quarantined", "unresolved", "opted out", "on")
    console.print(
        table(columns, rows, ids=("source", "batch"), title=f"Workspace {shown(s.name)}", title_justify="left")
    )
    console.print(
        f"Records stored: {s.records_stored:,} from {len(s.batches)} batch(es)"
        + (f" ({s.deleted_after_optout:,} deleted after an opt-out)" if s.deleted_after_optout else "")
        + (f" ({s.deleted_after_retention:,} deleted after their retention)" if s.deleted_after_retention else "")
        + f"; opt-out register: {s.optout_entries:,} entries"
    )
    unresolved = getattr(s, "quarantine_unresolved", None) or {}
    if unresolved:
        console.print(
            "Quarantined rows not yet resolved by a later batch: "
            + ", ".join(f"{shown(source)} {n:,}" for source, n in unresolved.items())
            + " (bold batch quarantine export BATCH --out FILE, to fix and send again)"
        )
    run = s.latest_run
    if run:
        people = ", ".join(f"{k} {v:,}" for k, v in run.clusters.items())
        console.print(
            f"Latest linkage run: {run.run_id} ({run.finished_at[:16]}), {run.records:,} records; people {people}"
        )
    else:
        console.print("Not linked yet (bold link).")
    console.print("Projects: " + ", ".join(f"{n} {state.value}" for state, n in s.projects.items()))
    if s.outputs_waiting:
        console.print(f"Study outputs waiting for output checkers: {s.outputs_waiting}")


def _unresolved(b) -> str:
    """A batch's quarantined rows that no later batch resolved (none shown for a withdrawn batch)."""
    if getattr(b, "withdrawn_at", None) or not b.rows_quarantined:
        return ""
    return f"{getattr(b, 'quarantine_unresolved', b.rows_quarantined):,}"


user_app = typer.Typer(help="People and their roles.", no_args_is_help=True)


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
    from bold.actions import people

    ws, user = signed_in(workspace)
    person = people.add(ws, user, name, role, new_password("BOLD_NEW_PASSWORD", name))
    console.print(f"{shown(person.name)} added with role(s) {', '.join(sorted(person.roles))}")


@user_app.command("list")
def user_list(workspace: WorkspaceOption = Path("."), as_json: JsonOption = False):
    """List people, their roles and whether they can sign in (never passwords)."""
    from bold.actions import people

    found = people.list_people(*signed_in(workspace))
    if as_json:
        print_json(found)
        return
    rows = [
        (p.name, ", ".join(sorted(p.roles)), "deactivated" if not p.active else "locked" if p.locked else "")
        for p in found
    ]
    console.print(table(("name", "roles", "state"), rows, ids=("name",)))


@user_app.command("deactivate")
def user_deactivate(
    name: Annotated[str, typer.Argument(help="The person who may no longer sign in.")],
    workspace: WorkspaceOption = Path("."),
):
    """Stop a person signing in (admin only); their record and everything they did are kept."""
    from bold.actions import people

    ws, user = signed_in(workspace)
    people.deactivate(ws, user, name)
    console.print(f"{shown(name)} deactivated: they can no longer sign in")


@user_app.command("reactivate")
def user_reactivate(
    name: Annotated[str, typer.Argument(help="The deactivated person who may sign in again.")],
    workspace: WorkspaceOption = Path("."),
):
    """Let a deactivated person sign in again, with the password they had (admin only); audited."""
    from bold.actions import people

    ws, user = signed_in(workspace)
    people.reactivate(ws, user, name)
    console.print(f"{shown(name)} reactivated: they can sign in again")


@user_app.command("unlock")
def user_unlock(
    name: Annotated[str, typer.Argument(help="The person locked out after repeated failed sign-ins.")],
    workspace: WorkspaceOption = Path("."),
):
    """Lift a lockout after repeated failed sign-ins (admin only); audited."""
    from bold.actions import people

    ws, user = signed_in(workspace)
    people.unlock(ws, user, name)
    console.print(f"{shown(name)} unlocked: they can sign in again")


@user_app.command("train")
def user_train(
    name: Annotated[str, typer.Argument(help="The person who completed the training.")],
    course: Annotated[str, typer.Option("--course", help="The course, as it is known (e.g. 'data protection').")],
    completed: Annotated[str, typer.Option("--completed", help="The date it was completed (YYYY-MM-DD).")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="The date it expires (YYYY-MM-DD; default: never).")
    ] = None,
    workspace: WorkspaceOption = Path("."),
):
    """Record a person's training (admin only); acting on data needs current training and a current approval."""
    from bold.actions import people

    ws, user = signed_in(workspace)
    done = parse_date(completed, "--completed")
    record = people.train(ws, user, name, course, done, parse_date(expires, "--expires"))
    until = f", valid until {record.expires_on}" if record.expires_on else " (it does not expire)"
    console.print(f"Training recorded for {shown(name)}: {shown(record.course)} on {record.completed_on}{until}")


@user_app.command("approve")
def user_approve(
    name: Annotated[str, typer.Argument(help="The person approved to work on data.")],
    expires: Annotated[str, typer.Option("--expires", help="The date the approval ends (YYYY-MM-DD).")],
    note: Annotated[
        str | None, typer.Option("--by-note", help="On what authority, e.g. 'vetted by MoJ security, ref 123'.")
    ] = None,
    workspace: WorkspaceOption = Path("."),
):
    """Approve a person to work on data until a date (admin only, never oneself); audited."""
    from bold.actions import people

    ws, user = signed_in(workspace)
    record = people.approve(ws, user, name, parse_date(expires, "--expires"), note)
    console.print(f"{shown(name)} approved to work on data until {record.expires_on}")


@user_app.command("show")
def user_show(
    name: Annotated[str | None, typer.Argument(help="The person (default: yourself; others: admin only).")] = None,
    workspace: WorkspaceOption = Path("."),
    as_json: JsonOption = False,
):
    """A person's roles, state (active, deactivated or locked), training and approval with their expiry dates,
    and whether they may act on data today."""
    from bold.actions import people

    ws, user = signed_in(workspace)
    found = people.show(ws, user, name or user.name)
    if as_json:
        print_json(found)
        return
    console.print(f"{shown(found.name)}: {', '.join(sorted(found.roles))}; {found.state}")
    training = [(t.course, t.completed_on, t.expires_on or "never", t.recorded_by) for t in found.training]
    console.print(table(("training", "completed", "expires", "recorded by"), training, title_justify="left"))
    approvals = [(a.expires_on, a.approved_by, shown(a.note or "")) for a in found.approvals]
    console.print(table(("approved until", "by", "note"), approvals, title_justify="left"))
    if found.gaps:
        console.print(f"May not act on data: {'; '.join(found.gaps)}.")
    else:
        console.print("May act on data: training and approval are current.")


@user_app.command("password")
def user_password(workspace: WorkspaceOption = Path(".")):
    """Change your own password (the new one from BOLD_NEW_PASSWORD or a prompt)."""
    from bold.actions import people

    ws, user = signed_in(workspace)
    people.change_password(ws, user, new_password("BOLD_NEW_PASSWORD", user.name))
    console.print(f"Password changed for {shown(user.name)}")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(status)
    app.add_typer(user_app, name="user")
