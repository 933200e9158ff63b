"""Benchmark: what sealing the governance state costs, on a store with 100,000 opt-out entries.

Sealing is incremental (``bold.store.state``): a commit costs the rows it changed, not the size of the
tables; ``bold audit verify`` recomputes every table in full. Measures: adding an opt-out file of N NHS
numbers (N rows sealed in one commit), a small action afterwards (one row), and verify.

    .venv/bin/python benchmarks/audit_state.py [--entries 100000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bold.governance.people import add_person
from bold.ingest import optout
from bold.store import audit
from bold.workspace import Workspace


def nhs_numbers(count: int, start: int = 400_000_000) -> list[str]:
    found, base = [], start
    while len(found) < count:
        digits = [int(c) for c in str(base)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            found.append(f"{base}{0 if check == 11 else check}")
        base += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        add_person(ws, "grace", ["governance"], "a-long-governance-password", by="adam")
        path = Path(tmp) / "optout.csv"
        path.write_text("nhs_number\n" + "\n".join(nhs_numbers(args.entries)) + "\n")
        t = time.perf_counter()
        optout.add(ws, path, by="cara")
        print(f"opt-out file of {args.entries:,} entries added and sealed: {time.perf_counter() - t:.2f} s")
        small = []
        for i in range(10):
            t = time.perf_counter()
            audit.record(ws, "output viewed", f"p{i}", by="oscar")
            small.append(time.perf_counter() - t)
        print(f"a small action afterwards (commit and seal): median {statistics.median(small) * 1000:.1f} ms")
        t = time.perf_counter()
        result = audit.verify(ws)
        print(f"audit verify (chain and every table in full): {time.perf_counter() - t:.2f} s, ok={result.ok}")


if __name__ == "__main__":
    main()
