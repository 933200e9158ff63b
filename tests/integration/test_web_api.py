"""The JSON API and ``bold --server``: a real server on a free port over a workspace with one person per role, and
the command line run against it as the custodian, the analyst and a checker would, with the same messages and
exit codes as locally for the same refusals.

The study needs a linked workspace with a built project: a tiny population (800 people) is linked
before the server starts, which keeps the module to seconds; cara's ingest is a file of ``small_population``.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from bold.actions import outputs as output_actions
from bold.actions import people, sessions
from bold.cli import app
from bold.ingest.pipeline import batches, ingest
from bold.linkage.run import link_workspace
from bold.store import audit
from bold.synth.config import SOURCES
from bold.web.app import create_app
from bold.workspace import Workspace
from tests.conftest import approved_and_built, make_population
from tests.web import PASSWORD, browser, people_workspace

AGREEMENT = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
P = "continuity-of-care"
runner = CliRunner()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server URL, workspace): linked, with the continuity-of-care project approved and built, served by uvicorn
    in a thread on a port of its own (as ``bold serve`` runs it)."""
    root = tmp_path_factory.mktemp("api")
    out, _ = make_population(root, people=800, seed=11)
    ws = Workspace.open(people_workspace(root / "ws"))
    for source in SOURCES:
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    link_workspace(ws, retrain=True, by="lin")
    approved_and_built(ws, AGREEMENT, dt.date.today())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(ws.root), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", ws
    server.should_exit = True
    thread.join(10)


def bold(name: str, *args: str, password: str = PASSWORD):
    return runner.invoke(app, list(args), env={"BOLD_USER": name, "BOLD_PASSWORD": password, "BOLD_SERVER": None})


def user(ws, name):
    return people.sign_in(ws, name, PASSWORD)


def test_a_custodian_ingests_through_the_server_and_status_shows_the_batch(served, small_population):
    url, ws = served
    file = small_population[0] / "prison.csv"
    done = bold("cara", "--server", url, "ingest", str(file), "--source", "prison", "--batch", "api-prison")
    assert done.exit_code == 0, done.output
    assert f"prison batch api-prison from {file}" in done.stdout
    assert "rows read" in done.stdout and "accepted" in done.stdout
    assert not list(ws.tmp_dir.glob("upload-*"))  # the upload is deleted once ingested

    shown = bold("cara", "--server", url, "status")
    assert shown.exit_code == 0, shown.output
    assert "api-prison" in shown.stdout and "Workspace web-test" in shown.stdout
    remote = json.loads(bold("cara", "--server", url, "status", "--json").stdout)
    local = json.loads(bold("cara", "status", "--json", "-w", str(ws.root)).stdout)
    assert remote == local  # the same answer, whichever way it is asked
    assert any(b["name"] == "api-prison" and b["rows_accepted"] > 0 for b in remote["batches"])
    assert audit.entries(ws, action="signed in", who="cara")  # the API's sign-ins are in the audit chain


def test_an_analyst_runs_a_study_and_a_checker_votes_on_it_through_the_server(served):
    url, ws = served
    ran = bold("ana", "--server", url, "study", "run", P, "continuity-of-care", "--param", "within_days=21")
    assert ran.exit_code == 0, ran.output
    assert "continuity-of-care: pending output" in ran.stdout and "checked under" in ran.stdout
    listed = json.loads(bold("ana", "--server", url, "outputs", "list", P, "--json").stdout)
    assert listed == json.loads(bold("ana", "outputs", "list", P, "--json", "-w", str(ws.root)).stdout)
    output = listed[-1]["id"]
    assert output in ran.stdout and listed[-1]["created_by"] == "ana"

    output_actions.request(ws, user(ws, "ana"), P, [output], "continuity by prison", "suppression, rounding")
    table = bold("ana", "--server", url, "outputs", "list", P)
    assert output in table.stdout and "requested" in table.stdout
    voted = bold("oscar", "--server", url, "outputs", "review", P, output, "--vote", "approve", "--comment", "fine")
    assert voted.exit_code == 0, voted.output
    assert voted.stdout.strip() == f"Voted approve on version 1 of {output}."
    request = output_actions.list_outputs(ws, user(ws, "oscar"), P)
    assert next(o for o in request if o.id == output).status == "requested"  # one vote of two: not decided
    votes = [e for e in audit.entries(ws, who="oscar") if output in (e["details"] or "")]
    assert votes, "the vote is in the audit chain, by the checker who cast it"

    again = bold("oscar", "--server", url, "outputs", "review", P, output, "--vote", "approve", "--comment", "x")
    here = bold("oscar", "outputs", "review", P, output, "--vote", "approve", "--comment", "x", "-w", str(ws.root))
    assert again.exit_code == here.exit_code == 5 and again.stderr == here.stderr  # already voted: a conflict


@pytest.mark.parametrize(
    ("name", "args", "code", "password"),
    [
        ("lin", ["ingest", "{prison}", "--source", "prison"], 4, PASSWORD),  # a linker may not ingest
        ("ana", ["outputs", "list", "no-such-project"], 3, PASSWORD),
        ("ali", ["status"], 4, "not-the-password"),
        ("cara", ["ingest", "{prison}", "--source", "no-such-source"], 2, PASSWORD),
        ("ana", ["study", "run", P, "no-such-study"], 3, PASSWORD),
    ],
)
def test_refusals_say_the_same_and_exit_the_same_remotely_and_locally(
    served, small_population, name, args, code, password
):
    url, ws = served
    args = [a.format(prison=small_population[0] / "prison.csv") for a in args]
    here = bold(name, *args, "-w", str(ws.root), password=password)
    there = bold(name, "--server", url, *args, password=password)
    assert here.exit_code == there.exit_code == code, (here.output, there.output)
    assert there.stderr == here.stderr and there.stderr.count("\n") == 1, there.stderr
    assert "Traceback" not in there.output


def test_a_wrong_password_through_the_api_is_audited_and_counts_towards_the_lockout(served):
    url, ws = served
    with httpx.Client(base_url=url) as client:
        refused = client.post("/api/token", data={"name": "olivia", "password": "wrong"})  # as a form, this time
        assert refused.status_code == 403
        assert refused.json() == {"error": refused.json()["error"], "status": 403}
        assert "sign-in failed for 'olivia'" in refused.json()["error"]
        assert audit.entries(ws, action="failed sign-in", who="olivia")
        for _ in range(6):
            client.post("/api/token", json={"name": "olivia", "password": "wrong"})
        locked = client.post("/api/token", json={"name": "olivia", "password": PASSWORD})  # even the right one
        assert locked.status_code == 403 and audit.entries(ws, action="sign-in locked")
        assert client.post("/api/token", content=b"name=olivia").status_code == 422


def test_commands_without_a_server_form_and_an_unreachable_server_are_one_line(served):
    url, ws = served
    before = len(audit.entries(ws))
    approve = bold("grace", "--server", url, "project", "approve", P)
    assert approve.exit_code == 2 and "bold project approve has no server form yet" in approve.stderr
    assert len(audit.entries(ws)) == before  # nothing ran, locally or there
    assert bold("adam", "--server", url, "serve").exit_code == 2
    assert bold("ana", "--server", url, "study", "run", P, "all").exit_code == 2
    assert bold("ana", "--server", "ftp://x", "status").exit_code == 2

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    down = bold("cara", "--server", f"http://127.0.0.1:{port}", "status")
    assert down.exit_code == 2 and down.stderr.startswith(f"error: cannot reach the server at http://127.0.0.1:{port}")
    assert down.stderr.count("\n") == 1


def test_the_api_takes_only_its_own_tokens_never_a_cookie(served):
    url, ws = served
    with httpx.Client(base_url=url) as client:
        none = client.get("/api/status")
        assert none.status_code == 401 and none.json()["status"] == 401
        assert none.headers["www-authenticate"] == "Bearer"

        web = browser(ws.root, "cara").cookies["bold_session"]  # a browser's session, signed in on a page
        with httpx.Client(base_url=url, cookies={"bold_session": web}) as with_cookie:
            assert with_cookie.get("/api/status").status_code == 401
            assert with_cookie.get("/home", follow_redirects=False).status_code == 200  # the cookie itself is good
        assert client.get("/api/status", headers={"authorization": f"Bearer {web}"}).status_code == 401

        api = client.post("/api/token", json={"name": "cara", "password": PASSWORD}).json()
        assert api["expires_idle_minutes"] == 30 and api["roles"] == ["custodian"]
        bearer = {"authorization": f"Bearer {api['token']}"}
        assert client.get("/api/status", headers=bearer).status_code == 200
        with httpx.Client(base_url=url, cookies={"bold_session": api["token"]}) as with_token:
            page = with_token.get("/home", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")  # not a page's session

        refused = client.get(f"/api/projects/{P}/outputs", headers=bearer)  # a custodian may not list outputs
        assert refused.status_code == 403 and "cara (custodian) may not outputs list" in refused.json()["error"]
        assert client.post("/api/sign-out", headers=bearer).json() == {"signed_out": True}
        assert client.get("/api/status", headers=bearer).status_code == 401
        assert sessions.resume(ws, api["token"]) is None


def test_an_upload_is_never_kept_nor_named_by_the_client(served):
    url, ws = served
    with httpx.Client(base_url=url) as client:
        token = client.post("/api/token", json={"name": "cara", "password": PASSWORD}).json()["token"]
        sent = client.post(
            "/api/ingest",
            headers={"authorization": f"Bearer {token}"},
            data={"source": "prison"},
            files={"file": ("../../../escape.csv", b"A,B\n1,2\n")},
        )
    assert sent.status_code == 422
    assert sent.json()["error"].startswith("escape.csv: required column(s) missing")  # the name, never a path
    assert not list(ws.tmp_dir.glob("upload-*")) and not (ws.root.parent / "escape.csv").exists()


def test_the_openapi_document_and_docs_page_describe_every_route(served):
    url, _ = served
    with httpx.Client(base_url=url) as client:
        document = client.get("/api/openapi.json").json()
        docs = client.get("/api/docs")
    paths = {p for p in document["paths"] if p.startswith("/api/")}
    assert paths >= {
        "/api/token",
        "/api/sign-out",
        "/api/status",
        "/api/ingest",
        "/api/projects",
        "/api/projects/{project_id}",
        "/api/studies",
        "/api/projects/{project_id}/studies/{study_id}/run",
        "/api/projects/{project_id}/outputs",
        "/api/projects/{project_id}/outputs/{output_id}/review",
        "/api/projects/{project_id}/releases",
    }
    assert {"StatusOut", "IngestOut", "StudyRunOut", "VoteOut", "Error"} <= set(document["components"]["schemas"])
    review = document["paths"]["/api/projects/{project_id}/outputs/{output_id}/review"]["post"]
    assert review["responses"]["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert docs.status_code == 200  # readable under the site's CSP: no script but the site's own
    assert docs.text.count("<script") == docs.text.count('<script src="/static/')
    assert all(p in docs.text for p in paths)


def test_a_check_through_the_server_stores_nothing_and_a_refused_file_exits_2(served, tmp_path):
    """``bold --server URL ingest --check``: the same report and exit status as locally, nothing stored."""
    url, ws = served
    file = tmp_path / "registrations.csv"
    file.write_text(
        "RegNo,FORENAMES,SURNAME,DOB,SEX,DOD,UNDERLYING_CAUSE,DRUG_RELATED\n"
        "D1,Ann,Lee,1980-03-07,F,2024-05-01,X42,Y\nD2,Bob,Ray,1975-12-31,M,2023-01-15,I21.9,N\n"
    )
    renamed = tmp_path / "rename.yaml"
    renamed.write_text("RegNo: REG_ID\n")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "RegNo: REG_ID\nDOB: {format: '%Y-%m-%d'}\nDOD: {format: '%Y-%m-%d'}\nSEX: {codes: {M: 1, F: 2}}\n"
    )
    before = len(batches(ws))
    args = ("--server", url, "ingest", str(file), "--source", "deaths")
    checked = bold("cara", *args, "--check", "--mapping", str(mapping))
    assert checked.exit_code == 0, checked.output
    assert (
        "Check only, nothing stored" in checked.stdout
        and "would be accepted 2 + unchanged 0 + would be quarantined 0" in checked.stdout
    )
    refused = bold("cara", *args, "--check", "--mapping", str(renamed))
    assert refused.exit_code == 2 and "registrations.csv: every row (2) would be quarantined" in refused.output
    assert str(ws.tmp_dir) not in refused.output  # the file's name, never where the server kept it
    sent = bold("cara", *args, "--mapping", str(renamed))
    assert sent.exit_code == 2 and "every row (2) would be quarantined, so nothing was stored" in sent.output
    assert len(batches(ws)) == before and not list(ws.tmp_dir.glob("upload-*"))
