"""The whole journey in a real browser, each person in a browser of their own: a custodian uploads the seven
synthetic extracts, the linker links and reads the quality report, an analyst submits a project, governance
approves it, the admin builds its extract, the analyst runs a study and asks for release, two output checkers
review and approve, one decides and releases, and the public register shows the release. A screenshot of each
step is kept (test-artifacts/browser/test_the_whole_journey/), and the main pages are checked with axe-core."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import Server, axe_violations, watch
from tests.conftest import make_population
from tests.web import PASSWORD, people_workspace

AGREEMENT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
SOURCES = ("prison", "probation", "treatment", "hospital", "deaths", "homelessness", "mental_health")
PROJECT = "continuity-of-care"
JOB_DONE = "#job-status[data-state=done], #job-status[data-state=failed]"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("journey")
    synth, _ = make_population(tmp, people=1_500, seed=21)
    with Server(people_workspace(tmp / "ws")) as server:
        yield server, synth


class People:
    """One browser context (own cookies) per person, signed in through the sign-in page."""

    def __init__(self, chromium, server, shots):
        self.chromium, self.server, self.shots, self.problems = chromium, server, shots, []
        self.pages = {}

    def __call__(self, name: str):
        if name not in self.pages:
            context = self.chromium.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(20_000)
            self.problems += [(name, watch(page))]
            page.goto(f"{self.server.url}/sign-in")
            page.get_by_label("User name").fill(name)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/home")
            self.pages[name] = page
        return self.pages[name]

    def go(self, name: str, path: str):
        page = self(name)
        assert page.goto(self.server.url + path).ok, path
        return page


def follow(locator) -> None:
    """Click what leads to another page, and wait until that page has loaded (never check the old one)."""
    with locator.page.expect_navigation(wait_until="load"):
        locator.click()


def wait_for_job(page, minutes: float = 5) -> None:
    """On a job's page: until it has finished (htmx polls it), then it must have succeeded."""
    page.wait_for_selector(JOB_DONE, timeout=minutes * 60_000)
    status = page.locator("#job-status")
    assert status.get_attribute("data-state") == "done", status.inner_text()


def accessible(page, where: str) -> None:
    assert axe_violations(page) == [], where


def test_the_whole_journey(chromium, world, shots):
    server, synth = world
    people = People(chromium, server, shots)

    # the custodian uploads the seven extracts, each checked and split in the background
    cara = people.go("cara", "/sources/upload")
    accessible(cara, "upload form")
    for i, source in enumerate(SOURCES):
        people.go("cara", "/sources/upload")
        cara.get_by_label("Source type").select_option(source)
        cara.get_by_label("The extract file").set_input_files(str(synth / f"{source}.csv"))
        cara.get_by_role("button", name="Upload and check").click()
        cara.wait_for_url("**/jobs/*")
        if i == 0:
            shots(cara, "custodian-upload-running")
        wait_for_job(cara)
        follow(cara.locator("#job-status a").first)  # the batch report
        text = cara.locator("main").inner_text()
        assert re.search(r"[Rr]ows read", text), text
        if i == 0:
            accessible(cara, "batch report")
            shots(cara, "custodian-batch-report")
    people.go("cara", "/sources")
    assert all(source in cara.locator("main").inner_text() for source in ("prison", "mental_health"))
    shots(cara, "custodian-sources")

    # the linker links every source and reads the quality report
    lin = people.go("lin", "/linkage")
    accessible(lin, "linkage")
    lin.get_by_role("button", name="Start a linkage run").click()
    lin.wait_for_url("**/jobs/*")
    wait_for_job(lin, minutes=8)
    shots(lin, "linker-run-finished")
    follow(lin.locator("#job-status a").first)
    assert "linkage" in lin.title().lower()
    shots(lin, "linker-quality-report")

    # the analyst submits the data sharing agreement
    ana = people.go("ana", "/projects/submit")
    accessible(ana, "submit")
    ana.get_by_label("The agreement's file (YAML)").set_input_files(str(AGREEMENT))
    follow(ana.get_by_role("button", name="Submit the agreement"))
    assert f"/projects/{PROJECT}" in ana.url and "submitted" in ana.locator("h1").inner_text()
    assert ana.get_by_role("button", name="Approve the project").count() == 0  # never the submitter's move
    shots(ana, "analyst-submitted")

    # governance reads the assessment and approves it
    grace = people.go("grace", "/projects")
    accessible(grace, "projects")
    follow(grace.locator(f"main a[href='/projects/{PROJECT}']").first)
    accessible(grace, "project page")
    shots(grace, "governance-project")
    grace.get_by_label("The DPIA's file (YAML)").set_input_files(str(AGREEMENT.with_name("dpia.yaml")))
    follow(grace.get_by_role("button", name="Record the DPIA"))
    for criterion in grace.locator("fieldset.criterion").all():  # the board's answer on each human criterion
        criterion.get_by_label("Yes").check()
        criterion.get_by_label("The board's reason").fill("Considered at the board meeting; see the minutes.")
    follow(grace.get_by_role("button", name="Approve the project"))
    assert "approved" in grace.locator("main").inner_text().lower()

    # the custodian signs off each source the project uses
    cara = people.go("cara", f"/projects/{PROJECT}")
    for source in ("prison", "treatment", "deaths", "hospital"):
        cara.get_by_label("Your source").select_option(source)
        follow(cara.get_by_role("button", name="Sign off"))
        assert "Your sign-off is recorded" in cara.locator("main").inner_text()
    accessible(cara, "sign-off")

    # the admin builds the project's extract
    adam = people.go("adam", f"/projects/{PROJECT}")
    adam.get_by_role("button", name="Build the extract").click()
    adam.wait_for_url("**/jobs/*")
    wait_for_job(adam)

    # the analyst runs a study, reads its check report and asks for release
    people.go("ana", f"/projects/{PROJECT}/run")
    # choosing a study shows its settings in place (htmx swaps the form and pushes the URL); wait for them
    ana.get_by_label("Study").select_option("continuity-of-care")
    ana.wait_for_url("**/run?study=continuity-of-care*")
    ana.get_by_role("button", name=re.compile("^Run Continuity", re.I)).wait_for()
    accessible(ana, "run a study")
    ana.get_by_role("button", name=re.compile("^Run Continuity", re.I)).click()
    ana.wait_for_url("**/jobs/*")
    wait_for_job(ana)
    follow(ana.locator("#job-status a").first)
    accessible(ana, "check report")
    shots(ana, "analyst-check-report")
    people.go("ana", f"/projects/{PROJECT}/outputs")
    output = ana.locator("input[name=output]").first.get_attribute("value")
    ana.locator("input[name=output]").first.check()
    ana.get_by_label("What are these outputs for?").fill("Continuity of care for the regional report")
    ana.get_by_label("Which controls did you apply?").fill("bold-standard profile; small counts suppressed")
    follow(ana.get_by_role("button", name="Send to the output checkers"))
    shots(ana, "analyst-release-requested")

    # two output checkers review it, each on their own; one decides and releases
    for checker in ("oscar", "olivia"):
        page = people.go(checker, "/review")
        accessible(page, "review queue")
        page.goto(f"{server.url}/projects/{PROJECT}/outputs/{output}/review")
        accessible(page, "review an output")
        shots(page, f"checker-{checker}-review")
        page.get_by_role("radio", name=re.compile("Approve")).check()
        page.get_by_label("Your comment").fill("checked: the suppressed cells and the rounding are right")
        follow(page.get_by_role("button", name="Cast my vote"))
    oscar = people.go("oscar", "/review")
    follow(oscar.locator(f"a[href*='/projects/{PROJECT}/requests/']").first)
    follow(oscar.get_by_role("button", name="Decide this request"))
    follow(oscar.get_by_role("button", name=f"Release output {output}"))
    shots(oscar, "checker-released")

    # the public register shows the release, with its table and checksums, to anyone
    public = chromium.new_context(viewport={"width": 375, "height": 740}).new_page()
    problems = watch(public)
    public.goto(f"{server.url}/register/{PROJECT}")
    text = public.locator("main").inner_text()
    assert "Released outputs" in text and "SHA-256" in text and "None yet" not in text
    assert public.locator("main table").count() >= 2  # the fields, and the released table(s)
    accessible(public, "public register project")
    shots(public, "public-register-release")

    # every role's main pages fit a phone's width: only a wide table scrolls, inside its own box
    narrow = []
    for name, path in (
        ("cara", "/sources"),
        ("lin", "/linkage"),
        ("grace", f"/projects/{PROJECT}"),
        ("grace", "/audit"),
        ("ana", f"/projects/{PROJECT}/outputs"),
        ("ana", f"/projects/{PROJECT}/releases"),
        ("oscar", "/review"),
        ("oscar", f"/projects/{PROJECT}/outputs/{output}/review"),
    ):
        page = people(name)
        page.set_viewport_size({"width": 375, "height": 740})
        page.goto(server.url + path)
        if page.evaluate("document.documentElement.scrollWidth") > 376:
            narrow.append(path)
        accessible(page, f"{path} at phone width")
    shots(people("oscar"), "checker-review-phone")
    assert narrow == []

    blocked = [(who, found) for who, found in [*people.problems, ("public", problems)] if found]
    assert blocked == []
