"""Deaths after release from prison (docs/design/DOMAIN.md 6.2): rates per 1,000 person-years by time since release,
all-cause and drug-related, by sex and by opioid substitution treatment (OST) at release, with the rate ratios
the published studies report (Farrell & Marsden 2008; Merrall et al. 2010; Marsden et al. 2017)."""

from __future__ import annotations

import ibis
import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.language import Cohort, Extract
from bold.studies.measures import rate_ratio
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

WINDOWS = [("week 1", 0, 6), ("week 2", 7, 13), ("weeks 3-4", 14, 27), ("weeks 5-12", 28, 83), ("weeks 13-52", 84, 364)]
HORIZON = 364  # follow-up stops at the end of the first year (day 364)

DEFINITION = (
    "Each release is followed from the release date (day 0) to the earliest of: death (the day of death counts "
    "as a day at risk), the day before the next prison reception (people back in prison are not at risk in the "
    "community; when prison.reception_date is agreed), the last date the data cover, and day 364. Week 1 is days "
    "0-6, week 2 days 7-13, weeks 3-4 days 14-27, weeks 5-12 days 28-83, weeks 13-52 days 84-364. Rates are "
    "deaths per 1,000 person-years (365.25 days), with exact Poisson 95% intervals; rate ratios use the log-normal "
    "interval. By treatment at release (when agreed): a landmark at day 21, comparing deaths on days 21-364 of "
    "releases alive and in the community on day 21, with and without a treatment start on days 0-21. "
    "Drug-related deaths use the ONS drug-related flag. The same release recorded twice counts once."
)


def follow_up(cohort: Cohort, horizon: int = HORIZON, back_in_prison: bool = True) -> Cohort:
    """Add ``last_day`` (last day at risk), ``died`` and ``drug_death`` (death ended the follow-up)."""
    cohort.first_event("death_day", "deaths", "date_of_death", within=(0, None), take=["drug_related"])
    cohort.days_to_data_end()
    if back_in_prison:
        cohort.first_event("back_in_day", "prison", "reception_date", within=(1, None))

    def censor(t):
        stops = [t.days_to_data_end, ibis.literal(horizon)]
        if back_in_prison:
            stops.append(t.back_in_day.fill_null(horizon + 1) - 1)
        return ibis.least(*stops)

    cohort.derive(censor_day=censor)
    return cohort.derive(
        died=lambda t: t.death_day.notnull() & (t.death_day <= t.censor_day),
        last_day=lambda t: ibis.least(t.censor_day, t.death_day.fill_null(horizon + 1)),
    ).derive(drug_death=lambda t: t.died & t.death_day_drug_related.fill_null(False))


def by_continuity(cohort: Cohort) -> pd.DataFrame:
    """Deaths from day 21 to day 364 by whether treatment started on days 0-21: a landmark analysis, so only
    releases still alive and in the community on day 21 count (comparing from day 0 would credit treatment with
    the deaths of people who died before they could start it: immortal time bias). Filters the cohort, so it
    comes last."""
    cohort.first_event("_treated_day", "treatment", "treatment_start_date", within=(0, 21))
    cohort.derive(
        continuity=lambda t: ibis.ifelse(
            t._treated_day.notnull(), "treatment within 21 days", "no treatment within 21 days"
        )
    )
    cohort.keep(lambda t: t.last_day >= 21)
    return common.person_time(cohort, [("days 21-364", 21, HORIZON)], ["continuity"], "died", "last_day")


def by_window(cohort: Cohort, by: list[str], event: str) -> pd.DataFrame:
    return common.person_time(cohort, WINDOWS, by, event, "last_day")


def ratio(table: pd.DataFrame, label: str, numerator, denominator) -> dict:
    """Rate ratio of two selections of a person-time table (each a boolean mask, summed)."""
    a, b = table[numerator], table[denominator]
    rr = rate_ratio(a.events.sum(), a.person_years.sum(), b.events.sum(), b.person_years.sum()).iloc[0]
    return {
        "comparison": label,
        "n": int(a.n.max() if len(a) else 0),
        "events_a": int(a.events.sum()),
        "person_years_a": a.person_years.sum(),
        "events_b": int(b.events.sum()),
        "person_years_b": b.person_years.sum(),
        **rr.to_dict(),
    }


def ratios_table(ratios: list[dict]) -> pd.DataFrame:
    """The rate ratios, each with the deaths and person-years of both sides behind it. A ratio is a model's
    estimate (as is its Wald p-value), judged by the releases behind it (``n``, the first side's) and by the
    deaths and person-years of both sides, which are columns of their own."""
    return st.declare(
        pd.DataFrame(ratios),
        comparison=st.group(),
        n=st.events(),
        events_a=st.events(),
        person_years_a=st.person_time("years"),
        events_b=st.events(),
        person_years_b=st.person_time("years"),
        rate_ratio=st.estimate(of="n"),
        rate_ratio_low=st.bound("rate_ratio", "low"),
        rate_ratio_high=st.bound("rate_ratio", "high"),
        p_value=st.estimate(of="n"),
    )


def compute(extract: Extract, params: dict) -> StudyOutput:
    fields = ["ost_at_release"] if agreed(extract, "prison.ost_at_release") else []
    where = (lambda t: t.substance_misuse_need) if params["substance_misuse_need_only"] else None
    cohort = Cohort(extract, "prison", "release_date", fields=fields, where=where, period=common.period(params))
    back_in = agreed(extract, "prison.reception_date")
    follow_up(cohort, back_in_prison=back_in)
    person = [f for f in ("sex", "birth_year") if agreed(extract, f"person.{f}")]
    if "sex" in person:
        cohort.person(["sex"]).derive(sex=lambda t: t.sex.fill_null("U"))
    tables = {
        "all_cause_by_week": by_window(cohort, [], "died"),
        "drug_related_by_week": by_window(cohort, [], "drug_death"),
    }
    if "sex" in person:
        tables["all_cause_by_week_and_sex"] = by_window(cohort, ["sex"], "died")
        tables["drug_related_by_week_and_sex"] = by_window(cohort, ["sex"], "drug_death")
    drug = tables["drug_related_by_week"]
    every = tables["all_cause_by_week"]
    early, later = drug.window.isin(["week 1", "week 2"]), drug.window.isin(["weeks 3-4", "weeks 5-12"])
    ratios = [
        ratio(drug, "drug-related, weeks 1-2 vs weeks 3-12", early, later),
        ratio(every, "all-cause, weeks 1-2 vs weeks 3-12", early, later),
    ]
    if fields:
        # labelled in the cohort, so the table's groups are the summary's (its evidence matches them)
        cohort.derive(ost=lambda t: ibis.ifelse(t.ost_at_release.fill_null(False), "on OST", "not on OST"))
        first4 = common.person_time(cohort, [("weeks 1-4", 0, 27)], ["ost"], "died", "last_day")
        tables["all_cause_first_4_weeks_by_ost"] = first4
        ratios.append(
            ratio(first4, "all-cause weeks 1-4, on OST vs not", first4.ost == "on OST", first4.ost != "on OST")
        )
    if agreed(extract, "treatment.treatment_start_date"):
        landmark = by_continuity(cohort)
        tables["all_cause_after_day_21_by_continuity"] = landmark
        treated = landmark.continuity == "treatment within 21 days"
        ratios.append(ratio(landmark, "all-cause days 21-364, treatment within 21 days vs none", treated, ~treated))
    tables["rate_ratios"] = ratios_table(ratios)
    charts = {"all_cause_by_week": common.rate_chart(every, "window", "Deaths after release, all causes")}
    if "sex" in person:
        charts["all_cause_by_week_and_sex"] = common.rate_chart(
            tables["all_cause_by_week_and_sex"], "window", "Deaths after release by sex", color="sex"
        )
    notes = [] if back_in else ["prison.reception_date not agreed: follow-up is not stopped at re-imprisonment"]
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="deaths-after-release",
        title="Deaths after release from prison",
        question="DOMAIN.md 6.2 (Farrell & Marsden 2008; Merrall et al. 2010; Marsden et al. 2017)",
        definition=DEFINITION,
        needs=("prison.release_date", "deaths.date_of_death", "deaths.drug_related"),
        optional=(
            "prison.reception_date",
            "prison.ost_at_release",
            "person.sex",
            "prison.substance_misuse_need",
            "treatment.treatment_start_date",
        ),
        compute=compute,
        parameters={"start": None, "end": None, "substance_misuse_need_only": False},
        main=MainMeasure("all_cause_by_week", "rate", "rate_low", "rate_high"),
    )
]
