"""Linkage over time: a second month linked incrementally agrees with a full re-link, scores only what is new
or changed, and leaves people's keys where they were."""

from __future__ import annotations

import json

import duckdb
import pytest

from bold import store
from bold.ingest.pipeline import ingest
from bold.linkage.evaluate import evaluate_run, runs_agreement
from bold.linkage.incremental import IncrementalError
from bold.linkage.run import LinkageError, link_workspace
from bold.reports import linkage_report
from bold.synth.config import SOURCES
from bold.workspace import Workspace
from tests.conftest import make_population


def _months(out, folder):
    """Each source's file split in two monthly batches (alternate rows), written as Parquet."""
    folder.mkdir()
    months = {}
    for source in SOURCES:
        for month, parity in ((1, 0), (2, 1)):
            path = folder / f"{source}-{month}.parquet"
            duckdb.sql(
                f"""copy (select * exclude (n) from (select *, row_number() over () as n
                          from '{out}/{source}.parquet') where n % 2 = {parity}) to '{path}' (format parquet)"""
            )
            months[source, month] = path
    return months


def _people(ws, run_id: int, level: str = "medium") -> dict[str, str]:
    with ws.links(read_only=True) as con:
        rows = con.execute(
            f"select record_key::varchar, person_{level}::varchar from links.record_person where run_id = ?", [run_id]
        ).fetchall()
    return dict(rows)


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    root = tmp_path_factory.mktemp("months")
    out, _ = make_population(root, people=1500, seed=8)
    months = _months(out, root / "batches")
    ws = Workspace.init(root / "ws")
    for source in SOURCES:
        ingest(ws, source, months[source, 1], by="cara")
    first = link_workspace(ws, retrain=True, by="lin")
    for source in SOURCES:
        ingest(ws, source, months[source, 2], by="cara")
    second = link_workspace(ws, incremental_run=True, by="lin")
    full = link_workspace(ws, by="lin")  # the same saved model, every pair scored again
    return ws, out, first, second, full


def test_the_second_month_linked_incrementally_agrees_with_a_full_re_link(two_months, tmp_path):
    ws, out, first, second, full = two_months
    assert second.incremental and not full.incremental and second.based_on == first.run_id
    assert second.records == full.records > first.records
    assert second.rescored == second.records - first.records  # month two's records, and nothing of month one
    assert second.comparisons < full.comparisons  # only pairs with a new record were scored
    for level in ("high", "medium", "low"):
        agreement = runs_agreement(ws, second.run_id, full.run_id, level)
        assert agreement.f1 > 0.995, (level, agreement)
    truth_inc = evaluate_run(ws, second.run_id, out / "truth")["medium"]["all"]
    truth_full = evaluate_run(ws, full.run_id, out / "truth")["medium"]["all"]
    assert abs(truth_inc.f1 - truth_full.f1) < 0.005
    with ws.links(read_only=True) as con:
        mode, based_on, batches, rescored = con.execute(
            "select mode, based_on, batches, rescored from links.runs where run_id = ?", [second.run_id]
        ).fetchone()
    assert (mode, based_on, rescored) == ("incremental", first.run_id, second.rescored)
    with store.connect(ws) as db:
        committed = {r[0]: sorted(json.loads(batches)[r[0]]) for r in db.execute("select distinct source from batches")}
        ids = {
            s: sorted(b for (b,) in db.execute("select batch_id from batches where source = ?", (s,)))
            for s in committed
        }
    assert committed == ids and all(len(b) == 2 for b in ids.values())  # both months of every source
    entry = json.loads(store.audit.entries(ws, action="linkage run")[-2]["details"])
    assert entry["mode"] == "incremental" and entry["rescored_records"] == second.rescored
    report = linkage_report.build(ws, tmp_path / "report.html", run_id=second.run_id, by="lin").read_text()
    assert f"only the candidate pairs involving one of the\n{second.rescored:,} records" in report
    assert "bold_fresh" not in report  # the rules shown are the model's, not the run's filter


def test_people_keep_their_keys_across_runs_unless_their_records_split_or_merge(two_months):
    ws, _, first, second, full = two_months
    before, during, after = _people(ws, first.run_id), _people(ws, second.run_id), _people(ws, full.run_id)
    # a person of month one whose records all stayed together, with no other month-one person's: same key
    old_people: dict[str, set[str]] = {}
    for record, person in before.items():
        old_people.setdefault(person, set()).add(record)
    kept = 0
    for person, records in old_people.items():
        now = {during[r] for r in records}
        sharing = {r for r, p in during.items() if p in now and r in before}
        if len(now) == 1 and sharing == records:
            assert now == {person}
            kept += 1
        else:
            assert person not in now
    assert kept == second.kept_keys["medium"] > 0.9 * len(old_people)
    same = sum(during[r] == after[r] for r in during)
    assert same > 0.99 * len(during)  # the full re-link keeps the incremental run's people too


def test_a_corrected_date_of_birth_is_the_only_record_scored_again(two_months, tmp_path):
    ws, out, *_ = two_months
    latest = link_workspace(ws, incremental_run=True, by="lin")
    assert latest.rescored == 0 and latest.comparisons == 0  # nothing new: nothing scored, the same people
    assert _people(ws, latest.run_id) == _people(ws, latest.run_id - 1)
    corrected = tmp_path / "hospital-correction.parquet"
    duckdb.sql(
        f"""copy (select * replace (strftime(DOB::date - interval 3 year, '%Y-%m-%d') as DOB)
                  from (select * from '{out}/hospital.parquet' where DOB is not null limit 1))
            to '{corrected}' (format parquet)"""
    )
    report = ingest(ws, "hospital", corrected, by="cara")
    assert (report.updated, report.relink) == (1, 1)
    again = link_workspace(ws, incremental_run=True, by="lin")
    assert again.rescored == 1 and again.comparisons > 0


def test_incremental_linkage_refuses_what_it_cannot_build_on(two_months, tmp_path):
    ws, *_ = two_months
    with pytest.raises(LinkageError, match="cannot be combined with --retrain"):
        link_workspace(ws, incremental_run=True, retrain=True, by="lin")
    with pytest.raises(IncrementalError, match="other thresholds"):
        link_workspace(ws, incremental_run=True, thresholds={"high": 0.99, "medium": 0.8, "low": 0.5}, by="lin")
    fresh = Workspace.init(tmp_path / "new")
    ingest(fresh, "prison", ws.root.parent / "batches" / "prison-1.parquet", by="cara")
    with pytest.raises(IncrementalError, match="needs an earlier linkage run"):
        link_workspace(fresh, incremental_run=True, by="lin")
