"""The audit chain records every action and `bold audit verify` catches any edit, deletion or insertion."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from bold.cli import app
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import clear, linked_copy

runner = CliRunner()


GOVERNANCE = {"BOLD_USER": "grace", "BOLD_PASSWORD": "a-long-governance-password"}


@pytest.fixture(scope="module")
def ingested_root(tmp_path_factory, small_population):
    """The ingests every test starts from, made once: each test attacks a copy (a copy keeps the audit chain
    and its head, and takes milliseconds where the three ingests take seconds)."""
    out, _ = small_population
    ws = Workspace.init(tmp_path_factory.mktemp("audit") / "ws")
    audit.record(ws, "workspace created", "ws", by="adam")
    ingest(ws, "deaths", out / "deaths.csv", by="cara")
    ingest(ws, "deaths", out / "deaths.csv", by="cara")  # a repeat is recorded too
    ingest(ws, "prison", out / "prison.csv", by="cara")
    return ws.root


@pytest.fixture()
def ws(ingested_root, tmp_path):
    return linked_copy(ingested_root, tmp_path / "ws")


def _db(ws):
    return sqlite3.connect(ws.governance_path)


def test_actions_are_recorded_in_order_and_the_chain_verifies(ws):
    link_workspace(ws, retrain=True, by="lin")
    actions = [e["action"] for e in reversed(audit.entries(ws))]
    assert actions == ["workspace created", "ingest", "ingest repeated (nothing added)", "ingest", "linkage run"]
    assert audit.verify(ws).ok
    ingest_entry = audit.entries(ws, action="ingest")[0]
    details = json.loads(ingest_entry["details"])
    assert ingest_entry["object"] == "prison/prison" and details["rows_read"] == details["accepted"]
    assert audit.entries(ws, action="ingest*", obj="deaths*")[0]["object"] == "deaths/deaths"


def test_an_edited_entry_is_named(ws):
    with _db(ws) as db:
        db.execute("update audit set details = replace(details, 'accepted', 'accepted_') where seq = 2")
    result = audit.verify(ws)
    assert not result.ok and result.first_bad == 2 and "edited" in result.problem


def test_a_deleted_entry_is_named(ws):
    with _db(ws) as db:
        db.execute("delete from audit where seq = 3")
    result = audit.verify(ws)
    assert not result.ok and result.first_bad == 3 and "missing (deleted)" in result.problem


def test_an_inserted_entry_is_named(ws):
    with _db(ws) as db:
        rows = db.execute("select * from audit order by seq").fetchall()
        db.execute("delete from audit")
        forged = (3, rows[1][1], "mallory", "ingest", "hospital/fake", "{}", rows[1][7], "f" * 64, None)
        renumbered = [rows[0], rows[1], forged] + [(r[0] + 1, *r[1:]) for r in rows[2:]]
        db.executemany("insert into audit values (?, ?, ?, ?, ?, ?, ?, ?, ?)", renumbered)
    result = audit.verify(ws)
    assert not result.ok and result.first_bad == 3


def test_entries_deleted_from_the_end_are_caught_by_the_head(ws):
    with _db(ws) as db:
        db.execute("delete from audit where seq = (select max(seq) from audit)")
    result = audit.verify(ws)
    assert not result.ok and "deleted from the end" in result.problem
    head = json.loads(audit.head_path(ws).read_text())
    head["seq"] -= 1
    audit.head_path(ws).write_text(json.dumps(head))  # moving the head back needs the key
    assert "seal is broken" in audit.verify(ws).problem


def test_audit_commands(ws):
    from bold.governance.people import add_person

    add_person(ws, "grace", ["governance"], GOVERNANCE["BOLD_PASSWORD"], by="test")
    clear(ws, "grace")
    ok = runner.invoke(app, ["audit", "verify", "-w", str(ws.root)], env=GOVERNANCE)
    assert ok.exit_code == 0 and "intact" in ok.output
    shown = runner.invoke(app, ["audit", "show", "-w", str(ws.root), "--action", "ingest"], env=GOVERNANCE)
    assert shown.exit_code == 0 and "prison/prison" in shown.output
    with _db(ws) as db:
        db.execute("update audit set actor = 'someone else' where seq = 1")
    broken = runner.invoke(app, ["audit", "verify", "-w", str(ws.root)], env=GOVERNANCE)
    assert broken.exit_code != 0 and "entry 1 does not match its hash (edited)" in broken.output
