"""What BOLD knows about the people behind one published number: the basis of every rule.

A study's summaries keep, per group and person, each person's share of every measure
(``bold.studies.language.Evidence``). A published cell is matched to the summary it came from by its group
values and column, and the match is accepted only when the people's shares add up to the published value
exactly: evidence that does not reproduce the number is no evidence. A cell with no accepted evidence is
judged on its value alone and marked for the output checkers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bold.studies.language import PERSON, Evidence


@dataclass(frozen=True)
class CellEvidence:
    value: float  # the number as the study computed it (a count, a sum, a mean...)
    people: int  # distinct people behind it (counted from person keys, never rows)
    contributions: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # each person's contribution to the value (one entry per person; a count of people has ones,
    # a count of events each person's number of events, a sum each person's total); empty when unknown
    members: tuple[str, ...] = ()  # the people (project pseudonyms) with a non-zero contribution


def _key(values) -> tuple:
    return tuple(None if (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA) else v for v in values)


def for_column(table: pd.DataFrame, column: str, evidence: list[Evidence]) -> list[CellEvidence | None]:
    """Evidence for each row of one additive column of a table, or ``None`` for every row when no summary
    reproduces the column exactly."""
    values = pd.to_numeric(table[column], errors="coerce")
    for summary in reversed(evidence):  # the latest summary first: tables are usually made just after theirs
        by = list(summary.by)
        if column not in summary.frame.columns or not set(by) <= set(map(str, table.columns)):
            continue
        frame = summary.frame[[*by, PERSON, column]]
        frame = frame[pd.to_numeric(frame[column], errors="coerce").fillna(0) != 0]
        if by:
            groups = {_key(k if isinstance(k, tuple) else (k,)): g for k, g in frame.groupby(by, dropna=False)}
        else:
            groups = {(): frame}
        cells = []
        for position in range(len(table)):
            key = _key(table.iloc[position][by]) if by else ()
            rows = groups.get(key)
            total = 0.0 if rows is None else float(pd.to_numeric(rows[column]).sum())
            value = values.iloc[position]
            if pd.isna(value) or not np.isclose(total, float(value), rtol=0, atol=1e-6 * max(1.0, abs(float(value)))):
                cells = None
                break
            if rows is None:
                cells.append(CellEvidence(float(value), 0))
                continue
            per_person = rows.groupby(PERSON)[column].sum()
            cells.append(
                CellEvidence(
                    float(value),
                    int((per_person != 0).sum()),
                    per_person.to_numpy(dtype=float),
                    tuple(per_person.index[per_person != 0]),
                )
            )
        if cells is not None:
            return cells
    return [None] * len(table)
