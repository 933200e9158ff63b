"""The command line: help everywhere, one-line errors and non-zero exits on bad arguments."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from bold.cli import app

runner = CliRunner()


def _commands(group: typer.Typer, prefix=()):
    for cmd in group.registered_commands:
        yield (*prefix, cmd.name or cmd.callback.__name__)
    for sub in group.registered_groups:
        yield from _commands(sub.typer_instance, (*prefix, sub.name))


def test_every_command_has_help():
    commands = list(_commands(app))
    assert ("synth",) in commands
    for cmd in commands:
        result = runner.invoke(app, [*cmd, "--help"])
        assert result.exit_code == 0, cmd
        assert "Usage" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--people", "-5"], "greater than 0"),
        (["--people", "10", "--start", "2020-01-01", "--end", "2019-01-01"], "must be after start date"),
        (["--people", "10", "--start", "01/01/2020"], "is not a date"),
        (["--people", "10", "--format", "xlsx"], "is not one of"),
    ],
)
def test_bad_arguments_give_one_line_and_non_zero_exit(tmp_path, args, message):
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["synth", "--people", "10", "--out", str(blocker / "out")])
    assert result.exit_code != 0
    assert "cannot write to output folder" in result.output


def test_bad_corruption_file(tmp_path):
    rates = tmp_path / "rates.yaml"
    rates.write_text("prison:\n  typo_rate: 0.2\n")
    result = runner.invoke(app, ["synth", "--people", "10", "--out", str(tmp_path / "o"), "--corruption", str(rates)])
    assert result.exit_code != 0
    assert "rates.yaml: line 2: prison.typo_rate: not a field of the template" in result.output


def test_synth_writes_csv_only_and_prints_the_summary(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "prison.parquet").write_text("left by an earlier run with another seed")
    refused = runner.invoke(app, ["synth", "--people", "300", "--seed", "4", "--out", str(out), "--format", "csv"])
    assert refused.exit_code == 5 and "not a synthetic population file BOLD wrote" in refused.output
    (out / "truth").mkdir()
    (out / "truth" / "summary.json").write_text('{"figures": {}}')  # the earlier run's, so its files may go
    result = runner.invoke(app, ["synth", "--people", "300", "--seed", "4", "--out", str(out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "continuity of care" in result.output
    assert "Deaths within 14 days of release" in result.output
    assert (out / "prison.csv").exists() and not (out / "prison.parquet").exists()
    summary = json.loads((out / "truth" / "summary.json").read_text())
    assert summary["figures"]["people"] == 300
    assert summary["settings"]["seed"] == 4
