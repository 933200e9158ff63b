"""Treatment for people on probation (docs/design/DOMAIN.md 6.1): community orders with a drug or alcohol treatment
requirement, whether a treatment journey follows, how soon, and how many complete.

BOLD's own linked figures for this question range from about 26% to "up to 90%" depending on how records
are linked, so the definition is kept literal and every boundary explicit:

- Cohort: probation orders of type community order or suspended sentence order (``order_type`` CO or SSO;
  licences, LIC, are left out) with a drug rehabilitation requirement or an alcohol treatment requirement
  (a missing flag counts as no requirement). The unit is the order: a person with two orders counts twice,
  but records of one person with the same start date count once (the study language's rule for duplicates).
  Day 0 is the order start date. Orders starting less than ``within_days`` days before the data end are left
  out, so every order has a full window of follow-up.
- Treatment started: a treatment journey starting on days 0 to ``within_days`` (182 by default, about six
  months) inclusive; day 183 does not count. Denominator: all orders in the cohort.
- Already in treatment: a journey open on the index date: started before day 0 (day 0 belongs to "treatment
  started") and not discharged before it (no discharge date, or one on day 0 or later). Denominator: all
  orders. Needs ``treatment.discharge_date``; without it, a journey starting on days -``before_days`` to -1
  (the 90 days before the order) stands in, with a note. Orders near the start of the data may have a journey
  open that the data do not hold.
- Reached treatment: treatment started in the window or already in treatment on day 0, as a share of all
  orders (an order starting while a journey is open has not failed to reach treatment).
- Days to treatment: median and quartiles of the days from order start to the first journey start in the
  window, among orders with one (DuckDB ``quantile_cont`` / Spark ``percentile``: linear interpolation);
  ``treatment_started_people`` counts the distinct people behind them.
- Journey completed (when ``treatment.discharge_reason`` is agreed): the first journey in the window ended
  with an NDTMS completion reason (CDF, CAU). Denominator: orders with a treatment start in the window; a
  missing discharge reason (journey still open or unrecorded) counts as not completed.
- Order completed (when ``probation.termination_reason`` is agreed): termination reason CMP. Denominator:
  all orders, so orders still running or with no recorded reason count as not completed.

Intervals: Wilson 95%.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.language import PARTIAL, PERSON, Cohort, Extract
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

ORDER_TYPES = ("CO", "SSO")
DISCHARGE = "treatment.discharge_reason"
TERMINATION = "probation.termination_reason"
DISCHARGE_DATE = "treatment.discharge_date"
QUARTILES = (("days_q1", 0.25), ("days_median", 0.5), ("days_q3", 0.75))  # of days to treatment

DEFINITION = (
    "Probation orders of type community order or suspended sentence order (CO, SSO; licences excluded) with "
    "a drug rehabilitation requirement (DRR) or alcohol treatment requirement (ATR); one row per order, day 0 "
    "is the order start. Treatment started: a treatment journey starting on days 0 to 182 inclusive "
    "(parameter within_days; day 183 does not count), as a share of all orders. Already in treatment: a "
    "journey open on the order start (started before day 0, no discharge before day 0), as a share of all "
    "orders (without treatment.discharge_date agreed: a journey starting on days -90 to -1, parameter "
    "before_days). Reached treatment: started in the window or already in treatment. Days to "
    "treatment: median and quartiles (linear interpolation) of days to the first journey start in the "
    "window, among orders with one. Journey completed: that first journey ended with an NDTMS completion "
    "reason (CDF, CAU), as a share of orders with a treatment start in the window; a missing discharge "
    "reason counts as not completed. Order completed: probation termination reason CMP, as a share of all "
    "orders. Orders starting less than within_days days before the data end are left out (complete "
    "follow-up). Source: DOMAIN.md 6.1 (BOLD use case 000). Intervals: Wilson 95%."
)


def orders(extract: Extract, params: dict) -> Cohort:
    """The cohort with its outcome columns: one row per CO/SSO order with a DRR or ATR."""
    drr, atr = "drug_rehabilitation_requirement", "alcohol_treatment_requirement"
    fields = [drr, atr] + (["termination_reason"] if agreed(extract, TERMINATION) else [])
    cohort = Cohort(
        extract,
        "probation",
        index="order_start_date",
        fields=fields,
        where=lambda t: t.order_type.isin(ORDER_TYPES) & (t[drr].fill_null(False) | t[atr].fill_null(False)),
        period=common.period(params),
    )
    within, before = params["within_days"], params["before_days"]
    take = ["discharge_reason"] if agreed(extract, DISCHARGE) else []
    cohort.first_event("days_to_treatment", "treatment", "treatment_start_date", within=(0, within), take=take)
    if agreed(extract, DISCHARGE_DATE):
        cohort.ongoing("treated_before", "treatment", "treatment_start_date", end="discharge_date")
    else:
        cohort.last_event("days_to_prior_treatment", "treatment", "treatment_start_date", within=(-before, -1))
        cohort.derive(treated_before=lambda t: t.days_to_prior_treatment.notnull())
    cohort.derive(
        treated=lambda t: t.days_to_treatment.notnull(),
        reached=lambda t: t.days_to_treatment.notnull() | t.treated_before,
        requirement_type=lambda t: requirement_type(t[drr].fill_null(False), t[atr].fill_null(False)),
    )
    if take:
        cohort.derive(
            journey_completed=lambda t: (
                t.treated & t.days_to_treatment_discharge_reason.isin(common.COMPLETION_REASONS).fill_null(False)
            )
        )
    if "termination_reason" in fields:
        cohort.derive(order_completed=lambda t: (t.termination_reason == "CMP").fill_null(False))
    return common.complete_follow_up(cohort, within)


def requirement_type(drr: ir.BooleanValue, atr: ir.BooleanValue) -> ir.StringValue:
    """DRR only, ATR only or both (every order in the cohort has at least one; records of one person and start
    date merged into one order keep a requirement any of them has)."""
    return ibis.cases((drr & atr, "both"), (drr, "DRR only"), else_="ATR only")


def summary(cohort: Cohort, by: list[str]) -> pd.DataFrame:
    """One row per group: counts and shares of each measure, and the days-to-treatment quartiles."""
    flags = {"treatment_started": "treated", "in_treatment_before": "treated_before", "reached_treatment": "reached"}
    flags.update({c: c for c in ("journey_completed", "order_completed") if c in cohort.t.columns})
    quartiles = {label: (lambda t, q=q: t.days_to_treatment.quantile(q)) for label, q in QUARTILES}
    # the quartiles are of orders with a treatment start: the people behind them are counted for disclosure control
    treated_people = {"treatment_started_people": lambda t: t[PERSON].nunique(where=t.treated)}
    extra = {**treated_people, **quartiles}
    table = common.shares(cohort, by, flags, denominators={"journey_completed": "treatment_started"}, extra=extra)
    columns = [*by, *([PARTIAL] if PARTIAL in table.columns else []), "n", "people"]
    for name in flags:
        columns += [name, f"{name}_share", f"{name}_share_low", f"{name}_share_high"]
    table = table[[*columns, *extra]]
    return st.declare(
        table,
        treatment_started_people=st.people(),
        **{label: st.percentile(q, people="treatment_started_people") for label, q in QUARTILES},
    )


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = orders(extract, params)
    groups = [g for g in common.breakdowns(cohort) if g != "quarter"]
    tables = {"overall": summary(cohort, [])}
    for by in ["requirement_type", *groups]:
        tables[f"by_{by}"] = summary(cohort, [by])
    charts = {
        f"by_{by}": common.share_chart(
            tables[f"by_{by}"], by, "treatment_started_share", f"Treatment start within {params['within_days']} days"
        )
        for by in ("financial_year", "requirement_type")
    }
    notes = [
        f"{entry} is not in the agreement: no {what} measure"
        for entry, what in ((DISCHARGE, "journey completion"), (TERMINATION, "order completion"))
        if not agreed(extract, entry)
    ]
    if not agreed(extract, DISCHARGE_DATE):
        notes.append(
            f"{DISCHARGE_DATE} is not in the agreement: 'already in treatment' counts a journey starting in the "
            f"{params['before_days']} days before the order, not a journey open on its start date"
        )
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="probation-to-treatment",
        title="Treatment for people on probation with a drug or alcohol requirement",
        question="DOMAIN.md 6.1 (BOLD use case 000)",
        definition=DEFINITION,
        needs=(
            "probation.order_start_date",
            "probation.order_type",
            "probation.drug_rehabilitation_requirement",
            "probation.alcohol_treatment_requirement",
            "treatment.treatment_start_date",
        ),
        optional=(TERMINATION, DISCHARGE, DISCHARGE_DATE, *common.PERSON_OPTIONAL),
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 182, "before_days": 90},
        main=MainMeasure.share("overall", "reached_treatment_share"),
    )
]
