"""The ``bold`` command line: an adapter over the actions (parse, sign in, call, render), one module per stage.

Errors are mapped to exit codes once, here: a ``BoldError`` prints one line and exits with its kind's
code (``bold.errors.EXIT_CODES``); a file-system error prints one line; anything else is a bug and still
prints one line, never a traceback.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import TyperException

from bold import __version__
from bold.cli.common import err
from bold.errors import EXIT_CODES, BoldError, Kind

INTERNAL_ERROR = 70  # EX_SOFTWARE


class _Group(TyperGroup):
    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and ctx.params.get("server"):
            from bold.cli import remote

            remote.check(name, command, rest)  # a command with no server form never runs on the local folder
        return name, command, rest

    def invoke(self, ctx):
        from bold.cli import remote

        try:
            with remote.given(ctx.params.get("server")):
                return super().invoke(ctx)
        except (TyperException, typer.Exit, typer.Abort):
            raise
        except BoldError as exc:
            _error(str(exc))
            raise typer.Exit(EXIT_CODES[exc.kind]) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _error(f"{where}{exc.strerror or exc}")
            # a file this account may not open (a service without that zone's group) is a refusal, not bad input
            kind = Kind.REFUSED if isinstance(exc, PermissionError) else BoldError.kind
            raise typer.Exit(EXIT_CODES[kind]) from None
        except Exception as exc:
            _error(f"internal error ({type(exc).__name__}): {exc}; this is a bug in BOLD, please report it")
            raise typer.Exit(INTERNAL_ERROR) from None


def _error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bold {__version__}")
        raise typer.Exit()


def _server(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{value!r} is not a server's address: expected http://HOST:PORT or https://HOST")
    return value.rstrip("/") if value else value


app = typer.Typer(
    cls=_Group,
    help="BOLD: link records about people with complex needs safely, and let out only checked statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version, help="Show the version."),
    server: str | None = typer.Option(
        None,
        "--server",
        envvar="BOLD_SERVER",
        callback=_server,
        help="A BOLD server's address (bold serve): run the command there, as the person signed in "
        "(status, ingest, study run, outputs list, outputs review); no workspace files needed here.",
    ),
):
    """BOLD: link records about people with complex needs safely, and let out only checked statistics."""


from bold.cli import governance, ingest, linkage, projects, releases, services, studies, synth, web, workspace  # noqa: E402

for module in (synth, workspace, ingest, linkage, projects, studies, releases, governance, services, web):
    module.register(app)
