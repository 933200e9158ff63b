"""Everything a workspace holds is for its owner only (folders 0700, files 0600) whatever the umask, and
nothing is written outside it: not DuckDB's spill files, which by default land in ``.tmp/`` of the current
folder."""

from __future__ import annotations

import datetime as dt
import os
import stat
import tempfile
from pathlib import Path

import pytest

from bold import store
from bold.governance import optouts as optout_register
from bold.governance import register
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.reports import linkage_report
from bold.studies import runner
from bold.workspace import Workspace, WorkspaceError
from tests.conftest import approved_and_built, ingested

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
TODAY = dt.date(2026, 11, 22)


@pytest.fixture()
def permissive_umask():
    """The umask many machines have: new files readable by every local user unless BOLD prevents it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture()
def elsewhere(tmp_path, monkeypatch) -> Path:
    """An empty current folder, to show that nothing is written there."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def not_owner_only(root: Path) -> list[str]:
    """Every folder under ``root`` that is not 0700 and every file that is not 0600, with its mode."""
    found = []
    for folder, _, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / f for f in files)]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode != (0o700 if path.is_dir() else 0o600):
                found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


def duckdb_in_system_temp() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if "duckdb" in p.name.lower()}


def test_a_whole_pipeline_leaves_only_owner_only_files_and_nothing_outside(
    tmp_path, small_population, permissive_umask, elsewhere
):
    out, _ = small_population
    in_temp = duckdb_in_system_temp()
    ws = ingested(tmp_path / "ws", out)
    rejected = tmp_path / "hes.csv"  # a row for the quarantine: its NHS number's check digit is wrong
    rejected.write_text(
        "EPIKEY,NHS_NUMBER,DOB,SEX,POSTCODE,ADMIDATE,DISDATE,ADMIMETH,DIAG_4_01,DIAG_4_02\n"
        "E2,9434765918,1980-01-01,1,SW1A 1AA,2020-01-01,2020-01-02,21,F112,\n"
        "PRIVATE-GOOD-1,,1980-01-01,1,SW1A 1AA,2020-01-01,2020-01-02,21,F112,\n"  # (a file all quarantined is refused)
    )
    assert ingest(ws, "hospital", rejected, by="cara").quarantined == 1
    optouts = tmp_path / "optouts.csv"
    optouts.write_text("nhs_number\n9434765919\n")
    optout_register.apply(ws, optouts, by="cara")
    link_workspace(ws, retrain=True, by="lin")
    report = linkage_report.build(ws, by="lin")
    project = approved_and_built(ws, EXAMPLES / "continuity-of-care.yaml", TODAY)
    output = runner.run(ws, project, "continuity-of-care", by="ana", today=TODAY)
    site = register.build(ws, by="grace")
    with ws.identifiers(read_only=True) as con:  # an opt-out after the build rewrites the extract: owner-only too
        [(nhs,)] = con.execute(
            "select nhs_number from identifiers.hospital where nhs_number is not null limit 1"
        ).fetchall()
    later = tmp_path / "later-optouts.csv"
    later.write_text(f"nhs_number\n{nhs}\n")
    assert optout_register.apply(ws, later, by="cara").extracts

    made = [
        ws.governance_path,
        ws.identifiers_path,
        ws.content_path,
        ws.links_path,
        ws.root / "linkage" / "model.json",
        ws.root / "audit" / "audit.head",
        report,
        ws.root / "projects" / project / "extract.duckdb",
        ws.keys_dir / "projects" / f"{project}.key",
        output.folder / "manifest.json",
        site / "index.html",
    ]
    assert [p for p in made if not p.exists()] == []
    assert (ws.quarantine_dir("hospital") / "hes.parquet").exists()
    assert not_owner_only(ws.root) == []
    assert list(elsewhere.iterdir()) == []  # no .tmp/ of DuckDB spill files in the current folder
    assert duckdb_in_system_temp() <= in_temp
    assert os.umask(0o022) == 0o022  # the person's umask is back once BOLD is done


def test_duckdb_spills_inside_the_workspace_and_owner_only(tmp_path, permissive_umask, elsewhere):
    ws = Workspace.init(tmp_path / "ws")
    with ws.identifiers() as con:
        con.execute("set memory_limit = '64MB'; set threads = 1; set preserve_insertion_order = false")
        con.execute("create temp table big as select range as n, md5(range::varchar) as h from range(2000000)")
        spilled = [p for p in ws.tmp_dir.rglob("*") if p.is_file()]
        assert spilled, "the test table should have spilled to disk"
        assert not_owner_only(ws.root) == []
    assert list(ws.tmp_dir.iterdir()) == []  # each connection's spill folder goes when it closes
    assert list(elsewhere.iterdir()) == []


def test_opening_a_workspace_made_readable_by_others_makes_it_owner_only(tmp_path, permissive_umask):
    ws = Workspace.init(tmp_path / "ws")
    ws.governance_path.chmod(0o644)  # as older BOLD made it
    (ws.root / "quarantine").chmod(0o755)
    ws.root.chmod(0o755)
    opened = Workspace.open(ws.root)
    assert set(opened.tightened) == {ws.governance_path, ws.root / "quarantine", ws.root}
    assert not_owner_only(ws.root) == []
    with store.connect(opened) as db:
        assert db.execute("select count(*) from batches").fetchone()[0] == 0


def test_a_key_readable_by_others_is_still_refused_not_quietly_tightened(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    key = ws.keys_dir / "audit.key"
    key.chmod(0o644)
    opened = Workspace.open(ws.root)
    assert stat.S_IMODE(key.stat().st_mode) == 0o644
    with pytest.raises(WorkspaceError, match="readable by others"):
        opened.key("audit")
