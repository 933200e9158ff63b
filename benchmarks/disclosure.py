"""Benchmark: secondary suppression of a 10 x 10 x 5 table with all its margins, checked by the LP attacker.

The table is random counts (about one cell in five between 1 and 9) published with every 2-D and 1-D margin
and the grand total, as eight tables of one output. Primary suppression at 10 (cells under 10); secondary
suppression (``bold.disclosure.suppression.secondary``) chooses complements so the attacker cannot narrow any
primary cell to fewer than 10; the attacker (``bold.disclosure.attack``) then checks every primary cell, and
computes the exact interval of every suppressed cell (the evidence kept). Target (issue 12): < 2 s for
choosing and checking.

    .venv/bin/python benchmarks/disclosure.py [--seed 1] [--rounding 5]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd

from bold.disclosure import attack, suppression
from bold.disclosure.linked import find_relations

TARGET_SECONDS = 2.0
SHAPE = (10, 10, 5)
THRESHOLD = 10


def tables_with_margins(seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(10, 200, size=SHAPE)
    small = rng.random(SHAPE) < 0.2
    counts[small] = rng.integers(1, 10, size=int(small.sum()))
    names = ["region", "financial_year", "age_band"]
    full = pd.DataFrame(list(itertools.product(*[range(s) for s in SHAPE])), columns=names)
    full["n"] = counts.ravel()
    tables, dims = {"overall": pd.DataFrame({"n": [int(counts.sum())]})}, {"overall": []}
    for k in (1, 2, 3):
        for by in itertools.combinations(names, k):
            name = "by_" + "_".join(by)
            tables[name] = full.groupby(list(by), as_index=False)["n"].sum()
            dims[name] = list(by)
    return tables, dims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounding", type=int, default=None, help="publish counts rounded to this base")
    args = parser.parse_args()
    tables, dims = tables_with_margins(args.seed)
    base = args.rounding

    t = time.perf_counter()
    linked = find_relations(tables, dims, "n")
    found = time.perf_counter() - t
    print(f"relations found: {len(linked.relations)} among {len(linked)} cells in {len(tables)} tables: {found:.2f} s")

    primary = linked.values < THRESHOLD
    t = time.perf_counter()
    complements = suppression.secondary(linked, primary, THRESHOLD, base)
    chosen = time.perf_counter() - t
    print(
        f"secondary suppression: {int(primary.sum())} primary, {int(complements.sum())} secondary cells: {chosen:.2f} s"
    )

    suppressed = primary | complements
    published = np.where(suppressed, np.nan, linked.values if not base else np.floor(linked.values / base + 0.5) * base)
    t = time.perf_counter()
    safe = attack.protected(linked, primary, suppressed, published, THRESHOLD, base)
    checked = time.perf_counter() - t
    print(
        f"attacker check: {int(safe[primary].sum())} of {int(primary.sum())} primary cells protected: {checked:.2f} s"
    )
    total = chosen + checked
    verdict = "met" if total < TARGET_SECONDS else "MISSED"
    print(f"choose and check: {total:.2f} s (target < {TARGET_SECONDS:.0f} s: {verdict})")

    t = time.perf_counter()
    low, high = attack.intervals(linked, suppressed, published, base)
    evidence = time.perf_counter() - t
    narrowest = float(np.min((high - low)[primary])) if primary.any() else float("nan")
    print(
        f"exact interval of every suppressed cell (the evidence): {evidence:.2f} s, "
        f"narrowest primary interval {narrowest:g} (required {THRESHOLD})"
    )


if __name__ == "__main__":
    main()
