"""Study-shaped tables for the disclosure tests: a table of counts and every margin of it, as separate tables."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd


def with_margins(counts: np.ndarray, names: list[str] | None = None) -> tuple[dict, dict]:
    """``counts`` (one axis per breakdown) as the tables a study publishes: the full table, every coarser
    breakdown of it and ``overall``, each a DataFrame with the breakdown columns and ``n``."""
    names = names or [chr(ord("a") + i) for i in range(counts.ndim)]
    index = list(itertools.product(*[range(size) for size in counts.shape]))
    full = pd.DataFrame(index, columns=names)
    full["n"] = counts.ravel()
    tables, dims = {}, {}
    for k in range(len(names) + 1):
        for subset in itertools.combinations(names, k):
            name = "by_" + "_".join(subset) if subset else "overall"
            if subset:
                tables[name] = full.groupby(list(subset), as_index=False)["n"].sum()
            else:
                tables[name] = pd.DataFrame({"n": [int(full["n"].sum())]})
            dims[name] = list(subset)
    return tables, dims


def rounded(values: np.ndarray, base: int | None) -> np.ndarray:
    """Half-up rounding to ``base``, as a profile publishes counts."""
    return values.copy() if not base else np.floor(values / base + 0.5) * base
