"""Every command, given bad input, fails with one line that says what is wrong, and never a traceback.

The walk lists the whole command tree from the Typer app, so a new command without a row in ``ARGS`` fails
here. Each command that takes a workspace is run against a missing workspace, a folder that is not one, one
whose settings or governance store is damaged, a wrong password, an unknown person, no sign-in at all, and a
store another connection has locked; writes wait for another writer only as long as ``BOLD_BUSY_SECONDS``
says. Then ``BAD`` is the explicit table of bad arguments, each with the exit code and a fragment of the
message it must give (the file, row or column, and what was expected). An exit code of 70 (an internal
error) or 1 (an exception that escaped) is a bug, whatever the message; so is a second line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from bold.cli import app
from bold.errors import EXIT_CODES
from bold.workspace import Workspace
from tests.conftest import clear

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "continuity-of-care.yaml"
PROJECT = "continuity-of-care"  # submitted by ana in the module's workspace, never approved (red lines)

ADMIN = {"BOLD_USER": "adam", "BOLD_PASSWORD": "a-long-admin-password"}
# wanda exists only to fail sign-in with a wrong password: she is locked out after five, which must not lock anyone
# else out of the cases that follow
PEOPLE = {"ana": "analyst", "grace": "governance", "oscar": "output_checker", "wanda": "analyst"}
KEYS = ("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002")  # record keys, unknown
MAPPED = set(EXIT_CODES.values())  # 2 invalid, 3 not found, 4 refused, 5 conflict
INVALID, NOT_FOUND, REFUSED, CONFLICT = 2, 3, 4, 5


def as_(name: str) -> dict[str, str]:
    return {"BOLD_USER": name, "BOLD_PASSWORD": f"a-long-password-for-{name}"}


def commands() -> dict[tuple[str, ...], typer.core.TyperCommand]:
    """Every command a person can run: leaf commands, and groups that run on their own (``bold link``)."""
    found = {}

    def walk(cmd, path: tuple[str, ...]) -> None:
        if isinstance(cmd, typer.core.TyperGroup):
            if path and cmd.invoke_without_command:
                found[path] = cmd
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        else:
            found[path] = cmd

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = commands()
# ``serve`` signs no one in and would block: its own cases are in BAD (and the server is tests/integration/test_web_*)
WITH_WORKSPACE = sorted(
    c for c, cmd in COMMANDS.items() if any(p.name == "workspace" for p in cmd.params) and c != ("serve",)
)

# Well-formed arguments for every command ({placeholders} are files the fixture makes), and who runs it: with
# these, only the situation under test (the workspace, the sign-in, the lock) can be what is wrong.
ARGS: dict[tuple[str, ...], tuple[list[str], dict[str, str]]] = {
    ("synth",): (["--people", "5", "--out", "{tmp}/synth"], {}),
    ("init",): (["{tmp}/new-ws"], {}),
    ("status",): ([], {}),
    ("sources",): ([], {}),
    ("ingest",): (["{prison_csv}", "--source", "prison"], {}),
    ("link-files",): (["{people_csv}", "--out", "{tmp}/lf", "--id", "id"], {}),
    ("encode",): (["{prison_csv}", "--source", "prison", "--secret", "{secret}", "--out", "{tmp}/enc.csv"], {}),
    ("user", "add"): (["zoe", "--role", "analyst"], {"BOLD_NEW_PASSWORD": "a-long-password-for-zoe"}),
    ("user", "list"): ([], {}),
    ("user", "deactivate"): (["oscar"], {}),
    ("user", "password"): ([], {"BOLD_NEW_PASSWORD": "another-long-password"}),
    ("user", "reactivate"): (["oscar"], {}),
    ("user", "unlock"): (["wanda"], {}),
    ("user", "train"): (["grace", "--course", "data protection", "--completed", "2026-01-02"], {}),
    ("user", "approve"): (["grace", "--expires", "2099-01-01"], {}),
    ("user", "show"): ([], {}),
    ("optout", "add"): (["{optout_csv}"], {}),
    ("batch", "quarantine", "export"): (["prison/none", "--out", "{tmp}/quarantine.csv"], {}),
    ("optout", "count"): ([], {}),
    ("batch", "withdraw"): (["prison", "first", "--yes"], {}),
    ("batch", "delete-list"): (["participants", "--yes"], {}),
    ("retention", "show"): ([], {}),
    ("retention", "apply"): (["--dry-run"], {}),
    ("link",): ([], {}),
    ("link", "report"): ([], {}),
    ("link", "runs"): ([], {}),
    ("link", "explain"): (["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"], {}),
    ("link", "review"): ([], {}),
    ("project", "submit"): (["{agreement}"], {}),
    ("project", "criteria"): ([], {}),
    ("project", "dpia"): ([PROJECT, "{dpia}"], as_("grace")),
    ("project", "approve"): ([PROJECT, "--answers", "{answers}"], as_("grace")),
    ("project", "sign-off"): ([PROJECT, "--source", "prison"], {}),
    ("project", "history"): ([PROJECT], {}),
    ("project", "refuse"): ([PROJECT, "--reason", "not yet"], as_("grace")),
    ("project", "amend"): ([PROJECT, "{agreement}"], as_("ana")),
    ("project", "withdraw"): ([PROJECT], as_("ana")),
    ("project", "show"): ([PROJECT], {}),
    ("project", "list"): ([], {}),
    ("project", "build"): ([PROJECT], {}),
    ("project", "close"): ([PROJECT], {}),
    ("study", "list"): ([], {}),
    ("study", "show"): (["continuity-of-care"], {}),
    ("study", "run"): ([PROJECT, "continuity-of-care"], as_("ana")),
    ("outputs", "list"): ([PROJECT], {}),
    ("outputs", "show"): ([PROJECT, "output-1"], as_("oscar")),
    ("outputs", "check"): ([PROJECT, "output-1"], as_("ana")),
    ("outputs", "report"): ([PROJECT, "output-1"], as_("ana")),
    ("outputs", "request"): ([PROJECT, "output-1", "--context", "c", "--controls", "k"], as_("ana")),
    ("outputs", "votes"): ([PROJECT, "req-1"], as_("oscar")),
    ("outputs", "review"): ([PROJECT, "output-1", "--vote", "approve", "--comment", "ok"], as_("oscar")),
    ("outputs", "decide"): ([PROJECT, "req-1"], as_("oscar")),
    ("outputs", "release"): ([PROJECT, "output-1"], as_("oscar")),
    ("outputs", "withdraw"): ([PROJECT, "output-1"], as_("ana")),
    ("releases", "list"): ([PROJECT], {}),
    ("releases", "show"): ([PROJECT, "rel-1"], as_("ana")),
    ("releases", "verify"): ([PROJECT, "rel-1"], {}),
    ("releases", "impact"): ([PROJECT, "rel-1", "--note", "a service changed"], as_("grace")),
    ("releases", "report"): ([PROJECT, "--out", "{tmp}/report.html"], as_("ana")),
    ("audit", "verify"): ([], {}),
    ("audit", "show"): ([], {}),
    ("audit", "witness"): (["--out", "{tmp}/witness.jsonl"], as_("grace")),
    ("register", "build"): ([], {}),
    ("service", "setup"): (["{ws}"], {}),  # run by root, no sign-in; its refusal to others: test_services_os_users
    ("serve",): (["--port", "8000"], {}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """A workspace made through the command line (adam, and ana, grace and oscar), a project submitted by ana
    and never approved, and the small files the table names; the placeholders of ``ARGS`` and ``BAD``."""
    tmp = tmp_path_factory.mktemp("cli-errors")
    ws = tmp / "ws"
    made = invoke("init", ws)
    assert made.exit_code == 0, made.output
    for name, role in PEOPLE.items():
        env = {"BOLD_NEW_PASSWORD": as_(name)["BOLD_PASSWORD"]}
        added = invoke("user", "add", name, "--role", role, "-w", ws, env=env)
        assert added.exit_code == 0, added.output
    clear(Workspace.open(ws), "adam", *PEOPLE)  # trained and approved: the data commands get past the check
    (tmp / "not-a-workspace").mkdir()
    (tmp / "bad-settings").mkdir()
    (tmp / "bad-settings" / "bold.toml").write_text("[workspace\nname = ")
    files = {
        "people_csv": "id,forename,surname,date_of_birth\n1,Ann,Lee,1980-01-02\n2,Bob,Ray,1981-03-04\n",
        "names_csv": "id,forename,surname\n1,Ann,Lee\n2,Bob,Ray\n",
        "optout_csv": "nhs_number\n9434765919\n",
        "prison_csv": "BOOKING_ID,SURNAME\n1,LEE\n",
        "junk_csv": "a,b\n1,2\n",
        "empty_csv": "",
        "colon_yaml": ": : :\n",
        "list_yaml": "- a\n- b\n",
        "tab_yaml": "id: x\n\tbad: tab\n",
        "mapping_yaml": "THEIR_ID: NOT_A_COLUMN\n",
        "format_yaml": "SURNAME:\n  format: '%Y-%m-%d'\n",
        "iso_deaths_csv": "REG_ID,FORENAMES,SURNAME,DOB,SEX,DOD,UNDERLYING_CAUSE,DRUG_RELATED\n"
        "D1,Ann,Lee,1980-03-07,F,2024-05-01,X42,Y\n",
        "junk_json": "{not json",
        "roles_yaml": "id: id\ncolumns:\n  forename: forename\n  shoe: size\n",
        "postcodes_csv": "ref,postcode\n7,AB1 2CD\n",
    }
    for name, text in files.items():
        (tmp / name.replace("_", ".")).write_text(text)
    (tmp / "binary.csv").write_bytes(b"\x00\xff\xfe" * 100)
    agreement = yaml.safe_load(EXAMPLE.read_text())
    (tmp / "agreement.yaml").write_text(yaml.safe_dump(agreement))
    (tmp / "bad-date.yaml").write_text(yaml.safe_dump({**agreement, "id": "bad-date", "start": "notadate"}))
    (tmp / "no-title.yaml").write_text(yaml.safe_dump({k: v for k, v in agreement.items() if k != "title"}))
    (tmp / "other.yaml").write_text(yaml.safe_dump({**agreement, "id": "other-project"}))
    secret = tmp / "secret"
    secret.write_text("0" * 64)
    secret.chmod(0o600)
    (tmp / "short-secret").write_text("tooshort")
    (tmp / "short-secret").chmod(0o600)
    (tmp / "open-secret").write_text("0" * 64)
    (tmp / "open-secret").chmod(0o644)
    submitted = invoke("project", "submit", tmp / "agreement.yaml", "-w", ws, env=as_("ana"))
    assert submitted.exit_code == 0, submitted.output
    # A copy whose governance store has been replaced by text.
    damaged = tmp / "damaged-ws"
    shutil.copytree(ws, damaged)
    (damaged / "governance.db").write_text("this is not a database\n")
    places = {"tmp": tmp, "ws": ws, "damaged": damaged, "secret": secret, "agreement": tmp / "agreement.yaml"}
    places |= {"dpia": EXAMPLE.with_name("dpia.yaml"), "answers": EXAMPLE.with_name("board-answers.yaml")}
    places |= {name: tmp / name.replace("_", ".") for name in [*files, "binary_csv"]}
    return {k: str(v) for k, v in places.items()}


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env={**ADMIN, **(env or {})})


def fill(args: list[str], world: dict[str, str]) -> list[str]:
    return [a.format(**world) for a in args]


def assert_one_line_error(result, code: int | None = None, fragment: str | None = None) -> str:
    """One line, ``error: ...``, a mapped exit code (never 70, an internal error; never 1, an escaped
    exception); and, if given, this code and this fragment of the message."""
    where = f"exit {result.exit_code}: {result.output!r}" + (f" ({result.exception!r})" if result.exception else "")
    assert result.exit_code != 0, where
    assert "Traceback" not in result.output, where
    assert result.exit_code in MAPPED, where
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0][7:].strip(), where
    if code is not None:
        assert result.exit_code == code, where
    if fragment is not None:
        assert fragment in lines[0], where
    return lines[0]


def test_the_tables_cover_every_command():
    assert set(ARGS) == set(COMMANDS), "a command without well-formed arguments in ARGS (or one that is gone)"
    assert {cmd for cmd, *_ in BAD} >= set(COMMANDS) - NOTHING_TO_GET_WRONG, "a command without bad-argument cases"
    assert ("link",) in COMMANDS and len(WITH_WORKSPACE) >= 25


# --- the workspace and the sign-in, for every command that takes a workspace -------------------------------------

SITUATIONS = {
    "missing workspace": ("/nonexistent/path", {}, NOT_FOUND, "/nonexistent/path is not a BOLD workspace"),
    "not a workspace": ("{tmp}/not-a-workspace", {}, NOT_FOUND, "not-a-workspace is not a BOLD workspace"),
    "wrong password": (
        "{ws}",
        {"BOLD_USER": "wanda", "BOLD_PASSWORD": "not-the-password"},
        REFUSED,
        "sign-in failed for 'wanda'",
    ),
    "unknown person": ("{ws}", {"BOLD_USER": "nobody"}, REFUSED, "sign-in failed for 'nobody'"),
    "no sign-in": ("{ws}", {"BOLD_USER": "", "BOLD_PASSWORD": ""}, REFUSED, "set BOLD_USER and BOLD_PASSWORD"),
    "settings not TOML": ("{tmp}/bad-settings", {}, INVALID, "bad-settings/bold.toml: "),
    "store not a database": ("{damaged}", {}, INVALID, "governance.db: not a BOLD governance store"),
}


@pytest.mark.parametrize("situation", sorted(SITUATIONS))
@pytest.mark.parametrize("command", WITH_WORKSPACE, ids=" ".join)
def test_every_command_fails_in_one_line_on_a_bad_workspace_or_sign_in(world, command, situation):
    workspace, env, code, fragment = SITUATIONS[situation]
    args, who = ARGS[command]
    result = invoke(*command, *fill(args, world), "-w", workspace.format(**world), env={**who, **env})
    assert_one_line_error(result, code, fragment.format(**world))


@contextmanager
def locked(db_path: str, how: str):
    """Another connection holds the store: ``immediate`` as a BOLD command that is writing does (others may still
    read), ``exclusive`` as one that is committing (no one may even read)."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute(f"begin {how}")
    try:
        yield
    finally:
        other.execute("rollback")
        other.close()


BUSY = "the workspace is busy: another BOLD command is writing to it; try again"


@pytest.mark.parametrize("command", WITH_WORKSPACE, ids=" ".join)
def test_every_command_on_a_locked_store_says_the_workspace_is_busy(world, command):
    args, who = ARGS[command]
    with locked(f"{world['ws']}/governance.db", "exclusive"):
        t = time.monotonic()
        result = invoke(*command, *fill(args, world), "-w", world["ws"], env={**who, "BOLD_BUSY_SECONDS": "0.05"})
    assert_one_line_error(result, CONFLICT, BUSY)
    assert time.monotonic() - t < 15  # BOLD_BUSY_SECONDS, not the 60 s default (slack for a loaded machine)


@pytest.mark.parametrize(
    "command",
    [("user", "add"), ("user", "password"), ("project", "submit"), ("project", "withdraw"), ("register", "build")],
    ids=" ".join,
)
def test_a_write_waits_for_another_writer_then_gives_up_in_one_line(world, command):
    args, who = ARGS[command]
    if command == ("project", "submit"):
        args = ["{tmp}/other.yaml"]
    with locked(f"{world['ws']}/governance.db", "immediate"):
        t = time.monotonic()
        result = invoke(*command, *fill(args, world), "-w", world["ws"], env={**who, "BOLD_BUSY_SECONDS": "0.5"})
        waited = time.monotonic() - t
    assert_one_line_error(result, CONFLICT, BUSY)
    assert 0.5 <= waited < 15


def test_a_writer_in_another_process_makes_the_workspace_busy(world):
    holder = textwrap.dedent(
        f"""
        import sqlite3, sys, time
        db = sqlite3.connect({world["ws"] + "/governance.db"!r}, isolation_level=None)
        db.execute("begin immediate")
        print("locked", flush=True)
        sys.stdin.read()  # until the test closes our input
        """
    )
    other = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "locked"
        env = {**as_("ana"), "BOLD_BUSY_SECONDS": "1"}
        result = invoke("project", "submit", f"{world['tmp']}/other.yaml", "-w", world["ws"], env=env)
    finally:
        other.stdin.close()
        other.wait(timeout=10)
    assert_one_line_error(result, CONFLICT, BUSY)
    assert "other-project" not in invoke("project", "list", "-w", world["ws"]).output  # nothing was half-written


def test_a_zone_another_process_holds_makes_the_workspace_busy(world):
    ws = Path(world["tmp"]) / "zone-held-ws"  # a copy: were the zone not held, this ingest would change it
    shutil.copytree(world["ws"], ws)
    holder = "import duckdb, sys; from bold.workspace import Workspace; con = duckdb.connect(); "
    holder += f"Workspace({str(ws)!r}).attach(con, 'content'); print('held', flush=True); sys.stdin.read()"
    other = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        result = invoke("ingest", world["prison_csv"], "-s", "prison", "-w", ws)
    finally:
        other.stdin.close()
        other.wait(timeout=10)
    assert_one_line_error(result, CONFLICT, "the workspace is busy: another BOLD command is using content.duckdb")


def test_a_workspace_name_is_kept_whatever_its_characters(world):
    name = 'Ann\'s "north" \\ workspace'  # was written into bold.toml unescaped: an internal error
    made = invoke("init", f"{world['tmp']}/named-ws", "--name", name)
    assert made.exit_code == 0, made.output
    assert f"Workspace {name}" in invoke("status", "-w", f"{world['tmp']}/named-ws").output


def test_a_bad_busy_setting_is_one_line(world):
    result = invoke("user", "list", "-w", world["ws"], env={"BOLD_BUSY_SECONDS": "soon"})
    assert_one_line_error(result, INVALID, "BOLD_BUSY_SECONDS='soon': expected a number of seconds")


# --- bad arguments, command by command ---------------------------------------------------------------------------

W = ("-w", "{ws}")
BAD: list[tuple[tuple[str, ...], list[str], dict[str, str], int, str]] = [
    # command, arguments, who (and other settings), exit code, a fragment of the one-line message
    (("synth",), ["--people", "5", "-o", "{tmp}/s", "--corruption", "{tmp}/nope.yaml"], {}, INVALID,
     "nope.yaml: cannot read corruption rates: No such file or directory"),
    (("synth",), ["--people", "5", "-o", "{tmp}/s", "--corruption", "{colon_yaml}"], {}, INVALID,
     "colon.yaml: line 1: cannot read corruption rates: not valid YAML"),
    (("synth",), ["--people", "5", "-o", "{tmp}/s", "--corruption", "{list_yaml}"], {}, INVALID,
     "list.yaml: expected a mapping of source to rates"),
    (("synth",), ["--people", "5", "-o", "{tmp}/s", "--start", "notadate"], {}, INVALID,
     "--start 'notadate' is not a date; expected YYYY-MM-DD"),
    (("synth",), ["--people", "5", "-o", "{junk_csv}/out"], {}, INVALID, "cannot write to output folder"),
    (("service", "setup"), ["{ws}", "--prefix", "Bad Prefix"], {}, INVALID, "service prefix 'Bad Prefix': expected"),
    *([  # past the root check (CI runs as root); anyone else is refused first (test_services_os_users)
        (("service", "setup"), ["/nonexistent/path"], {}, NOT_FOUND, "/nonexistent/path is not a BOLD workspace"),
        (("service", "setup"), ["{tmp}/bad-settings"], {}, INVALID, "bad-settings/bold.toml: "),
    ] if os.geteuid() == 0 else []),
    (("init",), ["{ws}"], {}, CONFLICT, "ws is already a workspace"),
    (("init",), ["{tmp}"], {}, CONFLICT, "is not empty; choose a new folder for the workspace"),
    (("init",), ["{junk_csv}/ws"], {}, INVALID, "cannot create a workspace in"),
    (("init",), ["{tmp}/short-ws"], {"BOLD_PASSWORD": "short"}, INVALID, "a password needs at least 12 characters"),
    (("init",), ["{tmp}/nobody-ws"], {"BOLD_USER": ""}, INVALID, "name the workspace's admin with --admin"),
    (("ingest",), ["{tmp}/nope.csv", "-s", "prison", *W], {}, INVALID, "nope.csv: no such file"),
    (("ingest",), ["{junk_csv}", "-s", "pharmacy", *W], {}, INVALID,
     "unknown source type 'pharmacy'; expected one of deaths, homelessness"),
    (("ingest",), ["{junk_csv}", "-s", "prison", *W], {}, INVALID,
     "junk.csv: required column(s) missing: BOOKING_ID"),
    (("ingest",), ["{empty_csv}", "-s", "prison", *W], {}, INVALID,
     "empty.csv: the file is empty; expected a header row"),
    (("ingest",), ["{binary_csv}", "-s", "prison", *W], {}, INVALID, "binary.csv: required column(s) missing"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--encoding", "ebcdic", *W], {}, INVALID,
     "encoding 'ebcdic' is not supported; use one of utf-8, latin-1, utf-16"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--mapping", "{tmp}/nope.yaml", *W], {}, INVALID,
     "nope.yaml: cannot read the column mapping: No such file or directory"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--mapping", "{colon_yaml}", *W], {}, INVALID,
     "colon.yaml: line 1: cannot read the column mapping: not valid YAML"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--mapping", "{tab_yaml}", *W], {}, INVALID,
     "tab.yaml: line 2: cannot read the column mapping: not valid YAML"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--mapping", "{list_yaml}", *W], {}, INVALID,
     "list.yaml: expected lines of 'THEIR_COLUMN: CONTRACT_COLUMN'"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--mapping", "{mapping_yaml}", *W], {}, INVALID,
     "mapping.yaml: line 1: maps to a column not in the prison contract"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--mapping", "{format_yaml}", *W], {}, INVALID,
     "format.yaml: line 2: SURNAME: a format is for date columns only (SURNAME is a string)"),
    (("ingest",), ["{junk_csv}", "-s", "prison", "--max-quarantine", "1.5", *W], {}, INVALID,
     "--max-quarantine must be a share from 0 to below 1"),
    (("batch", "quarantine", "export"), ["prison/none", "--out", "{tmp}/q.csv", *W], {}, NOT_FOUND,
     "no batch prison/none"),
    (("batch", "quarantine", "export"), ["prison", "--out", "{tmp}/q.csv", *W], {}, INVALID,
     "batch 'prison': expected a batch id (a number) or SOURCE/NAME"),
    (("batch", "quarantine", "export"), ["1", "--out", "{tmp}/q.txt", *W], {}, INVALID,
     "--out {tmp}/q.txt: a quarantine export is written to a .csv file"),
    (("batch", "quarantine", "export"), ["1", "--out", "{tmp}/q.csv", *W], as_("ana"), REFUSED,
     "ana (analyst) may not ingest"),
    (("ingest",), ["{iso_deaths_csv}", "-s", "deaths", *W], {}, INVALID,
     "iso.deaths.csv: every row (1) would be quarantined, so nothing was stored; DOB: not a date in the format"),
    (("ingest",), ["{junk_csv}", "-s", "prison", *W], as_("ana"), REFUSED, "ana (analyst) may not ingest"),
    (("link-files",), ["{tmp}/nope.csv", "-o", "{tmp}/lf", "--id", "id"], {}, INVALID, "nope.csv: no such file"),
    (("link-files",), ["{empty_csv}", "-o", "{tmp}/lf", "--id", "id"], {}, INVALID, "empty.csv: the file is empty"),
    (("link-files",), ["{binary_csv}", "-o", "{tmp}/lf", "--id", "id"], {}, INVALID,
     "binary.csv: cannot read the file"),
    (("link-files",), ["{junk_csv}", "-o", "{tmp}/lf", "--id", "id"], {}, INVALID,
     "junk.csv: id column 'id' not found; columns are a, b"),
    (("link-files",), ["{junk_csv}", "-o", "{tmp}/lf", "--id", "a"], {}, INVALID,
     "junk.csv: no column is named after an identifier role; map them with --map ROLE=COLUMN"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--map", "forename"], {}, INVALID,
     "--map 'forename': expected ROLE=COLUMN"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--map", "wizard=surname"], {}, INVALID,
     "unknown role 'wizard'"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--map", "forename=given"], {}, INVALID,
     "mapped column(s) not found: forename=given"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--model", "{tmp}/nope.json"], {}, INVALID,
     "nope.json: no such file; give a model.json that bold link-files wrote"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--model", "{junk_json}"], {}, INVALID,
     "junk.json: cannot use the model"),
    (("link-files",), ["{people_csv}", "{people_csv}", "{people_csv}", "-o", "{tmp}/lf", "--id", "id"], {}, INVALID,
     "give one file to deduplicate or two to link"),
    (("link-files",), ["{people_csv}", "{people_csv}", "-o", "{tmp}/lf", "--id", "id"], {}, INVALID,
     "2 id(s) appear in both files; ids must be unique across the two files"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--threshold", "2"], {}, INVALID,
     "--threshold 2.0: expected a match probability from 0 to 1"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--pairs-threshold", "1"], {}, INVALID,
     "--pairs-threshold 1.0: expected a match probability from 0 to below 1"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--date-format", "%Q"], {}, INVALID,
     "--date-format '%Q': Invalid Input Error: Failed to parse format specifier %Q"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--date-format", "%d/%m/%Y"], {}, INVALID,
     "people.csv: no value of date_of_birth is a date in --date-format '%d/%m/%Y'"),
    (("link-files",), ["{names_csv}", "-o", "{tmp}/lf", "--id", "id"], {}, INVALID,
     "too few identifiers to train a model: the files need values for one of nhs_number; pnc_id"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf"], {}, INVALID,
     "people.csv: no id column given; give --id COLUMN (or --id-a / --id-b, or id: in a mapping file)"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--id", "id", "--id-b", "ref"], {}, INVALID,
     "options for file b (--id-b, --map-b, --date-format-b, --mapping-b) need a second file"),
    (("link-files",), ["{people_csv}", "{postcodes_csv}", "-o", "{tmp}/lf", "--id", "id", "--map-b", "wizard=x"],
     {}, INVALID, "--map-b 'wizard=x': unknown role 'wizard'"),
    (("link-files",), ["{people_csv}", "{junk_csv}", "-o", "{tmp}/lf", "--id-a", "id", "--id-b", "nope"], {}, INVALID,
     "junk.csv: id column 'nope' not found; columns are a, b"),
    (("link-files",), ["{people_csv}", "{junk_csv}", "-o", "{tmp}/lf", "--id-a", "id", "--id-b", "a", "--map-b",
                       "forename=given"], {}, INVALID,
     "junk.csv: mapped column(s) not found: forename=given; columns are a, b"),
    (("link-files",), ["{people_csv}", "{postcodes_csv}", "-o", "{tmp}/lf", "--id", "id", "--date-format-b", "%Q"],
     {}, INVALID, "--date-format-b '%Q': Invalid Input Error"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--mapping-a", "{list_yaml}"], {}, INVALID,
     "list.yaml: expected keys id, date_format, columns"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--mapping-a", "{colon_yaml}"], {}, INVALID,
     "colon.yaml: line 1: cannot read the mapping file: not valid YAML"),
    (("link-files",), ["{people_csv}", "-o", "{tmp}/lf", "--mapping-a", "{roles_yaml}"], {}, INVALID,
     "roles.yaml: line 4: unknown role; roles are"),
    (("link-files",), ["{people_csv}", "{postcodes_csv}", "-o", "{tmp}/lf", "--id-a", "id", "--id-b", "ref"], {},
     INVALID, "too few identifiers to train a model"),
    (("encode",), ["{prison_csv}", "-s", "prison", "--secret", "{tmp}/nope", "-o", "{tmp}/e.csv"], {}, INVALID,
     "nope: no such secret; create one with --new-secret"),
    (("encode",), ["{prison_csv}", "-s", "prison", "--secret", "{secret}", "--new-secret", "-o", "{tmp}/e.csv"], {},
     CONFLICT, "secret already exists; drop --new-secret to use it"),
    (("encode",), ["{prison_csv}", "-s", "prison", "--secret", "{tmp}/short-secret", "-o", "{tmp}/e.csv"], {},
     INVALID, "short-secret: the secret is too short (at least 32 characters)"),
    (("encode",), ["{prison_csv}", "-s", "prison", "--secret", "{tmp}/open-secret", "-o", "{tmp}/e.csv"], {},
     INVALID, "open-secret is readable by others (mode 644); run: chmod 600"),
    (("encode",), ["{tmp}/nope.csv", "-s", "prison", "--secret", "{secret}", "-o", "{tmp}/e.csv"], {}, INVALID,
     "nope.csv: No such file or directory"),
    (("encode",), ["{prison_csv}", "-s", "pharmacy", "--secret", "{secret}", "-o", "{tmp}/e.csv"], {}, INVALID,
     "unknown source type 'pharmacy'"),
    (("encode",), ["{junk_csv}", "-s", "prison", "--secret", "{secret}", "-o", "{tmp}/e.csv"], {}, INVALID,
     "junk.csv: required column(s) missing: BOOKING_ID"),
    (("encode",), ["{prison_csv}", "-s", "prison", "--secret", "{secret}", "-o", "{tmp}/e.csv", "--mapping",
                   "{colon_yaml}"], {}, INVALID, "colon.yaml: line 1: cannot read the column mapping"),
    (("encode",), ["{prison_csv}", "-s", "prison", "--secret", "{secret}", "-o", "{tmp}/e.csv", "--encoding",
                   "ebcdic"], {}, INVALID, "encoding 'ebcdic' is not supported"),
    (("user", "add"), ["zoe", "--role", "wizard", *W], {"BOLD_NEW_PASSWORD": "a-long-password-for-zoe"}, INVALID,
     "unknown role(s) wizard; roles are custodian, linker"),
    (("user", "add"), ["zoe", "--role", "analyst", *W], {"BOLD_NEW_PASSWORD": "short"}, INVALID,
     "a password needs at least 12 characters"),
    (("user", "add"), ["zoe", "--role", "analyst", *W], {}, INVALID,
     "set BOLD_NEW_PASSWORD for zoe (no terminal to ask on)"),
    (("user", "add"), ["ana", "--role", "analyst", *W], {"BOLD_NEW_PASSWORD": "a-long-password-for-ana"}, CONFLICT,
     "ana already exists"),
    (("user", "add"), ["zoe lee", "--role", "analyst", *W], {"BOLD_NEW_PASSWORD": "a-long-password-for-zoe"},
     INVALID, "'zoe lee' is not a user name"),
    (("user", "add"), ["zoe", "--role", "analyst", *W], {**as_("ana"), "BOLD_NEW_PASSWORD": "a-long-password"},
     REFUSED, "ana (analyst) may not user add; this needs one of: admin"),
    (("user", "list"), [*W], as_("ana"), REFUSED, "ana (analyst) may not user list"),
    (("user", "deactivate"), ["nobody", *W], {}, NOT_FOUND, "no person 'nobody'"),
    (("user", "deactivate"), ["adam", *W], {}, REFUSED, "you cannot deactivate yourself"),
    (("user", "password"), [*W], {"BOLD_NEW_PASSWORD": "short"}, INVALID, "a password needs at least 12 characters"),
    (("user", "reactivate"), ["nobody", *W], {}, NOT_FOUND, "no person 'nobody'"),
    (("user", "reactivate"), ["ana", *W], {}, CONFLICT, "ana is active: nothing to reactivate"),
    (("user", "reactivate"), ["ana", *W], as_("ana"), REFUSED, "ana (analyst) may not user reactivate"),
    (("user", "unlock"), ["nobody", *W], {}, NOT_FOUND, "no person 'nobody'"),
    (("user", "unlock"), ["ana", *W], {}, CONFLICT, "ana is not locked"),
    (("user", "unlock"), ["ana", *W], as_("ana"), REFUSED, "ana (analyst) may not user unlock"),
    (("user", "train"), ["ana", "--course", "dp", "--completed", "yesterday", *W], {}, INVALID,
     "--completed 'yesterday' is not a date; expected YYYY-MM-DD"),
    (("user", "train"), ["ana", "--course", "dp", "--completed", "2099-01-01", *W], {}, INVALID,
     "a course completed in the future"),
    (("user", "train"), ["ana", "--course", "dp", "--completed", "2026-01-02", "--expires", "2025-01-01", *W], {},
     INVALID, "--expires 2025-01-01: expected a date after --completed 2026-01-02"),
    (("user", "train"), ["nobody", "--course", "dp", "--completed", "2026-01-02", *W], {}, NOT_FOUND,
     "no person 'nobody'"),
    (("user", "approve"), ["adam", "--expires", "2099-01-01", *W], {}, REFUSED, "you cannot approve yourself"),
    (("user", "approve"), ["ana", "--expires", "2001-01-01", *W], {}, INVALID, "expected a date after today"),
    (("user", "approve"), ["ana", "--expires", "2099-01-01", *W], as_("ana"), REFUSED,
     "ana (analyst) may not user approve"),
    (("user", "show"), ["adam", *W], as_("ana"), REFUSED, "ana may see their own record only"),
    (("user", "show"), ["nobody", *W], {}, NOT_FOUND, "no person 'nobody'"),
    (("user", "password"), [*W], {}, INVALID, "set BOLD_NEW_PASSWORD for adam"),
    (("optout", "add"), ["{tmp}/nope.csv", *W], {}, INVALID, "nope.csv: no such file"),
    (("optout", "add"), ["{junk_csv}", *W], {}, INVALID,
     "junk.csv: expected a column nhs_number, or columns forename, surname, date_of_birth"),
    (("optout", "add"), ["{binary_csv}", *W], {}, INVALID, "binary.csv: cannot read opt-out file"),
    (("optout", "count"), [*W], as_("ana"), REFUSED, "ana (analyst) may not optout count"),
    (("batch", "withdraw"), ["nosuch", "first", "--yes", *W], {}, INVALID, "no source type 'nosuch'"),
    (("batch", "withdraw"), ["prison", "nope", "--yes", *W], {}, NOT_FOUND, "no prison batch 'nope'; nothing changed"),
    (("batch", "withdraw"), ["prison", "first", "--yes", *W], as_("ana"), REFUSED,
     "ana (analyst) may not batch withdraw; this needs one of: admin, custodian"),
    (("batch", "delete-list"), ["prison", "--yes", *W], {}, INVALID, "prison is not a participant list"),
    (("batch", "delete-list"), ["participants", "--yes", *W], {}, CONFLICT,
     "no standing participants batch: the list was never sent or is already deleted; nothing changed"),
    (("batch", "delete-list"), ["participants", "--yes", *W], as_("ana"), REFUSED,
     "ana (analyst) may not batch withdraw"),
    (("retention", "show"), ["--today", "soon", *W], {}, INVALID, "--today 'soon' is not a date; expected YYYY-MM-DD"),
    (("retention", "show"), [*W], as_("ana"), REFUSED, "ana (analyst) may not retention show"),
    (("retention", "apply"), ["--today", "2026-13-01", *W], {}, INVALID, "--today '2026-13-01' is not a date"),
    (("retention", "apply"), [*W], as_("grace"), REFUSED,
     "grace (governance) may not retention apply; this needs one of: admin"),
    (("link",), [*W], {}, CONFLICT, "nothing to link: ingest some sources first (bold ingest)"),
    (("link",), ["--backend", "bogus", *W], {}, INVALID, "unknown backend 'bogus'; use duckdb or spark"),
    (("link",), [*W], as_("ana"), REFUSED, "ana (analyst) may not link"),
    (("link",), ["--incremental", "--retrain", *W], {}, CONFLICT, "it cannot be combined with --retrain"),
    (("link",), ["--incremental", *W], {}, CONFLICT, "nothing to link"),
    (("link", "runs"), [*W], as_("ana"), REFUSED, "ana (analyst) may not link"),
    (("link", "report"), [*W], {}, CONFLICT, "no linkage run yet: run bold link first"),
    (("link", "report"), ["--run", "7", *W], {}, CONFLICT, "no linkage run yet: run bold link first"),
    (("link", "report"), ["--truth", "{tmp}/nope", *W], {}, INVALID, "no records.parquet there"),
    (("link", "explain"), ["a", "b", *W], {}, INVALID, "'a' is not a record key (a UUID, as in links.duckdb)"),
    (("link", "explain"), [KEYS[0], KEYS[1], *W], {}, CONFLICT, "no linkage run yet: run bold link first"),
    (("link", "explain"), [KEYS[0], KEYS[1], *W], as_("ana"), REFUSED, "ana (analyst) may not link"),
    (("link", "explain"), [KEYS[0], KEYS[1], *W], as_("grace"), REFUSED, "grace (governance) may not link"),
    (("link", "explain"), ["--pairs-from", "{tmp}/nope", "a", "b"], {}, NOT_FOUND,
     "--pairs-from {tmp}/nope: no such folder; give the --out folder of bold link-files"),
    (("link", "explain"), ["--pairs-from", "{tmp}", "a", "b"], {}, INVALID,
     "no model.json written by bold link-files there"),
    (("link", "review"), [*W], {}, CONFLICT, "no linkage run yet: run bold link first"),
    (("link", "review"), [*W], as_("ana"), REFUSED, "ana (analyst) may not link"),
    (("link", "review"), ["--pairs-from", "{tmp}/nope"], {}, NOT_FOUND, "no such folder"),
    (("link", "review"), ["--labels", "{tmp}/nope.csv", *W], {}, INVALID, "--labels {tmp}/nope.csv: no such file"),
    (("link", "review"), ["--labels", "{junk_csv}", *W], {}, INVALID,
     "junk.csv: column(s) pair, sampling_rate, match_probability, id_l, id_r, label missing"),
    (("link", "review"), ["--labels", "{binary_csv}", *W], {}, INVALID, "binary.csv: not a UTF-8 CSV file"),
    (("project", "submit"), ["{tmp}/nope.yaml", *W], {}, INVALID,
     "nope.yaml: cannot read the agreement: No such file or directory"),
    (("project", "submit"), ["{tmp}", *W], {}, INVALID, "cannot read the agreement: Is a directory"),
    (("project", "submit"), ["{colon_yaml}", *W], {}, INVALID,
     "colon.yaml: line 1: cannot read the agreement: not valid YAML"),
    (("project", "submit"), ["{tab_yaml}", *W], {}, INVALID, "tab.yaml: line 2: cannot read the agreement: not valid YAML"),
    (("project", "submit"), ["{list_yaml}", *W], {}, INVALID,
     "list.yaml: expected the fields of a data sharing agreement"),
    (("project", "submit"), ["{empty_csv}", *W], {}, INVALID, "expected the fields of a data sharing agreement"),
    (("project", "submit"), ["{tmp}/bad-date.yaml", *W], {}, INVALID,
     "bad-date.yaml: line 82: start: Input should be a valid date"),
    (("project", "submit"), ["{tmp}/no-title.yaml", *W], {}, INVALID, "no-title.yaml: line 1: title: Field required"),
    (("project", "submit"), ["{agreement}", *W], {}, CONFLICT, f"project '{PROJECT}' already exists"),
    (("project", "approve"), ["nope", *W], as_("grace"), NOT_FOUND, "no project 'nope'"),
    (("project", "approve"), [PROJECT, *W], as_("grace"), REFUSED, "crosses red lines and cannot be approved"),
    (("project", "approve"), [PROJECT, "--answers", "{list_yaml}", *W], as_("grace"), INVALID,
     "list.yaml: expected the board's answers"),
    (("project", "approve"), [PROJECT, "--answers", "{roles_yaml}", *W], as_("grace"), INVALID,
     "roles.yaml: line 1: answers: Field required"),
    (("project", "dpia"), [PROJECT, "{agreement}", *W], as_("grace"), INVALID,
     "agreement.yaml: line 1: summary: Field required"),
    (("project", "dpia"), [PROJECT, "{dpia}", *W], as_("ana"), REFUSED, "ana (analyst) may not project dpia"),
    (("project", "sign-off"), [PROJECT, "--source", "prison", *W], as_("grace"), REFUSED,
     "grace (governance) may not project sign-off"),
    (("project", "history"), ["nope", *W], {}, NOT_FOUND, "no project 'nope'"),
    (("releases", "impact"), [PROJECT, "rel-1", "--note", "x", *W], as_("ana"), REFUSED,
     "ana (analyst) may not releases impact"),
    (("releases", "impact"), [PROJECT, "rel-1", "--note", "x", *W], as_("grace"), NOT_FOUND,
     f"project {PROJECT} has no release 'rel-1'"),
    (("project", "approve"), [PROJECT, *W], {}, REFUSED, "adam (admin) may not project approve"),
    (("project", "refuse"), ["nope", "--reason", "no", *W], as_("grace"), NOT_FOUND, "no project 'nope'"),
    (("project", "amend"), ["nope", "{agreement}", *W], as_("ana"), INVALID,
     f"agreement.yaml is the agreement of '{PROJECT}', not 'nope'"),
    (("project", "amend"), [PROJECT, "{colon_yaml}", *W], as_("ana"), INVALID, "colon.yaml: line 1: cannot read the agreement"),
    (("project", "withdraw"), ["nope", *W], as_("ana"), NOT_FOUND, "no project 'nope'"),
    (("project", "show"), ["nope", *W], {}, NOT_FOUND, "no project 'nope'"),
    (("project", "build"), ["nope", *W], {}, NOT_FOUND, "no project 'nope'"),
    (("project", "build"), [PROJECT, *W], {}, CONFLICT, f"project {PROJECT} is not approved"),
    (("project", "close"), ["nope", *W], as_("grace"), NOT_FOUND, "no project 'nope'"),
    (("study", "show"), ["nope", *W], {}, NOT_FOUND, "no study 'nope'; see bold study list"),
    (("study", "show"), ["{tmp}/nope.yaml", *W], {}, INVALID,
     "nope.yaml: cannot read the study: No such file or directory"),
    (("study", "show"), ["{colon_yaml}", *W], {}, INVALID, "colon.yaml: line 1: cannot read the study: not valid YAML"),
    (("study", "show"), ["{list_yaml}", *W], {}, INVALID, "list.yaml: expected a study"),
    (("study", "run"), ["nope", "continuity-of-care", *W], as_("ana"), NOT_FOUND, "no project 'nope'"),
    (("study", "run"), [PROJECT, "nope", *W], as_("ana"), NOT_FOUND, "no study 'nope'"),
    (("study", "run"), [PROJECT, "continuity-of-care", "--param", "x", *W], as_("ana"), INVALID,
     "--param 'x': expected name=value"),
    (("study", "run"), [PROJECT, "all", "--param", "x=1", *W], as_("ana"), INVALID,
     "--param applies to one study"),
    (("study", "run"), ["nope", "all", *W], as_("ana"), NOT_FOUND, "no project 'nope'"),
    (("study", "run"), [PROJECT, "continuity-of-care", *W], as_("ana"), CONFLICT, "not approved"),
    (("study", "run"), [PROJECT, "continuity-of-care", "--backend", "bogus", *W], as_("ana"), INVALID,
     "unknown backend 'bogus'"),
    (("study", "run"), [PROJECT, "continuity-of-care", *W], {}, REFUSED, "adam (admin) may not study run"),
    (("outputs", "list"), ["nope", *W], {}, NOT_FOUND, "no project 'nope'"),
    (("outputs", "show"), ["nope", "output-1", *W], as_("oscar"), NOT_FOUND, "no project 'nope'"),
    (("outputs", "show"), [PROJECT, "nope", *W], as_("oscar"), NOT_FOUND, f"project {PROJECT} has no output 'nope'"),
    (("outputs", "show"), [PROJECT, "nope", *W], {}, REFUSED, "adam (admin) may not outputs show"),
    (("outputs", "check"), [PROJECT, "nope", *W], as_("ana"), NOT_FOUND, f"project {PROJECT} has no output 'nope'"),
    (("outputs", "check"), [PROJECT, "nope", *W], as_("grace"), REFUSED, "grace (governance) may not outputs check"),
    (("outputs", "report"), [PROJECT, "nope", *W], as_("ana"), NOT_FOUND, f"project {PROJECT} has no output 'nope'"),
    (("outputs", "report"), [PROJECT, "nope", *W], as_("grace"), REFUSED, "grace (governance) may not outputs report"),
    (("outputs", "request"), [PROJECT, "nope", "--context", "c", "--controls", "k", *W], as_("ana"), NOT_FOUND,
     f"project {PROJECT} has no output 'nope'"),
    (("outputs", "request"), [PROJECT, "output-1", *W], as_("ana"), INVALID, "needs its context and the controls"),
    (("outputs", "request"), [PROJECT, "--context", "c", "--controls", "k", *W], as_("ana"), INVALID,
     "name at least one output"),
    (("outputs", "request"), [PROJECT, "a", "a", "--context", "c", "--controls", "k", *W], as_("ana"), INVALID,
     "an output is named twice"),
    (("outputs", "request"), [PROJECT, "output-1", "--resubmit", "req-1", *W], as_("ana"), INVALID,
     "--resubmit takes the request, not outputs"),
    (("outputs", "request"), [PROJECT, "--resubmit", "nope", *W], as_("ana"), NOT_FOUND,
     f"project {PROJECT} has no release request 'nope'"),
    (("outputs", "votes"), [PROJECT, "nope", *W], as_("oscar"), NOT_FOUND,
     f"project {PROJECT} has no release request 'nope'"),
    (("outputs", "review"), [PROJECT, "output-1", "--vote", "maybe", "--comment", "ok", *W], as_("oscar"), INVALID,
     "vote 'maybe': expected one of approve, changes_requested, reject"),
    (("outputs", "review"), [PROJECT, "output-1", "--vote", "approve", "--comment", " ", *W], as_("oscar"), INVALID,
     "a vote needs a comment"),
    (("outputs", "review"), [PROJECT, "nope", "--vote", "approve", "--comment", "ok", *W], as_("ana"), REFUSED,
     "ana (analyst) may not outputs review"),
    (("outputs", "decide"), [PROJECT, "nope", *W], as_("oscar"), NOT_FOUND,
     f"project {PROJECT} has no release request 'nope'"),
    (("outputs", "release"), [PROJECT, "nope", *W], as_("oscar"), NOT_FOUND, f"project {PROJECT} has no output 'nope'"),
    (("outputs", "withdraw"), [PROJECT, "nope", *W], as_("ana"), NOT_FOUND, f"project {PROJECT} has no output 'nope'"),
    (("outputs", "withdraw"), [PROJECT, "../x", *W], as_("ana"), INVALID, "output id"),
    (("releases", "list"), ["nope", *W], {}, NOT_FOUND, "no project 'nope'"),
    (("releases", "show"), [PROJECT, "nope", *W], as_("ana"), NOT_FOUND, f"project {PROJECT} has no release 'nope'"),
    (("releases", "show"), [PROJECT, "nope", *W], as_("oscar"), NOT_FOUND, f"project {PROJECT} has no release 'nope'"),
    (("releases", "verify"), [PROJECT, "nope", *W], {}, NOT_FOUND, f"project {PROJECT} has no release 'nope'"),
    (("releases", "report"), ["nope", "--out", "{tmp}/r.html", *W], as_("ana"), NOT_FOUND, "no project 'nope'"),
    (("releases", "report"), [PROJECT, "--out", "{ws}/r.html", *W], as_("ana"), REFUSED, "only under reports/ there"),
    (("releases", "report"), [PROJECT, "--out", "{tmp}/r.txt", *W], as_("ana"), INVALID, ".html"),
    (("audit", "verify"), [*W], as_("ana"), REFUSED, "ana (analyst) may not audit verify"),
    (("audit", "show"), ["--since", "notadate", *W], {}, INVALID, "--since 'notadate' is not a date; expected YYYY-MM-DD"),
    (("audit", "show"), ["--limit", "0", *W], {}, INVALID, "--limit 0: expected at least 1"),
    (("audit", "witness"), ["--out", "{ws}/witness.jsonl", *W], as_("grace"), INVALID, "is inside the workspace"),
    (("audit", "witness"), ["--out", "{tmp}/nope/w.jsonl", *W], as_("grace"), NOT_FOUND, "is not a folder"),
    (("audit", "witness"), ["--out", "{tmp}/w.jsonl", *W], as_("ana"), REFUSED, "ana (analyst) may not audit verify"),
    (("register", "build"), ["-o", "{junk_csv}/site", *W], {}, INVALID, "junk.csv/site: Not a directory"),
    (("serve",), ["-w", "/nonexistent/path"], {}, NOT_FOUND, "/nonexistent/path is not a BOLD workspace"),
    (("serve",), ["--port", "0", *W], {}, INVALID, "--port 0: expected 1 to 65535"),
    (("sources",), ["--source", "nope", *W], {}, INVALID, "unknown source type 'nope'; expected one of deaths"),
    (("serve",), ["--max-upload-mb", "0", *W], {}, INVALID, "--max-upload-mb 0: expected at least 1"),
    (("serve",), ["--tls-cert", "{tmp}/c.pem", *W], {}, INVALID, "--tls-cert and --tls-key go together"),
]  # fmt: skip
NOTHING_TO_GET_WRONG = {
    ("status",),
    ("project", "list"),
    ("study", "list"),
    ("project", "criteria"),
}  # no argument but the workspace


@pytest.mark.parametrize(
    ("command", "args", "env", "code", "fragment"), BAD, ids=[f"{' '.join(c)}: {m[:40]}" for c, _, _, _, m in BAD]
)
def test_bad_arguments_give_one_line_that_says_what_is_wrong(world, command, args, env, code, fragment):
    result = invoke(*command, *fill(args, world), env=env)
    assert_one_line_error(result, code, fragment.format(**world))


USAGE = [
    ["ingest", "-s", "prison"],  # no file
    ["project", "approve"],  # no project
    ["user", "add", "zoe"],  # no --role
    ["synth", "--out", "x"],  # no --people
    ["link-files", "a.csv", "--id", "id"],  # no --out
    ["audit", "show", "--limit", "many"],  # not a number
    ["link", "report", "--run", "latest"],
    ["project", "frobnicate"],  # no such command
]


@pytest.mark.parametrize("args", USAGE, ids=" ".join)
def test_usage_errors_exit_2_without_a_traceback(args):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
