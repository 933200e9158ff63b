import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bold.synth.tables import first_at_or_after, in_spell, last_at_or_before, starts_after_previous_end


def test_time_lookups_stay_within_a_person():
    e_pid = np.array([1, 1, 2, 2])
    e_day = np.array([10, 20, 5, 30])
    q_pid = np.array([1, 1, 1, 2, 3])
    q_day = np.array([10, 11, 25, 6, 1])
    assert first_at_or_after(q_pid, q_day, e_pid, e_day).tolist() == [0, 1, -1, 3, -1]
    assert last_at_or_before(q_pid, q_day, e_pid, e_day).tolist() == [0, 0, 1, 2, -1]
    assert in_spell(np.array([1, 1]), np.array([12, 25]), np.array([1]), np.array([10]), np.array([20])).tolist() == [
        True,
        False,
    ]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 100), st.integers(0, 30)), max_size=60))
def test_kept_intervals_never_overlap(rows):
    pid = np.array([r[0] for r in rows], dtype=np.int64)
    start = np.array([r[1] for r in rows], dtype=np.int64)
    end = start + np.array([r[2] for r in rows], dtype=np.int64)
    keep = starts_after_previous_end(pid, start, end)
    for p in set(pid[keep].tolist()):
        spans = sorted(zip(start[keep & (pid == p)], end[keep & (pid == p)], strict=True))
        assert all(b_start > a_end for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    if len(rows):
        first = np.lexsort((start, pid))[0]
        assert keep[first]  # the earliest interval of a person is always kept
