"""Dual diagnosis: mental-health service contact around the start of drug and alcohol treatment (docs/design/DOMAIN.md
6.4, asked for by people with lived experience; dual diagnosis is also a DSCP adjustment factor, 6.5).

Linked records can show what NDTMS's own flag cannot: whether people starting treatment were in contact
with mental-health services, before or after. Definitions, every boundary explicit:

- Cohort: treatment journeys (``treatment``), one row per journey; day 0 is the treatment start date.
  Records of one person with the same start date count once (the study language's rule for duplicates).
  Journeys starting less than ``after_days`` (365) days before the data end are left out, so every journey
  has a full year after it; the same journeys make up every measure's denominator.
- Contact before: a mental-health referral (``mental_health.referral_date``, MHSDS) on days
  -``before_days`` to -1 (365 days before; day -366 does not count, day 0 is not "before").
- Contact after: a referral on day 0 to day ``after_days`` (the start day and the 365 days after; day 366
  does not count).
- Both: contact before and after. Neither: no referral on days -365 to 365. Denominator: all journeys.
- Recorded in NDTMS (when ``treatment.receiving_mental_health_treatment`` is agreed): the flag is true.
  Denominator: all journeys (a missing flag counts as not recorded).
- Agreement: among journeys with the NDTMS flag recorded (true or false), the share where the flag matches
  MHSDS contact in either window (days -365 to 365); the table ``agreement`` gives the full cross-tabulation.

A referral counts whatever its number of contacts: MHSDS referrals are the service contact these data hold.
Intervals: Wilson 95%.
"""

from __future__ import annotations

import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.language import PARTIAL, Cohort, Extract, flag
from bold.studies.measures import with_proportion
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

SUBSTANCE_GROUPS = {"OPI": "opiate", "NOP": "non-opiate", "ALC": "alcohol", "NOA": "non-opiate and alcohol"}
REFERRAL_SOURCES = {"PRI": "prison", "PRB": "probation", "SLF": "self", "GP": "GP", "HOS": "hospital", "HSG": "housing"}
NDTMS_FLAG = "treatment.receiving_mental_health_treatment"
LABELLED = {"substance_group": SUBSTANCE_GROUPS, "referral_source": REFERRAL_SOURCES}
CONTACT = {"mh_before": "before", "mh_after": "after", "mh_both": "both", "mh_neither": "neither"}

DEFINITION = (
    "Drug and alcohol treatment journeys (NDTMS), one row per journey, day 0 the treatment start date. "
    "Contact before: a mental-health referral (MHSDS referral date) on days -365 to -1 (parameter "
    "before_days; day -366 does not count). Contact after: a referral on days 0 to 365 (parameter after_days; "
    "day 366 does not count). Both: contact before and after; neither: no referral on days -365 to 365. "
    "Denominator: all journeys starting at least 365 days before the data end (complete follow-up). Recorded "
    "in NDTMS: the journey's 'receiving mental health treatment' flag is true, as a share of all journeys. "
    "Agreement: the flag matches MHSDS contact on days -365 to 365, among journeys with the flag recorded. "
    "Source: DOMAIN.md 6.4 (dual diagnosis, BOLD use case 000). Intervals: Wilson 95%."
)


def journeys(extract: Extract, params: dict) -> Cohort:
    """The cohort with its contact columns: one row per treatment journey with a full year after it."""
    fields = [f for f in ("substance_group", "referral_source") if agreed(extract, f"treatment.{f}")]
    has_flag = agreed(extract, NDTMS_FLAG)
    if has_flag:
        fields.append("receiving_mental_health_treatment")
    cohort = Cohort(extract, "treatment", index="treatment_start_date", fields=fields, period=common.period(params))
    before, after = params["before_days"], params["after_days"]
    cohort.last_event("days_since_mh", "mental_health", "referral_date", within=(-before, -1))
    cohort.looks_back(before)  # journeys in the data's first year have a shorter look-back: flagged partial
    cohort.first_event("days_to_mh", "mental_health", "referral_date", within=(0, after))
    cohort.derive(before=lambda t: t.days_since_mh.notnull(), after=lambda t: t.days_to_mh.notnull())
    cohort.derive(both=lambda t: t.before & t.after, neither=lambda t: ~t.before & ~t.after)
    for name, codes in LABELLED.items():
        if name in fields:
            cohort.derive(**{name: lambda t, n=name, c=codes: t[n].substitute(c, else_=t[n]).fill_null("missing")})
    if has_flag:
        cohort.derive(
            ndtms_mh=lambda t: t.receiving_mental_health_treatment.fill_null(False),
            flag_recorded=lambda t: t.receiving_mental_health_treatment.notnull(),
            agree=lambda t: (t.receiving_mental_health_treatment == ~t.neither).fill_null(False),
            ndtms_flag=lambda t: flag(t, "receiving_mental_health_treatment"),
            mhsds_contact=lambda t: flag(t, "neither", yes="no", no="yes"),
        )
    return common.complete_follow_up(cohort, after)


def summary(cohort: Cohort, by: list[str]) -> pd.DataFrame:
    """One row per group: each contact measure's count and share of journeys, and the NDTMS flag's."""
    shares = {**CONTACT}
    counts = {}
    if "ndtms_mh" in cohort.t.columns:
        shares.update(ndtms_mh="ndtms_mh", agree="agree")
        counts = {"flag_recorded_n": "flag_recorded"}
    table = common.shares(cohort, by, shares, denominators={"agree": "flag_recorded_n"}, counts=counts)
    columns = [*by, *([PARTIAL] if PARTIAL in table.columns else []), "n", "people"]
    for name in shares:
        if name == "agree":
            columns += list(counts)  # the agreement's denominator, before it
        columns += [name, f"{name}_share", f"{name}_share_low", f"{name}_share_high"]
    return table[columns]


def agreement(cohort: Cohort) -> pd.DataFrame:
    """NDTMS flag (yes, no, missing) by MHSDS contact on days -365 to 365: journeys and share of all. The
    share's denominator, ``journeys_n`` (all journeys, the same on every row), is kept so it can be checked."""
    table = cohort.summarise(["ndtms_flag", "mhsds_contact"])
    table["journeys_n"] = int(table["n"].sum())
    return with_proportion(st.declare(table, journeys_n=st.events()), "n", "journeys_n")


def long(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """The four contact shares of a breakdown table, one row per group and measure, for one chart."""
    parts = [
        table[[by, f"{name}_share", f"{name}_share_low", f"{name}_share_high"]]
        .set_axis([by, "share", "share_low", "share_high"], axis=1)
        .assign(contact=label)
        for name, label in CONTACT.items()
    ]
    return pd.concat(parts, ignore_index=True)


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = journeys(extract, params)
    groups = [g for g in common.breakdowns(cohort) if g != "quarter"]
    tables = {"overall": summary(cohort, [])}
    for by in [*[c for c in LABELLED if c in cohort.t.columns], *groups]:
        tables[f"by_{by}"] = summary(cohort, [by])
    notes = [
        f"Journeys starting less than {params['before_days']} days after the data start have a shorter look-back "
        "for contact before treatment; their financial years are marked partial_period."
    ]
    if "ndtms_mh" in cohort.t.columns:
        tables["agreement"] = agreement(cohort)
    else:
        notes.append(f"{NDTMS_FLAG} is not in the agreement: no comparison with NDTMS's own flag")
    charts = {}
    for by in ("substance_group", "financial_year"):
        if f"by_{by}" in tables:
            title = f"Mental-health contact around treatment start, by {by.replace('_', ' ')}"
            charts[f"by_{by}"] = common.share_chart(long(tables[f"by_{by}"], by), by, "share", title, "contact")
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="dual-diagnosis",
        title="Dual diagnosis: mental-health contact around drug and alcohol treatment",
        question="DOMAIN.md 6.4 (lived-experience question, BOLD use case 000)",
        definition=DEFINITION,
        needs=("treatment.treatment_start_date", "mental_health.referral_date"),
        optional=(
            "treatment.substance_group",
            "treatment.referral_source",
            NDTMS_FLAG,
            *common.PERSON_OPTIONAL,
        ),
        compute=compute,
        parameters={"start": None, "end": None, "before_days": 365, "after_days": 365},
        main=MainMeasure.share("overall", "mh_before_share", linked=("treatment", "mental_health")),
    )
]
