"""The cells of one column across the tables of a study output, and the sums that tie them together.

A study output publishes the same count at several levels of detail (``overall``, ``by_region``,
``by_region_financial_year``...). Whoever reads it can subtract one level from another, so disclosure control
must see the tables together. The relations are found from the data, the way an attacker would find them: a
finer table's rows, grouped by a coarser table's breakdowns, that add up exactly to the coarser row are taken
to be a sum. Nothing is assumed from the study's code, so a column that does not add up (people counted in
two years) gives no relation, and a total the study forgot to document is still found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bold.errors import Invalid


class LinkedTablesError(Invalid):
    """The tables given cannot be read as linked tables (a table without dimensions listed, a column missing)."""


Label = tuple[str, int, str]  # (table, row position, column)


@dataclass(frozen=True)
class Relation:
    """``parent = sum(children)``: cell positions in ``LinkedTables.values``."""

    parent: int
    children: tuple[int, ...]

    @property
    def cells(self) -> tuple[int, ...]:
        return (self.parent, *self.children)


@dataclass(frozen=True)
class LinkedTables:
    """One column's cells across the tables of an output, and the exact linear relations among them."""

    column: str
    values: np.ndarray  # the true value of each cell, float
    labels: tuple[Label, ...]  # (table, row position, column) of each cell, in the order of ``values``
    relations: tuple[Relation, ...] = ()
    _index: dict[tuple[str, int], int] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.values)

    def index(self, table: str, row: int) -> int:
        """The cell position of ``table``'s row at position ``row``."""
        if not self._index:
            self._index.update({(t, r): i for i, (t, r, _) in enumerate(self.labels)})
        return self._index[(table, row)]

    def totals(self) -> np.ndarray:
        """True for each cell that is the parent of some relation (a margin or a grand total)."""
        mask = np.zeros(len(self.values), dtype=bool)
        for relation in self.relations:
            mask[relation.parent] = True
        return mask

    def mask(self, table: str) -> np.ndarray:
        """True for the cells of ``table``."""
        return np.array([t == table for t, _, _ in self.labels], dtype=bool)


_MISSING = ("<missing>",)  # a NaN/None group value: a group like any other, and equal to itself


def _key_part(value) -> object:
    try:
        if pd.isna(value):
            return _MISSING
    except (TypeError, ValueError):
        pass
    return value


def _adds_up(total: float, parts: float) -> bool:
    """Exact for counts (integers are exact in a float); a float sum only differs by rounding error."""
    return math.isclose(total, parts, rel_tol=1e-12, abs_tol=1e-9)


def find_relations(tables: dict[str, pd.DataFrame], dims: dict[str, list[str]], column: str) -> LinkedTables:
    """The cells of ``column`` in every table holding it, and each relation ``coarser row = sum(finer rows)``.

    ``dims`` names each table's breakdown columns (``[]`` for the overall table). For every pair of tables A, B
    where A's breakdowns are a proper subset of B's, B's rows are grouped by A's breakdowns; a group whose sum is
    A's row exactly is a relation. Rows whose value is missing take part in no relation."""
    names = [name for name, table in tables.items() if column in table.columns]
    for name in names:
        if name not in dims:
            raise LinkedTablesError(f"table {name!r} holds {column!r} but its breakdown columns are not given")
        absent = [d for d in dims[name] if d not in tables[name].columns]
        if absent:
            raise LinkedTablesError(f"table {name!r} has no column {', '.join(map(repr, absent))}")
    values, labels, offsets = [], [], {}
    for name in names:
        column_values = pd.to_numeric(tables[name][column], errors="coerce").to_numpy(dtype=float)
        offsets[name] = len(values)
        values.extend(column_values)
        labels.extend((name, row, column) for row in range(len(column_values)))
    values = np.asarray(values, dtype=float)
    relations = []
    for coarse in names:
        for fine in names:
            if not set(dims[coarse]) < set(dims[fine]):
                continue
            relations.extend(_pair(tables, dims[coarse], coarse, fine, offsets, values))
    return LinkedTables(column=column, values=values, labels=tuple(labels), relations=tuple(relations))


def _pair(tables, by: list[str], coarse: str, fine: str, offsets: dict[str, int], values: np.ndarray):
    """The relations between the rows of ``coarse`` and the groups of ``fine``'s rows by ``by``."""
    groups: dict[tuple, list[int]] = {}
    fine_rows = tables[fine][by].itertuples(index=False, name=None) if by else ((),) * len(tables[fine])
    for row, key in enumerate(fine_rows):
        cell = offsets[fine] + row
        if not np.isnan(values[cell]):
            groups.setdefault(tuple(_key_part(v) for v in key), []).append(cell)
    coarse_rows = tables[coarse][by].itertuples(index=False, name=None) if by else ((),) * len(tables[coarse])
    for row, key in enumerate(coarse_rows):
        parent = offsets[coarse] + row
        children = groups.get(tuple(_key_part(v) for v in key), [])
        if children and not np.isnan(values[parent]) and _adds_up(values[parent], float(values[children].sum())):
            yield Relation(parent, tuple(children))
