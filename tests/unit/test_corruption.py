import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bold.synth import corruption
from bold.synth.events import day_number


def _days(*dates):
    return np.array([day_number(d) for d in dates], dtype=np.int32)


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=15),
    st.floats(0, 0.999),
    st.floats(0, 0.999),
    st.floats(0, 0.999),
)
def test_a_typo_is_one_keying_error(name, u_kind, u_pos, u_letter):
    assert _edit_distance(name, corruption.typo(name, u_kind, u_pos, u_letter)) <= 2


def test_day_month_swap_only_where_possible():
    dob = _days(dt.date(1980, 3, 7), dt.date(1980, 3, 25), dt.date(1980, 5, 5))
    assert corruption.day_month_swappable(dob).tolist() == [True, False, False]
    swapped = corruption.swap_day_month(dob[:1])
    assert swapped[0] == day_number(dt.date(1980, 7, 3))


def test_wrong_year_keeps_a_valid_date_on_29_february():
    dob = _days(dt.date(1984, 2, 29), dt.date(1984, 2, 29), dt.date(1990, 6, 15))
    out = corruption.wrong_year(dob, np.array([0.1, 0.5, 0.9]))
    got = [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in out]
    assert got == [dt.date(1983, 2, 28), dt.date(1985, 2, 28), dt.date(2000, 6, 15)]


def test_nicknames_come_from_the_curated_table():
    names = np.array(["William", "Elizabeth", "Zyx"], dtype=object)
    out, applied = corruption.nicknames(names, np.array([True, True, True]), np.array([0.0, 0.5, 0.5]))
    assert applied.tolist() == [True, True, False]
    assert out[0] in {"Bill", "Billy", "Will", "Willie", "Willy", "Bell", "Bela", "Wil"}
    assert out[2] == "Zyx"
