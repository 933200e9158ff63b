"""Deaths after homelessness (docs/design/DOMAIN.md 6.6; seed 002: of people who died while experiencing
homelessness in Scotland in 2020, "over half of these deaths were drug-related and around 5% were
alcohol-specific"): deaths per 1,000 person-years among people with a homelessness application, all causes,
drug poisoning and alcohol-specific, by the ONS definitions of the underlying cause (ICD-10).

- Drug poisoning (ONS, "Deaths related to drug poisoning in England and Wales"): underlying cause F11-F16, F18-F19
  (mental and behavioural disorders due to drug use, excluding alcohol and tobacco), X40-X44 (accidental
  poisoning), X60-X64 (intentional self-poisoning), X85 (assault by drugs), Y10-Y14 (poisoning of undetermined
  intent). The source's own ONS drug-related flag is counted beside it (``flagged_drug_related``).
- Alcohol-specific (ONS, "Alcohol-specific deaths in the UK", 2017 definition): E24.4, F10, G31.2, G62.1, G72.1,
  I42.6, K29.2, K70, K85.2, K86.0, Q86.0, R78.0, X45, X65, Y15.

A three-character code on a list matches every code under it (K70 matches K703); a four-character one only
itself and its fifth-character subdivisions (G312 matches G312, not G313). Each person is followed from their
first application in the period (day 0) to the earliest of death (the day of death counts as a day at risk), the
last date the data cover and day 1825 (five years). A person whose death is recorded before the application is
left out (an impossible event, for the linkage report: a false link or a wrong date), not followed as alive.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bold.studies.builtin import common
from bold.studies.builtin.repeat_homelessness import NEEDS, need_label
from bold.studies.language import PERSON, Cohort, Extract
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

DRUG_POISONING = (
    *(f"F1{i}" for i in (1, 2, 3, 4, 5, 6, 8, 9)),
    *(f"X{i}" for i in range(40, 45)),
    *(f"X{i}" for i in range(60, 65)),
    "X85",
    *(f"Y1{i}" for i in range(0, 5)),
)
ALCOHOL_SPECIFIC = (
    "E244", "F10", "G312", "G621", "G721", "I426", "K292", "K70", "K852", "K860", "Q860", "R780", "X45", "X65", "Y15",
)  # fmt: skip
HORIZON = 1825  # the last day followed: five years of 365 days, day 0 the first application
WINDOW = [("days 0-1825 after the first application", 0, HORIZON)]

DEFINITION = (
    "People with a homelessness application in the period, followed from their first (day 0) to the earliest of "
    "death (the day of death counts as a day at risk), the data end and day 1825 (five years). Deaths per 1,000 "
    "person-years (365.25 days) with exact Poisson 95% intervals: all causes; drug poisoning by the ONS definition "
    "of the underlying cause (ICD-10 F11-F16, F18-F19, X40-X44, X60-X64, X85, Y10-Y14); alcohol-specific by the "
    "ONS definition (E24.4, F10, G31.2, G62.1, G72.1, I42.6, K29.2, K70, K85.2, K86.0, Q86.0, R78.0, X45, X65, "
    "Y15). A three-character code matches every code under it, a four-character code only itself. Among the "
    "deaths, the shares drug poisoning and alcohol-specific (seed 002: over half drug-related, around 5% "
    "alcohol-specific), with the ONS drug-related flag counted beside them. People whose death is recorded before "
    "the application are left out (an impossible event). Intervals for shares: Wilson 95%."
)


def on_list(code: ir.StringValue, codes: tuple[str, ...]) -> ir.BooleanValue:
    """Whether an ICD-10 code (dots and case ignored) falls under a list of three- and four-character codes."""
    code = code.upper().replace(".", "")
    three = [c for c in codes if len(c) == 3]
    four = [c for c in codes if len(c) == 4]
    return (code.substr(0, 3).isin(three) | code.substr(0, 4).isin(four)).fill_null(False)


def people(extract: Extract, params: dict) -> Cohort:
    """Each person's first application in the period with ``last_day`` (last day at risk), ``died``,
    ``drug_death``, ``alcohol_death`` and ``flagged`` (the ONS drug-related flag)."""
    fields = [f for f in NEEDS if agreed(extract, f"homelessness.{f}")]
    cohort = Cohort(extract, "homelessness", index="application_date", fields=fields, period=common.period(params))
    cohort.derive(_nth=lambda t: ibis.row_number().over(group_by=t[PERSON], order_by=t.index_date))
    cohort.keep(lambda t: t._nth == 0)
    # A death recorded before the application is an impossible event (a false link or a wrong date): the
    # person is left out rather than followed as alive.
    cohort.last_event("_dead_before", "deaths", "date_of_death", within=(None, -1))
    cohort.keep(lambda t: t._dead_before.isnull())
    take = ["underlying_cause", *(["drug_related"] if agreed(extract, "deaths.drug_related") else [])]
    cohort.first_event("death_day", "deaths", "date_of_death", within=(0, None), take=take)
    cohort.days_to_data_end()
    horizon = params["last_day"]
    cohort.derive(censor_day=lambda t: ibis.least(t.days_to_data_end, horizon))
    cohort.derive(
        died=lambda t: t.death_day.notnull() & (t.death_day <= t.censor_day),
        last_day=lambda t: ibis.least(t.censor_day, t.death_day.fill_null(horizon + 1)),
    )
    cause = "death_day_underlying_cause"
    cohort.derive(
        drug_death=lambda t: t.died & on_list(t[cause], DRUG_POISONING),
        alcohol_death=lambda t: t.died & on_list(t[cause], ALCOHOL_SPECIFIC),
    )
    if "death_day_drug_related" in cohort.t.columns:
        cohort.derive(flagged=lambda t: t.died & t.death_day_drug_related.fill_null(False))
    if all(f in cohort.t.columns for f in NEEDS):
        cohort.derive(support_need=need_label)
    return cohort


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = people(extract, params)
    person = [f for f in ("sex",) if agreed(extract, f"person.{f}")]
    if person:
        cohort.person(person).derive(sex=lambda t: t.sex.fill_null("U"))

    def rates(by, event):
        return common.person_time(cohort, WINDOW, by, event, "last_day")

    tables = {
        "all_cause": rates([], "died"),
        "drug_poisoning": rates([], "drug_death"),
        "alcohol_specific": rates([], "alcohol_death"),
    }
    for by in [*person, *(["support_need"] if "support_need" in cohort.t.columns else [])]:
        tables[f"all_cause_by_{by}"] = rates([by], "died")
        tables[f"drug_poisoning_by_{by}"] = rates([by], "drug_death")
    cohort.keep(lambda t: t.died)  # last: the causes among the deaths
    counts = {"flagged_drug_related": "flagged"} if "flagged" in cohort.t.columns else {}
    causes = common.shares(
        cohort, [], {"drug_poisoning": "drug_death", "alcohol_specific": "alcohol_death"}, counts=counts
    )
    tables["causes_of_death"] = causes
    charts = {
        "drug_poisoning": common.rate_chart(
            tables["drug_poisoning"], "window", "Drug-poisoning deaths after a homelessness application"
        )
    }
    notes = []
    if not agreed(extract, "deaths.drug_related"):
        notes.append("deaths.drug_related is not in the agreement: the ONS flag is not counted beside the codes")
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="deaths-after-homelessness",
        title="Deaths after homelessness: all causes, drug poisoning, alcohol-specific",
        question="DOMAIN.md 6.6 (deaths of people experiencing homelessness, seed 002; ONS definitions)",
        definition=DEFINITION,
        needs=("homelessness.application_date", "deaths.date_of_death", "deaths.underlying_cause"),
        optional=(*(f"homelessness.{f}" for f in NEEDS), "deaths.drug_related", "person.sex"),
        compute=compute,
        parameters={"start": None, "end": None, "last_day": HORIZON},
        main=MainMeasure("drug_poisoning", "rate", "rate_low", "rate_high"),
    )
]
