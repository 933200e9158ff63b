import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold.disclosure import attack
from bold.disclosure.linked import find_relations

from .cubes import rounded, with_margins


def published(linked, suppressed, base=None):
    return np.where(suppressed, np.nan, rounded(linked.values, base))


def test_primary_suppression_alone_is_undone_by_subtraction():
    tables, dims = with_margins(np.array([[3, 12, 20], [15, 14, 30]]))
    linked = find_relations(tables, dims, "n")
    suppressed = linked.values == 3
    low, high = attack.intervals(linked, suppressed, published(linked, suppressed), None)
    cell = linked.index("by_a_b", 0)
    assert (low[cell], high[cell]) == (3, 3)
    assert not attack.protected(linked, suppressed, suppressed, published(linked, suppressed), 10, None).any()
    # published cells are known exactly
    assert low[linked.index("by_a_b", 1)] == high[linked.index("by_a_b", 1)] == 12


def test_rounding_leaves_the_attacker_an_interval_of_the_rounding_slack():
    """Row 3, 20 (total 23) published rounded to base 5 as ?, 20, 25: the 3 lies in [25-2-22, 25+2-18]."""
    tables, dims = with_margins(np.array([3, 20]))
    linked = find_relations(tables, dims, "n")
    suppressed = linked.values == 3
    low, high = attack.intervals(linked, suppressed, published(linked, suppressed, 5), 5)
    cell = linked.index("by_a", 0)
    assert (low[cell], high[cell]) == (1, 9)
    assert (low[linked.index("overall", 0)], high[linked.index("overall", 0)]) == (23, 27)


def test_what_a_published_rounded_value_tells_the_attacker():
    low, high = attack.published_bounds(np.array([0, 5, 10, 25]), 5)
    assert low.tolist() == [0, 3, 8, 23] and high.tolist() == [2, 7, 12, 27]
    low, high = attack.published_bounds(np.array([0, 10]), 10)  # half up: 5 rounds to 10, 14 to 10
    assert low.tolist() == [0, 5] and high.tolist() == [4, 14]
    low, high = attack.published_bounds(np.array([4, 7]), None)
    assert low.tolist() == high.tolist() == [4, 7]


def test_a_cell_in_no_relation_is_only_known_to_be_non_negative():
    tables, dims = with_margins(np.array([3, 20]))
    del tables["overall"], dims["overall"]
    linked = find_relations(tables, dims, "n")
    suppressed = linked.values == 3
    low, high = attack.intervals(linked, suppressed, published(linked, suppressed), None)
    assert (low[0], high[0]) == (0, np.inf)


def test_published_values_that_contradict_a_relation_are_refused():
    tables, dims = with_margins(np.array([[3, 12], [15, 14]]))
    linked = find_relations(tables, dims, "n")
    suppressed = linked.values == 3
    lying = published(linked, suppressed)
    lying[linked.index("by_a_b", 1)] = 40
    with pytest.raises(attack.AttackError, match="contradict"):
        attack.intervals(linked, suppressed, lying, None)


def brute_force(counts, suppressed, published_values, base, cap):
    """Every integer 2 x 2 table with each interior cell in 0..cap consistent with what was published."""
    candidates = np.indices((cap + 1,) * 4).reshape(4, -1).T.reshape(-1, 2, 2)
    tables, dims = with_margins(counts)
    linked = find_relations(tables, dims, "n")
    # the cells of every candidate in the order of linked.values
    columns = []
    for table, row, _ in linked.labels:
        if table == "by_a_b":
            columns.append(candidates[:, row // 2, row % 2])
        elif table == "by_a":
            columns.append(candidates[:, row, :].sum(axis=1))
        elif table == "by_b":
            columns.append(candidates[:, :, row].sum(axis=1))
        else:
            columns.append(candidates.sum(axis=(1, 2)))
    cells = np.stack(columns, axis=1)
    low, high = attack.published_bounds(np.nan_to_num(published_values), base)
    fits = np.all(suppressed | ((cells >= low) & (cells <= high)), axis=1)
    return cells[fits].min(axis=0), cells[fits].max(axis=0)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=4, max_size=4),
    st.lists(st.booleans(), min_size=9, max_size=9),
    st.sampled_from([None, 5]),
)
def test_the_attacker_agrees_with_trying_every_table(interior, mask, base):
    """On a 2 x 2 table with margins the linear programme finds exactly the integer bounds."""
    counts = np.array(interior).reshape(2, 2)
    tables, dims = with_margins(counts)
    linked = find_relations(tables, dims, "n")
    suppressed = np.array(mask)
    values = published(linked, suppressed, base)
    low, high = attack.intervals(linked, suppressed, values, base)
    cap = 19  # above any bounded value: a total of at most 16, plus 2 of rounding slack
    brute_low, brute_high = brute_force(counts, suppressed, values, base, cap)
    for cell in np.flatnonzero(suppressed):
        assert low[cell] == brute_low[cell]
        if np.isinf(high[cell]):
            assert brute_high[cell] >= cap  # unbounded: the enumeration reaches its cap
        else:
            assert high[cell] == brute_high[cell]
