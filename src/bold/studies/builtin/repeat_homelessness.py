"""Repeat homelessness within 12 months (docs/design/DOMAIN.md 6.6; seed 002: "testing a repeat homelessness
trigger for multidisciplinary interventions").

The published measure is Scotland's (Homelessness in Scotland, Scottish Government): "to be classed as a repeat
homelessness assessment ... the previous case must have been closed within 12 months of the current assessment"
(6% of households in 2019-20). England's case-level return (H-CLIC, which the homelessness source imitates) opens
a case with an application and a 56-day prevention or relief duty (Homelessness Reduction Act 2017). The source
holds application dates only, no closing date, so "another" cannot be "after the first closed": it is taken to be
a later application by the same person at least 57 days after the index application (past the 56-day duty the
first one opened, so a case moving from prevention to relief duty is not counted as a new one) and no more than
365 days after it (12 months: day 365 counts, day 366 does not). Forward-looking, per application: applications
less than 365 days before the data end are left out, so each has its whole year.

Two cohorts: every application in the period (``overall`` and its breakdowns; a person applying twice counts
twice, two records of one person on one day once), and each person's first application in the period
(``people_*``: of people with a homelessness application, the share applying again within 12 months). Any
later application counts as the repeat, whatever its duty or support needs. 57 and 365 are the defaults of the
``gap_days`` and ``within_days`` parameters. Shares with Wilson intervals; by financial year (partial years
flagged), drug or alcohol support need, duty, region, sex and age band, as agreed.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bold.studies.builtin import common
from bold.studies.builtin.homelessness import duty_label
from bold.studies.language import PERSON, Cohort, Extract, StudyError, financial_year
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed, unagreed_breakdowns

NEEDS = ("support_need_drug", "support_need_alcohol")
OPTIONAL_FIELDS = ("duty", "local_authority", *NEEDS)

DEFINITION = (
    "Homelessness applications in the period (day 0: the application date), one per person and date. Repeat "
    "within 12 months: the same person makes another application on days 57 to 365 after it (day 57 counts, 56 "
    "does not: an application within the 56-day prevention or relief duty the first opened (Homelessness "
    "Reduction Act 2017) may be the same case; day 365 counts, 366 does not). The source holds no case closing "
    "date, so Scotland's published rule (a previous case closed within 12 months of the current assessment, "
    "Homelessness in Scotland) is approximated by the 56-day duty. Any later application counts, whatever its duty "
    "or needs. Applications less than 365 days before the data end are left out (complete follow-up). Per "
    "application (overall, by_*) and per person by their first application in the period (people_*). 57 and 365 "
    "are the defaults of gap_days and within_days. Intervals: Wilson 95%."
)


def need_label(t: ir.Table) -> ir.StringValue:
    """Drug or alcohol support need (either flag true), neither, or missing (both flags missing)."""
    either = t.support_need_drug.fill_null(False) | t.support_need_alcohol.fill_null(False)
    unknown = t.support_need_drug.isnull() & t.support_need_alcohol.isnull()
    return ibis.ifelse(unknown, "missing", ibis.ifelse(either, "drug or alcohol", "neither"))


def applications(extract: Extract, params: dict, first_only: bool = False) -> Cohort:
    """Applications with ``repeat``: another application by the person on days ``gap_days`` to ``within_days``;
    with ``first_only``, each person's first application in the period."""
    fields = [f for f in OPTIONAL_FIELDS if agreed(extract, f"homelessness.{f}")]
    cohort = Cohort(extract, "homelessness", index="application_date", fields=fields, period=common.period(params))
    if first_only:
        cohort.derive(_nth=lambda t: ibis.row_number().over(group_by=t[PERSON], order_by=t.index_date))
        cohort.keep(lambda t: t._nth == 0)
    gap, within = params["gap_days"], params["within_days"]
    if not (isinstance(gap, int) and isinstance(within, int) and 1 <= gap <= within):
        raise StudyError("repeat-homelessness needs whole numbers of days with 1 <= gap_days <= within_days")
    cohort.first_event("days_to_repeat", "homelessness", "application_date", within=(gap, within))
    common.complete_follow_up(cohort, within)
    return cohort.derive(repeat=lambda t: t.days_to_repeat.notnull())


def add_breakdowns(cohort: Cohort) -> list[str]:
    names = []
    if all(f in cohort.t.columns for f in NEEDS):
        cohort.derive(support_need=need_label)
        names.append("support_need")
    if "duty" in cohort.t.columns:
        cohort.derive(duty=duty_label)
        names.append("duty")
    la = "local_authority" if "local_authority" in cohort.t.columns else None
    return [*names, *(g for g in common.breakdowns(cohort, la) if g != "quarter")]


def compute(extract: Extract, params: dict) -> StudyOutput:
    events = {"repeated": "repeat"}  # not "repeat": a pandas method
    each = applications(extract, params)
    groups = add_breakdowns(each)
    tables = {"overall": common.shares(each, [], events)}
    for by in groups:
        tables[f"by_{by}"] = common.shares(each, [by], events)
    first = applications(extract, params, first_only=True).derive(financial_year=financial_year)
    tables["people_overall"] = common.shares(first, [], events)
    tables["people_by_financial_year"] = common.shares(first, ["financial_year"], events)
    charts = {
        "by_financial_year": common.share_chart(
            tables["by_financial_year"],
            "financial_year",
            "repeated_share",
            "Homelessness applications followed by another within 12 months",
        )
    }
    notes = unagreed_breakdowns(extract, "homelessness", OPTIONAL_FIELDS)
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="repeat-homelessness",
        title="Repeat homelessness within 12 months",
        question="DOMAIN.md 6.6 (repeat homelessness, seed 002; Homelessness in Scotland's repeat measure)",
        definition=DEFINITION,
        needs=("homelessness.application_date",),
        optional=(*(f"homelessness.{f}" for f in OPTIONAL_FIELDS), *common.PERSON_OPTIONAL),
        compute=compute,
        parameters={"start": None, "end": None, "gap_days": 57, "within_days": 365},
        main=MainMeasure.share("overall", "repeated_share"),
    )
]
