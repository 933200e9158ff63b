"""Secondary suppression: the complementary cells that stop a suppressed cell being recovered by subtraction.

Why a heuristic and not the optimum: the fewest complements such that the attacker's linear programme leaves
every primary cell an interval at least the required width is a bilevel problem. Its exact MILP (Fischetti and
Salazar's formulation) needs, for every primary cell and each direction, a copy of the attacker's dual: for the
benchmark's 10 x 10 x 5 table with its margins about a hundred primary cells times two times some seven
hundred cells, over a hundred thousand extra variables, solved by branch and bound with cutting planes. That is
minutes, not the two seconds a checker waits for, and the result is only optimal for one attacker model. The
heuristic below is what tau-ARGUS's "hypercube" and SDC practice do in spirit: close every relation that a single
suppressed cell leaves open, then let the attacker (``attack.py``) say which cells it can still narrow and add
complements there, until it narrows none. It may suppress a few more cells than needed; it never leaves a
primary cell narrower than required, because it stops only when the attacker says so.
"""

from __future__ import annotations

import math

import numpy as np

from bold.disclosure import attack
from bold.disclosure.linked import LinkedTables


def _rounded(values: np.ndarray, base: int | None) -> np.ndarray:
    """What would be published for each cell: the value, rounded half up to ``base``."""
    if not base or base <= 1:
        return values.copy()
    return np.floor(values / base + 0.5) * base


def secondary(
    linked: LinkedTables,
    primary: np.ndarray,
    required_width: np.ndarray | float,
    rounding_base: int | None,
) -> np.ndarray:
    """The complementary cells to suppress besides ``primary`` (the primary cells are not in the result).

    Every primary cell is left an attacker interval at least ``required_width`` wide (per cell or one figure;
    the profile's minimum people per cell). Deterministic: the same tables give the same cells. A cell the
    relations pin whatever is hidden (only a zero can be) is left as it is: ``attack.protected`` says so."""
    primary = np.asarray(primary, dtype=bool)
    values = np.nan_to_num(linked.values)
    width = np.broadcast_to(np.asarray(required_width, dtype=float), primary.shape)
    totals = linked.totals()
    membership: list[list[int]] = [[] for _ in range(len(values))]
    for r, relation in enumerate(linked.relations):
        for c in relation.cells:
            membership[c].append(r)
    suppressed = primary.copy()

    def preference(cell: int, shortfall: float = 0.0) -> tuple:
        # non-zero first (a zero gives the attacker a bound of zero), then one large enough to close the gap,
        # then cells that are not totals (a total opens further relations), then the smallest, then position
        value = values[cell]
        return (value == 0, value < shortfall, bool(totals[cell]), value, cell)

    def close_relations() -> None:
        """Until no relation changes: one with a single suppressed cell gets a second; one whose suppressed cells
        add up to less than a primary cell's width (3 and 4 beside a published total: each in [0, 7]) gets
        another. Both are necessary for the attacker's interval to be wide, not sufficient: the attacker checks."""
        changed = True
        while changed:
            changed = False
            for relation in linked.relations:
                cells = relation.cells
                hidden = [c for c in cells if suppressed[c]]
                if not hidden or len(hidden) == len(cells):
                    continue
                hidden_sum = float(values[hidden].sum())
                shortfall = max((width[c] - hidden_sum for c in hidden if primary[c]), default=0.0)
                if len(hidden) == 1 or shortfall > 0:
                    open_cells = (c for c in cells if not suppressed[c])
                    suppressed[min(open_cells, key=lambda c, s=shortfall: preference(c, s))] = True
                    changed = True

    close_relations()
    published = _rounded(values, rounding_base)
    # Suppressing a cell only takes away something the attacker knew, so a protected cell stays protected:
    # each round asks the attacker again only about the cells it narrowed last time.
    unsure = primary.copy()
    while unsure.any():
        low, high = attack.intervals(linked, suppressed, published, rounding_base, cells=unsure, enough=width)
        narrowed = [c for c in np.flatnonzero(unsure) if high[c] - low[c] < width[c] - 1e-7]
        unsure[:] = False
        unsure[narrowed] = True
        added = False
        for cell in narrowed:
            shortfall = width[cell] - (high[cell] - low[cell])
            choice = _complement(cell, shortfall, suppressed, membership, linked, preference)
            if choice is not None and not suppressed[choice]:
                suppressed[choice] = True
                added = True
        if not added:
            break  # nothing left to suppress near the narrowed cells: hiding more cannot widen them
        close_relations()
    return suppressed & ~primary


def _complement(cell, shortfall, suppressed, membership, linked, preference) -> int | None:
    """The best unsuppressed cell sharing a relation with ``cell``, else with the suppressed cells around it."""
    seen_relations, frontier, seen_cells = set(), [cell], {cell}
    while frontier:
        candidates = set()
        next_frontier = []
        for c in frontier:
            for r in membership[c]:
                if r in seen_relations:
                    continue
                seen_relations.add(r)
                for other in linked.relations[r].cells:
                    if not suppressed[other]:
                        candidates.add(other)
                    elif other not in seen_cells:
                        seen_cells.add(other)
                        next_frontier.append(other)
        if candidates:
            return min(candidates, key=lambda c: preference(c, shortfall if math.isfinite(shortfall) else 0.0))
        frontier = next_frontier
    return None
