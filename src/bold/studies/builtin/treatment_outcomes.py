"""DSCP treatment outcome measures (docs/design/DOMAIN.md 6.5): effective treatment and successful completion as
the DSCP evaluation defines them (seed 001, appendix B2), the per-journey effective treatment BOLD counted before,
and re-presentation after a successful completion.

Effective treatment and successful completion (DSCP) are per client and period: the period is the study period
(``start`` to ``end``, by default the data's first journey start to the data end) or, by financial year, each year
on its own (clipped to the data at the edges, and flagged partial). The clients are everyone with a treatment
journey crossing into the period (started by its end, and not discharged before its start), aged 18 or over at the
journey's start (when ``person.birth_year`` is agreed; age by the mid-year convention, ``language.age_at``). Each
client counts once, by their latest journey within the period (latest start; a completed one first on ties).

- Effective treatment: only journeys starting no less than 83 days before the period end count (footnote 35: so
  every journey could have lasted 83 days; a start 83 days before the end counts, 82 does not). The latest such
  journey is effective if it ended in the period with a completion reason (``common.COMPLETION_REASONS``) or its
  length, discharge date (if in the period) or else the period end minus the start date, is at least 83 days.
  Denominator: the clients.
- Successful completion: the latest journey ended in the period with a completion reason. Two shares: of the
  clients whose latest journey exited in the period ("clients with completions, successful or otherwise", the
  DSCP's percentage) and of all clients in treatment (as the DSCP's Table 7.7 and PHOF's indicator set it, so
  keeping clients longer is not rewarded). Transfers (``common.TRANSFER_REASONS``, NDTMS's "transferred, not in
  custody" and "transferred, in custody") are not exits, as NDTMS counts them: the client continues treatment
  with another provider; they are counted in ``transferred``, left out of the exits and count as not completed
  among all in treatment.

Effective treatment per journey (the ``effective_per_journey_*`` tables, BOLD's earlier measure): each journey
starting in the period is effective if it ended with a completion reason or lasted at least 83 days (discharge
date minus start date); an open journey is effective if the data end is at least 83 days after its start, and
otherwise too early to tell (``too_early_to_tell``, left out of the denominator ``assessed``). A discharge reason
without a discharge date is treated as open and also counted in ``discharge_date_missing``.

Re-presentation: journeys ending in the period with a completion reason, at least 365 days before the data
end (complete follow-up); the share where the same person starts a journey on days 1 to 365 after the
discharge date (day 0 is the discharge date, a start on day 0 is not a return). Per journey, so a person
completing twice counts twice.

83 and 365 are the defaults of the ``effective_days`` and ``re_presentation_days`` parameters. As everywhere in
the study language, one person's journeys on the same start date count once, as duplicate records of one journey.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.language import PERSON, Cohort, Extract, age_at, financial_years
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed, unagreed_breakdowns

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
    "DSCP definitions (seed 001, appendix B2; DOMAIN.md 6.5), per client and period (the study period, or each "
    "financial year on its own, partial years flagged): clients with a treatment journey crossing into the period "
    "(started by its end, not discharged before its start), aged 18+ at the journey start (mid-year convention), "
    "each counted once by their latest journey within the period. Effective treatment: of journeys starting no "
    "less than 83 days before the period end (83 counts, 82 does not), the latest is effective if it ended in the "
    "period with a completion reason (CDF, CAU) or its length (to its discharge if in the period, else to the "
    "period end) is at least 83 days; share of clients. Successful completion: the latest journey ended in the "
    "period with a completion reason, as a share of clients whose latest journey exited in the period (the DSCP's "
    "percentage) and of all clients in treatment (Table 7.7); transfers (TNC, TIC) are not exits, as NDTMS counts "
    "them: left out of exits, counted in transferred. Effective treatment per journey (effective_per_journey "
    "tables): journeys starting in the period that ended with a completion reason or lasted at least 83 days; an "
    "open journey is effective once 83 days old at the data end, otherwise too early to tell (left out of "
    "assessed). Re-presentation: journeys ending in the period with a completion reason at least 365 days before "
    "the data end; the share where the same person starts a new journey on days 1 to 365 after the discharge date "
    "(day 0 = discharge date). 83 and 365 are parameter defaults (effective_days, re_presentation_days). "
    "Intervals: Wilson 95%."
)
ADULT = 18  # the DSCP counted clients aged 18+


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


def effective_per_journey(extract: Extract, params: dict) -> Cohort:
    """Each journey starting in the period (BOLD's per-journey measure, kept beside the DSCP's per client)."""
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


def periods(cohort: Cohort, params: dict, per_year: bool) -> list[tuple[str, dt.date, dt.date]]:
    """The study period (from the data's first journey start to the data end unless set), or its financial
    years, each clipped to the data."""
    start, end = common.period(params)
    first = max(d for d in (start, cohort.first_date()) if d is not None)
    last = min(d for d in (end, cohort.extract.data_end) if d is not None)
    return financial_years(first, last) if per_year else [("all", first, last)]


def clients(
    extract: Extract,
    params: dict,
    per_year: bool = False,
    effective: bool = False,
    breakdowns: bool = True,
    spans: list[tuple[str, dt.date, dt.date]] | None = None,
) -> Cohort:
    """One row per client (per client and financial year when ``per_year``, the year in ``financial_year``; per
    client and each of ``spans``, (label, first day, last day), the label in ``period``, when given): their latest
    journey within the period, of those starting at least ``effective_days`` before the period end
    when counting ``effective`` treatment. Adds the DSCP outcomes: ``effective``, ``completed``, ``exited``,
    ``transferred``; the optional fields for breakdowns unless ``breakdowns`` is false."""
    days = params["effective_days"]
    fields = ["discharge_date", "discharge_reason", *(_optional(extract) if breakdowns else [])]
    cohort = Cohort(extract, "treatment", index="treatment_start_date", fields=fields)
    name = "financial_year" if per_year else "period"
    spans = spans or periods(cohort, params, per_year)
    cohort.crossing(spans, "discharge_date", name=name).covers(spans[0][1], spans[-1][2])
    if effective:  # footnote 35: "journey start dates were restricted to be no less than 83 days before the end"
        cohort.keep(lambda t: t.index_date <= t.period_end.sub(ibis.interval(days=days)))
    if agreed(extract, "person.birth_year"):
        cohort.person(["birth_year"])
        cohort.keep(lambda t: t.birth_year.isnull() | (age_at(t) >= ADULT))
    ended = lambda t: t.discharge_date.notnull() & (t.discharge_date <= t.period_end)  # noqa: E731
    cohort.derive(
        ended=ended,
        completed=lambda t: ended(t) & t.discharge_reason.isin(common.COMPLETION_REASONS).fill_null(False),
    ).derive(
        _latest=lambda t: ibis.row_number().over(
            group_by=[t[PERSON], t[name]], order_by=[t.index_date.desc(), t.completed.cast("int64").desc()]
        )
    )
    cohort.keep(lambda t: t._latest == 0)
    return cohort.derive(
        length=lambda t: ibis.ifelse(t.ended, t.discharge_date, t.period_end).delta(t.index_date, unit="day"),
        transferred=lambda t: t.ended & t.discharge_reason.isin(common.TRANSFER_REASONS).fill_null(False),
    ).derive(
        effective=lambda t: t.completed | (t.length >= days),
        exited=lambda t: t.ended & ~t.transferred,
    )


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


def effective_per_journey_table(cohort: Cohort, by: list[str]):
    counts = {f: f for f in ("too_early_to_tell", "discharge_date_missing")}
    assessed = {"assessed": lambda t: (~t.too_early_to_tell).cast("int64").sum()}  # the denominator
    table = common.shares(
        cohort, by, {"effective": "effective"}, denominators={"effective": "assessed"}, counts=counts, extra=assessed
    )
    return st.declare(table, assessed=st.events())


def effective_table(cohort: Cohort, by: list[str]):
    """Clients in effective treatment among all clients (DSCP)."""
    return common.shares(cohort, by, {"effective": "effective"})


def completion_table(cohort: Cohort, by: list[str]):
    """Successful completions among clients who exited (DSCP) and among all clients in treatment (Table 7.7)."""
    return common.shares(
        cohort,
        by,
        {"completed": "completed", "completed_in_treatment": "completed"},
        denominators={"completed": "exits"},
        counts={"exits": "exited", "transferred": "transferred"},
    )


def _dscp_tables(extract: Extract, params: dict, prefix: str, effective: bool, table) -> dict:
    tables = {}
    cohort = clients(extract, params, effective=effective)
    groups = [g for g in add_breakdowns(cohort) if g != "financial_year"]
    tables[f"{prefix}_overall"] = table(cohort, [])
    for by in groups:
        tables[f"{prefix}_by_{by}"] = table(cohort, [by])
    tables[f"{prefix}_by_financial_year"] = table(
        clients(extract, params, per_year=True, effective=effective), ["financial_year"]
    )
    return tables


def compute(extract: Extract, params: dict) -> StudyOutput:
    tables = {}
    tables.update(_dscp_tables(extract, params, "effective", True, effective_table))
    tables.update(_dscp_tables(extract, params, "completion", False, completion_table))

    journeys = effective_per_journey(extract, params)
    add_breakdowns(journeys)
    tables["effective_per_journey_overall"] = effective_per_journey_table(journeys, [])
    tables["effective_per_journey_by_financial_year"] = effective_per_journey_table(journeys, ["financial_year"])

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
            "Clients in effective treatment by financial year (DSCP)",
        ),
        "completion_by_financial_year": common.share_chart(
            tables["completion_by_financial_year"],
            "financial_year",
            "completed_share",
            "Successful completions among clients who exited, by financial year (DSCP)",
        ),
    }
    notes = unagreed_breakdowns(extract, "treatment", OPTIONAL_FIELDS)
    if not agreed(extract, "person.birth_year"):
        notes.append("person.birth_year is not in the agreement: clients of every age count, not only those 18+")
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
        optional=(*(f"treatment.{f}" for f in OPTIONAL_FIELDS), *common.PERSON_OPTIONAL),
        compute=compute,
        parameters={"start": None, "end": None, "effective_days": 83, "re_presentation_days": 365},
        main=MainMeasure.share("effective_overall", "effective_share"),
    )
]
