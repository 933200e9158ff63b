"""The output checkers' pages against the real app, actions and stage: the queue, a request with its votes, an
output laid out for review with the disclosure check's flags, the vote, the decision and the release, and the
refusals (the analyst who ran it, a checker the agreement does not name, another role, a bad id).

The project is approved and built with the conftest helpers on a linked synthetic workspace; ana runs a study
and asks for release through the actions, as the analysts' pages would."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from bold.actions import outputs, people, studies
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import approved_and_built, clear, linked_copy
from tests.web import PASSWORD, browser

AGREEMENT = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def built(tmp_path_factory, web_linked):
    """A workspace with one requested output, from a copy of the shared web workspace (a thousand people, the
    agreement's four sources: the check needs a built project, so a linkage); copied for each test."""
    ws = linked_copy(web_linked, tmp_path_factory.mktemp("review") / "ws")
    root = ws.root
    project = approved_and_built(ws, AGREEMENT, TODAY)
    admin = people.sign_in(ws, "adam", PASSWORD)
    people.add(ws, admin, "otto", ["output_checker"], PASSWORD)  # a checker, but not one the agreement names
    clear(ws, "otto")  # trained and approved: refused by the agreement, not for want of clearance
    ana = people.sign_in(ws, "ana", PASSWORD)
    output = studies.run(ws, ana, project, "continuity-of-care", today=TODAY)
    request = outputs.request(
        ws, ana, project, [output.id], "for the annual report", "rounded, fewer than 10 suppressed"
    )
    return root, project, output.id, request.id


@pytest.fixture()
def case(built, tmp_path):
    root, project, output_id, request_id = built
    copy = tmp_path / "ws"
    shutil.copytree(root, copy)
    return copy, project, output_id, request_id


def section(page: str, heading: str) -> str:
    """The text of the queue's section under ``heading``, up to the next one."""
    start = page.index(heading)
    end = page.find("<h2", start + 1)
    return page[start : end if end > 0 else None]


def test_two_checkers_review_alone_then_decide_and_release(case):
    root, project, output_id, request_id = case
    oscar, olivia = browser(root, "oscar"), browser(root, "olivia")
    request_url = f"/projects/{project}/requests/{request_id}"
    review_url = f"/projects/{project}/outputs/{output_id}/review"

    queue = oscar.page("/review")
    assert queue.status_code == 200
    waiting = section(queue.text, "Waiting for your vote")
    assert request_id in waiting and project in waiting and output_id in waiting and "ana" in waiting
    assert request_id not in section(queue.text, "Decided")

    page = oscar.page(review_url)
    assert page.status_code == 200
    assert "Table by prison" in page.text and "fewer than 10 people" in page.text  # a flag beside its table
    assert "threshold" in page.text and "could narrow it to between" in page.text  # rule and attacker's interval
    assert re.search(r'<td class="num cell-suppressed">\d+ <span class="cell-note">\(suppressed\)', page.text)
    assert "Releases from prison of adults with a substance misuse need" in page.text  # the definition
    assert "within_days = 21" in page.text  # the parameters
    charts = re.findall(r'<img src="([^"]+\.svg)"', page.text)
    assert charts and "<svg" not in page.text  # charts are images, never inline
    svg = oscar.get(charts[0])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.content.lstrip().startswith(b"<svg")
    assert 'name="vote"' in page.text and "Decide this request" not in oscar.page(request_url).text

    voted = oscar.post(review_url, {"vote": "approve", "comment": "oscar looked at every cell"})
    assert voted.status_code == 303 and voted.headers["location"] == review_url
    page = oscar.page(review_url)
    assert "oscar looked at every cell" in page.text and "The other checker has not voted yet" in page.text
    assert 'name="vote"' not in page.text  # one vote per version
    assert request_id in section(oscar.page("/review").text, "Waiting for the other checker")

    # olivia judges alone: oscar's vote is not on any page she can open before she votes
    for url in (request_url, review_url, "/review"):
        seen = olivia.page(url)
        assert seen.status_code == 200 and "oscar looked at every cell" not in seen.text
    assert "You will see their vote once you have cast yours" in olivia.page(request_url).text
    assert "Decide this request" not in olivia.page(request_url).text
    assert "Decide this request" not in oscar.page(request_url).text  # one vote is not enough

    assert olivia.post(review_url, {"vote": "approve", "comment": "olivia agrees"}).status_code == 303
    assert "oscar looked at every cell" in olivia.page(review_url).text  # after her vote, his appears
    page = oscar.page(request_url)
    assert "olivia agrees" in page.text and "Decide this request" in page.text

    assert oscar.post(f"{request_url}/decide").status_code == 303
    page = oscar.page(request_url)
    assert "Decide this request" not in page.text and f"Release output {output_id}" in page.text
    released = oscar.post(f"/projects/{project}/outputs/{output_id}/release")
    assert released.status_code == 303 and released.headers["location"] == request_url

    ws = Workspace.open(root)
    found = outputs.list_releases(ws, people.sign_in(ws, "grace", PASSWORD), project)
    assert [r.output for r in found] == [output_id]
    page = oscar.page(request_url)
    assert found[0].id in page.text and f"Release output {output_id}" not in page.text
    assert request_id in section(oscar.page("/review").text, "Decided")


def test_the_analyst_who_ran_it_and_checkers_the_agreement_does_not_name_are_refused(case):
    root, project, output_id, request_id = case
    review_url = f"/projects/{project}/outputs/{output_id}/review"
    ana = browser(root, "ana")
    assert ana.page(review_url).status_code == 403
    assert ana.post(review_url, {"vote": "approve", "comment": "mine is fine"}).status_code == 403
    assert ana.get(f"/projects/{project}/outputs/{output_id}/charts/overall.svg").status_code == 403
    assert "Cast my vote" not in ana.page(f"/projects/{project}/requests/{request_id}").text  # hers to read only

    otto = browser(root, "otto")  # has the role, but the agreement does not name him: the stage refuses
    refused = otto.page(review_url)
    assert refused.status_code == 403 and f"otto is not an output checker of project {project}" in refused.text
    assert "Table by prison" not in refused.text
    assert otto.get(f"/projects/{project}/outputs/{output_id}/charts/overall.svg").status_code == 403
    assert otto.page("/review").status_code == 200 and request_id not in otto.page("/review").text

    grace = browser(root, "grace")
    assert grace.page("/review").status_code == 403
    assert "Review queue" not in grace.page("/home").text
    ws = Workspace.open(root)
    assert {e["actor"] for e in audit.entries(ws, action="refused")} >= {"ana", "otto", "grace"}


def test_a_vote_without_a_comment_is_refused_with_the_stages_message(case):
    root, project, output_id, _ = case
    oscar = browser(root, "oscar")
    review_url = f"/projects/{project}/outputs/{output_id}/review"
    refused = oscar.post(review_url, {"vote": "changes_requested", "comment": "   "})
    assert refused.status_code == 422
    assert "a vote needs a comment" in refused.text and 'name="vote"' in refused.text  # the form again
    assert 'value="changes_requested" checked' in refused.text
    bad = oscar.post(review_url, {"vote": "maybe", "comment": "not sure"})
    assert bad.status_code == 422 and "expected one of approve, changes_requested, reject" in bad.text
    ws = Workspace.open(root)
    assert not audit.entries(ws, action="output reviewed")
    assert 'name="vote"' in oscar.page(review_url).text  # still his to cast


def test_an_id_with_dot_dot_is_not_found(case):
    root, project, output_id, request_id = case
    oscar = browser(root, "oscar")
    ws = Workspace.open(root)
    viewed = ("release request viewed", "output viewed", "output file viewed")
    before = {a: len(audit.entries(ws, action=a)) for a in viewed}
    for url in (
        f"/projects/{project}/requests/..%2F..%2Fbold.toml",
        f"/projects/{project}/requests/%2E%2E",
        f"/projects/{project}/requests/..%2F{request_id}",
        f"/projects/{project}/outputs/%2E%2E/review",
        f"/projects/{project}/outputs/{output_id}/charts/..%2Fmanifest.svg",
        f"/projects/{project}/outputs/{output_id}/charts/%2E%2E.svg",
    ):
        found = oscar.page(url)
        assert found.status_code == 404, url
        assert "Not found" in found.text and "Traceback" not in found.text and "[workspace]" not in found.text
    assert {a: len(audit.entries(ws, action=a)) for a in viewed} == before  # nothing was read
    assert oscar.page(f"/projects/{project}/requests/{request_id}").status_code == 200  # the real one is there
