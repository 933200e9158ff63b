"""Decision records (issue 18, Build 1 and 2): every version of an agreement is kept with what was decided about
it; the board approves only a version whose DPIA is recorded, answering every human criterion with a reason; an
extract is built only once each custodian whose source the version requests has signed it off; the register shows
the versions, the refused projects with their ids, and no staff member's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bold.cli import app
from bold.governance import decisions, projects, register
from bold.governance.decisions import HUMAN_CRITERIA, DecisionError
from bold.governance.projects import ProjectError
from bold.ingest.pipeline import ingest
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import BOARD_ANSWERS, DPIA, EXAMPLES, add_team, board_answers

AGREEMENT = EXAMPLES / "continuity-of-care.yaml"
P = "continuity-of-care"
SOURCES = ("prison", "treatment", "deaths", "hospital")


@pytest.fixture()
def ws(tmp_path, small_population):
    """The example agreement's sources sent by cara (prison, treatment) and carl (deaths, hospital); submitted."""
    out, _ = small_population
    ws = Workspace.init(tmp_path / "ws")
    for source, by in zip(SOURCES, ("cara", "cara", "carl", "carl"), strict=True):
        ingest(ws, source, out / f"{source}.parquet", by=by)
    add_team(ws, AGREEMENT)
    projects.submit(ws, AGREEMENT, by="ana")
    return ws


def written(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def answers(**changes) -> list[dict]:
    given = yaml.safe_load(BOARD_ANSWERS.read_text())["answers"]
    return [{**a, **changes.get(a["criterion"], {})} for a in given]


def test_approval_needs_the_dpia_and_a_yes_with_a_reason_on_every_criterion(ws, tmp_path):
    with pytest.raises(ProjectError, match="version 1 has no DPIA: record it first"):
        projects.approve(ws, P, board_answers(), by="grace")
    assert audit.entries(ws, action="project approval refused")

    high = yaml.safe_load(DPIA.read_text()) | {"residual_risk": "high"}
    projects.record_dpia(ws, P, written(tmp_path, "high.yaml", high), by="grace")
    with pytest.raises(ProjectError, match="high residual risk: the ICO must be consulted"):
        projects.approve(ws, P, board_answers(), by="grace")
    projects.record_dpia(ws, P, DPIA, by="grace")  # replaces the first
    assert json.loads(audit.entries(ws, action="project dpia recorded")[0]["details"])["replaced"] is True
    with pytest.raises(DecisionError, match="an approval records the board's answer"):
        projects.approve(ws, P, None, by="grace")

    missing = [a for a in answers() if a["criterion"] != "no-stigma"]
    with pytest.raises(DecisionError, match="the board has not answered: no-stigma"):
        projects.approve(ws, P, decisions.answers_from(missing), by="grace")
    with pytest.raises(DecisionError, match="answered no to impact: refuse, or ask for changes, instead"):
        projects.approve(ws, P, decisions.answers_from(answers(impact={"answer": "no"})), by="grace")
    with pytest.raises(DecisionError, match="the answer on safeguards: reason"):
        decisions.answers_from(answers(safeguards={"reason": "  "}))
    bad = written(
        tmp_path, "bad.yaml", {"answers": [*answers(), {"criterion": "vibes", "answer": "yes", "reason": "x"}]}
    )
    with pytest.raises(DecisionError, match=r"bad.yaml: unknown criteria vibes; the criteria are socially-acceptable"):
        decisions.load_answers(bad)
    twice = written(tmp_path, "twice.yaml", {"answers": [*answers(), answers()[0]]})
    with pytest.raises(DecisionError, match="answered more than once: socially-acceptable"):
        decisions.load_answers(twice)
    with pytest.raises(DecisionError, match=r"maybe.yaml: line 3: answers.0.answer: Input should be 'yes' or 'no'"):
        decisions.load_answers(written(tmp_path, "maybe.yaml", {"answers": [answers()[0] | {"answer": "maybe"}]}))
    assert projects.get(ws, P).status == "submitted"

    project = projects.approve(ws, P, board_answers(), by="grace")
    assert project.status == "approved"
    (v,) = projects.versions(ws, P)
    assert v.outcome == "approved" and v.decided_by == "grace" and v.dpia["residual_risk"] == "low"
    assert {a["criterion"]: a["answer"] for a in v.answers} == dict.fromkeys(HUMAN_CRITERIA, "yes")
    entry = audit.entries(ws, action="project approved")[0]
    details = json.loads(entry["details"])
    assert details["version"] == 1 and set(details["answers"]) == set(HUMAN_CRITERIA)
    with pytest.raises(ProjectError, match="a DPIA is recorded before the board decides"):
        projects.record_dpia(ws, P, DPIA, by="grace")


def test_a_bad_dpia_file_is_named_with_its_line_and_field(ws, tmp_path):
    data = yaml.safe_load(DPIA.read_text())
    data["risks"][1].pop("mitigation")
    with pytest.raises(DecisionError, match=r"dpia.yaml: line \d+: risks.1.mitigation: Field required"):
        projects.record_dpia(ws, P, written(tmp_path, "dpia.yaml", data), by="grace")
    with pytest.raises(DecisionError, match=r"none\.yaml: cannot read a DPIA"):
        projects.record_dpia(ws, P, tmp_path / "none.yaml", by="grace")
    with pytest.raises(DecisionError, match="risks: List should have at least 1 item"):
        projects.record_dpia(ws, P, written(tmp_path, "norisk.yaml", data | {"risks": []}), by="grace")


def test_only_each_sources_custodian_signs_off_and_the_build_waits_for_all(ws):
    projects.record_dpia(ws, P, DPIA, by="grace")
    projects.approve(ws, P, board_answers(), by="grace")
    with pytest.raises(ProjectError, match="not signed off by the custodians of prison, treatment, deaths, hospital"):
        projects.build(ws, P, by="adam")
    assert audit.entries(ws, action="project build refused")
    with pytest.raises(DecisionError, match="cara has sent no deaths data that still stands"):
        projects.sign_off(ws, P, "deaths", by="cara")
    with pytest.raises(ProjectError, match="does not request 'homelessness'"):
        projects.sign_off(ws, P, "homelessness", by="cara")
    projects.sign_off(ws, P, "prison", "results by region only", by="cara")
    projects.sign_off(ws, P, "treatment", by="cara")
    projects.sign_off(ws, P, "deaths", by="carl")
    with pytest.raises(ProjectError, match="custodians of hospital:"):
        projects.build(ws, P, by="adam")
    projects.sign_off(ws, P, "hospital", by="carl")
    with pytest.raises(ProjectError, match="no linkage yet"):  # past every sign-off: the next check
        projects.build(ws, P, by="adam")
    (v,) = projects.versions(ws, P)
    assert [(s.source, s.signed_by, s.conditions) for s in v.sign_offs] == [
        ("deaths", "carl", None),
        ("hospital", "carl", None),
        ("prison", "cara", "results by region only"),
        ("treatment", "cara", None),
    ]
    assert len(audit.entries(ws, action="project signed off")) == 4


def test_an_amendment_is_a_new_version_assessed_signed_off_and_decided_afresh(ws, tmp_path):
    projects.record_dpia(ws, P, DPIA, by="grace")
    projects.refuse(ws, P, "Changes requested: drop the hospital data", board_answers(), by="grace")
    data = yaml.safe_load(AGREEMENT.read_text())
    data["datasets"].pop("hospital")
    data["questions"] = [q for q in data["questions"] if not any(n.startswith("hospital.") for n in q["needs"])]
    v2 = projects.amend(ws, P, written(tmp_path, "v2.yaml", data), by="ana")
    assert v2.version == 2 and v2.assessment["acceptable"] and "hospital" not in v2.sources
    with pytest.raises(ProjectError, match="version 2 has no DPIA"):  # the first version's DPIA stays with it
        projects.approve(ws, P, board_answers(), by="grace")
    projects.record_dpia(ws, P, DPIA, by="grace")
    projects.approve(ws, P, board_answers(), by="grace")
    for source in ("prison", "treatment"):
        projects.sign_off(ws, P, source, by="cara")
    projects.sign_off(ws, P, "deaths", by="carl")

    data["datasets"]["prison"]["release_type"] = "just in case"  # a new field no question needs: fishing
    v3 = projects.amend(ws, P, written(tmp_path, "v3.yaml", data), by="ana")
    assert v3.version == 3 and not v3.assessment["acceptable"]
    assert any("fishing" in r for r in v3.assessment["red_lines"])
    projects.record_dpia(ws, P, DPIA, by="grace")
    with pytest.raises(ProjectError, match="crosses red lines"):
        projects.approve(ws, P, board_answers(), by="grace")

    history = projects.versions(ws, P)
    assert [(v.number, v.outcome) for v in history] == [(1, "refused"), (2, "approved"), (3, None)]
    assert history[0].reason.endswith("drop the hospital data") and history[0].answers
    assert [s.source for s in history[1].sign_offs] == ["deaths", "prison", "treatment"]
    assert history[2].sign_offs == [] and not history[2].assessment["acceptable"]
    assert yaml.safe_load(history[0].agreement)["datasets"].get("hospital")  # each version's own text

    projects.withdraw(ws, P, by="ana")
    assert projects.versions(ws, P)[-1].outcome == "withdrawn"


def test_the_register_shows_versions_refusals_and_ids_and_no_staff_names(ws, tmp_path):
    other = yaml.safe_load(AGREEMENT.read_text()) | {"id": "refused-one", "title": "A refused project"}
    projects.submit(ws, written(tmp_path, "other.yaml", other), by="ana")
    projects.refuse(ws, "refused-one", "the purpose is too broad", by="grace")
    projects.record_dpia(ws, P, DPIA, by="grace")
    projects.approve(ws, P, board_answers(), by="grace")
    projects.sign_off(ws, P, "prison", "results by region only", by="cara")

    listed = {p["id"]: p for p in register.contents(ws)["projects"]}
    refused = listed["refused-one"]
    assert refused["status"] == "refused" and refused["versions"][0]["reason"] == "the purpose is too broad"
    (v,) = listed[P]["versions"]
    assert v["outcome"] == "approved" and v["dpia"]["residual_risk"] == "low" and len(v["board_answers"]) == 7
    assert v["dpia"]["public_involvement"][0]["who"].startswith("Peer-research panel")
    assert v["custodians_signed_off"] == [
        {"source": "prison", "on": v["decided"], "conditions": "results by region only"}
    ]
    text = json.dumps(listed)
    assert not any(f'"{name}"' in text for name in ("grace", "cara", "ana", "adam"))

    site = register.build(ws, tmp_path / "site", by="grace")
    page = (site / "index.html").read_text()
    assert "Project <code>refused-one</code>, version 1" in page and "the purpose is too broad" in page
    assert "Peer-research panel" in page and "prison (" in page and "results by region only" in page


def test_the_cli_walks_a_version_from_dpia_to_sign_off(ws, tmp_path):
    from typer.testing import CliRunner

    from bold.governance.people import add_person

    for name, role in (("cara", "custodian"), ("carl", "custodian")):  # grace is on the team: add_team
        add_person(ws, name, [role], "a-long-test-password", by="test")

    def bold(who: str, *args: str):
        env = {"BOLD_USER": who, "BOLD_PASSWORD": "a-long-test-password", "COLUMNS": "200"}
        return CliRunner().invoke(app, [*args, "-w", str(ws.root)], env=env)

    assert "lived-experience" in CliRunner().invoke(app, ["project", "criteria"], env={"COLUMNS": "200"}).output
    refused = bold("grace", "project", "approve", P, "--answers", str(BOARD_ANSWERS))
    assert refused.exit_code == 4 and "has no DPIA" in refused.output
    assert bold("grace", "project", "dpia", P, str(DPIA)).exit_code == 0
    refused = bold("grace", "project", "approve", P)
    assert refused.exit_code == 2 and "an approval records the board's answer" in refused.output
    done = bold("grace", "project", "approve", P, "--answers", str(BOARD_ANSWERS))
    assert done.exit_code == 0 and "version 1 approved by grace" in done.output
    assert bold("cara", "project", "sign-off", P, "--source", "prison", "--conditions", "by region").exit_code == 0
    wrong = bold("cara", "project", "sign-off", P, "--source", "deaths")
    assert wrong.exit_code == 2 and "cara has sent no deaths data" in wrong.output and "Traceback" not in wrong.output
    shown = bold("grace", "project", "history", P)
    assert "version 1" in shown.output and "approved by grace" in shown.output and "prison by cara" in shown.output
    (v,) = json.loads(bold("grace", "project", "history", P, "--json").output)
    assert v["outcome"] == "approved" and v["sign_offs"][0]["conditions"] == "by region"


def test_a_decision_record_edited_outside_bold_fails_the_audit(ws):
    """The board's records are sealed by the audit chain like the project itself: a sign-off or a DPIA changed
    by hand (to let a build through, or soften a risk) is named by ``bold audit verify``."""
    import sqlite3

    projects.record_dpia(ws, P, DPIA, by="grace")
    projects.sign_off(ws, P, "prison", by="cara")
    assert audit.verify(ws).ok
    db = sqlite3.connect(ws.governance_path)
    with db:
        db.execute("insert into project_sign_offs values (?, 1, 'treatment', 'cara', '2026-01-01', null)", (P,))
        db.execute("update project_dpias set dpia = replace(dpia, '\"low\"', '\"medium\"')")
    db.close()
    result = audit.verify(ws)
    assert not result.ok and result.changed_tables == ["project_dpias", "project_sign_offs"], result.problems
