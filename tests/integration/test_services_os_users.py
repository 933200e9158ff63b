"""The key-per-service check: after ``bold service setup`` each service, run as its own operating-system user,
opens its own zones with its own keys and is refused the others' (issue 11). Needs root to create the users
(CI runs as root); each run uses a prefix of its own and removes its users and groups."""

from __future__ import annotations

import datetime as dt
import grp
import json
import os
import pwd
import secrets
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bold.cli import app
from bold.security import services
from bold.store import audit
from tests.conftest import approved_and_built, ingested

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("useradd", "groupadd", "usermod", "runuser")),
    reason="creates operating-system users: needs root with useradd, groupadd, usermod and runuser (CI has them)",
)

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
TODAY = dt.date(2026, 11, 22)
SRC = Path(__file__).parents[2] / "src"

# Run as a service user: try each way in to the workspace and say what happened, without judging it.
PROBE = r"""
import json, sys
from pathlib import Path
from bold.errors import BoldError
from bold.governance import projects
from bold.security import encryption
from bold.workspace import Workspace

ws = Workspace.open(Path(sys.argv[1]))
project = sys.argv[2]

def tables(con, alias):
    return con.execute(f"select count(*) from duckdb_tables() where database_name = '{alias}'").fetchone()[0]

def extract():
    with ws.duckdb_connection() as con:
        path, key = projects.extract_path(ws, project), projects.extract_key(ws, project)
        encryption.attach(con, path, "extract", key, read_only=True)
        return tables(con, "extract")

def zone(name):
    def opened():
        with getattr(ws, name)(read_only=True) as con:
            return tables(con, name)
    return opened

tries = {
    "identifiers.key": lambda: (ws.keys_dir / "identifiers.key").read_text() and 0,
    "content.key": lambda: (ws.keys_dir / "content.key").read_text() and 0,
    "links.key": lambda: (ws.keys_dir / "links.key").read_text() and 0,
    "project.key": lambda: (ws.keys_dir / "projects" / f"{project}.key").read_text() and 0,
    "identifiers.duckdb": lambda: ws.identifiers_path.read_bytes() and 0,
    "content.duckdb": lambda: ws.content_path.read_bytes() and 0,
    "links.duckdb": lambda: ws.links_path.read_bytes() and 0,
    "extract.duckdb": lambda: projects.extract_path(ws, project).read_bytes() and 0,
    "identifiers zone": zone("identifiers"),
    "content zone": zone("content"),
    "links zone": zone("links"),
    "extract": extract,
    "bold key content": lambda: ws.key("content") and 0,
    "bold key identifiers": lambda: ws.key("identifiers") and 0,
}
found = {}
for name, attempt in tries.items():
    try:
        found[name] = {"tables": attempt()}
    except PermissionError as exc:
        found[name] = {"refused": "PermissionError", "file": exc.filename}
    except BoldError as exc:
        found[name] = {"refused": exc.kind.value, "message": str(exc)}
print(json.dumps(found))
"""


def _child_python(user: str, env: dict) -> str:
    """An interpreter the service user can run: this one, or the system's of the same version (this one may
    live under root's home, which others cannot enter)."""
    candidates = [sys.executable, f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"]
    for python in candidates:
        done = subprocess.run(
            ["runuser", "-u", user, "--", python, "-c", "import bold, duckdb, duckdb_ext"], env=env, capture_output=True
        )
        if done.returncode == 0:
            return python
    pytest.skip(f"no Python interpreter that {user} can run with BOLD's dependencies (tried {candidates})")


def _remove_accounts(prefix: str) -> None:
    for service in services.SERVICE_NAMES:
        subprocess.run(["userdel", services.user_name(service, prefix)], capture_output=True)
    for group in [g.gr_name for g in grp.getgrall() if g.gr_name.startswith(prefix)]:
        subprocess.run(["groupdel", group], capture_output=True)


@pytest.fixture(scope="module")
def deployed(small_population):
    out, _ = small_population
    base = Path(tempfile.mkdtemp(prefix="bold-services-", dir="/tmp"))
    os.chmod(base, 0o755)  # pytest's own tmp folders are root's alone; the service users must reach the workspace
    prefix = f"t{secrets.token_hex(3)}-"
    try:
        from bold.linkage.run import link_workspace

        ws = ingested(base / "ws", out)
        link_workspace(ws, retrain=True, by="lin")
        project = approved_and_built(ws, EXAMPLE, TODAY)
        first = CliRunner().invoke(app, ["service", "setup", str(ws.root), "--prefix", prefix])
        assert first.exit_code == 0, first.output  # a failed setup is a failure, never a skip
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), *site.getsitepackages()])
        python = _child_python(services.user_name("linkage", prefix), env)
        yield ws, project, prefix, first, python, env
    finally:
        _remove_accounts(prefix)
        shutil.rmtree(base, ignore_errors=True)


def _as(service: str, deployed) -> dict:
    ws, project, prefix, _, python, env = deployed
    user = services.user_name(service, prefix)
    done = subprocess.run(
        ["runuser", "-u", user, "--", python, "-c", PROBE, str(ws.root), project],
        env=env,
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _opened(found: dict, *names: str) -> None:
    for name in names:
        assert "refused" not in found[name], f"{name}: {found[name]}"
        if name.endswith(("zone", "extract")) and name != "extract.duckdb":
            assert found[name]["tables"] > 0, name  # opened and decrypted, not just an empty file


def _refused(found: dict, *names: str) -> None:
    """A file read directly is refused by the system (PermissionError); a zone opened through BOLD is refused by
    the system or by ``Workspace.key`` turning that PermissionError into a one-line refusal."""
    for name in names:
        allowed = {"PermissionError"} if name.endswith((".key", ".duckdb")) else {"PermissionError", "refused"}
        assert found[name].get("refused") in allowed, f"{name} was not refused: {found[name]}"


def test_setup_creates_the_users_and_groups_and_audits_it(deployed):
    ws, _, prefix, first, _, _ = deployed
    assert first.exit_code == 0, first.output
    for service in services.SERVICE_NAMES:
        assert f"created user {services.user_name(service, prefix)}" in first.output
        pwd.getpwnam(services.user_name(service, prefix))
    members = set(grp.getgrnam(services.group_name("identifiers", prefix)).gr_mem)
    assert members == {services.user_name("ingest", prefix), services.user_name("linkage", prefix)}
    assert (ws.keys_dir / "identifiers.key").stat().st_mode & 0o777 == 0o640
    assert pwd.getpwuid(ws.links_path.stat().st_uid).pw_name == services.user_name("linkage", prefix)
    assert ws.services_prefix == prefix
    assert [json.loads(e["details"])["prefix"] for e in audit.entries(ws, action="services set up")] == [prefix]
    assert audit.verify(ws).ok


def test_setup_again_changes_nothing(deployed):
    ws, _, prefix, _, _, _ = deployed
    again = CliRunner().invoke(app, ["service", "setup", str(ws.root), "--prefix", prefix])
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output and "created" not in again.output
    assert len(audit.entries(ws, action="services set up")) == 1
    other = CliRunner().invoke(app, ["service", "setup", str(ws.root), "--prefix", "elsewhere-"])
    assert other.exit_code == 5 and f"already set up for the services {prefix}*" in other.output


def test_linkage_opens_identifiers_and_links_and_is_refused_content_and_extracts(deployed):
    found = _as("linkage", deployed)
    _opened(found, "identifiers.key", "links.key", "identifiers zone", "links zone", "bold key identifiers")
    _refused(found, "content.key", "content.duckdb", "content zone", "project.key", "extract.duckdb", "extract")
    assert found["bold key content"]["refused"] == "refused"
    assert "may not read key" in found["bold key content"]["message"]


def test_studies_open_the_extract_and_are_refused_identifiers_and_links(deployed):
    found = _as("studies", deployed)
    _opened(found, "project.key", "extract.duckdb", "extract")
    _refused(found, "identifiers.key", "links.key", "identifiers.duckdb", "links.duckdb")
    _refused(found, "identifiers zone", "links zone", "content.key", "content zone")


def test_ingest_is_refused_the_links(deployed):
    found = _as("ingest", deployed)
    _opened(found, "identifiers zone", "content zone")
    _refused(found, "links.key", "links.duckdb", "links zone", "project.key", "extract")


def test_setup_is_refused_to_anyone_but_root(deployed):
    ws, _, prefix, _, python, env = deployed
    done = subprocess.run(
        ["runuser", "-u", services.user_name("governance", prefix), "--", python, "-c",
         "from bold.cli import app; app()", "service", "setup", str(ws.root), "--prefix", prefix],
        env=env, capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: bold service setup must run as root (it creates system users and groups and changes the owners "
        "of the workspace's files)"
    ]
