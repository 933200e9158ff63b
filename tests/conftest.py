"""Shared fixtures: synthetic populations generated once per test run."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from bold.synth.config import SynthConfig
from bold.synth.generate import generate


def make_population(root: Path, **settings) -> tuple[Path, dict]:
    out = root / "synth"
    figures = generate(SynthConfig(**settings), out)
    return out, figures


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` that ``build`` fills, built once per test run rather than once per xdist worker: the
    workers share the parent of their base temp folders, and a lock makes the later worker wait for the first's
    build instead of repeating it (populations and linkage are the slow part of the suite)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder, done = base / name, base / f"{name}.done"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the build fails
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed part way
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def small_population(tmp_path_factory) -> tuple[Path, dict]:
    """A few thousand people: structure, formats and the calibration targets that are not rare events. Tests
    only read it. The figures come from the summary file, so every worker sees the same values."""
    root = built_once(tmp_path_factory, "small", lambda folder: make_population(folder, people=5_000, seed=11))
    out = root / "synth"
    return out, json.loads((out / "truth" / "summary.json").read_text())["figures"]


@pytest.fixture(scope="session")
def linked_small(tmp_path_factory, small_population) -> Path:
    """The small population with every source ingested and linked by Splink (model retrained), made once per test
    run: the root of a workspace that modules copy with ``linked_copy`` instead of linking again, because
    linking is the slow part and many modules start from exactly this. Never changed itself."""
    from bold.linkage.run import link_workspace

    out, _ = small_population

    def build(folder: Path) -> None:
        link_workspace(ingested(folder / "ws", out), retrain=True, by="lin")

    return built_once(tmp_path_factory, "linked", build) / "ws"


FOUR_SOURCES = ("prison", "treatment", "deaths", "hospital")  # what the continuity-of-care agreement reads


@pytest.fixture(scope="session")
def linked_four(tmp_path_factory, small_population) -> Path:
    """Like ``linked_small`` but with only the continuity-of-care agreement's four sources (no source linked here
    records ethnicity, which some tests rely on); modules copy it with ``linked_copy``. Never changed itself."""
    from bold.ingest.pipeline import ingest
    from bold.linkage.run import link_workspace
    from bold.workspace import Workspace

    out, _ = small_population

    def build(folder: Path) -> None:
        ws = Workspace.init(folder / "ws")
        for source in FOUR_SOURCES:
            ingest(ws, source, out / f"{source}.parquet", by="cara")
        link_workspace(ws, retrain=True, by="lin")

    return built_once(tmp_path_factory, "linked-four", build) / "ws"


@pytest.fixture(scope="session")
def thousand_population(tmp_path_factory) -> Path:
    """A thousand people (seed 11): enough for a built project and its study outputs, quicker to link."""
    root = built_once(tmp_path_factory, "thousand", lambda folder: make_population(folder, people=1_000, seed=11))
    return root / "synth"


@pytest.fixture(scope="session")
def web_linked(tmp_path_factory, thousand_population) -> Path:
    """One person per role (tests/web.py) and four sources of ``thousand_population`` ingested and linked (the
    model trained), made once per test run: the web modules copy it with ``linked_copy`` instead of each
    generating, ingesting and linking the same thousand people again. Never changed itself."""
    from bold.ingest.pipeline import ingest
    from bold.linkage.run import link_workspace
    from bold.workspace import Workspace
    from tests.web import people_workspace

    def build(folder: Path) -> None:
        ws = Workspace.open(people_workspace(folder / "ws"))
        for source in FOUR_SOURCES:
            ingest(ws, source, thousand_population / f"{source}.parquet", by="cara")
        link_workspace(ws, by="lin")

    return built_once(tmp_path_factory, "web-linked", build) / "ws"


def linked_copy(template: Path, root: Path):
    """A workspace of its own at ``root``, copied from ``linked_small``'s (a workspace holds no absolute paths,
    so the copy is a workspace like any other, its audit chain intact)."""
    from bold.workspace import Workspace

    shutil.copytree(template, root, symlinks=True)
    return Workspace.open(root)


@pytest.fixture(scope="session")
def large_population(tmp_path_factory) -> tuple[Path, dict]:
    """Enough people for deaths in the fortnight after release (a rare event) to be counted."""
    return make_population(tmp_path_factory.mktemp("large"), people=60_000, seed=5)


@pytest.fixture()
def sql():
    """A DuckDB connection for querying generated files."""
    con = duckdb.connect()
    yield con
    con.close()


def ingested(root: Path, out: Path):
    """A new workspace with every source of a synthetic population ingested."""
    from bold.ingest.pipeline import ingest
    from bold.synth.config import SOURCES
    from bold.workspace import Workspace

    ws = Workspace.init(root)
    for source in SOURCES:
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    return ws


TEAM_PASSWORD = "a-long-test-password"  # as the tests that sign the team in expect


def clear(ws, *names: str, by: str = "test-admin") -> None:
    """Give each person what acting on data needs, as an admin would with ``bold user train`` and ``bold user
    approve``: a current training record and a current approval (by ``by``, never the person themself)."""
    import datetime as dt

    from bold.governance import people

    today = people.today()
    for name in names:
        people.record_training(ws, name, "data protection", today - dt.timedelta(days=30), None, by=by)
        people.approve(ws, name, today + dt.timedelta(days=365), "test team", by=by)


def add_cleared(ws, name: str, roles: list[str], password: str = TEAM_PASSWORD, *, by: str = "test-admin"):
    """Add a person who may act on data (trained and approved); the person."""
    from bold.governance.people import add_person

    person = add_person(ws, name, roles, password, by=by)
    clear(ws, name, by=by)
    return person


def add_team(ws, agreement: Path) -> None:
    """Add the people an agreement names, each with the role it names them in (an agreement naming people who
    are not on the platform, or not in that role, crosses a red line)."""
    import yaml

    from bold.governance.people import add_person, people

    known = {p.name for p in people(ws)}
    for person in yaml.safe_load(Path(agreement).read_text())["people"]:
        if person["name"] not in known:
            add_person(ws, person["name"], [person["role"]], TEAM_PASSWORD, by="test")
            clear(ws, person["name"])
            known.add(person["name"])


EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
BOARD_ANSWERS = EXAMPLES / "board-answers.yaml"  # yes to every human criterion, each with a reason
DPIA = EXAMPLES / "dpia.yaml"  # low residual risk


def board_answers():
    from bold.governance.decisions import load_answers

    return load_answers(BOARD_ANSWERS)


def decided_and_signed_off(ws, project_id: str, board: str = "grace"):
    """What a project goes through between submission and build: ``board`` records its DPIA and approves it
    with an answer on every human criterion, and each source's custodian (who sent it) signs its use off."""
    from bold import store
    from bold.governance import decisions, projects

    projects.record_dpia(ws, project_id, DPIA, by=board)
    project = projects.approve(ws, project_id, decisions.load_answers(BOARD_ANSWERS), by=board)
    with store.connect(ws) as db:
        custodians = {s: sorted(decisions.custodians_of(db, s)) for s in project.sources}
    for source, who in custodians.items():
        if who:
            project = projects.sign_off(ws, project_id, source, by=who[0])
    return project


def approved_and_built(ws, agreement: Path, today):
    """Submit an agreement as ana (adding its team first), take it through ``decided_and_signed_off`` and build its
    extract; the project id."""
    from bold.governance import projects

    add_team(ws, agreement)
    project = projects.submit(ws, agreement, by="ana")
    decided_and_signed_off(ws, project.id)
    projects.build(ws, project.id, today=today, by="adam")
    return project.id


def question_library() -> list:
    """The built-in studies the question library's agreement (bold-questions.yaml) covers: every one but those that
    need a participant list, which exists only for its own evaluation (docs/examples/participant-outcomes.yaml)."""
    import yaml

    from bold.studies.builtin import catalogue

    datasets = yaml.safe_load((EXAMPLES / "bold-questions.yaml").read_text())["datasets"]
    return [s for s in catalogue().values() if all(n.split(".")[0] in datasets for n in s.needs)]
