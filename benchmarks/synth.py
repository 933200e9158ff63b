"""Benchmark: time and peak memory of `bold synth` at 100k and 1M people.

Each size runs in its own process so its peak memory (max RSS) is its own. The baseline, measured
in the same run, is the usual way to make fake people: Faker row by row (name, date of birth, sex,
postcode and an NHS-style number, no events and no extracts), so the figures show what the
vectorised, chunked generator buys. Target (issue 2): 1M people in under 5 minutes and 4 GB.

    .venv/bin/python benchmarks/synth.py [--sizes 100000 1000000] [--baseline-people 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS_1M = 300
TARGET_PEAK_GB = 4.0


def _child_generate(people: int, out: str) -> None:
    from bold.synth.config import SynthConfig
    from bold.synth.generate import generate

    t0 = time.perf_counter()
    figures = generate(SynthConfig(people=people, seed=1), Path(out))
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_gb": peak_kb / 1024**2, "records": sum(figures["records"].values())}))


def _child_faker(people: int) -> None:
    from faker import Faker

    fake = Faker("en_GB")
    Faker.seed(1)
    t0 = time.perf_counter()
    rows = [
        (
            fake.first_name(),
            fake.last_name(),
            fake.date_of_birth(minimum_age=18, maximum_age=85),
            fake.random_element("MF"),
            fake.postcode(),
            fake.numerify("9#########"),
        )
        for _ in range(people)
    ]
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_gb": peak_kb / 1024**2, "records": len(rows)}))


def _run(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--baseline-people", type=int, default=100_000)
    args = parser.parse_args()

    print(f"{'run':<42}{'people':>11}{'seconds':>9}{'peak GB':>9}{'rows out':>12}{'rows/s':>11}")
    base = _run("--child-faker", str(args.baseline_people))
    base_rate = base["records"] / base["seconds"]
    print(
        f"{'baseline: Faker row by row (people only)':<42}{args.baseline_people:>11,}{base['seconds']:>9.1f}"
        f"{base['peak_gb']:>9.2f}{base['records']:>12,}{base_rate:>11,.0f}"
    )
    verdicts = []
    for people in args.sizes:
        out = tempfile.mkdtemp(prefix="bold-synth-bench-")
        try:
            r = _run("--child-generate", str(people), out)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        rate = r["records"] / r["seconds"]
        print(
            f"{'bold synth (people, events, 7 extracts)':<42}{people:>11,}{r['seconds']:>9.1f}"
            f"{r['peak_gb']:>9.2f}{r['records']:>12,}{rate:>11,.0f}   {rate / base_rate:.1f}x baseline rows/s"
        )
        if people == 1_000_000:
            ok = r["seconds"] < TARGET_SECONDS_1M and r["peak_gb"] < TARGET_PEAK_GB
            verdicts.append(f"1M target (<{TARGET_SECONDS_1M} s, <{TARGET_PEAK_GB} GB): {'met' if ok else 'MISSED'}")
    for v in verdicts:
        print(v)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-generate":
        _child_generate(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-faker":
        _child_faker(int(sys.argv[2]))
    else:
        main()
