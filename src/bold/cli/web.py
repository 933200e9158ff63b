"""``bold serve``: the web application and its JSON API on one workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from bold.cli.common import WorkspaceOption, err
from bold.errors import Invalid


def serve(
    workspace: WorkspaceOption,
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 is this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    max_upload_mb: Annotated[int, typer.Option(help="The largest upload accepted, in MB.")] = 512,
    tls_cert: Annotated[str | None, typer.Option(help="A TLS certificate (PEM) to serve HTTPS.")] = None,
    tls_key: Annotated[str | None, typer.Option(help="The certificate's private key (PEM).")] = None,
):
    """Serve the web application: the public register, and every role's work after sign-in (docs/web.md).
    People sign in with the same names and passwords as on the command line."""
    import tempfile

    import uvicorn

    from bold.web.app import create_app

    if not 1 <= port <= 65535:
        raise Invalid(f"--port {port}: expected 1 to 65535")
    if max_upload_mb < 1:
        raise Invalid(f"--max-upload-mb {max_upload_mb}: expected at least 1")
    if bool(tls_cert) != bool(tls_key):
        raise Invalid("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")
    app = create_app(workspace, max_upload_mb=max_upload_mb)
    # This process serves one workspace: an upload being received is spooled under its tmp/ (owner-only), never
    # in the system's temporary folder, so no extract is written outside the workspace even for a moment.
    tempfile.tempdir = str(app.state.ws.tmp_dir)
    scheme = "https" if tls_cert else "http"
    err.print(f"BOLD serving {workspace} at {scheme}://{host}:{port}/ (Ctrl-C to stop)", highlight=False)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        log_level="warning",
        access_log=False,  # paths carry ids, never identifiers; the audit chain is the record of what was done
        server_header=False,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
