"""Projects as data sharing agreements: assessment, approval, extracts, retention."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from bold.governance import projects
from bold.governance.projects import ProjectError
from bold.security import encryption
from bold.store import audit
from tests.conftest import add_team, board_answers, decided_and_signed_off, linked_copy

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def linked(tmp_path_factory, linked_four):
    ws = linked_copy(linked_four, tmp_path_factory.mktemp("gov") / "ws")
    add_team(ws, EXAMPLE)  # the people the example agreement names, in their roles
    return ws


def agreement(tmp_path, **changes) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(changes)
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def submit_and_approve(ws, path, monkeypatch):
    project = projects.submit(ws, path, by="ana")
    decided_and_signed_off(ws, project.id)
    return project.id


def test_the_example_agreement_crosses_no_red_line(linked, tmp_path, monkeypatch):
    pid = submit_and_approve(linked, agreement(tmp_path, id="example-ok"), monkeypatch)
    assert projects.get(linked, pid).status == "approved"


@pytest.mark.parametrize(
    ("changes", "red_line"),
    [
        ({"purpose": ""}, "no purpose stated"),
        ({"end": None}, "no end date"),
        ({"datasets": {"prison": {"release_date": "index", "release_type": "just in case"}}}, "fishing"),
        ({"datasets": {"prison": {"release_date": "index", "surname": "to check"}}}, "an identifier"),
        (
            {"people": [{"name": "ana", "role": "analyst"}, {"name": "ana", "role": "output_checker"}]},
            "fewer than two output checkers",
        ),
        (
            {"controllers": [{"name": "NHS England", "sector": "NHS"}, {"name": "Acme", "sector": "private sector"}]},
            "outside government and the criminal justice system",
        ),
        ({"controllers": ["Ministry of Justice"]}, "no sector given"),
    ],
)
def test_red_lines_are_found_and_block_approval(linked, tmp_path, monkeypatch, changes, red_line):
    pid = "red-" + red_line.split()[0].lower().strip(":")[:8] + str(abs(hash(str(changes))) % 1000)
    project = projects.submit(linked, agreement(tmp_path, id=pid, **changes), by="ana")
    assert not project.assessment["acceptable"]
    assert any(red_line in r for r in project.assessment["red_lines"]), project.assessment["red_lines"]
    with pytest.raises(ProjectError, match="red lines"):
        projects.approve(linked, pid, board_answers(), by="grace")


def test_the_submitter_cannot_approve(linked, tmp_path, monkeypatch):
    projects.submit(linked, agreement(tmp_path, id="self-approval"), by="ana")
    with pytest.raises(ProjectError, match="cannot also approve"):
        projects.approve(linked, "self-approval", board_answers(), by="ana")
    assert audit.entries(linked, action="project approval refused")


def test_unapproved_expired_and_closed_projects_cannot_be_built(linked, tmp_path, monkeypatch):
    projects.submit(linked, agreement(tmp_path, id="not-approved"), by="ana")
    with pytest.raises(ProjectError, match="not approved"):
        projects.build(linked, "not-approved", TODAY, by="adam")
    pid = submit_and_approve(
        linked, agreement(tmp_path, id="expired", start="2024-01-01", end="2025-12-31"), monkeypatch
    )
    with pytest.raises(ProjectError, match="expired on 2025-12-31"):
        projects.build(linked, pid, TODAY, by="adam")
    pid = submit_and_approve(linked, agreement(tmp_path, id="to-close"), monkeypatch)
    projects.build(linked, pid, TODAY, by="adam")
    projects.close(linked, pid, by="grace")
    with pytest.raises(ProjectError, match="closed"):
        projects.build(linked, pid, TODAY, by="adam")
    assert not (linked.keys_dir / "projects" / f"{pid}.key").exists()
    assert not (projects.project_dir(linked, pid) / "extract.duckdb").exists()
    assert audit.entries(linked, action="project build refused")
    assert audit.verify(linked).ok


def test_extracts_hold_only_agreed_fields_under_project_pseudonyms(linked, tmp_path, monkeypatch):
    a = submit_and_approve(linked, agreement(tmp_path, id="project-a"), monkeypatch)
    b = submit_and_approve(linked, agreement(tmp_path, id="project-b", date_precision="month"), monkeypatch)
    path_a, path_b = projects.build(linked, a, TODAY, by="adam"), projects.build(linked, b, TODAY, by="adam")
    agreed = yaml.safe_load(EXAMPLE.read_text())["datasets"]
    con = duckdb.connect()
    encryption.attach(con, path_a, "a", projects.extract_key(linked, a), read_only=True)
    encryption.attach(con, path_b, "b", projects.extract_key(linked, b), read_only=True)
    for dataset, fields in agreed.items():
        cols = [c for (c,) in con.execute(f"select column_name from (describe a.{dataset})").fetchall()]
        # only agreed fields, and the person at every linkage threshold (linkage uncertainty): no record keys, no
        # identifiers
        variants = [] if dataset == "person" else [projects.variant_column(t) for t in projects.THRESHOLDS]
        keys = ["person_id", *variants]
        assert cols[: len(keys)] == keys and set(cols[len(keys) :]) == set(fields)
        if dataset == "person":  # a person's attributes at each threshold, each in its own table
            for t in projects.THRESHOLDS:
                described = con.execute(f"describe a.{projects.variant_table(t)}").fetchall()
                assert [c for (c, *_) in described] == cols
    for column in ("person_id", "person_id_high", "person_id_low"):
        overlap = con.execute(
            f"select count(*) from (select {column} from a.prison intersect select {column} from b.prison)"
        )
        assert overlap.fetchone()[0] == 0  # the same people, under pseudonyms that cannot be joined
    n_a, n_b = (con.execute(f"select count(distinct person_id) from {x}.prison").fetchone()[0] for x in "ab")
    assert n_a == n_b > 0
    days = con.execute("select count(*) from b.prison where day(release_date) != 1").fetchone()[0]
    assert days == 0  # dates coarsened to the month where the agreement says so


def test_the_register_lists_every_project_and_the_promises(linked, tmp_path, monkeypatch):
    import json

    from bold.governance import register

    projects.submit(linked, agreement(tmp_path, id="for-the-register"), by="ana")
    out = register.build(linked, tmp_path / "site", by="grace")
    data = json.loads((out / "register.json").read_text())
    listed = {p["id"]: p for p in data["projects"]}
    assert "for-the-register" in listed and listed["for-the-register"]["status"] == "submitted"
    assert listed["for-the-register"]["datasets"]["prison"]["release_date"] == "index date for every outcome"
    assert data["audit_head"]["entry"] == audit.entries(linked, limit=1)[0]["seq"] - 1  # publishing is audited too
    index = (out / "index.html").read_text()
    assert "Substance use after leaving prison" in index and "why it is needed" in index
    promises = (out / "promises.html").read_text()
    assert "Can I opt out?" in promises and "make decisions about you" in promises


def test_person_attributes_come_from_the_linker_not_from_identifiers(linked, tmp_path, monkeypatch):
    pid = submit_and_approve(linked, agreement(tmp_path, id="with-demographics"), monkeypatch)
    path = projects.build(linked, pid, TODAY, by="adam")
    con = duckdb.connect()
    encryption.attach(con, path, "extract", projects.extract_key(linked, pid), read_only=True)
    con.execute("use extract")
    columns = [c for (c,) in con.execute("select column_name from (describe person)").fetchall()]
    assert columns[0] == "person_id" and set(columns[1:]) == {"sex", "birth_year"}
    assert {s for (s,) in con.execute("select distinct sex from person").fetchall()} <= {"M", "F", None}
    missing = con.execute("select count(*) from prison where person_id not in (select person_id from person)")
    assert missing.fetchone()[0] == 0  # the same project pseudonyms in every table
    datasets = yaml.safe_load(EXAMPLE.read_text())["datasets"]
    datasets["person"] |= {"ethnicity": "equality analysis", "no_fixed_abode": "adjustment"}
    questions = yaml.safe_load(EXAMPLE.read_text())["questions"]
    questions[0]["needs"] += ["person.ethnicity", "person.no_fixed_abode"]
    path = agreement(tmp_path, id="with-ethnicity", datasets=datasets, questions=questions)
    pid = submit_and_approve(linked, path, monkeypatch)
    encryption.attach(con, projects.build(linked, pid, TODAY, by="adam"), "more", projects.extract_key(linked, pid))
    ethnicity, homeless, people = con.execute(
        "select count(ethnicity), count(*) filter (no_fixed_abode), count(*) from more.person"
    ).fetchone()
    assert ethnicity == 0 < homeless < people  # no source linked here records ethnicity; prison records NFA
    bad = yaml.safe_load(EXAMPLE.read_text())["datasets"]
    bad["person"]["postcode"] = "where people live"
    project = projects.submit(linked, agreement(tmp_path, id="person-postcode", datasets=bad), by="ana")
    assert any("person.postcode: not a person attribute" in r for r in project.assessment["red_lines"])
