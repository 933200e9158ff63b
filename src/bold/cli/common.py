"""What every command module shares: the consoles, sign-in from the environment or a prompt, the options
that mean the same thing everywhere, progress display, JSON output, and tables that never cut an id.

This is the only place below ``bold.cli`` that reads who is acting (``BOLD_USER``, ``BOLD_PASSWORD``):
the signed-in ``User`` is then passed to the actions explicitly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import getpass
import json
import os
import sys
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bold.errors import Invalid

# Not writing to a terminal (a pipe, a file, a test), nothing forces 80 columns: tables keep their width.
PIPED_WIDTH = 200
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="BOLD_WORKSPACE", help="The workspace folder (or set BOLD_WORKSPACE)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")]


def signed_in(workspace: Path, enforce_retention: bool = True):
    """Open the workspace and sign the person in: ``BOLD_USER``/``BOLD_PASSWORD``, or a prompt at a terminal.
    Opening it applies any retention due, except for ``bold retention`` itself (so a dry run can show it)."""
    from bold.actions.people import sign_in
    from bold.actions.workspace import open_workspace

    ws = open_workspace(workspace, enforce_retention)
    return ws, sign_in(ws, *credentials())


def credentials() -> tuple[str, str]:
    """The name and password of who is acting: ``BOLD_USER``/``BOLD_PASSWORD``, or asked for at a terminal
    (the same for a local workspace and for ``bold --server``)."""
    from bold.governance.people import AccessError

    name, password = os.environ.get("BOLD_USER"), os.environ.get("BOLD_PASSWORD")
    if not (name and password):
        if not sys.stdin.isatty():
            raise AccessError("sign in: set BOLD_USER and BOLD_PASSWORD (no terminal to ask on)")
        name = name or input("BOLD user: ")
        password = getpass.getpass(f"Password for {name}: ")
    return name, password


def new_password(variable: str, name: str) -> str:
    """A new password for ``name``: from ``variable``, or asked for (twice) at a terminal."""
    password = os.environ.get(variable)
    if password:
        return password
    if not sys.stdin.isatty():
        raise Invalid(f"set {variable} for {name} (no terminal to ask on)")
    first = getpass.getpass(f"New password for {name}: ")
    if getpass.getpass("Again: ") != first:
        raise Invalid("the two passwords differ")
    return first


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{option} {value!r} is not a date; expected YYYY-MM-DD") from None


@contextmanager
def phases(first: str = "starting"):
    """A spinner whose label follows the phases of a long job; yields the function to name a phase. Shown
    only at a terminal: in a pipe or a log it would leave a blank line before the result or the error."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(first, total=None)
        yield lambda phase: bar.update(task, description=shown(phase))  # phases name files, sources, ids


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses, enums, paths, dates, sets and data frames included."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas data frame
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if hasattr(value, "model_dump"):  # a pydantic model
        return plain(value.model_dump())
    return value


def print_json(value: Any) -> None:
    console.out(json.dumps(plain(value), indent=2, ensure_ascii=False, default=str), highlight=False)


def counted(n: int, noun: str) -> str:
    """``1 record``, ``2,000 records``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def shown(value: Any, lines: bool = False) -> str:
    """A value from data (a name, a title, a path, a reason) as printed: rich markup in it is escaped, so
    ``[bold]grace[/bold]`` prints as itself and never as another person; line breaks and other control
    characters are shown as escapes (``\\n``), so one value never looks like two lines of output."""
    text = "" if value is None else str(value)
    kept = "\n" if lines else ""  # ``lines``: a long text (a definition) keeps its line breaks
    text = "".join(ch if ch.isprintable() or ch in kept else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return escape(text)


SHORT = 16  # values this long or shorter (counts, dates, states) are never wrapped


def table(columns: Iterable[str], rows: Iterable[Iterable[Any]], ids: Iterable[str] = (), **kwargs) -> Table:
    """A table whose id columns (and short values) are never cut or folded: long text wraps to make room."""
    rows = [[shown(v) for v in row] for row in rows]  # cells come from data: never markup, never two lines
    columns, ids = list(columns), set(ids)
    out = Table(box=box.SIMPLE_HEAD, **kwargs)
    for i, name in enumerate(columns):
        width = max([len(name), *(len(r[i]) for r in rows)])
        if name in ids or width <= SHORT:
            out.add_column(name, no_wrap=True, min_width=width)
        else:
            out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*row)
    return out
