"""The two-checker release workflow against the real actions, store and audit chain: the whole output state x
move x role table, a stateful property test of its invariants, the separation-of-duties rules, checksummed
releases that ``releases verify`` checks, the register, and the command line end to end.

Outputs are written by the real study stage (``studies.outputs.write_pending``) on an approved project; the run
itself is skipped (a study run needs a linked workspace, about a minute) since the workflow starts after it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import bold
from bold import store
from bold.actions import outputs as actions
from bold.actions import register as register_actions
from bold.disclosure.check import check_output
from bold.disclosure.release import VOTES
from bold.errors import BoldError, Kind
from bold.governance import projects
from bold.governance.lifecycle import OUTPUT, OutputState
from bold.governance.people import AccessError, User, add_person
from bold.governance.permissions import PERMISSIONS, ROLES, Role
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.store import audit
from bold.studies import outputs, statistics
from bold.studies.builtin import catalogue
from bold.studies.study import StudyOutput
from bold.workspace import Workspace
from tests.conftest import TEAM_PASSWORD, approved_and_built, clear

AGREEMENT = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
P = "continuity-of-care"
TODAY = dt.date(2026, 11, 22)
ANALYST, CHECKERS = "ana", ("oscar", "olivia")
PEOPLE = {  # one person per role; the agreement names ana, oscar, olivia and grace
    "custodian": "cara",
    "linker": "lin",
    "analyst": "ana",
    "output_checker": "oscar",
    "governance": "grace",
    "admin": "adam",
}
MOVE_ACTIONS = {f"output {t.means}" for t in OUTPUT.transitions.values()}


def user(name: str, *roles: str) -> User:
    role = roles or next(r for r, n in PEOPLE.items() if n == name)
    return User(name, frozenset(Role(r) for r in ([role] if isinstance(role, str) else role)))


def new_output(ws: Workspace) -> str:
    """A checked pending output of the project, written by the study stage and checked by the disclosure check."""
    project = projects.get(ws, P)
    table = pd.DataFrame({"group": ["a", "b", "c"], "people": [120, 5, 33]})
    result = StudyOutput(
        tables={"overall": statistics.declare(table, group=statistics.group(), people=statistics.people())}
    )
    run = {"parameters": {}, "fields_used": [], "engine": "duckdb", "seconds": 0.1}
    output = outputs.write_pending(ws, project, catalogue()["continuity-of-care"], result, run, by=ANALYST)
    check_output(ws, P, output.id, by=ANALYST)  # as bold study run does
    return output.id


OUTPUTS = 36  # enough for the state x move table (one output per state and move) and the other tests


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory, thousand_population) -> tuple[Path, list[str]]:
    """A built project with checked pending outputs, copied for each test (a copy is milliseconds). A thousand
    people, not the shared five thousand: the check needs the project's key, so a build, so a linkage, which
    takes a quarter of the time on fewer people."""
    out = thousand_population
    root = tmp_path_factory.mktemp("release") / "ws"
    ws = Workspace.init(root)
    for source in ("prison", "treatment", "deaths", "hospital"):
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    link_workspace(ws, by="lin")
    add_person(ws, "otto", ["output_checker"], TEAM_PASSWORD, by="test")  # a checker, but not of this agreement
    clear(ws, "otto")
    for role, name in PEOPLE.items():
        if name in ("cara", "lin", "adam"):
            add_person(ws, name, [role], TEAM_PASSWORD, by="test")
            clear(ws, name)
    approved_and_built(ws, AGREEMENT, TODAY)
    return root, [new_output(ws) for _ in range(OUTPUTS)]


_copies = iter(range(10**9))


def fresh(snapshot, tmp: Path) -> tuple[Workspace, list[str]]:
    root, ids = snapshot
    target = tmp / f"ws-{next(_copies)}"
    shutil.copytree(root, target)
    return Workspace.open(target), list(ids)


@pytest.fixture()
def ws(snapshot, tmp_path):
    return fresh(snapshot, tmp_path)


def count(ws: Workspace, actions_: set[str], who: str | None = None) -> int:
    """Audit entries of these actions (by ``who``), counted in the store."""
    sql = f"select count(*) from audit where action in ({', '.join('?' * len(actions_))})"
    params = [*actions_]
    if who:
        sql, params = sql + " and actor = ?", [*params, who]
    with store.connect(ws) as db:
        return db.execute(sql, params).fetchone()[0]


def status(ws: Workspace, output_id: str) -> str:
    return outputs.get(ws, P, output_id).status.value


def request_of(ws: Workspace, output_id: str) -> str | None:
    with store.connect(ws) as db:
        row = db.execute("select request from release_request_outputs where output = ?", (output_id,)).fetchone()
    return row[0] if row else None


def vote_both(ws: Workspace, output_id: str, first: str, second: str) -> None:
    actions.review(ws, user("oscar"), P, output_id, first, "looked at every cell")
    actions.review(ws, user("olivia", "output_checker"), P, output_id, second, "looked at every cell")


def requested(ws, output_id: str) -> str:
    return actions.request(ws, user(ANALYST), P, [output_id], "for the annual report", "rounded, suppressed <10").id


def decided(ws, output_id: str, first: str, second: str) -> None:
    request_id = requested(ws, output_id)
    vote_both(ws, output_id, first, second)
    actions.decide(ws, user("oscar"), P, request_id)


# How each state is reached, by the right people.
REACH = {
    "pending": lambda ws, o: None,
    "requested": requested,
    "approved": lambda ws, o: decided(ws, o, "approve", "approve"),
    "returned": lambda ws, o: decided(ws, o, "approve", "changes_requested"),
    "rejected": lambda ws, o: decided(ws, o, "reject", "approve"),
    "released": lambda ws, o: (decided(ws, o, "approve", "approve"), actions.release_output(ws, user("oscar"), P, o)),
    "withdrawn": lambda ws, o: (
        decided(ws, o, "approve", "changes_requested"),
        actions.withdraw(ws, user(ANALYST), P, o),
    ),
}
VOTES_FOR = {
    "approve": ("approve", "approve"),
    "return": ("approve", "changes_requested"),
    "reject": ("approve", "reject"),
}


def attempt(ws: Workspace, move: str, who: User, output_id: str) -> None:
    """Make ``move`` on one output as ``who``; a decision's two votes are cast first while it is under review."""
    request_id = request_of(ws, output_id) or "no-request"
    if move == "request":
        actions.request(ws, who, P, [output_id], "for the annual report", "rounded, suppressed <10")
    elif move == "resubmit":
        actions.resubmit(ws, who, P, request_id)
    elif move == "withdraw":
        actions.withdraw(ws, who, P, output_id)
    elif move == "release":
        actions.release_output(ws, who, P, output_id)
    else:
        actions.decide(ws, who, P, request_id)


# The output lifecycle written out by hand: (state, move) -> the state it reaches; any other pair is refused.
MOVES = {
    ("pending", "request"): "requested",
    ("pending", "withdraw"): "withdrawn",
    ("returned", "resubmit"): "requested",
    ("returned", "withdraw"): "withdrawn",
    ("requested", "approve"): "approved",
    ("requested", "return"): "returned",
    ("requested", "reject"): "rejected",
    ("approved", "release"): "released",
}
MOVE_ROLES = {
    "request": {"analyst"},
    "resubmit": {"analyst"},
    "withdraw": {"analyst"},
    "approve": {"output_checker"},
    "return": {"output_checker"},
    "reject": {"output_checker"},
    "release": {"output_checker"},
}
OWNERS = {
    "pending": "analyst",
    "requested": "output_checker",
    "approved": "output_checker",
    "returned": "analyst",
    "rejected": None,
    "released": None,
    "withdrawn": None,
}


def test_the_output_lifecycle_is_the_policy():
    table = {(s.value, name): t.target.value for name, t in OUTPUT.transitions.items() for s in t.sources}
    assert table == MOVES
    assert {name: set(PERMISSIONS[t.permission]) for name, t in OUTPUT.transitions.items()} == MOVE_ROLES
    assert {s.value: (o.value if o else None) for s, o in OUTPUT.owners.items()} == OWNERS


def test_every_state_move_and_role(ws):
    """Every move tried from every state by every role: it happens exactly where the table says, with one audit
    entry; anywhere else it is refused (by role, with an audited refusal) or impossible, and changes nothing."""
    ws, ids = ws
    ids = iter(ids)
    seen = set()
    for state, owner in OWNERS.items():
        final = None  # no move leaves a final state, so one output serves for every move
        for move in MOVE_ROLES:
            if final is None:
                output_id = next(ids)
                REACH[state](ws, output_id)
                final = output_id if owner is None else None
            assert status(ws, output_id) == state
            if state == "requested" and move in VOTES_FOR:
                vote_both(ws, output_id, *VOTES_FOR[move])
            allowed = (state, move) in MOVES
            for role in sorted(ROLES, key=lambda r: allowed and r in MOVE_ROLES[move]):  # the allowed one last
                who = user(PEOPLE[role], role)
                moves_before = count(ws, MOVE_ACTIONS)
                refusals = count(ws, {"refused"}, who.name)
                try:
                    attempt(ws, move, who, output_id)
                except AccessError as exc:
                    assert role not in MOVE_ROLES[move], f"{role} refused {move} from {state}: {exc}"
                    assert count(ws, {"refused"}, who.name) == refusals + 1
                    outcome = "refused"
                except BoldError as exc:
                    assert role in MOVE_ROLES[move] and not allowed, f"{role} {move} from {state}: {exc}"
                    assert exc.kind in (Kind.CONFLICT, Kind.NOT_FOUND), exc  # no request yet: nothing to decide
                    outcome = "impossible"
                else:
                    outcome = status(ws, output_id)
                    assert count(ws, MOVE_ACTIONS) == moves_before + 1  # one audit entry per transition
                    last = audit.entries(ws, limit=1)[0]
                    assert json.loads(last["details"])["output"] == output_id and last["actor"] == who.name
                if outcome in ("refused", "impossible"):
                    assert status(ws, output_id) == state  # a refused or impossible move changes nothing
                expected = MOVES[(state, move)] if allowed and role in MOVE_ROLES[move] else None
                assert outcome == expected or (expected is None and outcome in ("refused", "impossible"))
                seen.add((state, move, role, outcome))
    assert len(seen) == len(OWNERS) * len(MOVE_ROLES) * len(ROLES)
    assert audit.verify(ws).ok


def test_the_analyst_cannot_vote_decide_or_release(ws):
    ws, ids = ws
    output_id = ids[0]
    request_id = requested(ws, output_id)
    with pytest.raises(AccessError, match="may not outputs review"):
        actions.review(ws, user(ANALYST), P, output_id, "approve", "mine is fine")
    # even holding the output checker role too, the person who ran the output never checks it
    both = User(ANALYST, frozenset({Role.ANALYST, Role.OUTPUT_CHECKER}))
    with pytest.raises(BoldError, match="not an output checker of project") as refused:
        actions.review(ws, both, P, output_id, "approve", "mine is fine")
    assert refused.value.kind == Kind.REFUSED
    with pytest.raises(BoldError, match="not an output checker") as refused:  # a checker the agreement does not name
        actions.review(ws, user("otto", "output_checker"), P, output_id, "approve", "fine")
    with pytest.raises(AccessError, match="may not outputs decide"):
        actions.decide(ws, user(ANALYST), P, request_id)
    assert status(ws, output_id) == "requested"
    assert not actions.show_request(ws, user("oscar"), P, request_id).votes  # no vote was recorded
    assert len(audit.entries(ws, action="refused", who=ANALYST, limit=100)) == 3
    assert len(audit.entries(ws, action="refused", who="otto", limit=100)) == 1


def test_one_approval_is_not_enough(ws):
    ws, ids = ws
    output_id = ids[0]
    request_id = requested(ws, output_id)
    actions.review(ws, user("oscar"), P, output_id, "approve", "all cells safe")
    with pytest.raises(BoldError, match=r"has 1 vote.*needs two") as one:
        actions.decide(ws, user("oscar"), P, request_id)
    assert one.value.kind == Kind.CONFLICT
    with pytest.raises(BoldError, match="already voted"):  # the same checker twice is still one checker
        actions.review(ws, user("oscar"), P, output_id, "approve", "really safe")
    with pytest.raises(BoldError, match="is requested; only an approved output can be released"):
        actions.release_output(ws, user("oscar"), P, output_id)
    assert status(ws, output_id) == "requested"
    actions.review(ws, user("olivia", "output_checker"), P, output_id, "approve", "agreed")
    assert actions.decide(ws, user("olivia", "output_checker"), P, request_id) == {output_id: OutputState.APPROVED}


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        (("approve", "approve"), "approved"),
        (("approve", "changes_requested"), "returned"),
        (("changes_requested", "changes_requested"), "returned"),
        (("approve", "reject"), "rejected"),
        (("changes_requested", "reject"), "rejected"),
    ],
)
def test_the_decision_follows_both_votes(ws, votes, expected):
    ws, ids = ws
    decided(ws, ids[0], *votes)
    assert status(ws, ids[0]) == expected


def test_a_checker_sees_the_other_vote_only_after_casting_their_own(ws):
    ws, ids = ws
    output_id = ids[0]
    request_id = requested(ws, output_id)
    actions.review(ws, user("oscar"), P, output_id, "reject", "row b identifies someone")
    olivia = user("olivia", "output_checker")
    before = actions.show_request(ws, olivia, P, request_id)
    assert before.votes == [] and before.hidden_votes == 1
    analyst_view = actions.show_request(ws, user(ANALYST), P, request_id)
    assert analyst_view.votes == [] and analyst_view.hidden_votes == 1  # not before the decision either
    actions.review(ws, olivia, P, output_id, "approve", "fine")
    after = actions.show_request(ws, olivia, P, request_id)
    assert {(v.checker, v.vote) for v in after.votes} == {("oscar", "reject"), ("olivia", "approve")}
    actions.decide(ws, olivia, P, request_id)
    assert len(actions.show_request(ws, user(ANALYST), P, request_id).votes) == 2  # the comments are for them
    assert len(audit.entries(ws, action="release request viewed", limit=100)) == 4
    with pytest.raises(BoldError, match="neither made request") as other:
        actions.show_request(ws, User("grace", frozenset({Role.GOVERNANCE})), P, request_id)
    assert other.value.kind == Kind.REFUSED


def test_a_resubmitted_output_gets_a_new_version_and_needs_fresh_votes(ws):
    ws, ids = ws
    a, b = ids[0], ids[1]
    request_id = actions.request(ws, user(ANALYST), P, [a, b], "two tables", "suppressed <10").id
    vote_both(ws, a, "approve", "approve")
    vote_both(ws, b, "approve", "changes_requested")
    assert actions.decide(ws, user("oscar"), P, request_id) == {a: OutputState.APPROVED, b: OutputState.RETURNED}
    again = actions.resubmit(ws, user(ANALYST), P, request_id, "row b merged into other")
    versions = {o.output: (o.version, o.status.value) for o in again.outputs}
    assert versions == {a: (1, "approved"), b: (2, "requested")} and again.round == 2
    with pytest.raises(BoldError, match=r"version 2\) has 0 vote"):  # version 1's two votes no longer count
        actions.decide(ws, user("oscar"), P, request_id)
    vote_both(ws, b, "approve", "approve")
    assert actions.decide(ws, user("oscar"), P, request_id) == {b: OutputState.APPROVED}
    with pytest.raises(BoldError, match="was made by ana"):
        actions.resubmit(ws, User("olivia", frozenset({Role.ANALYST})), P, request_id)


def test_only_the_analyst_who_ran_it_requests_or_withdraws_and_a_request_needs_its_context(ws):
    ws, ids = ws
    with pytest.raises(BoldError, match="is not an analyst of project"):
        actions.request(ws, User("lin", frozenset({Role.ANALYST})), P, [ids[0]], "c", "k")
    with pytest.raises(BoldError, match="needs its context"):
        actions.request(ws, user(ANALYST), P, [ids[0]], "  ", "k")
    with pytest.raises(BoldError, match="at least one output"):
        actions.request(ws, user(ANALYST), P, [], "c", "k")
    with pytest.raises(BoldError, match="has no output 'nope'") as missing:
        actions.request(ws, user(ANALYST), P, [ids[0], "nope"], "c", "k")
    assert missing.value.kind == Kind.NOT_FOUND
    assert status(ws, ids[0]) == "pending"  # a request naming one bad output requests none of them
    with pytest.raises(BoldError, match="vote 'maybe'"):
        actions.review(ws, user("oscar"), P, ids[0], "maybe", "hmm")


def test_a_request_of_an_unchecked_output_is_refused(ws):
    ws, _ = ws
    project = projects.get(ws, P)
    result = StudyOutput(tables={"overall": pd.DataFrame({"group": ["a"], "people": [50]})})
    run = {"parameters": {}, "fields_used": [], "engine": "duckdb", "seconds": 0.1}
    output = outputs.write_pending(ws, project, catalogue()["continuity-of-care"], result, run, by=ANALYST)
    with pytest.raises(BoldError, match="has not been checked") as unchecked:
        actions.request(ws, user(ANALYST), P, [output.id], "c", "k")
    assert unchecked.value.kind == Kind.CONFLICT


def test_the_analyst_or_a_checker_checks_an_output_again(ws):
    ws, ids = ws
    first = outputs.get(ws, P, ids[0]).checked_at
    again = actions.check(ws, user(ANALYST), P, ids[0])
    assert again.outcome == "review" and again.output.checked_at >= first
    with pytest.raises(AccessError, match="may not outputs check"):
        actions.check(ws, user("grace", "governance"), P, ids[0])
    with pytest.raises(BoldError, match="neither ran output"):
        actions.check(ws, user("otto", "output_checker"), P, ids[0])
    requested(ws, ids[0])
    with pytest.raises(BoldError, match="only a pending or returned output can be checked"):
        actions.check(ws, user(ANALYST), P, ids[0])  # what the checkers review does not change under them


def _released(ws, output_id: str):
    decided(ws, output_id, "approve", "approve")
    return actions.release_output(ws, user("olivia", "output_checker"), P, output_id)


def test_a_release_holds_the_checked_files_with_their_checksums(ws):
    ws, ids = ws
    found = _released(ws, ids[0])
    assert found.folder == ws.root / "releases" / P / found.id
    names = {p.name for p in found.folder.iterdir()}
    assert names == {*found.checksums, "checksums.sha256", "release.json"}
    assert {"overall.csv", "index.html"} <= set(found.checksums)
    assert not {"report.json", "manifest.json"} & names  # intervals and differencing stay with the checkers
    assert (found.folder / "overall.csv").read_text() == "group,people\na,120\nb,\nc,33\n"  # the protected table
    for path in found.folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(found.folder.stat().st_mode) == 0o700
    checked = subprocess.run(["sha256sum", "-c", "checksums.sha256"], cwd=found.folder, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the format sha256sum reads
    manifest = json.loads((found.folder / "release.json").read_text())
    assert manifest["output"] == ids[0] and manifest["files"] == found.checksums and manifest["version"] == 1
    assert actions.verify_release(ws, user("grace", "governance"), P, found.id) == []


def test_a_released_file_changed_afterwards_fails_verify(ws):
    ws, ids = ws
    found = _released(ws, ids[0])
    from bold.actions import audit as audit_actions

    assert audit_actions.verify(ws, user("grace", "governance")).ok
    (found.folder / "overall.csv").write_text("group,people\na,120\nb,6\n")
    assert actions.verify_release(ws, user("oscar"), P, found.id) == ["overall.csv changed"]
    checked = audit_actions.verify(ws, user("grace", "governance"))  # bold audit verify sees it too
    assert not checked.ok and any(found.id in p and "overall.csv" in p for p in checked.problems)
    (found.folder / "index.html").unlink()
    assert "index.html is missing" in actions.verify_release(ws, user("oscar"), P, found.id)
    with pytest.raises(BoldError, match="damaged"):  # a damaged release is not handed out
        actions.show_release(ws, user(ANALYST), P, found.id, ws.root.parent / "download")
    verified = audit.entries(ws, action="release verified", limit=10)
    assert json.loads(verified[0]["details"])["problems"]


def test_the_release_report_shows_released_outputs_only_and_leaves_out_a_changed_one(ws):
    """demo/report.html's promise: built from released files only, each verified against its checksums."""
    ws, ids = ws
    first, second = _released(ws, ids[0]), _released(ws, ids[1])
    requested(ws, ids[2])  # under review: never in the report
    out = ws.root.parent / "report.html"
    path, shown, left_out = actions.release_report(ws, user(ANALYST), P, out)
    page = path.read_text()
    assert sorted(shown) == sorted([first.id, second.id]) and left_out == [] and ids[2] not in page
    assert '<td class="num">120</td>' in page and "<script" not in page  # the protected table, nothing executable
    (second.folder / "overall.csv").write_text("group,people\na,120\nb,6\n")
    path, shown, left_out = actions.release_report(ws, user(ANALYST), P, out)  # its own earlier page: rewritten
    assert shown == [first.id] and left_out == [second.id] and '<td class="num">6</td>' not in path.read_text()
    with pytest.raises(BoldError, match="workspace"):  # never inside the workspace's zones
        actions.release_report(ws, user(ANALYST), P, ws.root / "report.html")
    with pytest.raises(BoldError):  # never over a file BOLD did not write
        (ws.root.parent / "notes.html").write_text("mine")
        actions.release_report(ws, user(ANALYST), P, ws.root.parent / "notes.html")
    assert json.loads(audit.entries(ws, action="releases report", limit=1)[0]["details"])["left_out"] == [second.id]


def test_a_release_killed_before_it_commits_leaves_nothing_the_next_release_does_not_sweep(ws):
    """kill -9 after the files are copied, before the row commits: the folder is never listed or verified
    as a release, the output stays approved, and the next release removes the folder (audited)."""
    import os
    import signal
    import subprocess
    import sys

    ws, ids = ws
    decided(ws, ids[0], "approve", "approve")
    script = (
        "import sys; from pathlib import Path; from bold.workspace import Workspace; "
        "from bold.disclosure import release; "
        "release.release(Workspace.open(Path(sys.argv[1])), sys.argv[2], sys.argv[3], by='olivia')"
    )
    env = {**os.environ, "BOLD_FAULT": "release:copied", "PYTHONPATH": str(Path(bold.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script, str(ws.root), P, ids[0]], env=env, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    left = [p for p in (ws.root / "releases" / P).iterdir()]
    assert len(left) == 1 and actions.list_releases(ws, user(ANALYST), P) == [] and status(ws, ids[0]) == "approved"
    found = actions.release_output(ws, user("olivia", "output_checker"), P, ids[0])
    assert [p.name for p in (ws.root / "releases" / P).iterdir()] == [found.id]
    swept = audit.entries(ws, action="releases recovered", limit=1)
    assert json.loads(swept[0]["details"])["removed_unregistered_folders"] == [left[0].name]


def test_a_checked_file_changed_before_release_stops_the_release(ws):
    ws, ids = ws
    decided(ws, ids[0], "approve", "approve")
    (outputs.get(ws, P, ids[0]).folder / "checked" / "overall.csv").write_text("group,people\na,120\nb,6\n")
    with pytest.raises(BoldError, match=r"checked file overall\.csv was changed after the check"):
        actions.release_output(ws, user("oscar"), P, ids[0])
    from bold.actions import audit as audit_actions

    found = audit_actions.verify(ws, user("grace", "governance"))  # and bold audit verify names it
    assert not found.ok and found.damaged_outputs == {ids[0]: ["checked/"]}
    assert status(ws, ids[0]) == "approved"
    releases = ws.root / "releases" / P
    assert not releases.exists() or not any(releases.iterdir())  # nothing half-copied is left


def test_views_and_downloads_are_audited_and_the_analyst_reads_the_report(ws, tmp_path):
    ws, ids = ws
    report = actions.report(ws, user(ANALYST), P, ids[0])
    assert report["profile"]["name"] == "sacro" and report["summary"]["suppressed"] == 1
    assert "intervals" not in report  # the analyst's view: which rule flagged which cell, no attacker's interval
    assert {(f["row"], f["rule"]) for f in report["flags"]} >= {(1, "threshold")}
    assert "intervals" in actions.report(ws, user("oscar"), P, ids[0])
    with pytest.raises(AccessError, match="may not outputs report"):
        actions.report(ws, user("grace", "governance"), P, ids[0])
    found = _released(ws, ids[0])
    actions.show_release(ws, user(ANALYST), P, found.id)
    actions.show_release(ws, user(ANALYST), P, found.id, tmp_path / "mine")
    assert {p.name for p in (tmp_path / "mine").iterdir()} == {*found.checksums, "checksums.sha256", "release.json"}
    with pytest.raises(BoldError, match="exists"):  # a second download never overwrites the first
        actions.show_release(ws, user(ANALYST), P, found.id, tmp_path / "mine")
    with pytest.raises(BoldError, match="inside the workspace"):  # nor lands among the workspace's own files
        actions.show_release(ws, user(ANALYST), P, found.id, ws.root / "mine")
    with pytest.raises(BoldError, match="neither an analyst nor an output checker"):
        actions.show_release(ws, user("otto", "output_checker"), P, found.id)
    for action in ("output report viewed", "release viewed", "release downloaded"):
        assert audit.entries(ws, action=action, who=ANALYST), action
    assert audit.entries(ws, action="refused", who="otto")


def test_a_release_carries_its_checked_summary_and_later_impact_notes_to_the_register(ws):
    """Build 6 of issue 18: the summary is part of the request the checkers approve; impact notes come later, from
    governance only, and both are published with the release."""
    ws, ids = ws
    with pytest.raises(BoldError, match="keep it under 2,000"):
        actions.request(ws, user(ANALYST), P, [ids[0]], "for the report", "suppressed", "x" * 2_001)
    summary = "About four in ten people leaving prison with a drug problem started treatment within three weeks."
    request_id = actions.request(ws, user(ANALYST), P, [ids[0]], "for the annual report", "suppressed", summary).id
    assert actions.show_request(ws, user("oscar"), P, request_id).summary == summary  # what the checkers read
    vote_both(ws, ids[0], "approve", "approve")
    actions.decide(ws, user("oscar"), P, request_id)
    found = actions.release_output(ws, user("olivia", "output_checker"), P, ids[0])

    board = user("grace", "governance")
    with pytest.raises(AccessError, match="may not releases impact"):
        actions.add_impact_note(ws, user(ANALYST), P, found.id, "we changed things")
    with pytest.raises(BoldError, match="an impact note needs its text"):
        actions.add_impact_note(ws, board, P, found.id, "   ")
    with pytest.raises(BoldError, match="has no release 'rel-nope'") as refused:
        actions.add_impact_note(ws, board, P, "rel-nope", "a note")
    assert refused.value.kind == Kind.NOT_FOUND
    first = "The prison's health care team now books a treatment appointment before release."
    actions.add_impact_note(ws, board, P, found.id, first)
    actions.add_impact_note(ws, board, P, found.id, "Cited in the regional drugs strategy, 2027.")
    assert len(audit.entries(ws, action="impact note added", who="grace")) == 2

    entry = next(p for p in register_actions.public_register(ws)["projects"] if p["id"] == P)
    (released,) = entry["released_outputs"]
    assert released["summary"] == summary
    assert [n["note"] for n in released["impact"]] == [first, "Cited in the regional drugs strategy, 2027."]
    assert "grace" not in json.dumps(released)
    page = (register_actions.build(ws, board) / "index.html").read_text()
    assert summary in page and "books a treatment appointment" in page


def test_the_register_lists_released_outputs(ws, tmp_path):
    ws, ids = ws
    found = _released(ws, ids[0])
    _released(ws, ids[1])
    decided(ws, ids[2], "approve", "approve")  # approved, not released: not in the register
    folder = register_actions.build(ws, user("grace", "governance"))
    entry = next(p for p in json.loads((folder / "register.json").read_text())["projects"] if p["id"] == P)
    released = {o["output"]: o for o in entry["released_outputs"]}
    assert set(released) == {ids[0], ids[1]}
    first = released[ids[0]]
    assert first["checksums"] == found.checksums and first["profile"] == "sacro@1"
    assert first["study"] == "continuity-of-care" and first["definition"]
    assert first["disclosure_summary"] == {"cells": 3, "suppressed": 1, "secondary": 0, "rounded": 0}
    assert first["released"] == found.released_at[:10] and first["checked"]
    page = (folder / "index.html").read_text()
    assert found.checksums["overall.csv"] in page


# --- the command line, end to end ----------------------------------------------------------------------


def test_the_command_line_runs_the_workflow(ws, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from bold.cli import app

    ws, ids = ws
    cli = CliRunner()
    monkeypatch.setenv("BOLD_PASSWORD", TEAM_PASSWORD)
    w = ["-w", str(ws.root)]

    def run(who: str, *args: str):
        monkeypatch.setenv("BOLD_USER", who)
        return cli.invoke(app, [*args, *w])

    asked = run(ANALYST, "outputs", "request", P, ids[0], "--context", "annual report", "--controls", "<10", "--json")
    assert asked.exit_code == 0, asked.output
    request_id = json.loads(asked.output)["id"]
    refused = run(ANALYST, "outputs", "review", P, ids[0], "--vote", "approve", "--comment", "mine")
    assert refused.exit_code == 4 and "may not outputs review" in refused.output
    assert "Traceback" not in refused.output
    bad = run("oscar", "outputs", "review", P, ids[0], "--vote", "maybe", "--comment", "hmm")
    assert bad.exit_code == 2 and "vote 'maybe'" in bad.output
    assert run("oscar", "outputs", "review", P, ids[0], "--vote", "approve", "--comment", "safe").exit_code == 0
    early = run("oscar", "outputs", "decide", P, request_id)
    assert early.exit_code == 5 and "needs two" in early.output
    hidden = run("olivia", "outputs", "votes", P, request_id)
    assert hidden.exit_code == 0 and "hidden until you have voted" in hidden.output and "safe" not in hidden.output
    assert run("olivia", "outputs", "review", P, ids[0], "--vote", "approve", "--comment", "ok").exit_code == 0
    decided_ = run("olivia", "outputs", "decide", P, request_id)
    assert decided_.exit_code == 0 and f"{ids[0]}: approved" in decided_.output
    released = run("oscar", "outputs", "release", P, ids[0], "--json")
    assert released.exit_code == 0, released.output
    release_id = json.loads(released.output)["id"]
    listed = run(ANALYST, "releases", "list", P, "--json")
    assert [r["id"] for r in json.loads(listed.output)] == [release_id]
    got = run(ANALYST, "releases", "show", P, release_id, "--out", str(tmp_path / "got"))
    assert got.exit_code == 0 and (tmp_path / "got" / "checksums.sha256").exists()
    assert run("grace", "releases", "verify", P, release_id).exit_code == 0
    (ws.root / "releases" / P / release_id / "overall.csv").write_text("changed\n")
    broken = run("grace", "releases", "verify", P, release_id)
    assert broken.exit_code == 5 and "overall.csv changed" in broken.output
    withdrawn = run(ANALYST, "outputs", "withdraw", P, ids[1])
    assert withdrawn.exit_code == 0 and "withdrawn" in withdrawn.output
    again = run(ANALYST, "outputs", "withdraw", P, ids[1])
    assert again.exit_code == 5 and "is withdrawn" in again.output
    report = run(ANALYST, "outputs", "report", P, ids[2])
    assert report.exit_code == 0 and "1 cells suppressed, 0 rounded" in report.output
    assert audit.verify(ws).ok


# --- the stateful property test ---------------------------------------------------------------------------

ANA, OSCAR, OLIVIA = (
    User(n, frozenset({Role(r)}))
    for n, r in (("ana", "analyst"), ("oscar", "output_checker"), ("olivia", "output_checker"))
)
OTHERS = [
    User("otto", frozenset({Role.OUTPUT_CHECKER})),  # a checker the agreement does not name
    User("ana", frozenset({Role.ANALYST, Role.OUTPUT_CHECKER})),  # the analyst holding the checker role too
    User("grace", frozenset({Role.GOVERNANCE})),
]
ACTORS = [ANA, OSCAR, OLIVIA, *OTHERS]
# Who takes a step: one time in five someone who may not (drawn from WRONG), otherwise the person whose step it
# is, so that examples get as far as decisions and releases (the state x move x role table tries everyone).
WHO = st.integers(0, 4)
WRONG = st.sampled_from([ANA, OSCAR, OLIVIA, *OTHERS])
# The steps, weighted by how many of each an output needs on its way to release (two votes, a decision, the release)
STEPS = ("request", "review", "review", "review", "decide", "decide", "release", "release", "resubmit", "withdraw")
NAMED_CHECKERS = set(CHECKERS)
REACHED: set[str] = set()  # the states the examples reached (test_the_machine_reaches_every_state)


@pytest.fixture()
def machine_snapshot(snapshot, tmp_path):
    """The state machine below copies the snapshot for each example (a class attribute: Hypothesis makes the
    machines)."""
    ReleaseMachine.snapshot, ReleaseMachine.tmp = snapshot, tmp_path
    yield


class ReleaseMachine(RuleBasedStateMachine):
    """Random people request, vote, decide, resubmit, withdraw and release a few outputs; after every step
    nothing is released or approved without two distinct named non-analyst approvals of its current version,
    each move left exactly one audit entry, and at the end the chain verifies."""

    snapshot: tuple[Path, list[str]]
    tmp: Path

    def __init__(self):
        super().__init__()
        self.ws, ids = fresh(self.snapshot, self.tmp)
        self.ids = ids[:3]
        self.moves = 0  # status changes seen

    def _statuses(self) -> dict[str, str]:
        return {o: status(self.ws, o) for o in self.ids}

    def _step(self, call) -> None:
        before = self._statuses()
        entries = self._move_entries()
        try:
            call()
        except BoldError:
            assert self._statuses() == before  # a refused or impossible step changes no state
        after = self._statuses()
        REACHED.update(after.values())
        changed = sum(before[o] != s for o, s in after.items())
        self.moves += changed
        assert self._move_entries() == entries + changed  # one audit entry per transition

    def _move_entries(self) -> int:
        return count(self.ws, MOVE_ACTIONS)

    def _request_ids(self, *states: str) -> list[str]:
        """Requests holding an output in one of ``states`` first, then the others."""
        requests = {o: request_of(self.ws, o) for o in self.ids}
        statuses = self._statuses()
        first = sorted({r for o, r in requests.items() if r and statuses[o] in states})
        rest = sorted({r for r in requests.values() if r} - set(first))
        return first + rest or ["no-request"]

    @initialize()
    def first_request(self):
        """Every example starts with one output under review (the other two are left to the rules)."""
        self._step(lambda: actions.request(self.ws, ANA, P, [self.ids[0]], "context", "controls"))

    def _pick(self, pick: int, *states: str) -> str:
        """Mostly an output in one of ``states`` (where the step can succeed); any output one time in four."""
        fitting = [o for o, s in self._statuses().items() if s in states]
        among = fitting if fitting and pick % 4 else self.ids
        return among[pick % len(among)]

    def _checker(self, output_id: str, who: int, wrong: User) -> User:
        """A named checker who has not voted on the output's current version yet (or ``wrong``)."""
        if not who:
            return wrong
        with store.connect(self.ws) as db:
            voted = {
                r[0]
                for r in db.execute(
                    "select v.checker from release_votes v join release_request_outputs r "
                    "on r.output = v.output and r.version = v.version where v.output = ?",
                    (output_id,),
                )
            }
        waiting = [c for c in ((OSCAR, OLIVIA) if who % 2 else (OLIVIA, OSCAR)) if c.name not in voted]
        return waiting[0] if waiting else (OSCAR, OLIVIA)[who % 2]

    def request(self, who, wrong, pick, vote, picks):
        chosen = [self.ids[i] for i in sorted(picks)]
        self._step(lambda: actions.request(self.ws, ANA if who else wrong, P, chosen, "context", "controls"))

    def review(self, who, wrong, pick, vote, picks):
        output_id = self._pick(pick, "requested")
        by = self._checker(output_id, who, wrong)
        self._step(lambda: actions.review(self.ws, by, P, output_id, vote, "a comment"))

    def decide(self, who, wrong, pick, vote, picks):
        requests = self._request_ids("requested")
        by = (OSCAR, OLIVIA)[pick % 2] if who else wrong
        self._step(lambda: actions.decide(self.ws, by, P, requests[0 if pick else -1]))

    def resubmit(self, who, wrong, pick, vote, picks):
        requests = self._request_ids("returned")
        self._step(lambda: actions.resubmit(self.ws, ANA if who else wrong, P, requests[0 if pick else -1]))

    def withdraw(self, who, wrong, pick, vote, picks):
        output_id = self.ids[pick % 3]  # not steered: a withdrawn output is out of the example for good
        self._step(lambda: actions.withdraw(self.ws, ANA if who else wrong, P, output_id))

    def release(self, who, wrong, pick, vote, picks):
        output_id = self._pick(pick, "approved")
        by = (OSCAR, OLIVIA)[pick % 2] if who else wrong
        self._step(lambda: actions.release_output(self.ws, by, P, output_id))

    @rule(
        step=st.sampled_from(STEPS),
        who=WHO,
        wrong=WRONG,
        pick=st.integers(0, 11),
        vote=st.sampled_from(("approve",) * 4 + VOTES[1:]),
        picks=st.sets(st.integers(0, 2), min_size=1, max_size=3),
    )
    def act(self, step, who, wrong, pick, vote, picks):
        """One rule for every step, so that every example mixes them all (one rule per step lets Hypothesis leave
        some out of an example, and few examples then reached a release)."""
        getattr(self, step)(who, wrong, pick, vote, picks)

    @invariant()
    def nothing_leaves_without_two_approvals_of_its_current_version(self):
        with store.connect(self.ws) as db:
            for output_id, state in self._statuses().items():
                if state not in ("approved", "released"):
                    continue
                item = db.execute("select * from release_request_outputs where output = ?", (output_id,)).fetchone()
                approvers = {
                    r["checker"]
                    for r in db.execute(
                        "select checker from release_votes where output = ? and version = ? and vote = 'approve'",
                        (output_id, item["version"]),
                    )
                }
                assert len(approvers) >= 2 and approvers <= NAMED_CHECKERS and ANALYST not in approvers
                released = db.execute("select * from releases where output = ?", (output_id,)).fetchone()
                assert (released is not None) == (state == "released")
                if released is not None:
                    assert released["version"] == item["version"]

    def teardown(self):
        if hasattr(self, "ws"):
            assert self._move_entries() == self.moves
            assert audit.verify(self.ws).ok
            for found in actions.list_releases(self.ws, ACTORS[1], P):
                assert actions.verify_release(self.ws, ACTORS[1], P, found.id) == []


ReleaseMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=20,  # 12 steps rarely got as far as a release
    deadline=None,
    derandomize=True,  # the same examples every run, so test_it_reaches_every_state is not left to chance
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.usefixtures("machine_snapshot")
class TestReleaseMachine(ReleaseMachine.TestCase):
    def test_it_reaches_every_state(self):
        """The examples get as far as releases, returns and resubmissions: otherwise the invariants prove little."""
        self.runTest()
        assert {"requested", "approved", "released", "returned", "rejected", "withdrawn"} <= REACHED, REACHED
