"""Several processes writing to the governance store at once never fork or break the audit chain: each
write takes the next sequence number, two people deciding on one project cannot both succeed, and a
reader verifying the chain meanwhile never sees rows and head out of step.

The workers run in separate processes (spawn), released together by a barrier so that they really
overlap; each reports what it did on a queue.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import sqlite3
import time
import traceback
from contextlib import closing
from pathlib import Path

import pytest

from bold.governance import projects
from bold.store import audit, schema
from bold.workspace import Workspace
from tests.old_workspace import OLD_ENTRIES, PASSWORD, UPGRADE_ENTRIES, extract_fixture

AGREEMENT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
WRITERS, WRITES = 4, 25
READERS, READING_WRITES = 2, 50  # verifying while 4 processes write 50 entries each
PERSON_PASSWORD = "a-long-test-password"
TIMEOUT = 120  # seconds for any one process; the whole file takes far less

ctx = multiprocessing.get_context("spawn")


# --- workers (module level, so that spawned processes can import them) -------------------------------------
def _run(queue, barrier, name, job, *args):
    try:
        ws = Workspace.open(Path(args[0]))
        barrier.wait()
        queue.put((name, "ok", job(ws, *args[1:])))
    except BaseException as exc:  # reported to the parent, which fails the test with it
        kind = getattr(exc, "kind", None)
        queue.put((name, "error", (type(exc).__name__, str(kind) if kind else None, str(exc), traceback.format_exc())))


def _records(ws, i, writes):
    """``writes`` audit entries of their own; the sequence number each took."""
    return [audit.record(ws, "test write", f"p{i}-{j}", {"i": i, "j": j}, by="tester") for j in range(writes)]


def _add_people(ws, names):
    from bold.governance.people import add_person

    return [add_person(ws, n, ["analyst"], PERSON_PASSWORD, by="adam").name for n in names]


def _refuse(ws, project_id, who):
    return projects.refuse(ws, project_id, f"refused by {who}", by=who).status.value


def _withdraw(ws, project_id, who):
    return projects.withdraw(ws, project_id, by=who).status.value


def _verify_until(ws, done):
    """Verify the chain again and again until ``done`` is set; every result seen."""
    seen = []
    while not done.is_set() or not seen:
        result = audit.verify(ws)
        seen.append((result.ok, result.entries, result.problem))
    return seen


def _sign_in_and_record(ws, who):
    from bold.actions.people import sign_in

    user = sign_in(ws, who, PASSWORD)  # the first read of the old store migrates it, in whichever process
    return audit.record(ws, "test write", f"old-{who}", by=user.name)


def run_together(jobs: dict[str, tuple], ws_root: Path) -> dict[str, tuple]:
    """Run each job (function, *args) in its own process, all released at once; name -> (status, value)."""
    queue = ctx.Queue()
    barrier = ctx.Barrier(len(jobs), timeout=TIMEOUT)
    workers = [
        ctx.Process(target=_run, args=(queue, barrier, name, fn, str(ws_root), *args), name=name)
        for name, (fn, *args) in jobs.items()
    ]
    for w in workers:
        w.start()
    try:
        results = {}
        for _ in workers:
            name, status, value = queue.get(timeout=TIMEOUT)
            results[name] = (status, value)
    finally:
        for w in workers:
            w.join(timeout=TIMEOUT)
            if w.is_alive():
                w.kill()
    assert all(w.exitcode == 0 for w in workers), {w.name: w.exitcode for w in workers}
    return results


def ok(results, name):
    status, value = results[name]
    assert status == "ok", f"{name} failed: {value[-1] if status == 'error' else value}"
    return value


def assert_chain(ws: Workspace, expected: int) -> list[sqlite3.Row]:
    """The chain verifies, holds ``expected`` entries numbered 1..N, and the head seals the last."""
    result = audit.verify(ws)
    assert result.ok, result.problem
    assert result.entries == expected
    db = sqlite3.connect(ws.governance_path)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("select * from audit order by seq").fetchall()
    finally:
        db.close()
    assert [r["seq"] for r in rows] == list(range(1, expected + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert len({r["hash"] for r in rows}) == expected
    head = json.loads(audit.head_path(ws).read_text())
    assert (head["seq"], head["hash"]) == (rows[-1]["seq"], rows[-1]["hash"])
    return rows


@pytest.fixture()
def ws(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    # a workspace begins with an entry (bold init records it); with none there is no head to verify against
    audit.record(ws, "workspace created", "ws", by="adam")
    return ws


def _agreement(tmp_path: Path, project_id: str) -> Path:
    path = tmp_path / f"{project_id}.yaml"
    text = AGREEMENT.read_text()
    assert "\nid: continuity-of-care\n" in text
    path.write_text(text.replace("\nid: continuity-of-care\n", f"\nid: {project_id}\n"))
    return path


def test_concurrent_writers_and_actions_never_fork_the_chain(ws, tmp_path):
    projects.submit(ws, _agreement(tmp_path, "race-refuse"), by="ana")
    projects.submit(ws, _agreement(tmp_path, "race-withdraw"), by="ana")
    before = 3  # workspace created, two projects submitted

    newcomers = {f"adder{k}": [f"person-{k}-{n}" for n in range(5)] for k in range(2)}
    jobs: dict[str, tuple] = {f"writer{i}": (_records, i, WRITES) for i in range(WRITERS)}
    jobs |= {name: (_add_people, names) for name, names in newcomers.items()}
    jobs |= {"same-name-1": (_add_people, ["zoe"]), "same-name-2": (_add_people, ["zoe"])}
    jobs |= {"refuse-grace": (_refuse, "race-refuse", "grace"), "refuse-gil": (_refuse, "race-refuse", "gil")}
    jobs |= {"withdraw-1": (_withdraw, "race-withdraw", "ana"), "withdraw-2": (_withdraw, "race-withdraw", "ana")}

    started = time.monotonic()
    results = run_together(jobs, ws.root)
    elapsed = time.monotonic() - started

    # each writer got its own sequence numbers, increasing in the order it wrote, never shared
    taken = [seq for i in range(WRITERS) for seq in ok(results, f"writer{i}")]
    assert len(taken) == len(set(taken)) == WRITERS * WRITES
    for i in range(WRITERS):
        assert ok(results, f"writer{i}") == sorted(ok(results, f"writer{i}"))

    # people added at once with distinct names are all there; the same name at once: exactly one wins
    for name, names in newcomers.items():
        assert ok(results, name) == names
    assert sorted(results[n][0] for n in ("same-name-1", "same-name-2")) == ["error", "ok"]
    (lost,) = [v for s, v in (results["same-name-1"], results["same-name-2"]) if s == "error"]
    assert lost[:3] == ("AccessError", "conflict", "zoe already exists"), lost[-1]

    # two people refusing (or withdrawing) the same project at once: exactly one succeeds, the other is told
    # the project is no longer submitted
    for (first, second), state, allowed in (
        (("refuse-grace", "refuse-gil"), "refused", "a submitted project can be refused"),
        (("withdraw-1", "withdraw-2"), "withdrawn", "a refused or submitted project can be withdrawn"),
    ):
        outcomes = sorted((results[first], results[second]), key=lambda r: r[0])
        assert outcomes[1] == ("ok", state), (results[first], results[second])
        error, kind, message, _ = outcomes[0][1]
        assert (error, kind) == ("ProjectError", "conflict"), outcomes[0][1][-1]
        assert message.endswith(f" is {state}; only {allowed}"), message
    refused = projects.get(ws, "race-refuse")
    winner = "grace" if results["refuse-grace"][0] == "ok" else "gil"
    assert (refused.status, refused.decided_by, refused.decision_reason) == ("refused", winner, f"refused by {winner}")
    assert projects.get(ws, "race-withdraw").status == "withdrawn"

    added = 2 * 5 + 1
    expected = before + WRITERS * WRITES + added + 2
    rows = assert_chain(ws, expected)
    by_object = {r["object"]: r["seq"] for r in rows if r["action"] == "test write"}
    assert by_object == {f"p{i}-{j}": seq for i in range(WRITERS) for j, seq in enumerate(ok(results, f"writer{i}"))}
    assert sum(r["action"] == "person added" for r in rows) == added
    assert [r["action"] for r in rows].count("project refused") == 1
    assert [r["action"] for r in rows].count("project withdrawn") == 1
    with closing(sqlite3.connect(ws.governance_path)) as db:
        names = {r[0] for r in db.execute("select name from people")}
    assert names == {"zoe", *(n for ns in newcomers.values() for n in ns)}
    print(
        f"\n{len(jobs)} processes, {WRITERS}x{WRITES} writes + actions, {expected} entries verified in {elapsed:.1f}s"
    )


def test_verify_never_sees_a_broken_chain_while_writers_write(ws):
    done = ctx.Event()
    jobs: dict[str, tuple] = {f"writer{i}": (_records, i, READING_WRITES) for i in range(WRITERS)}
    readers = [f"reader{k}" for k in range(READERS)]
    jobs |= {name: (_verify_until, done) for name in readers}
    queue = ctx.Queue()
    barrier = ctx.Barrier(len(jobs), timeout=TIMEOUT)
    workers = [
        ctx.Process(target=_run, args=(queue, barrier, name, fn, str(ws.root), *args), name=name)
        for name, (fn, *args) in jobs.items()
    ]
    started = time.monotonic()
    for w in workers:
        w.start()
    results = {}
    try:
        # the writers report first (a reader only early, if it fails); then the readers are told to stop
        while sum(n.startswith("writer") for n in results) < WRITERS and not set(readers) & set(results):
            name, status, value = queue.get(timeout=TIMEOUT)
            results[name] = (status, value)
        done.set()
        while len(results) < len(jobs):
            name, status, value = queue.get(timeout=TIMEOUT)
            results[name] = (status, value)
    finally:
        done.set()
        for w in workers:
            w.join(timeout=TIMEOUT)
            if w.is_alive():
                w.kill()
    elapsed = time.monotonic() - started
    for i in range(WRITERS):
        ok(results, f"writer{i}")

    total = 1 + WRITERS * READING_WRITES
    seen = [s for name in readers for s in ok(results, name)]
    broken = [s for s in seen if not s[0]]
    assert not broken, f"{len(broken)} of {len(seen)} verifications saw a broken chain, first: {broken[0]}"
    for name in readers:
        counts = [entries for _, entries, _ in ok(results, name)]
        assert counts == sorted(counts), name  # the chain only ever grows
    during = [entries for _, entries, _ in seen if 1 < entries < total]  # verified while the chain was growing
    assert len(during) >= 10, f"the readers did not overlap the writers: {[s[1] for s in seen]}"
    assert_chain(ws, total)
    print(
        f"\n{WRITERS}x{READING_WRITES} writes, {READERS} readers: {len(seen)} verifications "
        f"({len(during)} mid-write), none broken, {elapsed:.1f}s"
    )


def test_processes_opening_an_old_workspace_at_once_migrate_it_once(tmp_path):
    root = extract_fixture(tmp_path)
    names = ["adam", "cara", "lin", "ana", "grace", "oscar"]
    results = run_together({n: (_sign_in_and_record, n) for n in names}, root)
    seqs = sorted(ok(results, n) for n in names)
    first = OLD_ENTRIES + UPGRADE_ENTRIES + 1  # one of them encrypted the old zones first, audited once
    assert seqs == list(range(first, first + len(names)))
    with closing(sqlite3.connect(root / "governance.db")) as db:
        assert db.execute("pragma user_version").fetchone()[0] == schema.VERSION
        columns = [r[1] for r in db.execute("pragma table_info(people)")]
    assert columns.count("active") == 1
    assert_chain(Workspace.open(root), OLD_ENTRIES + UPGRADE_ENTRIES + len(names))
