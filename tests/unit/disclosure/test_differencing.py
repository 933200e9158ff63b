"""Differencing across outputs: cells whose groups of people differ by 1 to 9 are flagged, on the people
behind each published cell (kept encrypted in the project's secure area)."""

from __future__ import annotations

import pandas as pd
import pytest

from bold.disclosure import differencing
from bold.disclosure.profiles import profile
from bold.disclosure.protect import protect
from bold.studies import statistics as st
from bold.studies.language import PERSON, Evidence
from bold.workspace import Workspace

KEY = "0" * 64
LIMIT = profile("bold-standard").min_people - 1


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return Workspace.init(tmp_path_factory.mktemp("differencing") / "ws")


def _kept(ws, name: str, members: dict) -> dict:
    path = ws.root / f"{name}.duckdb"
    differencing.keep(ws, path, KEY, members)
    return {name: path}


def _people(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i:04d}" for i in range(count))


def test_nested_cohorts_differing_by_3_people_are_flagged_and_by_12_are_not(ws):
    everyone = _people("p", 100)
    earlier = _kept(ws, "cohort-all", {("overall", 0, "people"): everyone})
    three_fewer = differencing.find(ws, KEY, {("overall", 0, "people"): everyone[3:]}, earlier, LIMIT)
    assert [(c.table, c.other_output, c.differ_by) for c in three_fewer] == [("overall", "cohort-all", 3)]
    twelve_fewer = differencing.find(ws, KEY, {("overall", 0, "people"): everyone[12:]}, earlier, LIMIT)
    assert twelve_fewer == []


def test_a_cell_repeating_an_earlier_cell_is_not_flagged(ws):
    everyone = _people("q", 60)
    earlier = _kept(ws, "repeat", {("a", 0, "people"): everyone, ("a", 1, "people"): everyone[5:]})
    again = differencing.find(ws, KEY, {("b", 0, "people"): everyone}, earlier, LIMIT)
    assert again == []  # the same people as a published cell: nothing new, though it differs from a/1 by 5


def _crosstab_and_margins():
    """People with two attributes; cell (x, u) holds 4 people."""
    rows = [("x", "u")] * 4 + [("x", "v")] * 46 + [("y", "u")] * 30 + [("y", "v")] * 40
    return pd.DataFrame(
        {PERSON: [f"r{i:03d}" for i in range(len(rows))], "a": [r[0] for r in rows], "b": [r[1] for r in rows]}
    )


def _table(people: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, Evidence]:
    table = people.groupby(by).size().rename("people").reset_index() if by else pd.DataFrame({"people": [len(people)]})
    st.declare(table, people=st.people(), **{b: st.group() for b in by})
    frame = people[[*by, PERSON]].assign(people=1)
    return table, Evidence(tuple(by), frame)


def test_a_cross_tabulation_with_margins_and_a_count_by_one_of_its_variables_is_flagged(ws):
    """The pair that defeats one-output-at-a-time checking: output 1 is A x B with its margins by B and the
    total (cell x,u of 4 people suppressed, with a complement in its column); output 2 counts people by A
    alone. Output 2's x (50 people) against output 1's published x,v (46 people) gives the 4 away: flagged."""
    people = _crosstab_and_margins()
    parts = {"by_a_b": ["a", "b"], "by_b": ["b"], "overall": []}
    built = {name: _table(people, by) for name, by in parts.items()}
    tables = {name: t for name, (t, _) in built.items()}
    first = protect(
        tables, {n: st.declared(t) for n, t in tables.items()}, [e for _, e in built.values()], profile("bold-standard")
    )
    cross = first.tables["by_a_b"]
    assert pd.isna(cross.people.iloc[0]) and pd.isna(cross.people.iloc[2])  # x,u and its complement y,u
    assert ("by_a_b", 1, "people") in first.members  # x,v published
    earlier = _kept(ws, "crosstab", first.members)
    by_a, evidence = _table(people, ["a"])
    second = protect({"by_a": by_a}, {"by_a": st.declared(by_a)}, [evidence], profile("bold-standard"))
    conflicts = differencing.find(ws, KEY, second.members, earlier, LIMIT)
    assert [(c.table, c.row, c.other_table, c.other_row, c.differ_by) for c in conflicts] == [
        ("by_a", 0, "by_a_b", 1, 4)
    ]
