import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bold.disclosure import attack
from bold.disclosure.linked import find_relations
from bold.disclosure.suppression import secondary

from .cubes import rounded, with_margins


def suppress(counts, threshold=10, base=None):
    tables, dims = with_margins(np.asarray(counts))
    linked = find_relations(tables, dims, "n")
    primary = linked.values < threshold
    complements = secondary(linked, primary, threshold, base)
    return linked, primary, complements


def attacker(linked, suppressed, base=None, cells=None):
    values = np.where(suppressed, np.nan, rounded(linked.values, base))
    return attack.intervals(linked, suppressed, values, base, cells=cells)


def assert_protected(linked, primary, complements, width=10, base=None):
    suppressed = primary | complements
    low, high = attacker(linked, suppressed, base, cells=primary)
    narrowest = (high - low)[primary]
    assert (narrowest >= width).all(), f"a primary cell narrowed to {narrowest.min()}"
    values = np.where(suppressed, np.nan, rounded(linked.values, base))
    assert attack.protected(linked, primary, suppressed, values, width, base)[primary].all()


def test_a_row_with_its_total_gets_a_complement_that_stops_the_subtraction():
    linked, primary, complements = suppress([3, 40, 25, 60])
    low, high = attacker(linked, primary)
    cell = linked.index("by_a", 0)
    assert (low[cell], high[cell]) == (3, 3)  # before: the total minus the others
    assert complements.sum() == 1
    assert complements[linked.index("by_a", 2)]  # the smallest cell that is not the total
    assert_protected(linked, primary, complements)


def test_two_small_cells_suppressed_together_still_give_away_their_sum_and_the_attacker_finds_it():
    """3 and 4 in one row: no relation is left with a single suppressed cell, yet each lies in [0, 7]."""
    linked, primary, complements = suppress([3, 4, 50, 60])
    low, high = attacker(linked, primary)
    assert (high - low)[primary].tolist() == [7, 7]
    assert complements.sum() == 1 and complements[linked.index("by_a", 2)]
    assert_protected(linked, primary, complements)


def test_a_two_way_table_with_margins():
    counts = np.array([[3, 40, 25, 60], [30, 12, 45, 20], [22, 35, 4, 18]])
    linked, primary, complements = suppress(counts)
    low, high = attacker(linked, primary)
    assert ((high - low)[primary] == 0).all()  # primary suppression alone: both cells recovered
    assert_protected(linked, primary, complements)
    assert not complements[linked.mask("overall")].any()  # interior cells suffice; the grand total stays


def test_linked_tables_sharing_totals():
    """A small margin (by_a's 8 = 3 + 4 + 1) is primary too: overall minus by_a's other rows gives it away,
    and so does by_a_b's row; both routes must be closed."""
    counts = np.array([[3, 4, 1], [20, 30, 60], [30, 25, 12]])
    tables, _ = with_margins(counts)
    assert set(tables) == {"overall", "by_a", "by_b", "by_a_b"}
    linked, primary, complements = suppress(counts)
    margin = linked.index("by_a", 0)
    assert primary[margin] and primary[linked.mask("by_a_b")].sum() == 3
    low, high = attacker(linked, primary, cells=primary)
    assert low[margin] == high[margin] == 8
    assert_protected(linked, primary, complements)
    assert complements[linked.mask("by_a")].any()  # by_a's own row sums to overall: one of its rows goes too


def test_zeros_are_not_chosen_as_complements_while_another_cell_will_do():
    linked, primary, complements = suppress([3, 0, 0, 25, 40])
    assert not complements[linked.index("by_a", 1)] and not complements[linked.index("by_a", 2)]
    assert_protected(linked, primary, complements)


def test_a_zero_primary_cell_is_protected_like_any_other():
    linked, primary, complements = suppress([[0, 20, 30], [15, 25, 35]])
    assert primary[linked.index("by_a_b", 0)]
    assert_protected(linked, primary, complements)


def test_rounded_publication_is_checked_against_the_rounding_intervals():
    counts = np.array([[3, 40, 25, 60], [30, 12, 45, 20], [22, 35, 4, 18]])
    linked, primary, complements = suppress(counts, base=5)
    assert_protected(linked, primary, complements, base=5)


def test_a_wider_requirement_for_some_cells_is_kept():
    counts = np.array([[3, 40, 25, 60], [30, 12, 45, 20]])
    tables, dims = with_margins(counts)
    linked = find_relations(tables, dims, "n")
    primary = linked.values < 10
    width = np.where(primary, 40.0, 10.0)
    complements = secondary(linked, primary, width, None)
    assert_protected(linked, primary, complements, width=width)
    low, high = attacker(linked, primary | complements, cells=primary)
    assert (high - low)[primary].min() >= 40


def test_the_same_tables_give_the_same_cells():
    counts = np.random.default_rng(4).integers(1, 30, size=(5, 4, 3))
    first = suppress(counts)[2]
    assert (suppress(counts)[2] == first).all()


def small_and_large(shape):
    """Counts of tables like a study's: most cells comfortably large, some small, a few zero."""
    return hnp.arrays(np.int64, shape, elements=st.one_of(st.integers(0, 9), st.integers(10, 80)))


@settings(max_examples=30, deadline=None)
@given(st.tuples(st.integers(2, 5), st.integers(2, 5)).flatmap(small_and_large), st.sampled_from([None, 5]))
def test_random_two_way_tables_keep_every_primary_cell_wide(counts, base):
    linked, primary, complements = suppress(counts, base=base)
    assert_protected(linked, primary, complements, base=base)


@settings(max_examples=30, deadline=None)
@given(st.tuples(st.integers(2, 3), st.integers(2, 3), st.integers(2, 3)).flatmap(small_and_large))
def test_random_three_way_tables_keep_every_primary_cell_wide(counts):
    linked, primary, complements = suppress(counts)
    assert_protected(linked, primary, complements)
