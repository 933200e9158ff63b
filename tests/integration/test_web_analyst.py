"""The analyst's pages against the real app, actions, stages and store: the question library, running a study
from the web (a job), its outputs and check report, asking for release, and the releases with their files.

One linked and built workspace per module (a thousand people and four sources, as the release workflow's tests,
about 20 s), copied for each test so that no test sees another's outputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from bold.actions import outputs, people, studies
from bold.disclosure.release import Release
from bold.store import audit
from bold.studies.builtin import catalogue
from bold.workspace import Workspace
from tests.conftest import approved_and_built, linked_copy
from tests.web import PASSWORD, browser

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
P = "continuity-of-care"
TODAY = dt.date.today()


@pytest.fixture(scope="module")
def built(tmp_path_factory, web_linked) -> tuple[Path, dict[str, str]]:
    """A copy of the shared web workspace (one person per role, linked) with the continuity-of-care project
    approved and built, and two checked outputs ana ran (by study id; the tests that start from an output need
    not run one). The agreement runs to 2099 so that the web's runs, which use today's date, stay within it."""
    base = tmp_path_factory.mktemp("analyst")
    agreement = base / "agreement.yaml"
    agreement.write_text(EXAMPLE.read_text().replace("end: 2027-12-31", "end: 2099-12-31"))
    ws = linked_copy(web_linked, base / "ws")
    root = ws.root
    approved_and_built(ws, agreement, TODAY)
    ana = people.sign_in(ws, "ana", PASSWORD)
    made = {s: studies.run(ws, ana, P, s).id for s in ("continuity-of-care", "deaths-after-release")}
    return root, made


_copies = iter(range(10**9))


@pytest.fixture()
def root(built, tmp_path) -> Path:
    target = tmp_path / f"ws-{next(_copies)}"
    shutil.copytree(built[0], target)
    return target


@pytest.fixture()
def made(built) -> dict[str, str]:
    return built[1]


def user(root: Path, name: str):
    return people.sign_in(Workspace.open(root), name, PASSWORD)


def text(response) -> str:
    """The page's words, tags removed (what a reader sees)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def finished(client, job_url: str, seconds: float = 60) -> tuple[str, str]:
    """Poll a job's status fragment until it has finished: its state and the fragment."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fragment = client.get(f"{job_url}/status")
        assert fragment.status_code == 200
        state = re.search(r'data-state="(\w+)"', fragment.text).group(1)
        if state in ("done", "failed"):
            return state, fragment.text
        time.sleep(0.2)
    raise AssertionError(f"{job_url} did not finish in {seconds} s")


def run_from_the_web(client, study: str, **params) -> tuple[str, str]:
    response = client.post(f"/projects/{P}/run", {"study": study, **{f"param_{k}": v for k, v in params.items()}})
    assert response.status_code == 303, text(response)
    return finished(client, response.headers["location"])


def test_ana_runs_a_study_reads_its_check_report_and_asks_for_release(root):
    ana = browser(root, "ana")
    form = ana.page(f"/projects/{P}/run?study=continuity-of-care")
    assert form.status_code == 200
    assert 'name="param_within_days"' in form.text and 'name="study" value="continuity-of-care"' in form.text
    assert "homelessness-to-treatment" not in re.search(r"<select.*?</select>", form.text, re.S).group(0)

    state, fragment = run_from_the_web(ana, "continuity-of-care", within_days="14")
    assert state == "done", fragment
    report_url = re.search(r'href="(/projects/[^"]+/report)"', fragment).group(1)
    output_id = report_url.split("/")[-2]
    made = next(o for o in outputs.list_outputs(Workspace.open(root), user(root, "ana"), P) if o.id == output_id)
    assert made.manifest()["parameters"]["within_days"] == 14  # the form's value reached the study, typed

    listed = text(ana.page(f"/projects/{P}/outputs"))
    assert re.search(rf"{output_id} continuity-of-care ana [\d-]+ [\d:]+ pending", listed), listed

    report = ana.page(report_url)
    assert report.status_code == 200
    words = text(report)
    assert f"Disclosure check of {output_id}" in words and "sacro" in words
    checked = outputs.report(Workspace.open(root), user(root, "ana"), P, output_id)
    for flag in checked["flags"][:5]:  # each flag is said: its table, its column, its rule and why
        assert flag["column"] in words and flag["rule"] in words and flag["reason"] in words
    assert "Release has not been asked for" in words

    blank = ana.post(f"/projects/{P}/outputs/request", {"output": [output_id], "context": " ", "controls": "rounded"})
    assert blank.status_code == 422 and "say what the outputs are for" in text(blank)
    asked = ana.post(
        f"/projects/{P}/outputs/request",
        {
            "output": [output_id],
            "context": "the commissioners' annual report",
            "controls": "counts under 10 hidden",
            "summary": "Most people leaving prison with a drug problem are not in treatment three weeks later.",
        },
    )
    assert asked.status_code == 200, text(asked)
    request_id = re.search(r"Request (req-[\w-]+) is sent", text(asked)).group(1)
    assert re.search(
        rf"{output_id} continuity-of-care ana [\d-]+ [\d:]+ requested", text(ana.page(f"/projects/{P}/outputs"))
    )
    again = text(ana.page(report_url))
    assert request_id in again and "the commissioners' annual report" in again
    review = text(browser(root, "oscar").page(f"/projects/{P}/requests/{request_id}"))
    assert "Summary for the public register Most people leaving prison" in review  # checked with the outputs


def test_an_analyst_the_agreement_does_not_name_is_refused_by_the_runner_on_the_job_page(root):
    ali = browser(root, "ali")
    state, fragment = run_from_the_web(ali, "continuity-of-care")
    assert state == "failed"
    assert "ali is not an analyst of project continuity-of-care" in html.unescape(fragment)
    assert not [o for o in outputs.list_outputs(Workspace.open(root), user(root, "ana"), P) if o.created_by == "ali"]


def test_an_output_checker_may_not_open_the_run_form(root):
    oscar = browser(root, "oscar")
    assert oscar.get(f"/projects/{P}/run").status_code == 403
    assert oscar.post(f"/projects/{P}/run", {"study": "continuity-of-care"}).status_code == 403
    assert oscar.post(f"/projects/{P}/run-all").status_code == 403
    assert oscar.app.state.jobs.of("oscar") == []


@pytest.mark.parametrize(
    ("study", "params", "message"),
    [
        ("continuity-of-care", {"within_days": "soon"}, "Within days: expected a whole number, not 'soon'"),
        ("continuity-of-care", {"within_days": "-3"}, "Within days: a number of days or years cannot be negative"),
        ("continuity-of-care", {"start": "2024-13-40"}, "Start: expected a date such as 2024-04-01"),
        ("pilot-evaluation", {"pilot_start": "2021-01-01"}, "Pilot areas: this study needs a value"),
        ("deaths-after-release", {"substance_misuse_need_only": "maybe"}, "expected yes or no"),
        ("economic-value", {"discount_rate": "nan"}, "Discount rate: expected a number, not 'nan'"),
    ],
)
def test_bad_parameter_values_are_said_on_the_form_and_nothing_runs(root, study, params, message):
    ana = browser(root, "ana")
    response = ana.post(f"/projects/{P}/run", {"study": study, **{f"param_{k}": v for k, v in params.items()}})
    assert response.status_code == 422
    assert message in text(response)
    assert ana.app.state.jobs.of("ana") == []
    for name, value in params.items():  # the form comes back with what was typed
        assert f'name="param_{name}" type' not in response.text or f'value="{value}"' in response.text


def test_the_question_library_shows_each_study_and_never_reads_a_file(root):
    ana = browser(root, "ana")
    words = text(ana.page("/studies"))
    for study in catalogue().values():
        assert study.title in words and study.question in words
    pilot = text(ana.page("/studies/pilot-evaluation"))
    assert "pilot_areas" in pilot and "yes: no default" in pilot and "prison.release_date" in pilot
    assert ana.get("/studies/no-such-study").status_code == 404
    assert ana.get("/studies/..%2Fagreement.yaml").status_code == 404


def test_ana_withdraws_her_output_and_a_checker_sees_no_analysts_forms(root, made):
    ws = Workspace.open(root)
    made = next(o for o in outputs.list_outputs(ws, user(root, "ana"), P) if o.id == made["deaths-after-release"])
    oscar = browser(root, "oscar").page(f"/projects/{P}/outputs")
    assert made.id in oscar.text and f"/outputs/{made.id}/report" in oscar.text  # checkers read reports
    assert "withdraw" not in oscar.text and "/outputs/request" not in oscar.text
    ali = browser(root, "ali").page(f"/projects/{P}/outputs")  # an analyst who did not run it: no report, no form
    assert made.id in ali.text and f"/outputs/{made.id}/report" not in ali.text and "withdraw" not in ali.text
    assert browser(root, "ali").get(f"/projects/{P}/outputs/{made.id}/report").status_code == 403

    ana = browser(root, "ana")
    done = ana.post(f"/projects/{P}/outputs/{made.id}/withdraw")
    assert done.status_code == 200 and f"Output {made.id} is withdrawn" in text(done)
    assert next(o for o in outputs.list_outputs(ws, user(root, "ana"), P) if o.id == made.id).status == "withdrawn"
    again = ana.post(f"/projects/{P}/outputs/{made.id}/withdraw")
    assert again.status_code == 409 and "withdrawn" in text(again)


def test_run_every_study_that_needs_no_parameter_as_one_job(root, made):
    ana = browser(root, "ana")
    plan = studies.plan_all(Workspace.open(root), user(root, "ana"), P)
    response = ana.post(f"/projects/{P}/run-all")
    assert response.status_code == 303
    state, fragment = finished(ana, response.headers["location"], seconds=120)
    assert state == "done", fragment
    assert f"See the {len(plan.runs)} new outputs" in fragment
    before = set(made.values())
    new = [o for o in outputs.list_outputs(Workspace.open(root), user(root, "ana"), P) if o.id not in before]
    assert sorted(o.study for o in new) == sorted(plan.runs)


def test_run_every_study_goes_on_past_each_failure_and_the_job_page_lists_them(root):
    """Every study stops at a time limit too short for any (a real failure, the one a big extract meets): each
    is tried in turn, and the job's page names each with its reason."""
    ws = Workspace.open(root)
    ws.settings_path.write_text(ws.settings_path.read_text().replace("study_seconds = 600", "study_seconds = 0.001"))
    plan = studies.plan_all(ws, user(root, "ana"), P)
    ana = browser(root, "ana")
    response = ana.post(f"/projects/{P}/run-all")
    state, fragment = finished(ana, response.headers["location"], seconds=120)
    assert state == "done", fragment  # the job ran to its end
    words = html.unescape(re.sub(r"<[^>]+>", " ", fragment))
    assert f"{len(plan.runs)} failed; the rest ran" in words and "See the 0 new outputs" in words
    for study_id in plan.runs:
        assert f"{study_id}: study {study_id} stopped: it ran longer than the limit of 0.001 s" in words
    tried = [json.loads(e["details"])["study"] for e in audit.entries(ws, action="study run refused")]
    assert sorted(tried) == sorted(plan.runs)  # each was tried
    assert f"finished, with {len(plan.runs)} failed" in text(ana.page("/jobs"))


def released(root: Path, output_id: str) -> Release:
    """The output released, driven through the actions: ana asks, oscar and olivia approve, oscar decides,
    olivia releases."""
    ws = Workspace.open(root)
    ana, oscar, olivia = (user(root, n) for n in ("ana", "oscar", "olivia"))
    req = outputs.request(ws, ana, P, [output_id], "the annual report", "counts under 10 hidden")
    for checker in (oscar, olivia):
        outputs.review(ws, checker, P, output_id, "approve", "every cell looked at")
    outputs.decide(ws, oscar, P, req.id)
    return outputs.release_output(ws, olivia, P, output_id)


def test_the_release_pages_show_its_tables_and_charts_and_downloads_match_the_checksums(root, made):
    rel = released(root, made["continuity-of-care"])
    ana = browser(root, "ana")
    listed = ana.page(f"/projects/{P}/releases")
    assert listed.status_code == 200 and f"/projects/{P}/releases/{rel.id}" in listed.text

    page = ana.page(f"/projects/{P}/releases/{rel.id}")
    assert page.status_code == 200
    words = text(page)
    overall = pd.read_csv(rel.folder / "overall.csv")
    assert "overall" in words and all(str(c) in words for c in overall.columns)
    assert f"{rel.checksums['overall.csv']}" in words and "Definition" in words
    assert "style=" not in page.text and "<svg" not in page.text  # charts are images, never inlined

    for name, digest in rel.checksums.items():
        got = ana.get(f"/projects/{P}/releases/{rel.id}/files/{name}?download=1")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == digest
        assert "attachment" in got.headers["content-disposition"]
    downloads = audit.entries(Workspace.open(root), action="release file read")
    read = sorted((json.loads(e["details"])["file"], json.loads(e["details"])["release"]) for e in downloads)
    assert read == sorted((n, rel.id) for n in rel.checksums)  # every download is in the audit chain
    charts = [n for n in rel.checksums if n.endswith(".svg")]
    assert charts, "continuity-of-care draws charts"
    assert f'src="/projects/{P}/releases/{rel.id}/files/{charts[0]}"' in page.text
    image = ana.get(f"/projects/{P}/releases/{rel.id}/files/{charts[0]}")
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in image.headers["content-security-policy"]

    assert ana.get(f"/projects/{P}/releases/{rel.id}/files/report.json").status_code == 404  # stays with checkers
    assert "Add the impact note" not in listed.text  # governance's alone
    assert ana.post(f"/projects/{P}/releases/impact", {"release": rel.id, "note": "x"}).status_code == 403
    grace = browser(root, "grace")
    assert "Add the impact note" in grace.page(f"/projects/{P}/releases").text
    blank = grace.post(f"/projects/{P}/releases/impact", {"release": rel.id, "note": " "})
    assert blank.status_code == 422 and "an impact note needs its text" in text(blank)
    noted = grace.post(
        f"/projects/{P}/releases/impact", {"release": rel.id, "note": "The prison now books appointments."}
    )
    assert noted.status_code == 303 and "The impact note is added" in text(grace.page(noted.headers["location"]))
    public = text(browser(root).page(f"/register/{P}"))
    assert "What it changed" in public and "The prison now books appointments." in public
    assert browser(root, "ali").get(f"/projects/{P}/releases/{rel.id}").status_code == 403  # not of the team

    (rel.folder / "overall.csv").write_text("n\n1\n")  # a released file changed afterwards
    assert ana.get(f"/projects/{P}/releases/{rel.id}/files/overall.csv").status_code == 409
    damaged = text(ana.page(f"/projects/{P}/releases/{rel.id}"))
    assert "overall.csv changed" in damaged and rel.checksums["overall.csv"] not in damaged


def test_ana_reads_the_checkers_comments_and_resubmits_a_returned_request(root, made):
    ws = Workspace.open(root)
    output_id = made["continuity-of-care"]
    ana, oscar, olivia = (user(root, n) for n in ("ana", "oscar", "olivia"))
    req = outputs.request(ws, ana, P, [output_id], "the annual report", "counts under 10 hidden")
    outputs.review(ws, oscar, P, output_id, "changes_requested", "merge the smallest prisons")
    outputs.review(ws, olivia, P, output_id, "approve", "fine by me")
    outputs.decide(ws, oscar, P, req.id)

    page = browser(root, "ana")
    listed = page.page(f"/projects/{P}/outputs")
    assert "Returned to you" in listed.text and f"/requests/{req.id}/resubmit" in listed.text
    report = text(page.page(f"/projects/{P}/outputs/{output_id}/report"))
    assert "merge the smallest prisons" in report and "returned" in report  # the votes, once decided

    assert browser(root, "olivia").post(f"/projects/{P}/requests/{req.id}/resubmit").status_code == 403
    sent = page.post(f"/projects/{P}/requests/{req.id}/resubmit", {"context": "the annual report, prisons merged"})
    assert sent.status_code == 200 and f"Request {req.id} is sent back for review (round 2)" in text(sent)
    assert next(o for o in outputs.list_outputs(ws, ana, P) if o.id == output_id).status == "requested"
    assert "Returned to you" not in sent.text
