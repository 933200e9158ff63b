"""Studies end to end on a linked synthetic workspace: pending outputs, refusals, the audit, who may read an
output, and agreement with the generator's truth."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bold.actions import studies as study_actions
from bold.governance import people, projects
from bold.security import encryption
from bold.store import audit
from bold.studies import outputs, runner, uncertainty
from bold.studies.builtin import catalogue
from bold.studies.language import StudyError
from bold.workspace import Workspace
from tests.conftest import approved_and_built, clear, linked_copy, question_library

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def study_ws(tmp_path_factory, small_population, linked_small):
    out, _ = small_population
    ws = linked_copy(linked_small, tmp_path_factory.mktemp("studies") / "ws")
    for example in ("bold-questions", "continuity-of-care"):
        approved_and_built(ws, EXAMPLES / f"{example}.yaml", TODAY)
    return ws, out


def _published_counts(output) -> dict[str, list[str]]:
    """The count columns (people and events) of each checked table, from the output's declared kinds."""
    kinds = output.manifest()["statistics"]
    return {
        table: [c for c, s in columns.items() if s["kind"] in ("people", "events")]
        for table, columns in kinds.items()
        if table in output.manifest()["tables"]
    }


def _pseudonyms(ws) -> set[str]:
    """Every project pseudonym the extract holds, at every threshold."""
    with ws.duckdb_connection() as con:
        key = projects.extract_key(ws, "bold-questions")
        encryption.attach(con, projects.extract_path(ws, "bold-questions"), "x", key, read_only=True)
        con.execute("use x")
        found = set()
        for (table,) in con.execute("select table_name from duckdb_tables() where database_name = 'x'").fetchall():
            columns = [c for (c,) in con.execute(f"select name from pragma_table_info('x.{table}')").fetchall()]
            for column in [c for c in columns if c.startswith("person_id")]:
                found |= {v for (v,) in con.execute(f"select distinct {column} from x.{table}").fetchall() if v}
        return found


NO_EVIDENCE = ("no-evidence", "no-type")


def test_every_built_in_study_runs_is_checked_and_reports_its_main_measure_at_each_threshold(study_ws):
    """The whole catalogue, run once as the analyst runs it (each study computed at the three thresholds of the
    real linkage run and checked under the agreement's profile, bold-standard: 10 people, base 5), and everything
    a run of every study must show, on those same outputs: each waits as a pending output readable by its owner
    alone, its files as the manifest says; no checked file holds a count of 1 to 9; charts are drawn from the
    protected tables only; the manifest names the linkage run, threshold and batches; the main measure is
    reported at every threshold and checked like the table it comes from; no file holds a pseudonym of any
    threshold; and the audit records each run."""
    from bold.disclosure.check import checked_files, checked_folder, for_analyst, report

    ws, _ = study_ws
    keys = _pseudonyms(ws)
    assert len(keys) > 1000
    with ws.duckdb_connection() as con:  # the extract carries the three clusterings of the latest run
        ws.attach(con, "links", read_only=True)
        run_id, batches = con.execute("select run_id, batches from links.runs order by run_id desc limit 1").fetchone()
    pilot = {"pilot_areas": "E08000024,E08000012", "pilot_start": "2020-10-19"}
    ana = next(p for p in people.people(ws) if p.name == "ana")
    library = question_library()
    assert set(catalogue()) - {s.id for s in library} == {
        "participant-outcomes"
    }  # tests/integration/test_participant_lists.py
    for study in library:
        output = study_actions.run(
            ws, ana, "bold-questions", study.id, parameters=pilot if study.required else {}, today=TODAY
        )
        assert output.status == "pending" and output.profile == "bold-standard@1", study.id
        assert output.check_outcome in ("pass", "review"), study.id
        manifest = output.manifest()
        assert set(manifest["fields_used"]) <= projects.get(ws, "bold-questions").agreement.requested()
        for name, digest in manifest["files"].items():
            path = output.folder / name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
            assert stat.S_IMODE(path.stat().st_mode) == 0o600  # pending outputs are not for everyone's eyes
        assert outputs.verify_files(output) == []
        page = (output.folder / "index.html").read_text()
        assert "Pending output, not released" in page and "<script" not in page

        folder = checked_folder(output)
        for name, digest in checked_files(output).items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        for table, columns in _published_counts(output).items():
            checked = pd.read_csv(folder / f"{table}.csv")
            for column in columns:
                values = checked[column].dropna()
                assert not values.between(1, 9).any(), (study.id, table, column)
                assert (values % 5 == 0).all(), (study.id, table, column)  # rounded to base 5
        for chart in manifest["charts"]:
            if (folder / f"{chart}.vl.json").exists():
                spec = json.loads((folder / f"{chart}.vl.json").read_text())
                source = manifest["chart_tables"][chart]
                protected = json.loads(pd.read_csv(folder / f"{source}.csv").to_json(orient="records"))
                for records in spec["datasets"].values():
                    pd.testing.assert_frame_equal(pd.DataFrame(records), pd.DataFrame(protected), check_dtype=False)
        full = report(output)
        seen = for_analyst(full)
        assert "intervals" not in seen and all(
            set(d) == {"table", "row", "column", "reason"} for d in seen["differencing"]
        )

        assert manifest["linkage"]["run"] == run_id and manifest["linkage"]["threshold"] == "medium", study.id
        assert manifest["linkage"]["batches"] == json.loads(batches), study.id
        assert manifest["linkage"]["variants"] == ["high", "medium", "low"], study.id
        table = output.table(uncertainty.TABLE)
        assert table.threshold.unique().tolist() == ["high", "medium", "low"], study.id
        assert set(table[table.chosen == "yes"].threshold) == {"medium"}, study.id
        assert study.main.value in table.columns, study.id
        flags = full["flags"]
        unknown = {
            (f["column"], f["rule"]) for f in flags if f["table"] == uncertainty.TABLE and f["rule"] in NO_EVIDENCE
        }
        in_main = {
            (f["column"], f["rule"]) for f in flags if f["table"] == study.main.table and f["rule"] in NO_EVIDENCE
        }
        assert unknown <= in_main, study.id  # the variants are judged as well as the table they come from
        for path in [*output.folder.rglob("*")]:  # no pseudonym of any threshold in any file of the output
            if path.is_file():
                tokens = set(re.findall(r"[0-9a-f]{16,}", path.read_text(errors="ignore")))
                assert not {t for t in tokens for k in keys if t in k}, (study.id, path.name)
    runs = audit.entries(ws, action="study run")
    assert {json.loads(e["details"])["study"] for e in runs} >= {s.id for s in library}
    assert len(audit.entries(ws, action="output checked")) >= len(library)


def test_a_changed_output_file_is_detected(study_ws):
    ws, _ = study_ws
    output = runner.run(ws, "bold-questions", "continuity-of-care", by="ana", today=TODAY)
    (output.folder / "overall.csv").write_text("n,share\n1,1.0\n")
    assert outputs.verify_files(output) == ["overall.csv"]


def test_a_study_outside_the_agreement_is_refused_naming_the_fields(study_ws):
    ws, _ = study_ws
    with pytest.raises(StudyError, match=r"needs homelessness\.application_date.*not in the agreement"):
        runner.run(ws, "continuity-of-care", "homelessness-to-treatment", by="ana", today=TODAY)
    refused = audit.entries(ws, action="study run refused")
    assert any("homelessness-to-treatment" in e["details"] for e in refused)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "mallory"}, "mallory is not an analyst of project bold-questions"),
        ({"by": "ana", "today": dt.date(2028, 1, 1)}, "expired"),
        ({"by": "ana", "parameters": {"windows": 3}}, "has no parameter windows"),
        ({"by": "ana", "backend": "oracle"}, "unknown backend"),
    ],
)
def test_runs_the_rules_do_not_allow_are_refused(study_ws, kwargs, message):
    ws, _ = study_ws
    with pytest.raises((StudyError, projects.ProjectError), match=message):
        runner.run(ws, "bold-questions", "continuity-of-care", **{"today": TODAY, **kwargs})


def test_pilot_evaluation_needs_its_parameters(study_ws):
    ws, _ = study_ws
    with pytest.raises(StudyError, match="--param pilot_areas"):
        runner.run(ws, "bold-questions", "pilot-evaluation", by="ana", today=TODAY)


def test_only_the_projects_output_checkers_may_read_a_pending_output(study_ws):
    ws, _ = study_ws
    output = runner.run(ws, "bold-questions", "deaths-after-release", by="ana", today=TODAY)
    project = projects.get(ws, "bold-questions")
    outputs.check_reader(project, output, "oscar")
    for name, why in (("ana", "not an output checker"), ("grace", "not an output checker")):
        with pytest.raises(StudyError, match=why):
            outputs.check_reader(project, output, name)


def test_continuity_agrees_with_the_truth(study_ws):
    """The releases counted are exactly the generator's; the share is close to the truth. Missed links (mostly
    treatment records, which carry only initials) can only lower it, by about a percentage point here."""
    ws, out = study_ws
    output = runner.run(ws, "bold-questions", "continuity-of-care", by="ana", today=TODAY)
    overall = output.table("overall").iloc[0]
    truth = pd.read_parquet(out / "truth" / "releases.parquet")
    release = pd.to_datetime(truth.release_date)
    data_end = (release + pd.to_timedelta(truth.days_to_period_end, unit="D")).max()
    cohort = truth[truth.need_flag & (release <= data_end - pd.Timedelta(days=42))]
    true_share = cohort.days_to_treatment.between(0, 21).mean()
    assert overall.n == len(cohort)
    assert overall.treated_21_days_share_low - 0.03 <= true_share <= overall.treated_21_days_share_high + 0.005


def test_deaths_after_release_agree_with_the_truth(study_ws):
    """Deaths and person-time by week since release against the generator's own follow-up of every release."""
    ws, out = study_ws
    table = runner.run(ws, "bold-questions", "deaths-after-release", by="ana", today=TODAY).table("all_cause_by_week")
    truth = pd.read_parquet(out / "truth" / "releases.parquet")
    for row in table.itertuples():
        lo, hi = WINDOWS[row.window]
        stop = truth.days_to_period_end.clip(upper=364) + 1
        for column, extra in (("days_to_death", 1), ("days_to_reception", 0)):
            hit = (truth[column] >= 0) & (truth[column] + extra < stop)
            stop = stop.where(~hit, truth[column] + extra)
        days = (stop.clip(upper=hi + 1) - lo).clip(lower=0).sum()
        died = truth.days_to_death.between(lo, hi) & ~truth.days_to_reception.between(0, truth.days_to_death)
        true_rate = 1000 * died.sum() / (days / 365.25)
        assert row.rate_low <= true_rate <= row.rate_high, row.window


WINDOWS = {"week 1": (0, 6), "week 2": (7, 13), "weeks 3-4": (14, 27), "weeks 5-12": (28, 83), "weeks 13-52": (84, 364)}


def test_difference_in_differences_recovers_the_planted_pilot(study_ws):
    ws, out = study_ws
    summary = json.loads((out / "truth" / "summary.json").read_text())
    params = {"pilot_areas": ",".join(summary["pilot_local_authorities"]), "pilot_start": summary["pilot_start"]}
    # every release against every other area: at 5,000 people the DSCP's 18-month windows and matched areas are too
    # few releases to tell 1.8 from 1 (tests/integration/test_studies_truth.py has the matched design)
    params |= {"comparison": "all", "before_months": 36, "gap_months": 0, "after_months": 60}
    output = runner.run(ws, "bold-questions", "pilot-evaluation", parameters=params, by="ana", today=TODAY)
    estimates = output.table("estimates").set_index("measure")
    odds = estimates.loc[next(m for m in estimates.index if "odds ratio" in m)]
    planted = 1.8  # bold.synth.calibration.PILOT_ODDS_RATIO
    assert odds.ci_low <= planted <= odds.ci_high
    assert odds.ci_low > 1  # and the effect is found, not only not ruled out


def test_the_command_line_runs_a_study_and_shows_it_only_to_output_checkers(study_ws, monkeypatch):
    from typer.testing import CliRunner

    from bold.cli import app
    from bold.governance.people import add_person

    ws, _ = study_ws
    for name, role in (("ana", "analyst"), ("oscar", "output_checker")):
        if not any(p.name == name for p in __import__("bold.governance.people", fromlist=["people"]).people(ws)):
            add_person(ws, name, [role], "a-long-test-password", by="test")
            clear(ws, name)
    cli = CliRunner()
    monkeypatch.setenv("BOLD_PASSWORD", "a-long-test-password")
    monkeypatch.setenv("BOLD_USER", "ana")
    ran = cli.invoke(app, ["study", "run", "bold-questions", "dual-diagnosis", "-w", str(ws.root)])
    assert ran.exit_code == 0, ran.output
    output_id = ran.output.split("pending output ")[1].split()[0]
    refused = cli.invoke(app, ["outputs", "show", "bold-questions", output_id, "-w", str(ws.root)])
    assert refused.exit_code != 0 and "may not outputs show" in refused.output
    monkeypatch.setenv("BOLD_USER", "oscar")
    shown = cli.invoke(app, ["outputs", "show", "bold-questions", output_id, "--table", "overall", "-w", str(ws.root)])
    assert shown.exit_code == 0, shown.output
    assert "Dual diagnosis" in shown.output or "dual" in shown.output.lower()
    assert audit.entries(ws, action="output viewed")


def test_studies_read_only_the_project_extract(study_ws, monkeypatch, tmp_path):
    """With the identifiers, content and links zones moved away and their openers failing, studies still run."""
    ws, _ = study_ws

    def refuse(*args, **kwargs):
        raise AssertionError("a study opened a zone other than the project extract")

    for opener in ("identifiers", "content", "ingest_session"):
        monkeypatch.setattr(Workspace, opener, refuse)
    moved = [ws.identifiers_path, ws.content_path, ws.links_path]
    for path in moved:
        path.rename(tmp_path / path.name)
    try:
        for study in ("continuity-of-care", "deaths-after-release", "treatment-outcomes"):
            assert runner.run(ws, "bold-questions", study, by="ana", today=TODAY).status == "pending"
    finally:
        for path in moved:
            (tmp_path / path.name).rename(path)


def test_study_code_does_not_refer_to_other_zones():
    folder = Path(__file__).parents[2] / "src" / "bold" / "studies"
    for path in folder.rglob("*.py"):
        text = path.read_text()
        tree = ast.parse(text)
        zone_access = {
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and n.attr in {"identifiers", "identifiers_path", "content", "content_path", "links_path", "ingest_session"}
            and not (isinstance(n.value, ast.Name) and n.value.id == "contract")  # a contract's content columns
        }
        imported = {
            n.module
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("bold.")
        }
        assert not zone_access, path.name
        assert not {m for m in imported if m.startswith(("bold.linkage", "bold.ingest"))}, path.name
        assert "identifiers.duckdb" not in text and "content.duckdb" not in text, path.name


def test_effective_treatment_agrees_with_the_truth(study_ws):
    """A measure of one dataset: the share of journeys that were effective (per journey) against the true journeys."""
    ws, out = study_ws
    overall = runner.run(ws, "bold-questions", "treatment-outcomes", by="ana", today=TODAY).table(
        "effective_per_journey_overall"
    )
    overall = overall.iloc[0]
    events = pd.read_parquet(out / "truth" / "events.parquet")
    journeys = events[events.event == "treatment_journey"]
    start, end = pd.to_datetime(journeys.date), pd.to_datetime(journeys.end_date)
    data_end = pd.to_datetime(events.date).max()
    completed = end.notna() & journeys.detail.isin(["CDF", "CAU"])
    long_enough = (end.fillna(data_end) - start).dt.days >= 83
    judged = end.notna() | ((data_end - start).dt.days >= 83)
    true_share = (completed | long_enough)[judged].mean()
    assert overall.effective_share_low <= true_share <= overall.effective_share_high


@pytest.mark.parametrize("study_id", sorted(s.id for s in question_library()))
def test_a_study_runs_on_exactly_the_fields_it_declares(study_ws, study_id):
    """An agreement holding only a study's ``needs`` is enough: nothing undeclared is read."""
    from bold.studies.language import Extract

    ws, out = study_ws
    study = catalogue()[study_id]
    agreed: dict[str, list[str]] = {}
    for entry in study.needs:
        dataset, field = entry.split(".")
        agreed.setdefault(dataset, []).append(field)
    path = projects.project_dir(ws, "bold-questions") / "extract.duckdb"
    extract = Extract.duckdb(path, agreed, key=projects.extract_key(ws, "bold-questions"))
    summary = json.loads((out / "truth" / "summary.json").read_text())
    pilot = {"pilot_areas": ",".join(summary["pilot_local_authorities"]), "pilot_start": summary["pilot_start"]}
    result = study.compute(extract, study.resolve(pilot if study.required else {}))
    assert result.tables
    assert extract.used <= set(study.needs)


def test_an_analysts_study_file_runs_and_cannot_reach_past_the_agreement(study_ws, tmp_path):
    ws, _ = study_ws
    example = EXAMPLES / "study-continuity-by-ost.yaml"
    output = runner.run(ws, "bold-questions", str(example), by="ana", today=TODAY)
    assert output.study == "continuity-by-ost" and "by_ost_at_release" in output.manifest()["tables"]
    with pytest.raises(StudyError, match=r"needs .*hospital\.primary_diagnosis.*not in the agreement"):
        spec = yaml.safe_load(example.read_text())
        spec["outcomes"][1]["where"] = {"primary_diagnosis": "F112"}
        path = tmp_path / "wider.yaml"
        path.write_text(yaml.safe_dump(spec))
        runner.run(ws, "continuity-of-care", str(path), by="ana", today=TODAY)


def test_closing_a_project_keeps_its_outputs_and_stops_its_studies(study_ws, tmp_path):
    ws, _ = study_ws
    agreement = yaml.safe_load((EXAMPLES / "continuity-of-care.yaml").read_text())
    agreement["id"] = "to-be-closed"
    path = tmp_path / "to-be-closed.yaml"
    path.write_text(yaml.safe_dump(agreement))
    approved_and_built(ws, path, TODAY)
    output = runner.run(ws, "to-be-closed", "continuity-of-care", by="ana", today=TODAY)
    projects.close(ws, "to-be-closed", by="grace")
    assert outputs.verify_files(outputs.get(ws, "to-be-closed", output.id)) == []
    with pytest.raises(projects.ProjectError, match="closed"):
        runner.run(ws, "to-be-closed", "continuity-of-care", by="ana", today=TODAY)


def test_a_study_file_with_a_non_date_outcome_is_a_clear_error(study_ws, tmp_path):
    ws, _ = study_ws
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "id": "not-a-date",
                "title": "t",
                "cohort": {"dataset": "prison", "index": "release_date"},
                "outcomes": [{"name": "died", "first": "deaths.drug_related"}],
            }
        )
    )
    with pytest.raises(StudyError, match=r"deaths\.drug_related is boolean, not a date"):
        runner.run(ws, "bold-questions", str(path), by="ana", today=TODAY)


def test_a_checked_file_changed_afterwards_is_refused(study_ws):
    from bold.disclosure.check import CheckError, check_output, checked_files, checked_folder

    ws, _ = study_ws
    output = runner.run(ws, "bold-questions", "continuity-of-care", by="ana", today=TODAY)
    check_output(ws, "bold-questions", output.id, by="ana")
    output = outputs.get(ws, "bold-questions", output.id)
    path = checked_folder(output) / "overall.csv"
    path.write_text(path.read_text().replace("0", "1"))
    with pytest.raises(CheckError, match="changed"):
        checked_files(output)


def test_two_runs_whose_end_dates_differ_by_one_day_are_flagged_for_differencing(study_ws):
    """The red-team's subtraction: the same study with its period ending one day apart isolates the people
    released on that day. The second run's check says so (to the checkers, with the other output named)."""
    from bold.disclosure.check import check_output, for_analyst

    ws, _ = study_ws
    extract = runner.open_extract(ws, projects.get(ws, "bold-questions"))
    try:
        days = extract.con.execute(
            extract.con.table("prison")
            .filter(lambda t: t.substance_misuse_need)
            .group_by("release_date")
            .aggregate(people=lambda t: t.person_id.nunique())
        )
    finally:
        extract.close()
    day = days[days.people.between(1, 3)].release_date.sort_values().iloc[len(days) // 3]
    end = pd.Timestamp(day).date()
    first = runner.run(ws, "bold-questions", "continuity-of-care", parameters={"end": str(end)}, by="ana", today=TODAY)
    check_output(ws, "bold-questions", first.id, by="ana")
    before = (end - dt.timedelta(days=1)).isoformat()
    second = runner.run(ws, "bold-questions", "continuity-of-care", parameters={"end": before}, by="ana", today=TODAY)
    checked = check_output(ws, "bold-questions", second.id, by="ana")
    overall = [c for c in checked.conflicts if c.table == "overall" and c.other_output == first.id]
    assert overall and all(1 <= c.differ_by <= 9 for c in overall)
    assert checked.outcome == "review"
    assert all(d["reason"] == "conflicts with an earlier output" for d in for_analyst(checked.report)["differencing"])
