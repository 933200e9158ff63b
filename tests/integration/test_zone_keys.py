"""Every zone and every project extract is encrypted under a key of its own: a copied file is useless without
its key, and one zone's key opens no other. A workspace made before this is encrypted when first opened."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from bold.actions import people, studies
from bold.actions import workspace as workspace_actions
from bold.governance import projects
from bold.security import encryption
from bold.store import audit
from tests.conftest import approved_and_built, clear, linked_copy
from tests.old_workspace import OLD_ENTRIES, PASSWORD, extract_fixture

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
TODAY = dt.date(2026, 11, 22)


def _opens(path: Path, key: str | None) -> bool:
    con = duckdb.connect()
    try:
        if key is None:
            con.execute(f"attach '{path}' as z (read_only)")
        else:
            encryption.attach(con, path, "z", key, read_only=True)
        con.execute("select count(*) from duckdb_tables() where database_name = 'z'").fetchone()
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory, linked_small):
    ws = linked_copy(linked_small, tmp_path_factory.mktemp("zones") / "ws")
    project = approved_and_built(ws, EXAMPLE, TODAY)
    return ws, project


def test_each_zone_needs_its_own_key(built):
    ws, project = built
    files = {
        "identifiers": (ws.identifiers_path, ws.key("identifiers")),
        "content": (ws.content_path, ws.key("content")),
        "links": (ws.links_path, ws.key("links")),
        "extract": (projects.extract_path(ws, project), projects.extract_key(ws, project)),
    }
    for name, (path, key) in files.items():
        assert encryption.is_encrypted(path), name
        assert not _opens(path, None), f"{name} opened without a key"
        assert _opens(path, key), f"{name} did not open with its own key"
        for other, (_, other_key) in files.items():
            if other != name:
                assert not _opens(path, other_key), f"{name} opened with the {other} key"
    # the extract's key is not stored anywhere: it is derived from the project key, deleted when the project closes
    assert not any(projects.extract_key(ws, project) in p.read_text() for p in ws.keys_dir.rglob("*.key"))


def test_an_older_workspace_is_encrypted_when_first_opened(tmp_path):
    old = extract_fixture(tmp_path)
    plain = [old / "content.duckdb", old / "links.duckdb", old / "projects" / "continuity-of-care" / "extract.duckdb"]
    assert not any(encryption.is_encrypted(p) for p in plain)
    ws = workspace_actions.open_workspace(old)
    assert all(encryption.is_encrypted(p) for p in plain)
    clear(ws, "ana")  # an older release's people are neither trained nor approved
    analyst = people.sign_in(ws, "ana", PASSWORD)
    status = workspace_actions.status(ws, analyst)
    assert sum(b.rows_accepted for b in status.batches) == 1971 and status.latest_run.run_id == 1
    output = studies.run(ws, analyst, "continuity-of-care", "continuity-of-care", today=TODAY)
    assert output.table("overall")["n"].iloc[0] > 0  # the old extract, now encrypted, still answers
    entries = audit.entries(ws, action="zones encrypted")
    assert len(entries) == 1 and "continuity-of-care" in entries[0]["details"]
    assert audit.verify(ws).ok and audit.verify(ws).entries > OLD_ENTRIES
    workspace_actions.open_workspace(old)  # once only
    assert len(audit.entries(ws, action="zones encrypted")) == 1
