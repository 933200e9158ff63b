"""Fellegi-Sunter on record-level Bloom filters with random bit flips (the hardened encoding, issue 15).

Each record carries a few filters, each over a combination of identifiers (forename with date of birth,
surname with date of birth, both names with the district, initials with date of birth and district), with
bits flipped at random (BLIP), so the same record never gives the same filter twice and no encoding can be
aligned by frequency. Nothing is ever equal, so every rule here is a band of Dice similarity,
``2|a & b| / (|a| + |b|)``: a comparison per filter in bands, blocking on any filter at or above a band,
the prior from pairs close on two filters at once, u by random sampling and m by EM in passes blocked on one
filter at a time, so each comparison is trained in a pass that does not block on it.

The filters share identifiers (date of birth sits in two, each name in two), which Fellegi-Sunter's independence
assumption ignores, so pairs that agree on one shared identifier collect its evidence twice and many non-matches
score above 0.5. Between two files that each list a person once (FEBRL4, ``bold link-files``) the standard PPRL
answer is one-to-one assignment (:func:`one_to_one`, as Anonlink's greedy solver does); a workspace, where a
source may hold a person many times, cannot use it.

Blocking by similarity compares every pair of records (a nested-loop join in DuckDB): enough for files of
tens of thousands of records such as FEBRL; a workspace of millions needs locality-sensitive hashing of
the filters, which is not built yet. This module is what the linkage-cost benchmark measures
(``benchmarks/pprl_attacks.py``); ``bold link`` does not use it yet.
"""

from __future__ import annotations

import logging

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator

# Every threshold is a share of the Dice two encodings of the same record are expected to have, which the
# flips lower (to about 0.8 at f = 0.05): the linker knows the flip rate and sees how many bits are set.
BANDS = (0.95, 0.85, 0.75, 0.65, 0.55, 0.45)  # Dice bands per filter
BLOCK_AT = 0.75  # a pair is scored if any filter reaches this
PRIOR_AT = 0.85  # pairs this close on two filters at once are taken as (nearly) all true matches
TRAIN_AT = 0.8


def identical_dice(mean_set: float, bits: int, flip: float) -> float:
    """Expected Dice of two independent flippings of one filter, from the mean number of bits set after
    flipping: a filter with ``c`` bits set shows ``c(1 - 2f) + bits f``, and two flippings share
    ``c(1 - f)^2 + (bits - c) f^2`` of them."""
    c = max((mean_set - bits * flip) / (1 - 2 * flip), 1.0)
    return (c * (1 - flip) ** 2 + (bits - c) * flip**2) / (c * (1 - flip) + (bits - c) * flip)


def scales(con: duckdb.DuckDBPyConnection, tables: list[str], names: list[str], bits: int, flip: float) -> dict:
    """Each filter's expected Dice for the same record, over ``tables``."""
    union = " union all ".join(f"select {', '.join(f'{n}_n' for n in names)} from {t}" for t in tables)
    means = con.execute(f"select {', '.join(f'avg({n}_n)' for n in names)} from ({union})").fetchone()
    return {n: identical_dice(m or 0.0, bits, flip) for n, m in zip(names, means, strict=True)}


def write_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    ids: list[str],
    sources: list[str],
    filters: dict[str, list[np.ndarray | None]],
) -> None:
    """A linkage input of filters: one BIT column per filter and its count of set bits (``<name>_n``)."""
    columns: dict[str, pa.Array] = {
        "unique_id": pa.array(ids, pa.string()),
        "source_dataset": pa.array(sources, pa.string()),
    }
    for name, rows in filters.items():
        columns[name] = pa.array([None if r is None else "".join("1" if x else "0" for x in r) for r in rows])
        columns[f"{name}_n"] = pa.array([None if r is None else int(r.sum()) for r in rows], pa.int32())
    con.register("filters_arrow", pa.table(columns))
    casts = ", ".join(f"{n}::BIT as {n}, {n}_n" for n in filters)
    con.execute(f"create or replace table {table} as select unique_id, source_dataset, {casts} from filters_arrow")
    con.unregister("filters_arrow")


def encode_input(
    con: duckdb.DuckDBPyConnection,
    table: str,
    secret: bytes,
    filters: dict[str, dict[str, int]],
    out: str,
    flip: float,
    bits: int,
) -> None:
    """Encode a plaintext linkage input (``bold.linkage.features`` columns) into record-level filters, as
    the custodians would before sending it: for benchmarks on files with no contract, such as FEBRL."""
    from bold.linkage.encode import RecordEncoder

    data = con.execute(f"select * from {table}").fetch_arrow_table()
    values = {c: data[c].to_pylist() for c in data.column_names}
    if "date_of_birth" in values:
        values["date_of_birth"] = [v.strftime("%Y%m%d") if v else None for v in values["date_of_birth"]]
    missing = [None] * data.num_rows
    encoded = {}
    for name, weights in filters.items():
        enc = RecordEncoder(secret, weights, bits=bits, flip=flip, name=name)
        rows = [{f: values.get(f, missing)[i] for f in weights} for i in range(data.num_rows)]
        encoded[name] = [enc.encode_bits(r) for r in rows]
    write_table(con, out, values["unique_id"], values["source_dataset"], encoded)


def _dice(a: str, b: str, count_a: str, count_b: str) -> str:
    return f"(2.0 * bit_count({a} & {b}) / ({count_a} + {count_b}))"


def dice(name: str) -> str:
    """Dice similarity of a filter in a comparison (Splink's ``_l``/``_r`` columns)."""
    return _dice(f"{name}_l", f"{name}_r", f"{name}_n_l", f"{name}_n_r")


def _on_pairs(name: str) -> str:
    """The same in a blocking rule (Splink's ``l.``/``r.`` tables)."""
    return _dice(f"l.{name}", f"r.{name}", f"l.{name}_n", f"r.{name}_n")


def settings(scale: dict[str, float], link_type: str = "link_only") -> SettingsCreator:
    """``scale``: each filter's expected Dice for the same record (:func:`scales`)."""
    comparisons = []
    for n, s in scale.items():
        levels = [cll.NullLevel(n)]
        levels += [cll.CustomLevel(f"{dice(n)} >= {t * s:.4f}", f"Dice >= {t:.0%} of same-record") for t in BANDS]
        comparisons.append(cl.CustomComparison(output_column_name=n, comparison_levels=[*levels, cll.ElseLevel()]))
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[f"{_on_pairs(n)} >= {BLOCK_AT * s:.4f}" for n, s in scale.items()],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def one_to_one(pred: pd.DataFrame) -> pd.DataFrame:
    """The pairs of a link between two files that each list a person once, assigned greedily: the best-scored pair
    first, then the best of those whose records are both still free, and so on (ties: by record ids, so the result
    is the same every run). ``pred``: Splink's predictions (``unique_id_l``, ``unique_id_r``,
    ``match_probability``)."""
    ranked = pred.sort_values(["match_probability", "unique_id_l", "unique_id_r"], ascending=[False, True, True])
    left, right, keep = set(), set(), []
    for i, a, b in zip(ranked.index, ranked.unique_id_l, ranked.unique_id_r, strict=True):
        if a not in left and b not in right:
            left.add(a)
            right.add(b)
            keep.append(i)
    return pred.loc[keep]


def train(
    con: duckdb.DuckDBPyConnection,
    tables: list[str],
    names: list[str],
    bits: int,
    flip: float,
    link_type: str = "link_only",
) -> Linker:
    """Unsupervised training, as :func:`bold.linkage.model.train` does it for plaintext (prior, u, EM)."""
    if len(names) < 2:  # EM blocked on the only filter would have nothing left to train
        raise ValueError("record-level linkage needs at least two filters")
    scale = scales(con, tables, names, bits, flip)
    db = DuckDBAPI(con)
    frames = [db.register(t) for t in tables]
    linker = Linker(frames if len(frames) > 1 else frames[0], settings(scale, link_type), log_level=logging.ERROR)
    close = " and ".join(f"{_on_pairs(n)} >= {PRIOR_AT * scale[n]:.4f}" for n in names[:2])
    linker.training.estimate_probability_two_random_records_match([close], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for n in names[:2]:  # each pass blocks on one filter and trains the others
        linker.training.estimate_parameters_using_expectation_maximisation(
            f"{_on_pairs(n)} >= {TRAIN_AT * scale[n]:.4f}", fix_u_probabilities=True
        )
    return linker
