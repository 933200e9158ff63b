"""Benchmark: rows per second and peak memory ingesting 1M synthetic hospital rows end to end.

The baseline, measured in the same run on the same file, is DuckDB alone loading the CSV as text
into a database file (no validation, no normalisation, no encryption, no opt-outs): the floor that
ingest's extra work sits on. Each run is its own process so its peak memory (max RSS) is its own.
Target (issue 3): at least 100,000 rows per second end to end.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--work bench-out/ingest]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

TARGET_ROWS_PER_SECOND = 100_000
HOSPITAL_ROWS_PER_PERSON = 2.85  # measured on the synthetic population


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _child_baseline(csv: str, db: str) -> None:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(db)
    con.execute(f"create table raw as select * from read_csv('{csv}', header = true, all_varchar = true)")
    rows = con.execute("select count(*) from raw").fetchone()[0]
    con.close()
    print(json.dumps({"seconds": time.perf_counter() - t0, "rows": rows, "peak_gb": _peak_gb()}))


def _child_ingest(csv: str, workspace: str, optouts: str) -> None:
    from bold.ingest.optout import add
    from bold.ingest.pipeline import ingest
    from bold.workspace import Workspace

    ws = Workspace.init(Path(workspace))
    add(ws, Path(optouts), by="cara")
    t0 = time.perf_counter()
    report = ingest(ws, "hospital", Path(csv), by="cara")
    seconds = time.perf_counter() - t0
    assert report.balanced
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": report.rows_read,
                "accepted": report.accepted,
                "quarantined": report.quarantined,
                "opted_out": report.opted_out,
                "peak_gb": _peak_gb(),
            }
        )
    )


def _run(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare(work: Path, rows: int) -> tuple[Path, Path]:
    """A hospital extract of about ``rows`` rows, and an opt-out file of 1,000 of its NHS numbers."""
    import duckdb

    from bold.synth.config import SynthConfig
    from bold.synth.generate import generate

    synth = work / "synth"
    csv = synth / "hospital.csv"
    if not csv.exists():
        people = int(rows / HOSPITAL_ROWS_PER_PERSON) + 1
        print(f"generating a synthetic population of {people:,} people for the hospital extract ...", flush=True)
        generate(SynthConfig(people=people, seed=3), synth, formats=("csv",))
    optouts = work / "optouts.csv"
    duckdb.sql(f"copy (select nhs_number from '{synth}/truth/people.parquet' limit 1000) to '{optouts}' (header)")
    return csv, optouts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/ingest"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    csv, optouts = _prepare(args.work, args.rows)
    for stale in ("baseline.duckdb", "workspace"):
        path = args.work / stale
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    base = _run("--child-baseline", str(csv), str(args.work / "baseline.duckdb"))
    ours = _run("--child-ingest", str(csv), str(args.work / "workspace"), str(optouts))
    base_rate, our_rate = base["rows"] / base["seconds"], ours["rows"] / ours["seconds"]
    print(f"{'run':<58}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'peak GB':>9}")
    print(
        f"{'baseline: DuckDB read_csv into a table (text, no checks)':<58}{base['rows']:>11,}"
        f"{base['seconds']:>9.1f}{base_rate:>11,.0f}{base['peak_gb']:>9.2f}"
    )
    print(
        f"{'bold ingest hospital (validate, quarantine, opt-outs, zones)':<58}{ours['rows']:>11,}"
        f"{ours['seconds']:>9.1f}{our_rate:>11,.0f}{ours['peak_gb']:>9.2f}"
    )
    print(
        f"accepted {ours['accepted']:,}, quarantined {ours['quarantined']:,}, opted out {ours['opted_out']:,}; "
        f"ingest runs at {our_rate / base_rate:.2f}x the baseline's rate"
    )
    verdict = "met" if our_rate >= TARGET_ROWS_PER_SECOND else "MISSED"
    print(f"target (>= {TARGET_ROWS_PER_SECOND:,} rows/s end to end): {verdict}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-baseline":
        _child_baseline(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-ingest":
        _child_ingest(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
