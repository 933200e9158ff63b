"""DSCP treatment outcomes on hand-built extracts: effective treatment, successful completion, re-presentation."""

from __future__ import annotations

import datetime as dt

import pytest

from bold.studies.builtin import common, treatment_outcomes
from bold.studies.guard import check_aggregate
from tests.extract_builder import d, extract

STUDY = treatment_outcomes.STUDIES[0]
END = d("2024-03-31")  # the data end: a journey starts on it in every extract below
TYPES = {"treatment": {"discharge_date": "date", "discharge_reason": "varchar"}}


def days(date: dt.date, n: int) -> dt.date:
    return date + dt.timedelta(days=n)


def journey(person, start, discharge=None, reason=None, substance="OPI", referral="SLF"):
    return {
        "person_id": person,
        "treatment_start_date": start,
        "discharge_date": discharge,
        "discharge_reason": reason,
        "substance_group": substance,
        "referral_source": referral,
    }


def params(**overrides):
    return STUDY.resolve(overrides)


def row(table, column, value):
    match = table[table[column] == value]
    assert len(match) == 1, (column, value)
    return match.iloc[0]


# --- effective treatment ------------------------------------------------------------------------------


def effective_rows():
    may = d("2022-05-01")
    return [
        journey("a", may, days(may, 82), "DRO"),  # 82 days, not completed: not effective
        journey("b", may, days(may, 83), "DRO"),  # 83 days: effective
        journey("c", d("2022-06-01"), d("2022-06-11"), "CDF", substance="ALC"),  # short but completed: effective
        journey("d", days(END, -83), substance="NOP"),  # open, 83 days by the data end: effective
        journey("e", days(END, -82), substance="NOP"),  # open, 82 days: too early to tell
        journey("f", d("2023-01-01"), None, "CAU", substance="NOA"),  # reason but no date: open, lasted: effective
        journey("g", d("2022-07-01"), d("2022-07-06"), None, substance="XYZ"),  # ended, no reason, 5 days: not
        journey("z", END, substance=None),  # open from the data end: too early to tell
    ]


def test_effective_treatment_by_hand(tmp_path):
    ex = extract(tmp_path, {"treatment": effective_rows()}, types=TYPES)
    assert ex.data_end == END
    cohort = treatment_outcomes.effective(ex, params())
    overall = treatment_outcomes.effective_table(cohort, []).iloc[0]
    # 8 journeys; too early: e, z; assessed 6; effective: b, c, d, f.
    assert overall["n"] == 8
    assert overall["too_early_to_tell"] == 2
    assert overall["discharge_date_missing"] == 1
    assert overall["assessed"] == 6
    assert overall["effective"] == 4
    assert overall["effective_share"] == pytest.approx(4 / 6)
    assert overall["effective_share_low"] < 4 / 6 < overall["effective_share_high"]


def test_effective_treatment_by_substance_and_year(tmp_path):
    ex = extract(tmp_path, {"treatment": effective_rows()}, types=TYPES)
    cohort = treatment_outcomes.effective(ex, params())
    treatment_outcomes.add_breakdowns(cohort)
    by = treatment_outcomes.effective_table(cohort, ["substance"])
    assert set(by["substance"]) == {"opiate", "non-opiate", "alcohol", "non-opiate and alcohol", "XYZ", "missing"}
    assert row(by, "substance", "opiate")[["n", "effective", "assessed"]].tolist() == [2, 1, 2]
    assert row(by, "substance", "non-opiate")[["n", "effective", "too_early_to_tell", "assessed"]].tolist() == [
        2,
        1,
        1,
        1,
    ]
    assert row(by, "substance", "missing")[["n", "assessed"]].tolist() == [1, 0]
    assert row(by, "substance", "missing")["effective_share"] != row(by, "substance", "missing")["effective_share"]
    years = treatment_outcomes.effective_table(cohort, ["financial_year"])
    # 2022-23: a, b, c, f, g (f started 2023-01-01) -> effective b, c, f; 2023-24: d, e (2024-01); 2023-24 also z.
    assert row(years, "financial_year", "2022-23")[["n", "effective", "assessed"]].tolist() == [5, 3, 5]
    assert row(years, "financial_year", "2023-24")[["n", "effective", "assessed"]].tolist() == [3, 1, 1]


def test_effective_days_parameter_and_period(tmp_path):
    ex = extract(tmp_path, {"treatment": effective_rows()}, types=TYPES)
    # At 84 days, b (83) is no longer effective and d (open, 83 so far) becomes too early to tell.
    overall = treatment_outcomes.effective_table(treatment_outcomes.effective(ex, params(effective_days=84)), [])
    assert overall.iloc[0][["effective", "too_early_to_tell", "assessed"]].tolist() == [2, 3, 5]
    # The period applies to the start date: from 2023-01-01, journeys d, e, f, z.
    later = treatment_outcomes.effective_table(treatment_outcomes.effective(ex, params(start="2023-01-01")), [])
    assert later.iloc[0][["n", "effective", "assessed"]].tolist() == [4, 2, 2]


# --- successful completion ----------------------------------------------------------------------------


def completion_rows():
    return [
        # p: completed, then a later journey ended without completing: the latest counts, not completed.
        journey("p", d("2022-04-10"), d("2022-06-01"), "CDF"),
        journey("p", d("2022-08-01"), d("2022-12-01"), "DRO"),
        # q: dropped out (2022-23), then completed (2023-24): completed overall.
        journey("q", d("2022-10-01"), d("2023-02-01"), "DRO"),
        journey("q", d("2023-03-01"), d("2023-06-01"), "CAU", substance="ALC"),
        # r: completed, then a journey still open (not ended, so not latest ended): completed.
        journey("r", d("2023-01-01"), d("2023-05-01"), "CDF"),
        journey("r", d("2023-06-01")),
        # s: a completion reason without a discharge date has not ended: not in the denominator.
        journey("s", d("2023-01-01"), None, "CDF"),
        # t: ended with no reason recorded: not completed.
        journey("t", d("2023-02-01"), d("2023-04-01"), None),
        # u: two journeys ending the same day with the same start: completion counts.
        journey("u", d("2023-01-01"), d("2023-07-01"), "TNC"),
        journey("u", d("2023-01-01"), d("2023-07-01"), "CDF"),
        journey("x", END),
    ]


def test_successful_completion_latest_ended_journey_per_person(tmp_path):
    ex = extract(tmp_path, {"treatment": completion_rows()}, types=TYPES)
    ended = treatment_outcomes.latest_ended(ex, params())
    overall = common.shares(ended, [], {"completed": "completed"}).iloc[0]
    # People with an ended journey: p, q, r, t, u (5); latest ended with a completion: q, r, u (3).
    assert overall[["n", "people", "completed"]].tolist() == [5, 5, 3]
    assert overall["completed_share"] == pytest.approx(3 / 5)


def test_successful_completion_by_financial_year_is_per_year(tmp_path):
    ex = extract(tmp_path, {"treatment": completion_rows()}, types=TYPES)
    per_year = treatment_outcomes.latest_ended(ex, params(), per_year=True)
    table = common.shares(per_year, ["financial_year"], {"completed": "completed"})
    # 2022-23: p (DRO 2022-12-01), q (DRO 2023-02-01): 0 of 2. 2023-24: q (CAU), r (CDF), t (none), u (CDF): 3 of 4.
    assert row(table, "financial_year", "2022-23")[["n", "completed"]].tolist() == [2, 0]
    assert row(table, "financial_year", "2023-24")[["n", "completed"]].tolist() == [4, 3]


def test_successful_completion_period_is_on_the_discharge_date(tmp_path):
    ex = extract(tmp_path, {"treatment": completion_rows()}, types=TYPES)
    early = common.shares(treatment_outcomes.latest_ended(ex, params(end="2023-03-31")), [], {"c": "completed"})
    assert early.iloc[0][["n", "c"]].tolist() == [2, 0]  # p and q, both latest ended in the period by dropping out
    late = common.shares(treatment_outcomes.latest_ended(ex, params(start="2023-04-01")), [], {"c": "completed"})
    assert late.iloc[0][["n", "c"]].tolist() == [4, 3]


# --- re-presentation ----------------------------------------------------------------------------------


def re_presentation_rows():
    june = d("2022-06-01")
    return [
        journey("k", d("2022-01-01"), june, "CDF"),
        journey("k", days(june, 365)),  # returns on day 365: counts
        journey("l", d("2022-01-01"), june, "CDF", substance="ALC"),
        journey("l", days(june, 366)),  # returns on day 366: does not
        journey("m", d("2022-01-01"), june, "CAU", substance="NOP"),
        journey("m", june),  # a new journey on day 0 is not a return
        journey("n", d("2022-01-01"), june, "DRO"),  # not a completer
        journey("n", days(june, 10)),
        journey("o", d("2023-01-01"), days(END, -365), "CDF"),  # 365 days of follow-up: in, no return
        journey("v", d("2023-01-01"), days(END, -364), "CDF"),  # 364 days: left out
        journey("v", days(END, -300)),
        journey("x", END),
    ]


def test_re_presentation_within_365_days(tmp_path):
    ex = extract(tmp_path, {"treatment": re_presentation_rows()}, types=TYPES)
    returns = treatment_outcomes.completers(ex, params())
    overall = common.shares(returns, [], {"re_presented": "returned"}).iloc[0]
    # Completers with full follow-up: k, l, m, o (4); returned on days 1-365: k (1).
    assert overall[["n", "re_presented"]].tolist() == [4, 1]
    assert overall["re_presented_share"] == pytest.approx(1 / 4)
    treatment_outcomes.add_breakdowns(returns)
    by = common.shares(returns, ["substance"], {"re_presented": "returned"})
    assert row(by, "substance", "opiate")[["n", "re_presented"]].tolist() == [2, 1]  # k, o
    assert row(by, "substance", "alcohol")[["n", "re_presented"]].tolist() == [1, 0]


def test_re_presentation_window_parameter(tmp_path):
    ex = extract(tmp_path, {"treatment": re_presentation_rows()}, types=TYPES)
    returns = treatment_outcomes.completers(ex, params(re_presentation_days=366))
    # A 366-day window counts l's return too, and needs 366 days of follow-up, so o (365) is left out.
    assert common.shares(returns, [], {"r": "returned"}).iloc[0][["n", "r"]].tolist() == [3, 2]


# --- the whole study ----------------------------------------------------------------------------------


def full_extract(tmp_path, with_optional=True):
    rows = effective_rows() + completion_rows() + re_presentation_rows()
    people = sorted({r["person_id"] for r in rows})
    tables = {"treatment": rows}
    if with_optional:
        from bold.sources.geography import local_authorities

        las = local_authorities().drop_duplicates("region")["local_authority"].tolist()
        for i, r in enumerate(rows):
            r["local_authority"] = las[i % 3]
            r["housing_need"] = "123"[i % 3]
        tables["person"] = [
            {"person_id": p, "sex": "MF"[i % 2], "birth_year": 1970 + 3 * i} for i, p in enumerate(people)
        ]
    else:
        rows = [{k: v for k, v in r.items() if k not in ("substance_group", "referral_source")} for r in rows]
        tables["treatment"] = rows
    return extract(tmp_path, tables, types=TYPES), len(people)


@pytest.mark.parametrize("with_optional", [True, False])
def test_compute_gives_aggregate_tables(tmp_path, with_optional):
    ex, people = full_extract(tmp_path, with_optional)
    out = STUDY.compute(ex, params())
    expected = {"effective_overall", "completion_overall", "re_presentation_overall"}
    assert expected <= set(out.tables)
    for name, table in out.tables.items():
        check_aggregate(name, table, people)
    if with_optional:
        for measure in ("effective", "completion", "re_presentation"):
            for by in ("substance", "referral", "housing", "financial_year", "region", "sex", "age_band"):
                assert f"{measure}_by_{by}" in out.tables
        assert not out.notes
    else:
        assert "effective_by_substance" not in out.tables and "effective_by_region" not in out.tables
        assert len(out.notes) == 4  # substance, referral source, housing and local authority not agreed
    assert set(out.charts) == {"effective_by_financial_year", "completion_by_financial_year"}
    assert {"treatment.discharge_date", "treatment.discharge_reason"} <= ex.used
