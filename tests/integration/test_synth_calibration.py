"""The synthetic population reproduces the published figures it is calibrated to (calibration.py)."""

from __future__ import annotations

import math

import pytest

from bold.synth import calibration as cal


def _rate_ratio_ci(d1, t1, d2, t2):
    ratio = (d1 / t1) / (d2 / t2)
    half = 1.96 * math.sqrt(1 / d1 + 1 / d2)
    return ratio, ratio * math.exp(-half), ratio * math.exp(half)


def test_continuity_of_care_in_published_national_range(small_population, sql):
    out, _ = small_population
    n, rate = sql.execute(
        f"""select count(*), avg((days_to_treatment between 0 and 21)::int)
            from '{out}/truth/releases.parquet' where need_flag"""
    ).fetchone()
    assert n > 1000
    assert cal.CONTINUITY_OF_CARE.holds(rate), rate


def test_continuity_is_higher_in_the_north_east_than_london(large_population, sql):
    out, _ = large_population
    rates = dict(
        sql.execute(
            f"""select region, avg((days_to_treatment between 0 and 21)::int)
                from '{out}/truth/releases.parquet' where need_flag group by region"""
        ).fetchall()
    )
    assert rates["North East"] > rates["London"] + 0.15


def test_continuity_depends_on_ost_at_release(large_population, sql):
    out, _ = large_population
    rates = dict(
        sql.execute(
            f"""select ost_at_release, avg((days_to_treatment between 0 and 21)::int)
                from '{out}/truth/releases.parquet' where need_flag group by 1"""
        ).fetchall()
    )
    assert rates[True] > rates[False] + 0.1


def _deaths_and_person_years(sql, out, lo, hi, where="true", drug_only=False):
    died = f"days_to_death between {lo} and {hi} - 1"
    if drug_only:
        died += " and drug_related_death"
    stop = f"""least({hi}, days_to_period_end + 1,
                     case when days_to_death >= 0 then days_to_death + 1 else {hi} end,
                     case when days_to_reception >= 0 then days_to_reception else {hi} end)"""
    return sql.execute(
        f"""select count(*) filter (where {died}),
                   sum(greatest({stop} - {lo}, 0)) / 365.25
            from '{out}/truth/releases.parquet' where {where}"""
    ).fetchone()


@pytest.mark.parametrize(("sex", "week"), list(cal.MORTALITY_PUBLISHED))
def test_mortality_in_weeks_1_and_2_of_the_order_of_published_rates(large_population, sql, sex, week):
    out, _ = large_population
    female = "female" if sex == "F" else "not female"
    deaths, years = _deaths_and_person_years(sql, out, 7 * (week - 1), 7 * week, female)
    rate = 1000 * deaths / years
    published = cal.MORTALITY_PUBLISHED[(sex, week)]
    factor = cal.MORTALITY_TOLERANCE_FACTOR
    assert published / factor <= rate <= published * factor, (sex, week, deaths, rate)


def test_drug_deaths_concentrate_in_the_first_fortnight(large_population, sql):
    out, _ = large_population
    early = _deaths_and_person_years(sql, out, 0, 14, drug_only=True)
    later = _deaths_and_person_years(sql, out, 14, 84, drug_only=True)
    ratio, low, high = _rate_ratio_ci(*early, *later)
    target = cal.DRUG_DEATH_RATIO_WEEKS_1_2_VS_3_12
    assert low <= target.high and high >= target.low, (ratio, low, high)
    assert ratio > 2


def test_ost_at_release_lowers_mortality_in_the_first_four_weeks(large_population, sql):
    out, _ = large_population
    on = _deaths_and_person_years(sql, out, 0, 28, "ost_at_release")
    off = _deaths_and_person_years(sql, out, 0, 28, "need_flag and not ost_at_release")
    ratio, low, high = _rate_ratio_ci(*on, *off)
    target = cal.OST_MORTALITY_RATIO
    assert ratio < 1
    assert low <= target.high and high >= target.low, (ratio, low, high)


def _treatment_year(sql, out):
    sql.execute(
        f"""create or replace temp view journeys as
            select person_id, date as started, end_date as ended, detail as reason
            from '{out}/truth/events.parquet' where event = 'treatment_journey'"""
    )


def test_effective_treatment_in_dscp_range(small_population, sql):
    out, _ = small_population
    _treatment_year(sql, out)
    n, share = sql.execute(
        """with active as (
               select *, row_number() over (partition by person_id order by started desc) as latest
               from journeys
               where started <= date '2023-03-31' and coalesce(ended, date '2099-01-01') >= date '2022-04-01')
           select count(*), avg((reason in ('CDF', 'CAU')
                      or least(coalesce(ended, date '2023-03-31'), date '2023-03-31') - started >= 83)::int)
           from active where latest = 1"""
    ).fetchone()
    assert n > 300
    assert cal.EFFECTIVE_TREATMENT.holds(share), share


def test_successful_completion_in_dscp_range(small_population, sql):
    out, _ = small_population
    _treatment_year(sql, out)
    n, share = sql.execute(
        """select count(*), avg((reason in ('CDF', 'CAU'))::int) from journeys
           where ended between date '2022-04-01' and date '2023-03-31'"""
    ).fetchone()
    assert n > 300
    assert cal.SUCCESSFUL_COMPLETION.holds(share), share


def test_difference_in_differences_recovers_the_planted_pilot_effect(large_population, sql):
    out, _ = large_population
    pilot_start = sql.execute(
        f"select settings.pilot_start from read_json_auto('{out}/truth/summary.json')"
    ).fetchone()[0]
    cells = sql.execute(
        f"""select pilot_area, release_date >= date '{pilot_start}' as after, count(*),
                   avg((days_to_treatment between 0 and 21)::int), avg(continuity_probability)
            from '{out}/truth/releases.parquet' where need_flag group by 1, 2"""
    ).fetchall()
    c = {(p, a): (n, observed, expected) for p, a, n, observed, expected in cells}

    def did(i):
        return (c[True, True][i] - c[True, False][i]) - (c[False, True][i] - c[False, False][i])

    se = math.sqrt(sum(obs * (1 - obs) / n for n, obs, _ in c.values()))
    assert did(1) - 1.96 * se > 0, "the pilot effect should be detectable"
    assert abs(did(1) - did(2)) < 1.96 * se, (did(1), did(2), se)
