"""DSCP treatment outcome measures (docs/design/DOMAIN.md 6.5): effective treatment, successful completion and
re-presentation after a successful completion, over treatment journeys.

Effective treatment: a journey starting in the period is effective if it ended (has a discharge date) with a
completion reason (``common.COMPLETION_REASONS``), or lasted at least 83 days (12 weeks): length is discharge
date minus start date in days, so 83 days counts and 82 does not. A journey with no discharge date is still
open: effective if the data end is at least 83 days after its start, otherwise too early to tell, which is
counted in its own column and left out of the denominator (``assessed = n - too_early_to_tell``). A discharge
reason without a discharge date is treated as open and also counted in ``discharge_date_missing``.

Successful completion: per person, the latest journey ending (discharge date) in the period, ordered by
discharge date, then start date, then completions first; the share of those ending with a completion reason
among all of them. One row per person, so ``n`` counts people. By financial year, each year is its own
period (a person's latest journey ending in each year).

Re-presentation: journeys ending in the period with a completion reason, at least 365 days before the data
end (complete follow-up); the share where the same person starts a journey on days 1 to 365 after the
discharge date (day 0 is the discharge date, a start on day 0 is not a return). Per journey, so a person
completing twice counts twice.

83 and 365 are the defaults of the ``effective_days`` and ``re_presentation_days`` parameters; the period
(``start``, ``end``) applies to the start date for effective treatment and to the discharge date for the
other two. As everywhere in the study language, one person's journeys on the same index date (start date for
effective treatment, discharge date for the others) count once, as duplicate records of one journey.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.language import PERSON, Cohort, Extract, financial_year
from bold.studies.study import Study, StudyOutput, agreed

SUBSTANCE_GROUPS = {"OPI": "opiate", "NOP": "non-opiate", "ALC": "alcohol", "NOA": "non-opiate and alcohol"}
REFERRAL_SOURCES = {
    "PRI": "prison",
    "PRB": "probation",
    "SLF": "self",
    "GP": "GP",
    "HOS": "hospital",
    "HSG": "housing or homelessness service",
}
HOUSING = {"1": "no housing problem", "2": "housing problem", "3": "urgent housing problem (no fixed abode)"}
OPTIONAL_FIELDS = ("substance_group", "referral_source", "housing_need", "local_authority")

DEFINITION = (
    "DSCP measures (DOMAIN.md 6.5). Effective treatment: treatment journeys starting in the period that ended "
    "(discharge date present) with a completion reason (CDF, CAU) or lasted at least 83 days (12 weeks), length "
    "being discharge date minus start date in days (83 counts, 82 does not); an open journey (no discharge date, "
    "including one with a discharge reason but no date, counted in discharge_date_missing) is effective if the "
    "data end is at least 83 days after its start, and otherwise too early to tell: counted in "
    "too_early_to_tell and left out of the denominator (assessed). Successful completion: per person, the "
    "latest journey ending in the period (by discharge date, then start date, completions first on ties); the "
    "share ending with a completion reason among all such ended journeys (by financial year, each year is its "
    "own period). Re-presentation: journeys ending in the period with a completion reason at least 365 days "
    "before the data end; the share where the same person starts a new journey on days 1 to 365 after the "
    "discharge date (day 0 = discharge date). 83 and 365 are parameter defaults (effective_days, "
    "re_presentation_days). The period applies to the start date for effective treatment, to the discharge date "
    "for the others. Intervals: Wilson 95%."
)


def _optional(extract: Extract) -> list[str]:
    return [f for f in OPTIONAL_FIELDS if agreed(extract, f"treatment.{f}")]


def _completed(t: ir.Table) -> ir.BooleanValue:
    """Ended (has a discharge date) with a completion reason; a reason without a date is not an ending."""
    return (t.discharge_date.notnull() & t.discharge_reason.isin(common.COMPLETION_REASONS)).fill_null(False)


def label(t: ir.Table, column: str, labels: dict[str, str]) -> ir.StringValue:
    """A code as its readable label; unknown codes kept as they are, missing values as "missing"."""
    cases = [(t[column] == code, text) for code, text in labels.items()]
    return ibis.cases(*cases, else_=t[column]).fill_null("missing")


def add_breakdowns(cohort: Cohort) -> list[str]:
    """Readable substance group, referral source and housing columns (when agreed) and the standard breakdowns."""
    names = []
    if "substance_group" in cohort.t.columns:
        cohort.derive(substance=lambda t: label(t, "substance_group", SUBSTANCE_GROUPS))
        names.append("substance")
    if "referral_source" in cohort.t.columns:
        cohort.derive(referral=lambda t: label(t, "referral_source", REFERRAL_SOURCES))
        names.append("referral")
    if "housing_need" in cohort.t.columns:
        cohort.derive(housing=lambda t: label(t, "housing_need", HOUSING))
        names.append("housing")
    la = "local_authority" if "local_authority" in cohort.t.columns else None
    groups = [g for g in common.breakdowns(cohort, la) if g != "quarter"]
    return [*names, *groups]


def effective(extract: Extract, params: dict) -> Cohort:
    days = params["effective_days"]
    by_end = extract.data_end - dt.timedelta(days=days)  # an open journey started on or before this has lasted
    cohort = Cohort(
        extract,
        "treatment",
        index="treatment_start_date",
        fields=["discharge_date", "discharge_reason", *_optional(extract)],
        period=common.period(params),
    )
    return cohort.derive(
        open=lambda t: t.discharge_date.isnull(),
        completed=_completed,
        length=lambda t: t.discharge_date.delta(t.index_date, unit="day"),
    ).derive(
        effective=lambda t: t.completed | (t.open & (t.index_date <= by_end)) | (~t.open & (t.length >= days)),
        too_early_to_tell=lambda t: t.open & (t.index_date > by_end),
        discharge_date_missing=lambda t: t.open & t.discharge_reason.notnull(),
    )


def latest_ended(extract: Extract, params: dict, per_year: bool = False) -> Cohort:
    """One row per person (per person and financial year of discharge when ``per_year``): the latest journey
    ending in the period."""
    cohort = Cohort(
        extract,
        "treatment",
        index="discharge_date",
        fields=["treatment_start_date", "discharge_reason", *_optional(extract)],
        period=common.period(params),
    )
    cohort.derive(
        completed=lambda t: t.discharge_reason.isin(common.COMPLETION_REASONS).fill_null(False),
        financial_year=financial_year,
    )
    keys = [PERSON, "financial_year"] if per_year else [PERSON]
    cohort.derive(
        _latest=lambda t: ibis.row_number().over(
            group_by=[t[k] for k in keys],
            order_by=[t.index_date.desc(), t.treatment_start_date.desc(), t.completed.cast("int64").desc()],
        )
    )
    return cohort.keep(lambda t: t._latest == 0)


def completers(extract: Extract, params: dict) -> Cohort:
    days = params["re_presentation_days"]
    cohort = Cohort(
        extract,
        "treatment",
        index="discharge_date",
        fields=_optional(extract),
        where=lambda t: t.discharge_reason.isin(common.COMPLETION_REASONS),
        period=common.period(params),
    )
    cohort.first_event("days_to_return", "treatment", "treatment_start_date", within=(1, days))
    common.complete_follow_up(cohort, days)
    return cohort.derive(returned=lambda t: t.days_to_return.notnull())


def effective_table(cohort: Cohort, by: list[str]):
    counts = {f: f for f in ("too_early_to_tell", "discharge_date_missing")}
    assessed = {"assessed": lambda t: (~t.too_early_to_tell).cast("int64").sum()}  # the denominator
    table = common.shares(
        cohort, by, {"effective": "effective"}, denominators={"effective": "assessed"}, counts=counts, extra=assessed
    )
    return st.declare(table, assessed=st.events())


def compute(extract: Extract, params: dict) -> StudyOutput:
    tables = {}
    journeys = effective(extract, params)
    groups = add_breakdowns(journeys)
    tables["effective_overall"] = effective_table(journeys, [])
    for by in groups:
        tables[f"effective_by_{by}"] = effective_table(journeys, [by])

    ended = latest_ended(extract, params)
    groups = add_breakdowns(ended)
    events = {"completed": "completed"}
    tables["completion_overall"] = common.shares(ended, [], events)
    for by in groups:
        if by != "financial_year":
            tables[f"completion_by_{by}"] = common.shares(ended, [by], events)
    tables["completion_by_financial_year"] = common.shares(
        latest_ended(extract, params, per_year=True), ["financial_year"], events
    )

    returns = completers(extract, params)
    groups = add_breakdowns(returns)
    events = {"re_presented": "returned"}
    tables["re_presentation_overall"] = common.shares(returns, [], events)
    for by in groups:
        tables[f"re_presentation_by_{by}"] = common.shares(returns, [by], events)

    charts = {
        "effective_by_financial_year": common.share_chart(
            tables["effective_by_financial_year"],
            "financial_year",
            "effective_share",
            "Effective treatment by financial year of start",
        ),
        "completion_by_financial_year": common.share_chart(
            tables["completion_by_financial_year"],
            "financial_year",
            "completed_share",
            "Successful completion by financial year of discharge",
        ),
    }
    notes = [
        f"treatment.{f} is not in the agreement: no breakdown by it"
        for f in OPTIONAL_FIELDS
        if not agreed(extract, f"treatment.{f}")
    ]
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="treatment-outcomes",
        title="Treatment outcomes: effective treatment, successful completion, re-presentation",
        question="DOMAIN.md 6.5 (DSCP measures)",
        definition=DEFINITION,
        needs=(
            "treatment.treatment_start_date",
            "treatment.discharge_date",
            "treatment.discharge_reason",
        ),
        optional=(*(f"treatment.{f}" for f in OPTIONAL_FIELDS), "person.sex", "person.birth_year"),
        compute=compute,
        parameters={"start": None, "end": None, "effective_days": 83, "re_presentation_days": 365},
    )
]
