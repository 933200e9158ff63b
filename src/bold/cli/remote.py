"""``bold --server URL``: the command line as a client of a BOLD server's JSON API (``bold.web.api``).

A custodian, an analyst or a checker then needs no workspace files, keys or zones on their machine: the command
signs in with the same name and password as locally (``bold.cli.common.credentials``), keeps the token for this
one command and signs out at the end. What the server refuses comes back as its kind's HTTP status and is raised
here as a ``BoldError`` of that kind with the server's message, so ``bold.cli._Group`` prints the same one line
and exits with the same code as the local command would. A command with no server form says so rather than
quietly running on the local folder.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import typer

from bold.cli.common import credentials, err
from bold.errors import HTTP_STATUSES, BoldError, Invalid, Kind

KINDS = {status: kind for kind, status in HTTP_STATUSES.items()} | {401: Kind.REFUSED, 413: Kind.INVALID}
# What runs against a server; every other command refuses --server (``check``).
COMMANDS = frozenset({"status", "ingest", "study run", "outputs list", "outputs review"})
INTERNAL_ERROR = 70  # as bold.cli: a failure of the server is a bug, not a refusal
TIMEOUT = 3600.0  # an ingest or a study run is answered when it is done


class Unreachable(BoldError):
    kind = Kind.INVALID  # as any other OSError of the command line: the address is wrong, or the server down


_server: str | None = None  # set by bold.cli._Group for the one command it runs


def server() -> str | None:
    """The ``--server`` (or ``BOLD_SERVER``) this command was given, if any."""
    return _server


@contextmanager
def given(url: str | None) -> Iterator[None]:
    global _server
    _server = url
    try:
        yield
    finally:
        _server = None


def check(name: str, command, args: list[str]) -> None:
    """Refuse a command that has no server form (one line, before it could run on the local folder)."""
    if "--help" in args:
        return
    path = name
    subcommands = getattr(command, "commands", None)  # a group of commands (bold outputs, bold project...)
    if isinstance(subcommands, dict):
        sub = next((a for a in args if not a.startswith("-")), None)
        if sub is None or sub not in subcommands:
            return  # click says what is missing or unknown
        path = f"{name} {sub}"
    if path not in COMMANDS:
        served = ", ".join(f"bold {c}" for c in sorted(COMMANDS))
        raise Invalid(f"bold {path} has no server form yet (--server works with {served}); run it without --server")


class Client:
    """One signed-in session with the server: ``get`` and ``post`` answer the JSON or raise the server's error."""

    def __init__(self, url: str):
        import httpx

        self.url = url
        self.http = httpx.Client(base_url=url, timeout=httpx.Timeout(TIMEOUT, connect=10.0))
        self.token: str | None = None

    def request(self, method: str, path: str, **kwargs) -> Any:
        import httpx

        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self.http.request(method, f"/api{path}", headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach the server at {self.url}: {exc or type(exc).__name__}") from None
        if response.is_success:
            return response.json()
        try:
            message = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            message = f"the server at {self.url} answered {response.status_code} {response.reason_phrase}"
        kind = KINDS.get(response.status_code)
        if kind is None:
            err.print(f"[bold red]error:[/] the server at {self.url} failed: {message}", highlight=False, markup=True)
            raise typer.Exit(INTERNAL_ERROR)
        raise BoldError(message, kind=kind)

    def sign_out(self) -> None:
        """End the session; quietly, as the command's own outcome is what is shown (it ends when idle anyway)."""
        import httpx

        with contextlib.suppress(httpx.HTTPError):
            self.http.post("/api/sign-out", headers={"authorization": f"Bearer {self.token}"})
        self.token = None

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, **kwargs) -> Any:
        return self.request("POST", path, **kwargs)


@contextmanager
def signed_in(url: str) -> Iterator[Client]:
    """A client signed in for one command, signed out again at its end (whatever happened)."""
    client = Client(url)
    try:
        name, password = credentials()
        client.token = client.post("/token", json={"name": name, "password": password})["token"]
        yield client
    finally:
        if client.token:
            client.sign_out()
        client.http.close()


# --- the commands: each answers the API's JSON; ``view`` gives what the local printers read ------------------


def status(url: str) -> dict:
    with signed_in(url) as c:
        return c.get("/status")


def ingest(
    url: str,
    file: Path,
    source: str,
    *,
    batch: str | None,
    mapping: Path | None,
    encoding: str,
    encoded: bool,
    check: bool = False,
    max_quarantine: float | None = None,
) -> dict:
    for path in (file, mapping):
        if path is not None and not path.is_file():
            raise Invalid(f"{path}: no such file")
    data = {"source": source, "encoding": encoding, "encoded": str(encoded).lower(), "check": str(check).lower()}
    if batch is not None:
        data["batch"] = batch
    if max_quarantine is not None:
        data["max_quarantine"] = str(max_quarantine)
    with signed_in(url) as c, file.open("rb") as f:
        files = {"file": (file.name, f, "application/octet-stream")}
        if mapping is not None:
            files["mapping"] = (mapping.name, mapping.read_bytes(), "application/yaml")
        answer = c.post("/ingest", data=data, files=files)
    return {**answer, "file": str(file)}  # printed as the person named it, as locally


def study_run(url: str, project_id: str, study_id: str, parameters: dict, backend: str) -> dict:
    if study_id == "all" or study_id.endswith((".yaml", ".yml")):
        raise Invalid(f"bold study run {study_id} has no server form yet: name one built-in study (bold study list)")
    with signed_in(url) as c:
        return c.post(
            f"/projects/{project_id}/studies/{study_id}/run", json={"parameters": parameters, "backend": backend}
        )


def outputs_list(url: str, project_id: str) -> list[dict]:
    with signed_in(url) as c:
        return c.get(f"/projects/{project_id}/outputs")


def outputs_review(url: str, project_id: str, output_id: str, vote: str, comment: str) -> dict:
    with signed_in(url) as c:
        return c.post(f"/projects/{project_id}/outputs/{output_id}/review", json={"vote": vote, "comment": comment})


def status_view(s: dict) -> SimpleNamespace:
    from bold.governance.lifecycle import ProjectState

    run = s["latest_run"]
    return SimpleNamespace(
        **{
            **s,
            "batches": [SimpleNamespace(**b) for b in s["batches"]],
            "latest_run": SimpleNamespace(**run) if run else None,
            "projects": {ProjectState(k): n for k, n in s["projects"].items()},
        }
    )


def ingest_view(r: dict) -> SimpleNamespace:
    return SimpleNamespace(**{**r, "reasons": Counter(r["reasons"])})


def run_view(answer: dict) -> SimpleNamespace:
    manifest = {"tables": {n: {"rows": t["rows"]} for n, t in answer["tables"].items()}, "seconds": answer["seconds"]}
    return SimpleNamespace(**answer["output"], manifest=lambda: manifest)


def output_view(o: dict) -> SimpleNamespace:
    from bold.governance.lifecycle import OutputState

    return SimpleNamespace(**{**o, "status": OutputState(o["status"])})


def output_json(o: dict) -> dict:
    """An output as ``bold outputs list --json`` prints it locally (the note is a property there)."""
    return {k: v for k, v in o.items() if k != "optout_note"}
