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
from tests.conftest import TEAM_PASSWORD, add_team, approved_and_built, clear, linked_copy

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
def deployed(linked_small):
    base = Path(tempfile.mkdtemp(prefix="bold-services-", dir="/tmp"))
    os.chmod(base, 0o755)  # pytest's own tmp folders are root's alone; the service users must reach the workspace
    prefix = f"t{secrets.token_hex(3)}-"
    try:
        ws = linked_copy(linked_small, base / "ws")
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


# --- the services run their own commands: each as its own user, after setup -------------------------------


@pytest.fixture(scope="module")
def run_by_services(deployed, small_population):
    """A new workspace whose people and three sources are added by root, then set up; every later step is a
    command run by its service's user (the first links, a new project key, extract, evidence and outputs are all
    made after setup, by the service that owns them)."""
    from bold.governance.people import add_person

    out, _ = small_population
    _, _, prefix, _, python, env = deployed
    ws = _ingested(out, ("prison", "treatment", "deaths"))
    arrived = ws.root.parent / "hospital.parquet"  # a custodian's file, handed to the ingest service
    shutil.copy(out / "hospital.parquet", arrived)
    os.chown(arrived, pwd.getpwnam(services.user_name("ingest", prefix)).pw_uid, -1)
    for name, role in (("cara", "custodian"), ("lin", "linker"), ("adam", "admin")):
        add_person(ws, name, [role], TEAM_PASSWORD, by="test")
        clear(ws, name)
    add_team(ws, EXAMPLE)
    done = CliRunner().invoke(app, ["service", "setup", str(ws.root), "--prefix", prefix])
    assert done.exit_code == 0, done.output
    try:
        yield ws, arrived, prefix, python, env
    finally:
        shutil.rmtree(ws.root.parent, ignore_errors=True)


def _ingested(out: Path, sources: tuple[str, ...]):
    from bold.ingest.pipeline import ingest
    from bold.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="bold-services-run-", dir="/tmp"))
    os.chmod(root, 0o755)  # the service users must reach the workspace
    ws = Workspace.init(root / "ws")
    for source in sources:
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    return ws


def _cli(setting, service: str, person: str, *args: str) -> subprocess.CompletedProcess:
    """``bold ARGS`` run by the service's operating-system user, signed in as ``person``."""
    ws, _, prefix, python, env = setting
    return subprocess.run(
        ["runuser", "-u", services.user_name(service, prefix), "--", python, "-c", "from bold.cli import app; app()",
         *args, "-w", str(ws.root)],
        env={**env, "BOLD_USER": person, "BOLD_PASSWORD": TEAM_PASSWORD, "COLUMNS": "200"},
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}{done.stdout}"
    return done.stdout


def test_each_service_runs_its_own_command_as_its_own_user(run_by_services):
    """The whole flow after setup, each step by the service that owns it; every commit seals the head, so the
    chain verifies at the end, as the governance service."""
    ws, arrived, prefix, _, _ = run_by_services
    setting = run_by_services
    _ok(_cli(setting, "ingest", "cara", "ingest", str(arrived), "--source", "hospital"))
    _ok(_cli(setting, "linkage", "lin", "link"))
    assert pwd.getpwuid(ws.links_path.stat().st_uid).pw_name == services.user_name("linkage", prefix)
    assert grp.getgrgid(ws.links_path.stat().st_gid).gr_name == services.group_name("links", prefix)
    _ok(_cli(setting, "governance", "ana", "project", "submit", str(EXAMPLE)))
    project = json.loads(_ok(_cli(setting, "governance", "grace", "project", "list", "--json")))[0]["id"]
    _ok(_cli(setting, "governance", "grace", "project", "dpia", project, str(EXAMPLE.with_name("dpia.yaml"))))
    answers = str(EXAMPLE.with_name("board-answers.yaml"))
    _ok(_cli(setting, "governance", "grace", "project", "approve", project, "--answers", answers))
    for source in ("prison", "treatment", "deaths", "hospital"):
        _ok(_cli(setting, "governance", "cara", "project", "sign-off", project, "--source", source))
    _ok(_cli(setting, "build", "adam", "project", "build", project))
    key = ws.keys_dir / "projects" / f"{project}.key"
    assert (key.stat().st_mode & 0o777, grp.getgrgid(key.stat().st_gid).gr_name) == (
        0o640,
        services.group_name("projects", prefix),
    )
    ran = _ok(_cli(setting, "studies", "ana", "study", "run", project, "continuity-of-care"))
    assert "pending output" in ran
    for path in ws.root.rglob("*"):
        assert not path.lstat().st_mode & 0o007 or path.is_symlink(), f"{path} is open to others"
    verified = _ok(_cli(setting, "governance", "grace", "audit", "verify"))
    assert "intact" in verified, verified


def test_a_service_is_refused_a_command_whose_keys_it_does_not_hold(run_by_services):
    """The linkage service cannot run a study: the system refuses it the extract (and the project key its key
    derives from); the refusal is one line, exit 4, and leaves the chain intact."""
    ws = run_by_services[0]
    project = json.loads(_ok(_cli(run_by_services, "governance", "grace", "project", "list", "--json")))[0]["id"]
    done = _cli(run_by_services, "linkage", "ana", "study", "run", project, "continuity-of-care")
    assert done.returncode == 4, done.stderr + done.stdout
    assert done.stderr.strip().splitlines() == [
        f"error: {ws.root / 'projects' / project / 'extract.duckdb'}: Permission denied"
    ]
    assert "intact" in _ok(_cli(run_by_services, "governance", "grace", "audit", "verify"))


def test_a_head_that_cannot_be_written_commits_nothing(run_by_services):
    """If a service cannot write the audit head (its folder closed to the group, as before this release when it
    sat in the sticky root), the action is refused before it commits: no entry that the head does not seal, and
    the chain still verifies (before, the entry was committed and verify then said entries were added)."""
    ws, _, prefix, _, _ = run_by_services
    kept = ws.root.parent / "kept"
    kept.mkdir(exist_ok=True)
    os.chown(kept, pwd.getpwnam(services.user_name("studies", prefix)).pw_uid, -1)
    before = len(audit.entries(ws, limit=10_000))
    os.chmod(ws.audit_dir, 0o2750)  # the governance service's alone
    try:
        done = _cli(run_by_services, "studies", "grace", "audit", "witness", "--out", str(kept / "witness.jsonl"))
    finally:
        os.chmod(ws.audit_dir, 0o2770)
    assert done.returncode == 5, done.stderr + done.stdout
    assert done.stderr.strip().splitlines() == [
        f"error: cannot write the audit head in {ws.audit_dir} (Permission denied); run (as root): "
        f"bold service setup {ws.root} --prefix {prefix}"
    ]
    assert len(audit.entries(ws, limit=10_000)) == before
    assert audit.verify(ws).ok
    _ok(_cli(run_by_services, "studies", "grace", "audit", "witness", "--out", str(kept / "witness.jsonl")))
    assert len(audit.entries(ws, limit=10_000)) == before + 1 and audit.verify(ws).ok
