"""The data asset register: ``bold sources``, the published register's data page and the field reference all say
what the contracts say, and what the platform holds of each source, in aggregate and rounded."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bold.actions import register as register_actions
from bold.actions import sources as source_actions
from bold.cli import app
from bold.governance.people import User, add_person
from bold.governance.permissions import Role
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.sources import catalogue, load_contract, source_types
from bold.workspace import Workspace
from tests.conftest import clear

PASSWORD = "a-long-test-password"
DOCS = Path(__file__).parents[2] / "docs"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = Workspace.init(tmp_path_factory.mktemp("sources") / "ws")
    add_person(ws, "cara", [Role.CUSTODIAN], PASSWORD, by="test")
    clear(ws, "cara")
    add_person(ws, "lin", [Role.LINKER], PASSWORD, by="test")
    clear(ws, "lin")
    add_person(ws, "grace", [Role.GOVERNANCE], PASSWORD, by="test")
    clear(ws, "grace")
    return ws


def run_sources(ws: Workspace, *args: str, user: str = "cara"):
    env = {"BOLD_USER": user, "BOLD_PASSWORD": PASSWORD}
    return CliRunner().invoke(app, ["sources", "-w", str(ws.root), *args], env=env)


def held(ws: Workspace, user: str = "cara") -> dict[str, dict]:
    result = run_sources(ws, "--json", user=user)
    assert result.exit_code == 0, result.output
    return {s["source"]: s for s in json.loads(result.output)["sources"]}


def test_every_contract_column_says_what_it_means():
    for source in source_types():
        contract = load_contract(source)
        assert contract.event_date, source
        assert [c.name for c in contract.columns if not c.description.strip()] == [], source


def test_bold_sources_lists_every_source_with_its_contract_fields(ws):
    """Before anything is ingested: every source, nothing held, and its fields exactly as its contract has them."""
    found = held(ws)
    assert sorted(found) == sorted(source_types())
    for source, entry in found.items():
        contract = load_contract(source)
        assert entry["custodian"] == contract.custodian and entry["contract_version"] == contract.version
        assert entry["records"] == 0 and entry["coverage"] is None and entry["updates"] == []
        columns = [(c.name, c.type, c.description, c.is_identifier) for c in contract.columns]
        shown = [(f["column"], f["type"], f["description"], f["zone"] == "identifiers") for f in entry["fields"]]
        assert shown == columns
        for f, c in zip(entry["fields"], contract.columns, strict=True):
            assert f["name"] == (c.role if c.is_identifier else c.field)
            assert f["agreements_may_request"] == (None if c.is_identifier else f"{source}.{c.field}")


def test_after_an_ingest_and_a_link_it_shows_rounded_counts_coverage_and_quality(ws, small_population):
    out, _ = small_population
    for source in ("prison", "treatment"):
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    found = held(ws)
    with ws.content(read_only=True) as con:
        stored = con.execute("select count(*), min(release_date), max(release_date) from content.prison").fetchone()
    prison = found["prison"]
    assert prison["records"] == (stored[0] + 5) // 10 * 10 and prison["records"] % 10 == 0
    assert stored[1].strftime("%Y-%m") <= prison["coverage"]["from"] <= prison["coverage"]["to"]
    assert prison["coverage"]["to"] <= stored[2].strftime("%Y-%m") and prison["coverage"]["event"] == "release_date"
    assert [u["batch"] for u in prison["updates"]] and prison["updates"][0]["contract_version"] == 2
    assert prison["quality"]["quarantine_share"] is not None
    completeness = prison["quality"]["identifier_completeness"]
    assert set(completeness) >= {"prison_number", "surname", "date_of_birth", "postcode"}
    assert completeness["surname"] == 1.0 and 0 < completeness["postcode"] <= 1
    assert prison["quality"]["linkage_rate"] is None  # not linked yet
    assert found["deaths"]["records"] == 0

    link_workspace(ws, by="lin")
    linked = held(ws, user="lin")  # anyone signed in: a linker reads only what the register publishes
    assert 0 < linked["prison"]["quality"]["linkage_rate"] <= 1 and linked["prison"]["quality"]["linkage_run"]

    text = run_sources(ws, "--source", "prison")
    assert text.exit_code == 0, text.output
    assert "Releases from prison" in text.output and "prison.release_date" in text.output
    assert "Drug and alcohol treatment" not in text.output


def test_a_small_source_shows_no_count_and_no_shares(ws, small_population):
    """Fewer than 20 records: not shown, nor anything measured from them (the bold-strict profile)."""
    out, _ = small_population
    import pandas as pd

    few = out.parent / "few-deaths.parquet"
    pd.read_parquet(out / "deaths.parquet").head(7).to_parquet(few)
    ingest(ws, "deaths", few, by="cara")
    deaths = held(ws)["deaths"]
    assert deaths["records"] is None and deaths["records_measured"]
    assert deaths["coverage"] is None and deaths["quality"]["identifier_completeness"] == {}
    assert deaths["updates"][0]["rows_accepted"] is None
    assert "<20" in run_sources(ws, "--source", "deaths").output


def test_the_register_publishes_the_same_data_held(ws):
    grace = User("grace", frozenset({Role.GOVERNANCE}))
    folder = register_actions.build(ws, grace)
    published = json.loads((folder / "register.json").read_text())["data_held"]
    assert published["sources"] == source_actions.data_held(ws)["sources"]
    page = (folder / "data.html").read_text()
    assert "Releases from prison" in page and "prison.release_date" in page and "never: an identifier" in page
    assert 'href="data.html"' in (folder / "index.html").read_text()
    assert register_actions.data_held(ws)["sources"] == published["sources"]  # the web's /data (cached)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_zone_this_account_cannot_open_is_reported_not_measured(ws):
    key = ws.keys_dir / "content.key"
    key.chmod(0)
    try:
        prison = source_actions.data_held(ws)["sources"]
    finally:
        key.chmod(0o600)
    entry = next(s for s in prison if s["source"] == "prison")
    assert entry["records"] is None and not entry["records_measured"]
    assert any("content zone" in n for n in entry["not_measured"])
    assert entry["quality"]["quarantine_share"] is not None  # the governance store still answers


def test_the_field_reference_is_made_from_the_contracts():
    text = (DOCS / "fields.md").read_text()
    for source in source_types():
        for f in catalogue.fields(load_contract(source)):
            ask = f"`{f.request}`" if f.request else "never: an identifier"
            assert re.search(rf"\| `{f.name}` \| {f.zone} \| {f.type} \|.*\| {re.escape(ask)} \|", text), f
