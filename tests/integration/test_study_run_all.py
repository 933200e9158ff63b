"""``bold study run PROJECT all`` goes on past a study that fails, and reports each failure at the end.

The failure is real: a workspace of 200 people (prison and treatment only, linked, about 10 s to make) cannot give
the matched comparison its Justice Data Lab minimum of 60 participants, while the treatment studies around it run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from bold.actions import outputs
from bold.cli import app
from bold.errors import EXIT_CODES, Kind
from bold.governance import people
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import TEAM_PASSWORD, approved_and_built, make_population

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
TODAY = dt.date(2026, 11, 22)
STUDIES = ("treatment-impact", "economic-value")  # in the library's order the matched comparison comes first


def narrow_agreement(path: Path) -> Path:
    """The bold-questions agreement cut to the matched comparison and the economic value (and so to the
    treatment outcomes, which need the same fields): prison and treatment only."""
    agreement = yaml.safe_load((EXAMPLES / "bold-questions.yaml").read_text())
    agreement["questions"] = [q for q in agreement["questions"] if q["id"] in STUDIES]
    needs = {n for q in agreement["questions"] for n in q["needs"]}
    agreement["datasets"] = {
        d: {f: why for f, why in fields.items() if f"{d}.{f}" in needs}
        for d, fields in agreement["datasets"].items()
        if any(n.startswith(f"{d}.") for n in needs)
    }
    agreement["id"] = "narrow"
    path.write_text(yaml.safe_dump(agreement, sort_keys=False))
    return path


def test_run_all_goes_on_past_a_failing_study_and_reports_it_at_the_end(tmp_path, monkeypatch):
    out, _ = make_population(tmp_path, people=200, seed=3)
    ws = Workspace.init(tmp_path / "ws")
    for source in ("prison", "treatment"):
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    link_workspace(ws, retrain=True, by="lin")
    project = approved_and_built(ws, narrow_agreement(tmp_path / "narrow.yaml"), TODAY)

    monkeypatch.setenv("BOLD_USER", "ana")
    monkeypatch.setenv("BOLD_PASSWORD", TEAM_PASSWORD)
    ran = CliRunner().invoke(app, ["study", "run", project, "all", "-w", str(ws.root)])

    assert ran.exit_code == EXIT_CODES[Kind.INVALID], ran.output  # the failure's kind: not 0
    lines = ran.output.splitlines()
    failed_at = lines.index("treatment-impact: failed (the reason is given at the end)")
    after = next(i for i, line in enumerate(lines) if line.startswith("economic-value: pending output"))
    assert failed_at < after  # the study after the failing one ran
    summary = lines.index("1 of 4 studies failed:")  # the pathway after release needs only these fields too
    assert summary > after and lines[summary + 1].startswith(
        "  treatment-impact: fewer than 60 participants: the Justice Data Lab needs at least 60"
    )
    assert "Traceback" not in ran.output

    ana = people.sign_in(ws, "ana", TEAM_PASSWORD)
    made = sorted(o.study for o in outputs.list_outputs(ws, ana, project))
    assert made == ["economic-value", "pathway-after-release", "treatment-outcomes"]
    refused = [json.loads(e["details"]) for e in audit.entries(ws, action="study run refused")]
    assert [r["study"] for r in refused] == ["treatment-impact"]  # the failure is in the audit trail too
