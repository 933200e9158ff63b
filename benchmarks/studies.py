"""Benchmark: time and peak memory of each built-in study on a 1M-person project extract, on DuckDB.

The extract is built as a project's is (synthetic population, every source ingested, the
``bold-questions`` agreement submitted, approved and built). By default links.duckdb is written from
the synthetic ground truth, not by Splink: PERFECT LINKAGE, because linkage has its own benchmark
(benchmarks/linkage.py) and this one measures the study stage only. ``--links splink`` links the workspace
for real instead (and records the linkage report's recall against the truth, for the missed-match
correction), to show every study runs on what real linkage gives: clusters that merge and split people.

The baseline, measured in the same run on the same extract, is DuckDB alone doing a plain full scan
of each table the study reads (``count(*), count(distinct person_id)``): the floor that a study's
cohort building and aggregation sit on. Each study runs in its own process, on a freshly opened
extract, so neither caches nor peak memory (VmHWM) carry over. Target (issue): < 10 s per study.

    .venv/bin/python benchmarks/studies.py [--people 1000000] [--work bench-out/studies] [--reuse]
                                           [--links truth|splink]
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

TARGET_SECONDS = 10
PROJECT = "bold-questions"
AGREEMENT = Path(__file__).resolve().parents[1] / "docs" / "examples" / "bold-questions.yaml"
EXTRACT = Path("projects", PROJECT, "extract.duckdb")  # inside the workspace


def prepare(people: int, work: Path, reuse: bool, links: str = "truth") -> Path:
    """A workspace holding the built ``bold-questions`` extract for ``people`` synthetic people."""
    from bold.governance import decisions, projects
    from bold.ingest.pipeline import ingest
    from bold.linkage.run import link_workspace
    from bold.linkage.truth import write_true_links
    from bold.reports import linkage_report
    from bold.synth.config import SOURCES, SynthConfig
    from bold.synth.generate import generate
    from bold.workspace import Workspace

    suffix = "" if links == "truth" else f"-{links}"
    synth, ws_dir = work / f"synth-{people}", work / f"workspace-{people}{suffix}"
    if reuse and (ws_dir / EXTRACT).exists():
        print(f"reusing the extract in {ws_dir}")
        return ws_dir
    if not (reuse and (synth / "truth" / "summary.json").exists()):
        print(f"generating {people:,} synthetic people ...", flush=True)
        generate(SynthConfig(people=people, seed=17), synth, formats=("parquet",))
    shutil.rmtree(ws_dir, ignore_errors=True)
    ws, t0 = Workspace.init(ws_dir), time.perf_counter()
    for source in SOURCES:
        ingest(ws, source, synth / f"{source}.parquet", by="cara")
    if links == "truth":
        write_true_links(ws, synth / "truth", by="lin")
    else:
        t1 = time.perf_counter()
        run = link_workspace(ws, by="lin", progress=lambda phase: print(f"  linking: {phase}", flush=True))
        linkage_report.build(ws, None, run.run_id, synth / "truth", by="lin")
        print(f"  linked by Splink ({run.comparisons:,} pairs) and reported in {time.perf_counter() - t1:.0f} s")
    add_team(ws)
    projects.submit(ws, AGREEMENT, by="ana")
    projects.record_dpia(ws, PROJECT, AGREEMENT.with_name("dpia.yaml"), by="grace")
    projects.approve(ws, PROJECT, decisions.load_answers(AGREEMENT.with_name("board-answers.yaml")), by="grace")
    for source in projects.get(ws, PROJECT).sources:
        projects.sign_off(ws, PROJECT, source, by="cara")
    projects.build(ws, PROJECT, by="adam")
    print(f"  ingested, linked ({links}) and built in {time.perf_counter() - t0:.0f} s", flush=True)
    return ws_dir


def add_team(ws) -> None:
    """The people the agreement names, in its roles, trained and approved (an agreement naming people who are not
    on the platform crosses a red line)."""
    import datetime as dt

    import yaml

    from bold.governance import people

    today = people.today()
    for person in yaml.safe_load(AGREEMENT.read_text())["people"]:
        people.add_person(ws, person["name"], [person["role"]], "benchmark-only-password", by="bench-admin")
        people.record_training(ws, person["name"], "data protection", today - dt.timedelta(days=30), None, by="bench")
        people.approve(ws, person["name"], today + dt.timedelta(days=365), "benchmark team", by="bench-admin")


def _studies() -> tuple[dict, dict[str, str]]:
    """The built-in studies; if the catalogue cannot load (a module half-written), each module that loads."""
    from bold.studies import builtin

    try:
        return builtin.catalogue(), {}
    except Exception:
        found, broken = {}, {}
        for name in builtin.MODULES:
            try:
                found |= {s.id: s for s in importlib.import_module(f"bold.studies.builtin.{name}").STUDIES}
            except Exception as exc:
                if getattr(exc, "name", None) != f"bold.studies.builtin.{name}":  # else: not written yet
                    broken[name] = f"{type(exc).__name__}: {exc}"
        return found, broken


def _child_study(study_id: str, ws_dir: str, parameters: str) -> None:
    from bold.governance import projects
    from bold.security import encryption
    from bold.studies.runner import check_allowed, open_extract
    from bold.workspace import Workspace

    ws = Workspace.open(Path(ws_dir))
    study = _studies()[0][study_id]
    try:
        project = projects.get(ws, PROJECT)
        check_allowed(study, project)
        extract = open_extract(ws, project)
        t0 = time.perf_counter()
        study.compute(extract, study.resolve(json.loads(parameters)))
    except Exception as exc:  # report it and let the other studies run
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return
    seconds = time.perf_counter() - t0
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would include the parent's peak
    peak_gb = int(re.search(r"VmHWM:\s*(\d+)", Path("/proc/self/status").read_text())[1]) / 1024**2
    extract.con.disconnect()
    con = duckdb.connect()  # the baseline scans the same (encrypted) extract, decrypting as the study does
    encryption.attach(
        con, Path(ws_dir) / EXTRACT, "extract", projects.extract_key(Workspace(Path(ws_dir)), PROJECT), True
    )
    con.execute("use extract")
    datasets = sorted({e.split(".")[0] for e in (*study.needs, *study.optional)} & set(extract.agreed))
    t0 = time.perf_counter()
    for dataset in datasets:
        con.execute(f"select count(*), count(distinct person_id) from {dataset}").fetchall()
    baseline = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "baseline": baseline, "peak_gb": peak_gb, "datasets": datasets}))


def _run(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/studies"))
    parser.add_argument("--reuse", action="store_true", help="reuse the population and extract of an earlier run")
    parser.add_argument(
        "--links", choices=("truth", "splink"), default="truth", help="links from the ground truth or by Splink"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ws_dir = prepare(args.people, args.work, args.reuse, args.links)
    linkage = "PERFECT LINKAGE (true links)" if args.links == "truth" else "REAL LINKAGE (Splink, medium threshold)"
    print(f"\nProject extract '{PROJECT}' of {args.people:,} synthetic people, {linkage}")
    from bold.governance import projects
    from bold.security import encryption
    from bold.workspace import Workspace

    with duckdb.connect() as con:  # also warms the page cache
        key = projects.extract_key(Workspace(ws_dir), PROJECT)
        encryption.attach(con, ws_dir / EXTRACT, "extract", key, True)
        con.execute("use extract")
        tables = "select table_name from duckdb_tables() where database_name = 'extract' and table_name != 'about'"
        for (table,) in con.execute(tables).fetchall():
            rows, persons = con.execute(f"select count(*), count(distinct person_id) from {table}").fetchone()
            print(f"  {table:<15}{rows:>12,} rows{persons:>12,} people")

    print(f"\n{'study':<28}{'seconds':>9}{'baseline s':>12}{'ratio':>8}{'peak GB':>9}  baseline scans")
    found, broken = _studies()
    for module, error in broken.items():
        print(f"{'module ' + module:<28}  FAILED to load: {error}")
    failed, slow = list(broken), []
    truth = json.loads((args.work / f"synth-{args.people}" / "truth" / "summary.json").read_text())
    known = {"pilot_areas": ",".join(truth["pilot_local_authorities"]), "pilot_start": truth["pilot_start"]}
    agreed = {
        f"{d}.{f}" for d, fields in projects.get(Workspace(ws_dir), PROJECT).agreement.datasets.items() for f in fields
    }
    for study_id, study in found.items():
        if not set(study.needs) <= agreed:  # participant-outcomes: a participant list has its own agreement
            print(f"{study_id:<28}  not timed: needs {', '.join(sorted(set(study.needs) - agreed))}, not agreed")
            continue
        params = {k: known[k] for k in study.required if k in known}  # the synthetic pilot's
        r = _run("--child-study", study_id, str(ws_dir), json.dumps(params))
        if "error" in r:
            print(f"{study_id:<28}  FAILED: {r['error']}")
            failed.append(study_id)
            continue
        print(
            f"{study_id:<28}{r['seconds']:>9.2f}{r['baseline']:>12.2f}{r['seconds'] / r['baseline']:>8.1f}"
            f"{r['peak_gb']:>9.2f}  {', '.join(r['datasets'])}"
        )
        if r["seconds"] >= TARGET_SECONDS:
            slow.append(study_id)
    print("baseline: DuckDB alone, count(*) and count(distinct person_id) over each table the study reads")
    verdict = "met" if not slow else f"MISSED ({', '.join(slow)})"
    failures = f"; failed, so not timed: {', '.join(failed)}" if failed else ""
    print(f"target (< {TARGET_SECONDS} s per study on DuckDB, {linkage.split(' (')[0].lower()}): {verdict}{failures}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-study":
        _child_study(*sys.argv[2:5])
    else:
        main()
