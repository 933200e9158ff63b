"""``bold service setup``: run a workspace as one operating-system user per service, each holding its keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bold.cli.common import JsonOption, console, print_json, shown

service_app = typer.Typer(help="The services a deployment runs, one operating-system user each.", no_args_is_help=True)


@service_app.command("setup")
def setup(
    folder: Annotated[Path, typer.Argument(help="The workspace folder.", readable=False)],
    prefix: Annotated[str, typer.Option(help="Prefix of the user and group names.")] = "bold-",
    as_json: JsonOption = False,
):
    """(root) Create a system user per service and a group per key, and give each service exactly its keys and
    zones (docs/security.md). Safe to run again: only what is missing or wrong is changed."""
    from bold.actions.services import require_root
    from bold.actions.services import setup as setup_services
    from bold.actions.workspace import open_workspace
    from bold.security.services import check_prefix

    check_prefix(prefix)  # what is wrong with the input first, then who runs it, then the folder
    require_root()
    done = setup_services(open_workspace(folder), prefix)
    if as_json:
        print_json(done)
        return
    for group in done.groups_created:
        console.print(f"created group {shown(group)}")
    for user in done.users_created:
        console.print(f"created user {shown(user)}")
    for user, group in done.memberships_added:
        console.print(f"added {shown(user)} to {shown(group)}")
    for path, owner, group, mode in done.files_changed:
        console.print(f"{shown(path)}: {shown(owner)}:{shown(group)} {mode}")
    if done.left_owner_only:
        console.print("left to root alone (no service holds them): " + ", ".join(map(shown, done.left_owner_only)))
    if not done.changed:
        console.print(f"{shown(folder)} is already set up for the {shown(done.prefix)}* services: nothing changed")


def register(app: typer.Typer) -> None:
    app.add_typer(service_app, name="service")
