"""The attacker: how far can what was published narrow each suppressed cell?

Kept apart from ``suppression.py`` (they share only ``LinkedTables``) so that the check does not inherit the
mistakes of the thing it checks; a brute-force enumeration checks this module in turn on tiny tables.

The attacker model:

- The attacker knows every published cell. Without rounding a published cell is its true value. With rounding
  to base ``b`` (half up), a published ``v`` says the true value is an integer in
  ``[v - floor(b/2), v + ceil(b/2) - 1]`` (base 5: ``v - 2 .. v + 2``).
- The attacker knows every relation ``parent = sum(children)`` (``linked.find_relations``: what adds up in the
  published tables is taken to add up in the true ones) and that the values are non-negative. A suppressed cell
  is otherwise unknown: no upper bound, no outside knowledge of anyone in it.
- For each suppressed cell the attacker solves two linear programmes (HiGHS, ``scipy.optimize.linprog``): the
  smallest and the largest value consistent with all of that. Counts are integers, so the bounds are rounded
  inwards. The linear relaxation is exact for a 2-D table with its margins (a network matrix); for three or more
  breakdowns an attacker solving the integer programme could in rare cases narrow a cell by one more step.

The evidence kept for a cell is its interval ``[low, high]``; it is protected when ``high - low`` is at least
the width the profile asks (its minimum people per cell).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from bold.disclosure.linked import LinkedTables
from bold.errors import Invalid

_EPS = 1e-7


class AttackError(Invalid):
    """The published values cannot all be true at once (they contradict a relation)."""


def published_bounds(published_values: np.ndarray, rounding_base: int | None) -> tuple[np.ndarray, np.ndarray]:
    """What each published value tells the attacker: the true value lies in ``[low, high]``."""
    values = np.asarray(published_values, dtype=float)
    if not rounding_base or rounding_base <= 1:
        return values.copy(), values.copy()
    low = np.maximum(values - math.floor(rounding_base / 2), 0.0)
    return low, values + math.ceil(rounding_base / 2) - 1


def intervals(
    linked: LinkedTables,
    suppressed: np.ndarray,
    published_values: np.ndarray,
    rounding_base: int | None,
    *,
    cells: np.ndarray | None = None,
    integers: bool = True,
    enough: np.ndarray | float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest value the attacker can give each cell (``high`` is ``inf`` when unbounded).

    ``published_values`` holds what was published for each unsuppressed cell (entries of suppressed cells are
    ignored). ``cells`` (a boolean mask) limits the linear programmes to those suppressed cells; the other
    suppressed cells get NaN. Unsuppressed cells get the interval their published value gives.

    ``enough`` (a width, per cell or one figure) is for checking rather than evidence: a cell is left as soon
    as solutions already found show it takes values at least that far apart, and its ``[low, high]`` is then
    only an interval inside the attacker's. Every cell narrower than ``enough`` gets its exact interval."""
    suppressed = np.asarray(suppressed, dtype=bool)
    count = len(linked.values)
    published = np.where(suppressed, 0.0, np.nan_to_num(np.asarray(published_values, dtype=float)))
    known_low, known_high = published_bounds(published, rounding_base)
    var_low = np.where(suppressed, 0.0, known_low)
    var_high = np.where(suppressed, np.inf, known_high)
    fixed = var_low == var_high
    low, high = var_low.copy(), var_high.copy()
    targets = suppressed if cells is None else suppressed & np.asarray(cells, dtype=bool)
    low[suppressed & ~targets] = np.nan
    high[suppressed & ~targets] = np.nan
    wide = None if enough is None else np.broadcast_to(np.asarray(enough, dtype=float), (count,))

    # Union the free cells sharing a relation: each target's programme needs only its own component.
    parent_of = list(range(count))

    def root(i: int) -> int:
        while parent_of[i] != i:
            parent_of[i] = parent_of[parent_of[i]]
            i = parent_of[i]
        return i

    for relation in linked.relations:
        free = [c for c in relation.cells if not fixed[c]]
        for c in free[1:]:
            parent_of[root(c)] = root(free[0])
    for relation in linked.relations:
        if all(fixed[c] for c in relation.cells):
            total = sum(var_low[c] for c in relation.children)
            if not math.isclose(var_low[relation.parent], total, abs_tol=1e-6):
                raise AttackError(f"published values contradict the relation at cell {linked.labels[relation.parent]}")

    # Every solution found is a point the attacker cannot rule out: the values it gives each cell are inside
    # that cell's interval, so a cell at its lower bound in any solution needs no programme to minimise it.
    seen_low = np.full(count, np.inf)
    seen_high = np.full(count, -np.inf)
    components: dict[int, _Programme] = {}
    for target in np.flatnonzero(targets):
        component = root(int(target))
        if component not in components:
            components[component] = _Programme(linked, component, root, fixed, var_low, var_high)
        programme = components[component]
        if not programme.variables:  # in no relation: the attacker knows only that it is non-negative
            low[target], high[target] = 0.0, np.inf
            continue
        label = linked.labels[target]

        def spans(cell: int) -> bool:
            return wide is not None and seen_high[cell] - seen_low[cell] >= wide[cell] - _EPS

        if spans(target):
            low[target], high[target] = seen_low[target], seen_high[target]
            continue
        high[target] = programme.extreme(int(target), maximise=True, label=label, low=seen_low, high=seen_high)
        if spans(target) or (np.isinf(high[target]) and wide is not None and np.isfinite(seen_low[target])):
            low[target] = seen_low[target]
            continue
        if seen_low[target] <= var_low[target] + _EPS:
            low[target] = var_low[target]
        else:
            low[target] = programme.extreme(int(target), maximise=False, label=label, low=seen_low, high=seen_high)
    if integers:
        finite = np.isfinite(low)
        low[finite] = np.ceil(low[finite] - _EPS)
        finite = np.isfinite(high)
        high[finite] = np.floor(high[finite] + _EPS)
    return low, high


class _Programme:
    """The equality constraints and bounds of one component's free cells."""

    def __init__(self, linked, component, root, fixed, var_low, var_high):
        rows = [
            relation
            for relation in linked.relations
            if any(not fixed[c] and root(c) == component for c in relation.cells)
        ]
        self.variables = sorted({c for relation in rows for c in relation.cells if not fixed[c]})
        self.position = {c: i for i, c in enumerate(self.variables)}
        data, row_index, col_index, b_eq = [], [], [], np.zeros(len(rows))
        for r, relation in enumerate(rows):
            for c, sign in [(relation.parent, 1.0), *((child, -1.0) for child in relation.children)]:
                if fixed[c]:
                    b_eq[r] -= sign * var_low[c]
                else:
                    data.append(sign)
                    row_index.append(r)
                    col_index.append(self.position[c])
        self.a_eq = sparse.csr_matrix((data, (row_index, col_index)), shape=(len(rows), len(self.variables)))
        self.b_eq = b_eq
        self.bounds = np.array([(var_low[c], var_high[c]) for c in self.variables], dtype=float)
        self.cells = np.asarray(self.variables, dtype=int)

    def extreme(self, cell: int, *, maximise: bool, label, low: np.ndarray, high: np.ndarray) -> float:
        """The largest (or smallest) value of ``cell``; the solution found widens ``low``/``high`` of every cell."""
        objective = np.zeros(len(self.variables))
        objective[self.position[cell]] = -1.0 if maximise else 1.0
        result = linprog(objective, A_eq=self.a_eq, b_eq=self.b_eq, bounds=self.bounds, method="highs")
        if result.status == 3 and maximise:
            return np.inf
        if result.status == 2:
            raise AttackError(f"published values contradict the relations around cell {label}")
        if result.status != 0:
            raise AttackError(f"the attacker's linear programme for cell {label} failed: {result.message}")
        np.minimum.at(low, self.cells, result.x)
        np.maximum.at(high, self.cells, result.x)
        return float(-result.fun if maximise else result.fun)


def protected(
    linked: LinkedTables,
    primary: np.ndarray,
    suppressed: np.ndarray,
    published_values: np.ndarray,
    required_width: np.ndarray | float,
    rounding_base: int | None,
) -> np.ndarray:
    """True for each primary cell the attacker cannot narrow to an interval narrower than ``required_width``.

    A primary cell that was not suppressed is not protected; cells that are not primary are False."""
    primary = np.asarray(primary, dtype=bool)
    suppressed = np.asarray(suppressed, dtype=bool)
    width = np.broadcast_to(np.asarray(required_width, dtype=float), primary.shape)
    low, high = intervals(linked, suppressed, published_values, rounding_base, cells=primary, enough=width)
    with np.errstate(invalid="ignore"):
        wide = (high - low) >= width - _EPS
    return primary & suppressed & np.nan_to_num(wide, nan=0.0).astype(bool)
