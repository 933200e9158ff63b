"""The ingest commands end to end, as a custodian or linkage team runs them."""

from __future__ import annotations

from typer.testing import CliRunner

from bold.cli import app
from bold.workspace import Workspace
from tests.conftest import clear

runner = CliRunner()
ADMIN = {"BOLD_USER": "adam", "BOLD_PASSWORD": "a-long-admin-password"}


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env or ADMIN)


def test_init_ingest_status_and_optout(tmp_path, small_population):
    out, figures = small_population
    ws = tmp_path / "ws"
    result = invoke("init", ws)
    assert result.exit_code == 0, result.output
    assert invoke("init", ws).exit_code != 0  # not twice
    custodian = {"BOLD_USER": "cara", "BOLD_PASSWORD": "a-long-custodian-password"}
    added = invoke(
        "user",
        "add",
        "cara",
        "--role",
        "custodian",
        "--workspace",
        ws,
        env={**ADMIN, "BOLD_NEW_PASSWORD": custodian["BOLD_PASSWORD"]},
    )
    assert added.exit_code == 0, added.output
    blocked = invoke("ingest", out / "prison.csv", "--source", "prison", "--workspace", ws, env=custodian)
    assert blocked.exit_code == 4 and "cara may not ingest: it acts on data" in blocked.output
    trained = invoke("user", "train", "cara", "--course", "data protection", "--completed", "2026-01-05", "-w", ws)
    approved = invoke("user", "approve", "cara", "--expires", "2099-12-31", "-w", ws)
    assert trained.exit_code == approved.exit_code == 0, (trained.output, approved.output)
    clear(Workspace.open(ws), "adam")  # approved by another admin: the workspace has none yet
    refused = invoke("link", "--workspace", ws, env=custodian)
    assert refused.exit_code != 0 and "cara (custodian) may not link" in refused.output
    result = invoke("ingest", out / "prison.csv", "--source", "prison", "--workspace", ws, env=custodian)
    assert result.exit_code == 0, result.output
    assert f"rows read {figures['records']['prison']:,}" in result.output
    again = invoke("ingest", out / "prison.csv", "--source", "prison", "--workspace", ws)
    assert again.exit_code == 0 and "already ingested" in again.output
    status = invoke("status", "--workspace", ws)
    assert status.exit_code == 0 and "prison" in status.output and "none" in status.output
    optouts = tmp_path / "optouts.csv"
    optouts.write_text("nhs_number\n9434765919\n")
    result = invoke("optout", "add", optouts, "--yes", "--workspace", ws)
    assert result.exit_code == 0 and "1 entries added" in result.output
    assert "nhs_number: 1" in invoke("optout", "count", "--workspace", ws).output


def test_ingest_errors_are_one_line(tmp_path):
    ws = tmp_path / "ws"
    invoke("init", ws)
    clear(Workspace.open(ws), "adam")  # trained and approved: the cases below get past the check
    cases = [
        (("ingest", tmp_path / "nope.csv", "-s", "prison", "-w", ws), "no such file"),
        (("ingest", tmp_path / "nope.csv", "-s", "pharmacy", "-w", ws), "unknown source type 'pharmacy'"),
        (("ingest", tmp_path / "nope.csv", "-s", "prison", "-w", tmp_path), "not a BOLD workspace"),
        (("status", "-w", tmp_path / "elsewhere"), "not a BOLD workspace"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
