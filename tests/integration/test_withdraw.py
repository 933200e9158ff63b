"""Withdrawing a batch sent in error: its records leave both zones and the links of every run, a rebuilt extract
leaves them out and the project is told, its row stays (marked) so the history shows it, and one audit entry
counts what went. Bad input changes nothing; only a custodian (or an admin) may withdraw."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from bold import store
from bold.actions import ingest as ingest_actions
from bold.actions import workspace as workspace_actions
from bold.cli import app
from bold.errors import BoldError, Kind
from bold.governance import projects
from bold.governance.people import AccessError, User, add_person
from bold.governance.permissions import Role
from bold.ingest import pipeline
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.security import encryption
from bold.workspace import Workspace
from tests.conftest import approved_and_built, clear, make_population

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
TODAY = dt.date(2026, 11, 22)
PASSWORD = "a-long-test-password"
CARA = User("cara", frozenset({Role.CUSTODIAN}))
ADAM = User("adam", frozenset({Role.ADMIN}))
ANA = User("ana", frozenset({Role.ANALYST}))
cli = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """300 people; prison sent in two batches (``first`` and ``second``), the other sources in one; linked, and
    the continuity-of-care extract built. Never changed: each test works on a copy."""
    root = tmp_path_factory.mktemp("withdraw")
    out, _ = make_population(root, people=300, seed=16)
    with duckdb.connect() as con:  # prison in two files, as two monthly batches would be
        for half, parity in (("first", 0), ("second", 1)):
            con.execute(
                f"copy (select * exclude (_n) from (select *, row_number() over () as _n from "
                f"'{out / 'prison.parquet'}') where _n % 2 = {parity}) to '{out / f'prison-{half}.parquet'}'"
            )
    ws = Workspace.init(root / "ws")
    ingest(ws, "prison", out / "prison-first.parquet", batch="first", by="cara")
    ingest(ws, "prison", out / "prison-second.parquet", batch="second", by="cara")
    for source in ("treatment", "deaths", "hospital"):
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    link_workspace(ws, retrain=True, by="lin")
    for name, role in (("cara", "custodian"), ("adam", "admin")):
        add_person(ws, name, [role], PASSWORD, by="test")
        clear(ws, name)
    approved_and_built(ws, EXAMPLE, TODAY)
    return ws, out


@pytest.fixture()
def ws(built, tmp_path):
    shutil.copytree(built[0].root, tmp_path / "ws", symlinks=True)
    return Workspace.open(tmp_path / "ws")


def _batch(ws: Workspace, source: str, name: str) -> pipeline.Batch:
    return next(b for b in pipeline.batches(ws) if (b.source, b.name) == (source, name))


def _zone_rows(ws: Workspace) -> dict[str, dict[tuple[str, int], int]]:
    """Rows per (source, batch_id) in each zone, read straight from the zones."""
    found = {}
    for zone, opener in (("identifiers", ws.identifiers), ("content", ws.content)):
        with opener(read_only=True) as con:
            tables = con.execute(f"select table_name from duckdb_tables() where database_name = '{zone}'")
            found[zone] = {
                (t, b): n
                for (t,) in tables.fetchall()
                for b, n in con.execute(f"select batch_id, count(*) from {zone}.{t} group by 1").fetchall()
            }
    return found


def _keys(ws: Workspace, source: str, batch_id: int) -> list[str]:
    with ws.identifiers(read_only=True) as con:
        rows = con.execute(f"select record_key::varchar from identifiers.{source} where batch_id = ?", [batch_id])
        return [r[0] for r in rows.fetchall()]


def _link_rows(ws: Workspace, keys: list[str] | None = None) -> dict[str, int]:
    """Rows of each links table (every run), or only those naming these records."""
    where = {"record_person": "true", "pairs": "true"}
    if keys is not None:
        mine = "in (select record_key from k)"
        where = {"record_person": f"record_key {mine}", "pairs": f"record_key_l {mine} or record_key_r {mine}"}
    with ws.links(read_only=True) as con:
        con.execute("create temp table k as select unnest(?::uuid[]) as record_key", [keys or []])
        return {t: con.execute(f"select count(*) from links.{t} where {w}").fetchone()[0] for t, w in where.items()}


def _extract_rows(ws: Workspace, project_id: str, table: str) -> int:
    with duckdb.connect() as con:
        encryption.attach(con, projects.extract_path(ws, project_id), "x", projects.extract_key(ws, project_id), True)
        return con.execute(f"select count(*) from x.{table}").fetchone()[0]


def _everything(ws: Workspace) -> tuple:
    """What a withdrawal could change: zone rows, links rows, the batches' rows, the extract."""
    with store.connect(ws) as db:
        batches = [tuple(r) for r in db.execute("select * from batches order by batch_id").fetchall()]
    return _zone_rows(ws), _link_rows(ws), batches, _extract_rows(ws, "continuity-of-care", "prison")


def test_a_withdrawn_batch_leaves_no_trace_in_the_zones_the_links_or_a_rebuilt_extract(ws):
    first, second = _batch(ws, "prison", "first"), _batch(ws, "prison", "second")
    keys = _keys(ws, "prison", second.batch_id)
    mine = _link_rows(ws, keys)
    links_before = _link_rows(ws)
    stored_before = workspace_actions.status(ws, ADAM).records_stored
    assert len(keys) == second.rows_accepted > 0 and mine["record_person"] == len(keys)
    assert _extract_rows(ws, "continuity-of-care", "prison") == first.rows_accepted + second.rows_accepted

    before = _everything(ws)
    plan = ingest_actions.withdraw_plan(ws, CARA, "prison", "second")
    assert _everything(ws) == before  # a plan changes nothing
    result = ingest_actions.withdraw(ws, CARA, "prison", "second", confirmed=True)

    # accounted for: each zone lost exactly the batch's rows, the links exactly the rows naming them
    assert result.records == plan.records == {"identifiers": second.rows_accepted, "content": second.rows_accepted}
    links_after = _link_rows(ws)
    assert {t: links_before[t] - links_after[t] for t in links_after} == {t: result.links[t] for t in links_after}
    assert result.links["record_person"] == mine["record_person"] and result.links["pairs"] == mine["pairs"]
    assert result.links == plan.links and result.extracts == plan.extracts == ["continuity-of-care"]
    # no trace: not in either zone, not in any run's links; the other batch untouched
    zones = _zone_rows(ws)
    for zone in ("identifiers", "content"):
        assert ("prison", second.batch_id) not in zones[zone]
        assert zones[zone][("prison", first.batch_id)] == first.rows_accepted
    assert _link_rows(ws, keys) == {"record_person": 0, "pairs": 0}
    # the row stays, marked, so the history shows it; the stored count drops by what it held
    kept = _batch(ws, "prison", "second")
    assert (kept.withdrawn_by, kept.rows_accepted, kept.records_withdrawn) == ("cara", second.rows_accepted, len(keys))
    report = ingest_actions.batch(ws, CARA, second.batch_id)
    assert report.withdrawn_at == kept.withdrawn_at and report.withdrawal["records"] == result.records
    assert workspace_actions.status(ws, ADAM).records_stored == stored_before - len(keys)

    # a rebuilt extract leaves the batch out (no relink needed: the other records keep their people)
    projects.build(ws, "continuity-of-care", TODAY, by="adam")
    assert _extract_rows(ws, "continuity-of-care", "prison") == first.rows_accepted
    # and linking again links only what is left
    run = link_workspace(ws, by="lin")
    assert run.records == sum(n for (_, b), n in zones["identifiers"].items())


def test_the_project_whose_extract_used_the_batch_is_told_on_its_next_build(ws):
    project = projects.get(ws, "continuity-of-care")
    second = _batch(ws, "prison", "second")
    assert second.batch_id in project.built_batches and project.build_notice == []
    ingest_actions.withdraw(ws, CARA, "prison", "second", confirmed=True)

    projects.build(ws, "continuity-of-care", TODAY, by="adam")

    project = projects.get(ws, "continuity-of-care")
    assert second.batch_id not in project.built_batches
    assert [(n["source"], n["batch"], n["withdrawn_by"]) for n in project.build_notice] == [
        ("prison", "second", "cara")
    ]
    built = store.audit.entries(ws, action="project built", limit=1)[0]
    assert json.loads(built["details"])["withdrawn_batches_left_out"] == ["prison/second"]
    projects.build(ws, "continuity-of-care", TODAY, by="adam")  # told once: the extract before did not use it
    assert projects.get(ws, "continuity-of-care").build_notice == []


def test_one_audit_entry_counts_what_the_withdrawal_removed(ws):
    result = ingest_actions.withdraw(ws, ADAM, "prison", "second", confirmed=True)  # an admin may, too

    entries = store.audit.entries(ws, action="batch withdrawn")
    assert len(entries) == 1 and entries[0]["actor"] == "adam" and entries[0]["object"] == "prison/second"
    details = json.loads(entries[0]["details"])
    assert details["records"] == result.records and details["links"] == result.links
    assert details["extracts_affected"] == ["continuity-of-care"]
    assert store.audit.verify(ws).ok  # the batches row changed with its entry: the sealed state agrees


def test_bad_input_is_refused_in_one_line_and_changes_nothing(ws):
    ingest_actions.withdraw(ws, CARA, "prison", "second", confirmed=True)
    before, entries = _everything(ws), len(store.audit.entries(ws))
    cases = [
        (("prison", "nope"), Kind.NOT_FOUND, "no prison batch 'nope'; nothing changed"),
        (("deaths", "first"), Kind.NOT_FOUND, "no deaths batch 'first' (prison has a batch of that name)"),
        (("deaths", str(_batch(ws, "prison", "first").batch_id)), Kind.INVALID, "is a prison batch ('first')"),
        (("nosuch", "first"), Kind.INVALID, "no source type 'nosuch'"),
        (("prison", "second"), Kind.CONFLICT, "prison batch 'second' was already withdrawn on"),
    ]
    for args, kind, message in cases:
        for call in (ingest_actions.withdraw_plan, lambda *a: ingest_actions.withdraw(*a, confirmed=True)):
            with pytest.raises(BoldError, match=re.escape(message)) as exc:
                call(ws, CARA, *args)
            assert exc.value.kind == kind, args
    with pytest.raises(BoldError, match="cannot be undone") as exc:
        ingest_actions.withdraw(ws, CARA, "prison", "first")  # not confirmed
    assert exc.value.kind == Kind.INVALID
    assert _everything(ws) == before and len(store.audit.entries(ws)) == entries


def test_an_analyst_cannot_withdraw_a_batch(ws):
    before = _everything(ws)
    for call in (ingest_actions.withdraw_plan, lambda *a: ingest_actions.withdraw(*a, confirmed=True)):
        with pytest.raises(AccessError, match="ana \\(analyst\\) may not batch withdraw"):
            call(ws, ANA, "prison", "second")
    assert _everything(ws) == before
    assert store.audit.entries(ws, action="refused", limit=1)[0]["object"] == "batch withdraw"


def test_the_command_says_what_it_will_remove_then_does_it_and_bold_status_shows_the_batch_withdrawn(ws):
    env = {"BOLD_USER": "cara", "BOLD_PASSWORD": PASSWORD}
    args = ["batch", "withdraw", "prison", "second", "-w", str(ws.root)]
    second = _batch(ws, "prison", "second")
    before = _everything(ws)
    dry = cli.invoke(app, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert f"identifiers {second.rows_accepted:,}, content {second.rows_accepted:,}" in dry.output
    assert "Dry run: nothing changed." in dry.output and _everything(ws) == before
    unasked = cli.invoke(app, args, env=env)  # no terminal to confirm on, no --yes
    assert unasked.exit_code == 2 and "pass --yes" in unasked.output and _everything(ws) == before

    done = cli.invoke(app, [*args, "--yes"], env=env)

    assert done.exit_code == 0, done.output
    assert "withdrawn by cara" in done.output and "continuity-of-care" in done.output
    status = cli.invoke(app, ["status", "--json", "-w", str(ws.root)], env=env)
    listed = {b["name"]: b for b in json.loads(status.output)["batches"] if b["source"] == "prison"}
    assert listed["second"]["withdrawn_by"] == "cara" and listed["first"]["withdrawn_at"] is None
    again = cli.invoke(app, [*args, "--yes"], env=env)
    assert again.exit_code == 5 and "already withdrawn" in again.output


def test_a_corrected_batch_with_the_same_record_ids_is_accepted_after_the_withdrawal(ws, built, tmp_path):
    """The record ids of a withdrawn batch are gone from the identifiers zone, so its corrected re-send is not
    quarantined as duplicates of it (as it would be before the withdrawal)."""
    out = built[1]
    corrected = tmp_path / "prison-second-corrected.parquet"
    with duckdb.connect() as con:  # the same rows sent again in another order: another file, the same record ids
        con.execute(f"copy (select * from '{out / 'prison-second.parquet'}' order by all desc) to '{corrected}'")
    second = _batch(ws, "prison", "second")
    ingest_actions.withdraw(ws, CARA, "prison", "second", confirmed=True)

    report = ingest_actions.ingest(ws, CARA, corrected, "prison", batch="second-corrected")

    assert (report.accepted, report.quarantined) == (second.rows_accepted, second.rows_quarantined)
    first_time = {r.reason: r.rows for r in ingest_actions.batch(ws, CARA, second.batch_id).reasons}
    assert dict(report.reasons) == first_time  # quarantined for what it was the first time, not as duplicates


def test_a_custodian_withdraws_a_batch_from_its_page_after_confirming(ws):
    from tests.web import browser

    second = _batch(ws, "prison", "second")
    url = f"/sources/batches/{second.batch_id}"
    cara = browser(ws.root)
    assert cara.sign_in("cara", PASSWORD).status_code == 303
    assert f"{url}/withdraw" in cara.page(url).text
    form = cara.page(f"{url}/withdraw")
    assert form.status_code == 200 and "Withdraw the batch" in form.text
    before = _everything(ws)
    unconfirmed = cara.post(f"{url}/withdraw", {})
    assert unconfirmed.status_code == 422 and "nothing was withdrawn" in unconfirmed.text and _everything(ws) == before

    done = cara.post(f"{url}/withdraw", {"confirm": "yes"})

    assert done.status_code == 303 and done.headers["location"] == url
    shown = cara.page(url).text
    assert "Withdrawn by cara" in shown and f"{url}/withdraw" not in shown
    assert ("prison", second.batch_id) not in _zone_rows(ws)["identifiers"]
    assert "withdrawn " in cara.page("/sources").text
    assert cara.post(f"{url}/withdraw", {"confirm": "yes"}).status_code == 409  # already withdrawn
