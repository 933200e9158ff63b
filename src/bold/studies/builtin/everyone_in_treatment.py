"""The questions asked about prison leavers, asked of everyone in treatment (docs/design/DOMAIN.md 6.4: people
with lived experience asked for this, to avoid framing substance use as a prison problem): how quickly people
start treatment after referral, emergency hospital admissions in the year after starting, and deaths in the year
after leaving treatment, by route into treatment and substance."""

from __future__ import annotations

import ibis

from bold.studies.builtin import common, deaths
from bold.studies.builtin.treatment_outcomes import REFERRAL_SOURCES, SUBSTANCE_GROUPS, label
from bold.studies.language import Cohort, Extract
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

DIED_IN_TREATMENT = "DIE"  # NDTMS discharge reason: the journey ended because the person died

DEFINITION = (
    "Treatment journeys (one per person and start date). Waiting: treatment start on days 0-21 after the referral "
    "date (the 21-day target of DOMAIN.md 6.6). Hospital: at least one emergency admission (HES methods 21-25, 28) "
    "on days 0-364 after treatment start, for journeys starting at least 365 days before the data end. Deaths: "
    "journeys that ended (discharge date) followed from the discharge date (day 0) to the earliest of death, the "
    "data end and day 364 (journeys ended by death in treatment are not 'leaving'), by week since leaving "
    "(week 1 days 0-6, week 2 days 7-13, weeks 3-4, 5-12, 13-52), "
    "rates per 1,000 person-years with exact Poisson intervals, all-cause and drug-related, by whether the journey "
    "ended in a completion. Breakdowns by referral source (prison against every other route) and substance group."
)


def journeys(extract: Extract, index: str, params: dict, extra: list[str] = (), where=None) -> Cohort:
    cohort = Cohort(
        extract,
        "treatment",
        index=index,
        fields=["referral_source", "substance_group", *extra],
        where=where,
        period=common.period(params),
    )
    return cohort.derive(
        referral=lambda t: label(t, "referral_source", REFERRAL_SOURCES),
        substance=lambda t: label(t, "substance_group", SUBSTANCE_GROUPS),
        route=lambda t: ibis.ifelse(t.referral_source == "PRI", "from prison", "every other route"),
    )


def left_alive(t):
    """Journeys not ended by death in treatment: only these are people leaving treatment."""
    return t.discharge_reason.isnull() | (t.discharge_reason != DIED_IN_TREATMENT)


def compute(extract: Extract, params: dict) -> StudyOutput:
    tables, charts = {}, {}
    if agreed(extract, "treatment.referral_date"):
        waiting = journeys(extract, "treatment_start_date", params, ["referral_date"])
        waiting.derive(_wait=lambda t: t.index_date.delta(t.referral_date, unit="day"))
        waiting.derive(started_in_21_days=lambda t: (t._wait <= 21).fill_null(False))
        for by in ("route", "referral", "substance"):
            tables[f"start_within_21_days_by_{by}"] = common.shares(waiting, [by], {"within_21": "started_in_21_days"})
    admitted = journeys(extract, "treatment_start_date", params)
    common.complete_follow_up(admitted, 365)
    admitted.count_events(
        "emergency",
        "hospital",
        "admission_date",
        within=(0, 364),
        where=lambda t: t.admission_method.isin(common.EMERGENCY_METHODS),
    )
    admitted.derive(any_emergency=lambda t: t.emergency > 0)
    for by in ("route", "referral", "substance"):
        tables[f"emergency_admission_by_{by}"] = common.shares(admitted, [by], {"admitted": "any_emergency"})
    charts["emergency_admission_by_referral"] = common.share_chart(
        tables["emergency_admission_by_referral"],
        "referral",
        "admitted_share",
        "Emergency admission in the year after starting treatment",
    )
    leaving = journeys(extract, "discharge_date", params, ["discharge_reason"], where=left_alive)
    leaving.derive(
        ending=lambda t: ibis.ifelse(t.discharge_reason.isin(common.COMPLETION_REASONS), "completed", "other ending")
    )
    deaths.follow_up(leaving, back_in_prison=False)
    tables["deaths_after_leaving_by_week"] = deaths.by_window(leaving, ["ending"], "died")
    tables["drug_deaths_after_leaving_by_week"] = deaths.by_window(leaving, ["ending"], "drug_death")
    tables["deaths_after_leaving_by_route"] = deaths.by_window(leaving, ["route"], "died")
    charts["deaths_after_leaving_by_week"] = common.rate_chart(
        tables["deaths_after_leaving_by_week"], "window", "Deaths after leaving treatment", color="ending"
    )
    return StudyOutput(tables, charts)


STUDIES = [
    Study(
        id="everyone-in-treatment",
        title="Everyone in treatment: waiting, hospital admissions and deaths after leaving",
        question="DOMAIN.md 6.4 (lived experience: not only prison leavers) and 6.6 (21-day wait)",
        definition=DEFINITION,
        needs=(
            "treatment.treatment_start_date",
            "treatment.discharge_date",
            "treatment.discharge_reason",
            "treatment.referral_source",
            "treatment.substance_group",
            "hospital.admission_date",
            "hospital.admission_method",
            "deaths.date_of_death",
            "deaths.drug_related",
        ),
        optional=("treatment.referral_date",),
        compute=compute,
        parameters={"start": None, "end": None},
        main=MainMeasure.share("start_within_21_days_by_route", "within_21_share"),
    )
]
