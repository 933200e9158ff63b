"""DSCP treatment outcomes on hand-built extracts: effective treatment and successful completion per client (seed 001,
appendix B2), effective treatment per journey, re-presentation."""

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


# --- effective treatment per journey (BOLD's earlier measure, kept) ------------------------------------------------------------------------------


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


def test_effective_treatment_per_journey_by_hand(tmp_path):
    ex = extract(tmp_path, {"treatment": effective_rows()}, types=TYPES)
    assert ex.data_end == END
    cohort = treatment_outcomes.effective_per_journey(ex, params())
    overall = treatment_outcomes.effective_per_journey_table(cohort, []).iloc[0]
    # 8 journeys; too early: e, z; assessed 6; effective: b, c, d, f.
    assert overall["n"] == 8
    assert overall["too_early_to_tell"] == 2
    assert overall["discharge_date_missing"] == 1
    assert overall["assessed"] == 6
    assert overall["effective"] == 4
    assert overall["effective_share"] == pytest.approx(4 / 6)
    assert overall["effective_share_low"] < 4 / 6 < overall["effective_share_high"]


def test_effective_treatment_per_journey_by_substance_and_year(tmp_path):
    ex = extract(tmp_path, {"treatment": effective_rows()}, types=TYPES)
    cohort = treatment_outcomes.effective_per_journey(ex, params())
    treatment_outcomes.add_breakdowns(cohort)
    by = treatment_outcomes.effective_per_journey_table(cohort, ["substance"])
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
    years = treatment_outcomes.effective_per_journey_table(cohort, ["financial_year"])
    # 2022-23: a, b, c, f, g (f started 2023-01-01) -> effective b, c, f; 2023-24: d, e (2024-01); 2023-24 also z.
    assert row(years, "financial_year", "2022-23")[["n", "effective", "assessed"]].tolist() == [5, 3, 5]
    assert row(years, "financial_year", "2023-24")[["n", "effective", "assessed"]].tolist() == [3, 1, 1]


def test_effective_days_parameter_and_period(tmp_path):
    ex = extract(tmp_path, {"treatment": effective_rows()}, types=TYPES)
    # At 84 days, b (83) is no longer effective and d (open, 83 so far) becomes too early to tell.
    overall = treatment_outcomes.effective_per_journey_table(
        treatment_outcomes.effective_per_journey(ex, params(effective_days=84)), []
    )
    assert overall.iloc[0][["effective", "too_early_to_tell", "assessed"]].tolist() == [2, 3, 5]
    # The period applies to the start date: from 2023-01-01, journeys d, e, f, z.
    later = treatment_outcomes.effective_per_journey_table(
        treatment_outcomes.effective_per_journey(ex, params(start="2023-01-01")), []
    )
    assert later.iloc[0][["n", "effective", "assessed"]].tolist() == [4, 2, 2]


# --- effective treatment and successful completion per client (DSCP) -----------------------------------

FY = {"start": "2023-04-01", "end": "2024-03-31"}  # the DSCP's period: here one financial year, ending at the data end


def dscp_rows():
    return [
        journey("a", days(END, -83)),  # open, starts 83 days before the period end: in, effective
        journey("b", days(END, -82)),  # open, 82 days before: not in effective treatment's base; in treatment
        journey("c", d("2023-06-01"), d("2023-06-20"), "CDF"),  # short but completed: effective, completion
        journey("d", d("2023-05-01"), days(d("2023-05-01"), 82), "DRO"),  # 82 days, dropped out: not effective
        journey("e", d("2023-05-01"), days(d("2023-05-01"), 83), "DRO"),  # 83 days: effective, unsuccessful exit
        journey("f", d("2022-01-01"), d("2023-05-01"), "DRO"),  # crosses into the period, but is not f's latest:
        journey("f", d("2023-10-01"), d("2023-10-20"), "DRO"),  # 19 days, dropped out: f is not effective
        journey("g", d("2023-01-01"), d("2023-03-31"), "DRO"),  # ended before the period: not in it at all
        journey("h", d("2023-02-01")),  # open since before the period: length to the period end, effective
        journey("i", d("2023-09-01"), d("2024-02-15"), "TNC"),  # i's latest journey starting 83+ days before the end
        journey("i", d("2024-02-20")),  # i's latest journey (for completion), too late for effective treatment
        journey("t", d("2023-05-01"), d("2023-09-01"), "TNC"),  # a transfer, not in custody: not an exit
        journey("u", d("2023-05-01"), d("2023-08-01"), "TIC"),  # a transfer into custody: not an exit
        journey("k", d("2023-06-01")),  # aged 12 at the start: the DSCP counts clients aged 18+
        journey("z", END),  # open from the data end
    ]


def dscp_extract(tmp_path):
    rows = dscp_rows()
    people = [
        {"person_id": p, "birth_year": 2010 if p == "k" else 1980} for p in sorted({r["person_id"] for r in rows})
    ]
    return extract(tmp_path, {"treatment": rows, "person": people}, types=TYPES)


def test_effective_treatment_per_client_by_hand(tmp_path):
    ex = dscp_extract(tmp_path)
    cohort = treatment_outcomes.clients(ex, params(**FY), effective=True)
    overall = treatment_outcomes.effective_table(cohort, []).iloc[0]
    # In: a, c, d, e, f, h, i, t, u (not b nor z: started less than 83 days before the end; not g; not k, 12).
    # Effective: a (83 days), c (completed), e (83), h, i (167 days to its transfer), t (123), u (92); not d, f.
    assert overall[["n", "people", "effective"]].tolist() == [9, 9, 7]
    assert overall["effective_share"] == pytest.approx(7 / 9)


def test_effective_treatment_length_runs_to_the_period_end(tmp_path):
    ex = extract(
        tmp_path,
        {
            "treatment": [
                journey("j", d("2023-09-01"), d("2024-01-10"), "DRO"),  # 121 days by 31 December: effective
                journey("m", d("2023-10-05"), d("2023-10-30"), "CDF"),  # completed in the period: effective
                journey("n", d("2023-10-09"), d("2024-03-01"), "CDF"),  # 83 days before the end, 83 days long
                journey("o", d("2023-10-10"), d("2024-03-01"), "CDF"),  # 82 days before the end: not counted
                journey("x", END),
            ]
        },
        types=TYPES,
    )
    cohort = treatment_outcomes.clients(ex, params(start="2023-04-01", end="2023-12-31"), effective=True)
    assert treatment_outcomes.effective_table(cohort, []).iloc[0][["n", "effective"]].tolist() == [3, 3]
    ended = treatment_outcomes.clients(ex, params(start="2023-04-01", end="2023-12-31"))
    table = treatment_outcomes.completion_table(ended, []).iloc[0]
    # j, n and o ended after the period: in treatment, no exit; m completed in it.
    assert table[["n", "exits", "completed", "transferred"]].tolist() == [4, 1, 1, 0]


def test_successful_completion_per_client_by_hand(tmp_path):
    ex = dscp_extract(tmp_path)
    table = treatment_outcomes.completion_table(treatment_outcomes.clients(ex, params(**FY)), []).iloc[0]
    # In treatment: a, b, c, d, e, f, h, i, t, u, z (11; not g, not k). Latest journeys exiting in the period:
    # c (CDF), d, e, f (DRO): 4 exits; t (TNC) and u (TIC) are transfers, not exits; i's latest is open.
    assert table[["n", "exits", "transferred", "completed"]].tolist() == [11, 4, 2, 1]
    assert table["completed_share"] == pytest.approx(1 / 4)  # over exits (the DSCP's percentage)
    assert table["completed_in_treatment_share"] == pytest.approx(1 / 11)  # over everyone in treatment


def test_a_completed_journey_followed_by_an_open_one_is_not_a_completion(tmp_path):
    rows = [
        journey("r", d("2023-05-01"), d("2023-07-01"), "CDF"),
        journey("r", d("2023-09-01")),  # r's latest journey in the period is open
        journey("s", d("2023-05-01"), None, "CDF"),  # a completion reason without a discharge date has not ended
        journey("v", d("2023-05-01"), d("2023-07-01"), "CDF"),
        journey("x", END),
    ]
    ex = extract(tmp_path, {"treatment": rows}, types=TYPES)
    table = treatment_outcomes.completion_table(treatment_outcomes.clients(ex, params(**FY)), []).iloc[0]
    assert table[["n", "exits", "completed"]].tolist() == [4, 1, 1]  # v only


def test_dscp_measures_by_financial_year_flag_partial_years(tmp_path):
    ex = dscp_extract(tmp_path)
    out = STUDY.compute(ex, params())
    years = out.tables["effective_by_financial_year"].set_index("financial_year")
    # The data start on 1 January 2022 (f's first journey) and end on 31 March 2024.
    assert years["partial_period"].to_dict() == {"2021-22": True, "2022-23": False, "2023-24": False}
    assert years.loc["2023-24", ["n", "effective"]].tolist() == [9, 7]  # each year is its own period
    # 2022-23 (journeys starting by 7 January 2023): f (ended after the year, 454 days) and g (89 days).
    assert years.loc["2022-23", ["n", "effective"]].tolist() == [2, 2]
    completion = out.tables["completion_by_financial_year"].set_index("financial_year")
    assert completion.loc["2023-24", ["n", "exits", "transferred", "completed"]].tolist() == [11, 4, 2, 1]
    assert completion.loc["2022-23", ["n", "exits"]].tolist() == [3, 1]  # f (open then), g (DRO), h (open)
    assert any("2021-22" in note and "partial_period" in note for note in out.notes)


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
    rows = effective_rows() + dscp_rows() + re_presentation_rows()
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
    expected = {"effective_overall", "completion_overall", "re_presentation_overall", "effective_per_journey_overall"}
    assert expected <= set(out.tables)
    for name, table in out.tables.items():
        check_aggregate(name, table, people)
    if with_optional:
        for measure in ("effective", "completion", "re_presentation"):
            for by in ("substance", "referral", "housing", "financial_year", "region", "sex", "age_band"):
                assert f"{measure}_by_{by}" in out.tables
        assert not [n for n in out.notes if "agreement" in n]
    else:
        assert "effective_by_substance" not in out.tables and "effective_by_region" not in out.tables
        # substance, referral source, housing, local authority and year of birth not agreed
        assert len([n for n in out.notes if "agreement" in n]) == 5
    assert set(out.charts) == {"effective_by_financial_year", "completion_by_financial_year"}
    assert {"treatment.discharge_date", "treatment.discharge_reason"} <= ex.used
