"""Referral to triage within 21 days, and the DSCP's triage within six weeks (docs/design/DOMAIN.md 6.6).

Two published targets measure the same wait: North Lanarkshire's service-level agreement "that people are
assessed within 21 days" of referral (seed 002), and the DSCP's continuity measure for criminal-justice
referrals, "the percentages of clients triaged within six weeks of referral" (seed 001, appendix C4: "number of
clients with DIP referrals (during the quarter); and number (of these) triaged within six weeks of referral").
NDTMS records a triage date on each journey (``treatment.triage_date``); it is the nearest these data hold to an
assessment.

The cohort is every referral to treatment in the period (``treatment.referral_date``; day 0 is the referral
date), one row per person and referral date (a referral recorded on two journeys counts once, with the earlier
triage). Triaged within 21 days: a triage on days 0 to 21 (day 21 counts, day 22 does not). Within six weeks:
days 0 to 42 (42 counts, 43 does not). A referral with no triage date counts as not triaged (``no_triage_date``);
one whose triage date is before its referral date is a recording error, counted in ``triage_before_referral`` and
not as triaged. Referrals less than 42 days before the data end are left out, so every referral has its full
six weeks. Shares of referrals, with Wilson intervals; by financial year and quarter (partial periods flagged),
criminal-justice route (prison or probation referrals, the DSCP's DIP referrals, against every other route),
referral source, substance, region, sex and age band, as agreed.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bold.studies.builtin import common
from bold.studies.builtin.treatment_outcomes import REFERRAL_SOURCES, SUBSTANCE_GROUPS, label
from bold.studies.language import Cohort, Extract
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed, unagreed_breakdowns

CRIMINAL_JUSTICE = ("PRI", "PRB")  # NDTMS referral sources: prison, probation (the DSCP's DIP referrals)
OPTIONAL_FIELDS = ("referral_source", "substance_group", "local_authority")

DEFINITION = (
    "Referrals to treatment in the period (treatment.referral_date, day 0), one per person and referral date. "
    "Triaged within 21 days: a triage date on days 0 to 21 after the referral (day 21 counts, day 22 does not), "
    "the 21-day assessment target of seed 002 (North Lanarkshire: 'people are assessed within 21 days'). Triaged "
    "within six weeks: days 0 to 42 (42 counts, 43 does not), the DSCP's 'clients triaged within six weeks of "
    "referral' (seed 001, appendix C4), counted for criminal-justice referrals (prison, probation) in the by_route "
    "tables. No triage date: not triaged (no_triage_date); a triage date before the referral date: a recording "
    "error, not triaged (triage_before_referral). Referrals less than 42 days before the data end are left out "
    "(complete follow-up). 21 and 42 are the defaults of the within_days and six_week_days parameters; the period "
    "applies to the referral date. Shares of referrals; intervals: Wilson 95%."
)


def route_label(t: ir.Table) -> ir.StringValue:
    """Criminal-justice referral (prison or probation) or any other route; missing kept apart."""
    cj = ibis.ifelse(t.referral_source.isin(CRIMINAL_JUSTICE), "criminal justice", "every other route")
    return ibis.ifelse(t.referral_source.isnull(), "missing", cj)


def referrals(extract: Extract, params: dict) -> Cohort:
    """Referrals with complete follow-up and the triage outcomes: ``triaged_21``, ``triaged_42``,
    ``no_triage``, ``triage_early``."""
    within, six_weeks = params["within_days"], params["six_week_days"]
    optional = [f for f in OPTIONAL_FIELDS if agreed(extract, f"treatment.{f}")]
    cohort = Cohort(
        extract,
        "treatment",
        index="referral_date",
        fields=["triage_date", *optional],
        period=common.period(params),
    )
    common.complete_follow_up(cohort, max(within, six_weeks))
    cohort.derive(_wait=lambda t: t.triage_date.delta(t.index_date, unit="day"))
    return cohort.derive(
        triaged_21=lambda t: t._wait.between(0, within).fill_null(False),
        triaged_42=lambda t: t._wait.between(0, six_weeks).fill_null(False),
        no_triage=lambda t: t.triage_date.isnull(),
        triage_early=lambda t: (t._wait < 0).fill_null(False),
    )


def add_breakdowns(cohort: Cohort) -> list[str]:
    """Route, referral source and substance (when agreed), then the standard breakdowns."""
    names = []
    if "referral_source" in cohort.t.columns:
        cohort.derive(route=route_label, referral=lambda t: label(t, "referral_source", REFERRAL_SOURCES))
        names += ["route", "referral"]
    if "substance_group" in cohort.t.columns:
        cohort.derive(substance=lambda t: label(t, "substance_group", SUBSTANCE_GROUPS))
        names.append("substance")
    la = "local_authority" if "local_authority" in cohort.t.columns else None
    return [*names, *common.breakdowns(cohort, la)]


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = referrals(extract, params)
    groups = add_breakdowns(cohort)
    events = {"triaged_21_days": "triaged_21", "triaged_42_days": "triaged_42"}
    counts = {"no_triage_date": "no_triage", "triage_before_referral": "triage_early"}

    def shares(by):
        return common.shares(cohort, by, events, counts=counts)

    tables = {"overall": shares([])}
    for by in groups:
        tables[f"by_{by}"] = shares([by])
    if "route" in groups:
        tables["by_route_financial_year"] = shares(["route", "financial_year"])
    charts = {
        "by_financial_year": common.share_chart(
            tables["by_financial_year"],
            "financial_year",
            "triaged_21_days_share",
            f"Referrals triaged within {params['within_days']} days, by financial year",
        )
    }
    if "route" in groups:
        charts["by_route"] = common.share_chart(
            tables["by_route"],
            "route",
            "triaged_42_days_share",
            f"Referrals triaged within {params['six_week_days']} days (DSCP), by route",
        )
    notes = unagreed_breakdowns(extract, "treatment", OPTIONAL_FIELDS)
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="referral-to-triage",
        title="Referral to triage within 21 days and within six weeks",
        question="DOMAIN.md 6.6 (21-day assessment target, seed 002; DSCP triage within six weeks, seed 001)",
        definition=DEFINITION,
        needs=("treatment.referral_date", "treatment.triage_date"),
        optional=(*(f"treatment.{f}" for f in OPTIONAL_FIELDS), *common.PERSON_OPTIONAL),
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 21, "six_week_days": 42},
        main=MainMeasure.share("overall", "triaged_21_days_share"),
    )
]
