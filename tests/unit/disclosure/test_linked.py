import numpy as np
import pandas as pd
import pytest

from bold.disclosure.linked import LinkedTablesError, find_relations

from .cubes import with_margins


def relation_set(linked):
    return {
        (linked.labels[r.parent][:2], tuple(sorted(linked.labels[c][:2] for c in r.children))) for r in linked.relations
    }


def test_a_two_way_table_and_its_margins_are_tied_by_every_sum_a_reader_can_check():
    tables, dims = with_margins(np.array([[3, 12, 20], [15, 4, 30]]))
    linked = find_relations(tables, dims, "n")
    assert len(linked) == 6 + 2 + 3 + 1
    found = relation_set(linked)
    assert (("by_a", 0), (("by_a_b", 0), ("by_a_b", 1), ("by_a_b", 2))) in found
    assert (("by_b", 2), (("by_a_b", 2), ("by_a_b", 5))) in found
    assert (("overall", 0), (("by_a", 0), ("by_a", 1))) in found
    assert (("overall", 0), (("by_b", 0), ("by_b", 1), ("by_b", 2))) in found
    assert (("overall", 0), tuple(("by_a_b", i) for i in range(6))) in found
    assert len(found) == 2 + 3 + 1 + 1 + 1  # no relation between by_a and by_b: neither refines the other
    for r in linked.relations:
        assert linked.values[r.parent] == linked.values[list(r.children)].sum()
    assert linked.totals().sum() == 2 + 3 + 1


def test_columns_that_do_not_add_up_give_no_relation_for_that_pair():
    """People counted in two financial years: the years' people sum to more than the overall's."""
    tables = {
        "overall": pd.DataFrame({"people": [25], "n": [40]}),
        "by_financial_year": pd.DataFrame(
            {"financial_year": ["2022/23", "2023/24"], "people": [15, 14], "n": [18, 22]}
        ),
    }
    dims = {"overall": [], "by_financial_year": ["financial_year"]}
    assert find_relations(tables, dims, "people").relations == ()
    assert len(find_relations(tables, dims, "n").relations) == 1


def test_only_the_groups_that_add_up_are_relations():
    tables = {
        "by_region": pd.DataFrame({"region": ["North", "South"], "n": [30, 50]}),
        "by_region_year": pd.DataFrame(
            {"region": ["North", "North", "South", "South"], "year": [1, 2, 1, 2], "n": [10, 20, 25, 24]}
        ),
    }
    linked = find_relations(tables, {"by_region": ["region"], "by_region_year": ["region", "year"]}, "n")
    assert relation_set(linked) == {(("by_region", 0), (("by_region_year", 0), ("by_region_year", 1)))}


def test_a_missing_group_value_is_a_group_like_any_other():
    tables = {
        "by_region": pd.DataFrame({"region": ["North", None], "n": [30, 7]}),
        "by_region_year": pd.DataFrame({"region": ["North", "North", np.nan], "year": [1, 2, 1], "n": [10, 20, 7]}),
    }
    linked = find_relations(tables, {"by_region": ["region"], "by_region_year": ["region", "year"]}, "n")
    assert relation_set(linked) == {
        (("by_region", 0), (("by_region_year", 0), ("by_region_year", 1))),
        (("by_region", 1), (("by_region_year", 2),)),
    }


def test_tables_without_the_column_are_left_out_and_a_table_without_breakdowns_listed_is_refused():
    tables, dims = with_margins(np.array([[3, 12], [15, 4]]))
    tables["notes"] = pd.DataFrame({"text": ["x"]})
    linked = find_relations(tables, dims, "n")
    assert {t for t, _, _ in linked.labels} == {"overall", "by_a", "by_b", "by_a_b"}
    del dims["by_a"]
    with pytest.raises(LinkedTablesError, match="by_a"):
        find_relations(tables, dims, "n")
    with pytest.raises(LinkedTablesError, match="no column 'c'"):
        find_relations(tables, {**dims, "by_a": ["c"]}, "n")
