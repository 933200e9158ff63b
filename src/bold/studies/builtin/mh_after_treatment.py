"""Mental-health contact in the year after leaving drug and alcohol treatment (docs/design/DOMAIN.md 6.6; seed 000:
a person with lived experience "worried about my mental health when I come off my addiction medication", and the
BOLD use case asking for mental-health support as people leave treatment).

No published indicator measures this, so every boundary is decided here and explicit:

- Cohort: treatment journeys that ended (``treatment.discharge_date``) in the period, one row per journey; day 0
  is the discharge date. Records of one person with the same discharge date count once (the study language's rule
  for duplicates). Journeys ended by death in treatment (discharge reason ``DIE``) are left out: there is no year
  after them. A discharge date without a reason is kept (reason group ``missing``).
- Contact: a mental-health referral (``mental_health.referral_date``, MHSDS) on days 0 to ``within_days`` (365)
  after the discharge; day 365 counts, day 366 does not. Denominator: all journeys in the cohort.
- Follow-up: journeys discharged less than 365 days before the data end are left out, so each has its whole year.
  Deaths after discharge are not censored (a person who dies in the year counts as having had no contact after it).
- Reason group, as ``treatment-outcomes`` classifies NDTMS codes (``common.COMPLETION_REASONS``,
  ``common.TRANSFER_REASONS``): completed, transferred, incomplete (every other reason), missing.
- Contact before: a referral on days -``before_days`` to -1 (365) before the journey's *start*
  (``treatment.treatment_start_date``), as the dual-diagnosis study counts it.
- Medication: the treatment source holds no opioid substitution or other medication field, so "coming off
  addiction medication" cannot be told apart; the substance group (opiate journeys are those where OST is the
  usual treatment) is the nearest breakdown the data hold, and the output says so.
- Days to first contact: median and quartiles (linear interpolation) among journeys with a contact in the year;
  ``contact_people`` counts the people behind them.

Intervals: Wilson 95%.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.builtin.treatment_outcomes import SUBSTANCE_GROUPS, label
from bold.studies.language import PARTIAL, PERSON, Cohort, Extract, StudyError
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed, unagreed_breakdowns

OPTIONAL_FIELDS = ("substance_group", "local_authority")
DIED = "DIE"  # NDTMS: died in treatment
QUARTILES = (("days_q1", 0.25), ("days_median", 0.5), ("days_q3", 0.75))  # of days to the first contact

DEFINITION = (
    "Drug and alcohol treatment journeys (NDTMS) discharged in the period, one row per person and discharge date, "
    "day 0 the discharge date; journeys ended by death in treatment (discharge reason DIE) are left out. Contact: "
    "a mental-health referral (MHSDS referral date) on days 0 to 365 after the discharge (parameter within_days; "
    "day 365 counts, day 366 does not), as a share of all journeys. Journeys discharged less than 365 days before "
    "the data end are left out (complete follow-up); deaths after discharge are not censored. Reason group as "
    "treatment-outcomes classifies NDTMS codes: completed (CDF, CAU), transferred (TNC, TIC), incomplete (any other "
    "reason), missing. Contact before: a referral on days -365 to -1 before the journey's start (parameter "
    "before_days). The data hold no medication field: substance group stands in for 'coming off addiction "
    "medication' (opiate journeys). Days to first contact: quartiles (linear interpolation) among journeys with "
    "one. Source: seed 000 (lived experience: mental health on coming off addiction medication), DOMAIN.md 6.6. "
    "Intervals: Wilson 95%."
)


def reason_group(t: ir.Table) -> ir.StringValue:
    """Completed, transferred or incomplete, by the NDTMS codes treatment-outcomes counts as each."""
    reason = t.discharge_reason
    return ibis.cases(
        (reason.isnull(), "missing"),
        (reason.isin(common.COMPLETION_REASONS), "completed"),
        (reason.isin(common.TRANSFER_REASONS), "transferred"),
        else_="incomplete",
    )


def journeys(extract: Extract, params: dict) -> Cohort:
    """The cohort with ``mh_contact`` (a referral in the year after discharge) and ``mh_before_start``."""
    within, before = params["within_days"], params["before_days"]
    if not all(isinstance(v, int) and v >= 1 for v in (within, before)):
        raise StudyError("mh-after-treatment needs whole numbers of days: within_days >= 1 and before_days >= 1")
    fields = ["treatment_start_date", "discharge_reason"]
    fields += [f for f in OPTIONAL_FIELDS if agreed(extract, f"treatment.{f}")]
    cohort = Cohort(
        extract,
        "treatment",
        index="discharge_date",
        fields=fields,
        where=lambda t: t.discharge_reason.isnull() | (t.discharge_reason != DIED),
        period=common.period(params),
    )
    cohort.first_event("days_to_mh", "mental_health", "referral_date", within=(0, within))
    cohort.last_event(
        "days_mh_before", "mental_health", "referral_date", within=(-before, -1), since="treatment_start_date"
    )
    cohort.looks_back(before)  # discharges in the data's first year: their journeys' look-back is shorter
    cohort.derive(
        mh_contact=lambda t: t.days_to_mh.notnull(),
        mh_before_start=lambda t: ibis.ifelse(t.days_mh_before.notnull(), "yes", "no"),
        reason_group=reason_group,
    )
    if "substance_group" in cohort.t.columns:
        cohort.derive(substance=lambda t: label(t, "substance_group", SUBSTANCE_GROUPS))
    return common.complete_follow_up(cohort, within)


def summary(cohort: Cohort, by: list[str]) -> pd.DataFrame:
    """Per group: journeys, people, contact count and share, and the days-to-contact quartiles."""
    quartiles = {name: (lambda t, q=q: t.days_to_mh.quantile(q)) for name, q in QUARTILES}
    # the quartiles are of journeys with a contact: the people behind them are counted for disclosure control
    extra = {"contact_people": lambda t: t[PERSON].nunique(where=t.mh_contact), **quartiles}
    table = common.shares(cohort, by, {"mh_contact": "mh_contact"}, extra=extra)
    columns = [*by, *([PARTIAL] if PARTIAL in table.columns else []), "n", "people"]
    columns += ["mh_contact", "mh_contact_share", "mh_contact_share_low", "mh_contact_share_high", *extra]
    table = table[columns]
    table["contact_people"] = table["contact_people"].fillna(0).astype(int)
    return st.declare(
        table,
        contact_people=st.people(),
        **{name: st.percentile(q, people="contact_people") for name, q in QUARTILES},
    )


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = journeys(extract, params)
    la = "local_authority" if "local_authority" in cohort.t.columns else None
    groups = [g for g in common.breakdowns(cohort, la) if g != "quarter"]
    labelled = ["reason_group", *(["substance"] if "substance" in cohort.t.columns else []), "mh_before_start"]
    tables = {"overall": summary(cohort, [])}
    for by in [*labelled, *groups]:
        tables[f"by_{by}"] = summary(cohort, [by])
    charts = {
        "by_reason_group": common.share_chart(
            tables["by_reason_group"],
            "reason_group",
            "mh_contact_share",
            "Mental-health contact in the year after leaving treatment, by how treatment ended",
        )
    }
    notes = [
        "The treatment source holds no medication (opioid substitution) field: 'coming off addiction medication' "
        "cannot be told apart; the substance group (opiate journeys) is the nearest breakdown.",
        f"Journeys discharged less than {params['before_days']} days after the data start may have started "
        "before it, so contact before the start can be missed; their financial years are marked partial_period.",
        *unagreed_breakdowns(extract, "treatment", OPTIONAL_FIELDS),
    ]
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="mh-after-treatment",
        title="Mental-health contact in the year after leaving treatment",
        question="DOMAIN.md 6.6 (seed 000: mental-health support on coming off addiction medication)",
        definition=DEFINITION,
        needs=(
            "treatment.treatment_start_date",
            "treatment.discharge_date",
            "treatment.discharge_reason",
            "mental_health.referral_date",
        ),
        optional=(*(f"treatment.{f}" for f in OPTIONAL_FIELDS), *common.PERSON_OPTIONAL),
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 365, "before_days": 365},
        main=MainMeasure.share("overall", "mh_contact_share"),
    )
]
