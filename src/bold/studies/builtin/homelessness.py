"""Homelessness applications with a drug or alcohol support need, and how many reach treatment
(docs/design/DOMAIN.md 6.6, service measures).

The cohort is every homelessness application in the period whose household has a drug or an alcohol support
need (``support_need_drug`` or ``support_need_alcohol``; applications with neither, or with both flags
missing, are not in it). Day 0 is the application date. Per application, so a person applying twice counts
twice (two applications by one person on the same day count once, as duplicate records).

- Reached treatment: a treatment journey starts on days 0 to 91 (13 weeks, about 3 months) after the
  application; day 91 counts, day 92 does not. Applications less than 91 days before the data end are left
  out, so every application has its full window.
- Already in treatment: a journey started in the 365 days before the application (days -365 to -1) and was
  not discharged before it (no discharge date, or a discharge on day 0 or later). When
  ``treatment.discharge_date`` is not agreed, a start in those 365 days is enough (an overcount, noted).
  Applications in the first year the treatment data cover have less than 365 days to look back on, so
  this share is low for them (the earliest financial year of the breakdown).

Both are shares of all applications in the cohort, with Wilson intervals. 91 is the default of the
``within_days`` parameter (the follow-up needed moves with it); the period (``start``, ``end``) applies to
the application date.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bold.studies.builtin import common
from bold.studies.language import Cohort, Extract
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

DUTIES = {"PREV": "prevention", "RELF": "relief"}
LOOKBACK_DAYS = 365

DEFINITION = (
    "Service measure (DOMAIN.md 6.6): homelessness applications in the period with a drug or an alcohol "
    "support need (either flag true; applications with neither are excluded), one row per application, day 0 "
    "the application date. Reached treatment: a treatment journey starting on days 0 to 91 (13 weeks, about 3 "
    "months; day 91 counts, day 92 does not). Already in treatment: a journey started on days -365 to -1 and not "
    "discharged before day 0 (discharge on day 0 or later, or none); without an agreed discharge date, a start "
    "in those days is enough. Applications less than 91 days before the data end are left out (complete "
    "follow-up). 91 is the default of the within_days parameter; the period applies to the application date. "
    "Shares of all applications in the cohort; intervals: Wilson 95%."
)


def need_label(t: ir.Table) -> ir.StringValue:
    drug, alcohol = t.support_need_drug.fill_null(False), t.support_need_alcohol.fill_null(False)
    return ibis.cases((drug & alcohol, "both"), (drug, "drug only"), else_="alcohol only")


def duty_label(t: ir.Table) -> ir.StringValue:
    cases = [(t.duty == code, label) for code, label in DUTIES.items()]
    return ibis.cases(*cases, else_=t.duty).fill_null("missing")


def applications(extract: Extract, params: dict) -> Cohort:
    within = params["within_days"]
    optional = [f for f in ("duty", "local_authority") if agreed(extract, f"homelessness.{f}")]
    cohort = Cohort(
        extract,
        "homelessness",
        index="application_date",
        fields=["support_need_drug", "support_need_alcohol", *optional],
        where=lambda t: t.support_need_drug | t.support_need_alcohol,
        period=common.period(params),
    )
    cohort.first_event("days_to_treatment", "treatment", "treatment_start_date", within=(0, within))
    end = "discharge_date" if agreed(extract, "treatment.discharge_date") else None
    cohort.ongoing("already", "treatment", "treatment_start_date", end, within=(-LOOKBACK_DAYS, -1))
    cohort.looks_back(LOOKBACK_DAYS)  # applications in the data's first year: their years are flagged partial
    common.complete_follow_up(cohort, within)
    return cohort.derive(reached=lambda t: t.days_to_treatment.notnull(), support_need=need_label)


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = applications(extract, params)
    groups = ["support_need"]
    if "duty" in cohort.t.columns:
        cohort.derive(duty=duty_label)
        groups.append("duty")
    la = "local_authority" if "local_authority" in cohort.t.columns else None
    groups += [g for g in common.breakdowns(cohort, la) if g != "quarter"]
    events = {"reached_treatment": "reached", "already_in_treatment": "already"}
    tables = {"overall": common.shares(cohort, [], events)}
    for by in groups:
        tables[f"by_{by}"] = common.shares(cohort, [by], events)
    days = params["within_days"]
    charts = {
        "by_support_need": common.share_chart(
            tables["by_support_need"],
            "support_need",
            "reached_treatment_share",
            f"Homelessness applications reaching treatment within {days} days, by support need",
        )
    }
    notes = [
        "already in treatment looks back 365 days: applications in the first year the treatment data cover "
        "undercount it"
    ]
    if la:
        charts["by_region"] = common.share_chart(
            tables["by_region"], "region", "reached_treatment_share", "Reaching treatment by region of application"
        )
    else:
        notes.append("homelessness.local_authority is not in the agreement: no regional breakdown")
    if not agreed(extract, "homelessness.duty"):
        notes.append("homelessness.duty is not in the agreement: no breakdown by duty")
    if not agreed(extract, "treatment.discharge_date"):
        notes.append(
            "treatment.discharge_date is not in the agreement: 'already in treatment' counts any journey started "
            "in the year before the application, including ones already ended (an overcount)"
        )
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="homelessness-to-treatment",
        title="Homelessness applications with a drug or alcohol need reaching treatment",
        question="DOMAIN.md 6.6 (service measures)",
        definition=DEFINITION,
        needs=(
            "homelessness.application_date",
            "homelessness.support_need_drug",
            "homelessness.support_need_alcohol",
            "treatment.treatment_start_date",
        ),
        optional=(
            "homelessness.duty",
            "homelessness.local_authority",
            "treatment.discharge_date",
            *common.PERSON_OPTIONAL,
        ),
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 91},
        main=MainMeasure.share("overall", "reached_treatment_share"),
    )
]
