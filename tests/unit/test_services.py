"""The services as data: who holds which key (issue 11), checked without root; and the key-mode rule a deployment
relies on: a key readable by its group is accepted only in a workspace set up for services."""

from __future__ import annotations

import os

import pytest

from bold.errors import Invalid, Kind
from bold.security import services
from bold.workspace import KEY_NAMES, Workspace, WorkspaceError


def _holders(key: str) -> set[str]:
    return {name for name in services.SERVICE_NAMES if key in services.keys_of(name)}


def test_each_service_holds_only_its_keys():
    assert services.keys_of("linkage") == ["identifiers.key", "links.key", "audit.key"]
    assert services.keys_of("studies") == ["projects/", "audit.key"]
    assert _holders("content.key") == {"ingest", "build"}
    assert _holders("identifiers.key") == {"ingest", "linkage"}
    assert _holders("links.key") == {"linkage", "build"}
    assert "projects/" not in services.keys_of("linkage") and "projects/" not in services.keys_of("ingest")
    linkage_files = services.reads_of("linkage") + services.writes_of("linkage")
    assert not any(p.startswith(("content", "projects", "outputs")) for p in linkage_files)
    studies_files = services.reads_of("studies") + services.writes_of("studies")
    assert not any(p.startswith(("identifiers", "links", "content", "linkage")) for p in studies_files)


def test_every_key_belongs_to_one_share_and_every_service_can_audit():
    keys = [s.key for s in services.SHARES if s.key]
    assert sorted(keys) == sorted([f"{k}.key" for k in KEY_NAMES] + ["projects/"])
    for name in services.SERVICE_NAMES:
        assert "audit.key" in services.keys_of(name)
        assert "governance.db" in services.writes_of(name)


@pytest.mark.parametrize("prefix", ["Bold-", "../x", "-bold", "a" * 21, "", "bold user"])
def test_a_bad_prefix_is_refused(prefix):
    with pytest.raises(Invalid, match="service prefix"):
        services.check_prefix(prefix)


def test_a_group_readable_key_is_accepted_only_in_a_services_workspace(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    key = ws.keys_dir / "identifiers.key"
    os.chmod(key, 0o640)
    with pytest.raises(WorkspaceError, match="readable by others") as refused:
        ws.key("identifiers")  # the single-user mode stays owner-only
    assert refused.value.kind == Kind.REFUSED
    ws.settings_path.write_text(ws.settings_path.read_text() + '\n[services]\nprefix = "bold-"\n')
    assert ws.key("identifiers")
    for mode in (0o660, 0o644):  # never writable by the group, never readable by others
        os.chmod(key, mode)
        with pytest.raises(WorkspaceError, match="run: bold service setup"):
            ws.key("identifiers")


def test_opening_a_services_workspace_keeps_its_groups(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    os.chmod(ws.content_path, 0o644)
    assert ws.content_path in Workspace.open(ws.root).tightened
    assert ws.content_path.stat().st_mode & 0o777 == 0o600  # single-user: owner-only again
    ws.settings_path.write_text(ws.settings_path.read_text() + '\n[services]\nprefix = "bold-"\n')
    os.chmod(ws.content_path, 0o644)
    Workspace.open(ws.root)
    assert ws.content_path.stat().st_mode & 0o777 == 0o640  # others lose their bit; the group keeps its own
