"""Multiple conditions among prison leavers with and without a substance misuse need (docs/design/DOMAIN.md 6.3;
seed 000, BOLD use case 3: "Substance misuse issues and risk of multiple conditions").

The use case asks whether people leaving prison with a drug or alcohol need are admitted to hospital with more
conditions than other leavers; ``hospital-after-release`` follows the leavers with a need only, so this study keeps
the comparison group the question needs. No published measure defines it; decided here:

- Cohort: each person's first release in the period (day 0), so a person released often counts once and the two
  groups compare people; releases less than 365 days before the data end are left out (a person whose first
  release is too recent is not in the cohort). Need: the prison's substance misuse need flag on that release;
  a missing flag is kept apart (``missing``) and out of the comparison.
- Admissions: emergency admissions (HES methods 21-25, 28) on days 0-364, as ``hospital-after-release`` counts
  them. Condition groups: its ICD-10 groups (``hospital.DIAGNOSIS_GROUPS`` and 'other'), from the primary
  diagnosis and, when ``hospital.secondary_diagnosis`` is agreed, the secondary one too (so one admission can
  fall in two groups). Deaths in the year are not censored.
- Distinct condition groups per leaver: 0, 1, 2, 3+; multiple conditions: 2 or more.
- Comparison, need against no need: the difference of the shares in percentage points (Newcomb interval), the
  ratio of the shares (log interval) and the score test's p-value, for multiple conditions and for any emergency
  admission; the rate ratio of emergency admissions (each leaver followed one year, log-normal interval).

Intervals: Wilson 95% for shares.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.builtin.hospital import admissions
from bold.studies.language import PERSON, Cohort, Extract, flag
from bold.studies.measures import rate_ratio, share_comparison
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

SECONDARY = "hospital.secondary_diagnosis"
NEED, NO_NEED = "substance misuse need", "no substance misuse need"
FLAGS = {"any_emergency": "any_emergency", "multiple_conditions": "multiple"}
DISTINCT = {"groups_0": 0, "groups_1": 1, "groups_2": 2, "groups_3_or_more": 3}  # distinct condition groups

DEFINITION = (
    "Each person's first release from prison in the period (day 0), at least 365 days before the data end, with "
    "a substance misuse need (the prison's flag on that release) against without one. Emergency hospital "
    "admissions (HES admission methods 21-25, 28) on days 0-364; condition groups as hospital-after-release "
    "defines them (ICD-10: F10-F19, other F, S-T, A-B, L, K, J, I, other) from the primary diagnosis and, when "
    "agreed, the secondary diagnosis. Distinct condition groups per leaver: 0, 1, 2, 3+; multiple conditions: 2 "
    "or more, as a share of leavers. Need against no need: difference in percentage points (Newcomb interval), "
    "ratio of the shares (log interval), score test p-value; emergency admissions rate ratio (each leaver one "
    "person-year, log-normal interval). Deaths are not censored. Source: seed 000, BOLD use case 3 (substance "
    "misuse and risk of multiple conditions), DOMAIN.md 6.3. Intervals: Wilson 95%."
)


def need_label(t: ir.Table) -> ir.StringValue:
    return flag(t, "substance_misuse_need", yes=NEED, no=NO_NEED)


def leavers(extract: Extract, params: dict) -> tuple[Cohort, dict[str, str]]:
    """First releases with ``need``, the hospital columns of ``hospital.admissions`` and ``multiple``."""
    cohort = Cohort(
        extract, "prison", index="release_date", fields=["substance_misuse_need"], period=common.period(params)
    )
    cohort.derive(_nth=lambda t: ibis.row_number().over(group_by=t[PERSON], order_by=t.index_date))
    cohort.keep(lambda t: t._nth == 0)
    common.complete_follow_up(cohort, 365)
    diagnoses = ("primary_diagnosis", *(["secondary_diagnosis"] if agreed(extract, SECONDARY) else []))
    groups = admissions(cohort, diagnoses)
    cohort.derive(
        need=need_label,
        compared=lambda t: t.substance_misuse_need.notnull(),
        multiple=lambda t: t._conditions >= 2,
    )
    cohort.derive(**{name: (lambda t, k=k: t._conditions == k) for name, k in DISTINCT.items() if k < 3})
    cohort.derive(groups_3_or_more=lambda t: t._conditions >= 3)
    return cohort, groups


def by_need(cohort: Cohort, by: list[str]) -> pd.DataFrame:
    """Leavers, the share with any emergency admission and with multiple conditions, and the admissions."""
    extra = {"emergency_admissions": lambda t: t.emergency.sum()}
    table = common.shares(cohort, ["need", *by], FLAGS, extra=extra)
    table["emergency_admissions"] = table["emergency_admissions"].fillna(0).astype(int)
    return st.declare(table, emergency_admissions=st.events())


def distinct_conditions(cohort: Cohort) -> pd.DataFrame:
    """Per need group: leavers with 0, 1, 2 and 3 or more distinct condition groups, each a share of the group."""
    return common.shares(cohort, ["need"], {name: name for name in DISTINCT})


def by_condition_group(cohort: Cohort, groups: dict[str, str]) -> pd.DataFrame:
    """Per condition group and need group: leavers with an emergency admission in that group."""
    parts = {
        label: (lambda column=column: common.shares(cohort, ["need"], {"admitted": f"has_{column}"}))
        for label, column in groups.items()
    }
    return common.stacked(cohort, "condition_group", parts)


def comparison(cohort: Cohort, main: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Need against no need: each share's difference and ratio (``comparison``) and the admissions rate ratio
    (``rate_ratio``); none without both groups. ``compared_n`` (leavers in both groups) comes from a summary of
    its own, so disclosure control finds the people behind the estimates."""
    rows = main.set_index("need")
    if not {NEED, NO_NEED} <= set(rows.index):
        return {}
    a, b = rows.loc[NEED], rows.loc[NO_NEED]
    leavers = int(cohort.summarise([], compared_n=lambda t: t.compared.cast("int64").sum()).compared_n.iloc[0])
    shares = pd.DataFrame(
        [{"measure": f"{name}_share", **share_comparison(a[name], a.n, b[name], b.n)} for name in FLAGS]
    )
    rates = rate_ratio(a.emergency_admissions, a.n, b.emergency_admissions, b.n)
    rates.insert(0, "measure", "emergency_admissions_rate")
    for table in (shares, rates):
        table.insert(1, "compared_n", leavers)
    bounds = {
        "difference_low": st.bound("difference_pp", "low"),
        "difference_high": st.bound("difference_pp", "high"),
        "ratio_low": st.bound("ratio", "low"),
        "ratio_high": st.bound("ratio", "high"),
        "rate_ratio_low": st.bound("rate_ratio", "low"),
        "rate_ratio_high": st.bound("rate_ratio", "high"),
    }
    out = {}
    for name, table in (("comparison", shares), ("rate_ratio", rates)):
        estimates = [c for c in ("difference_pp", "ratio", "rate_ratio", "p_value") if c in table.columns]
        out[name] = st.declare(  # estimates and their p-values, judged by the leavers behind them
            table,
            measure=st.group(),
            compared_n=st.events(),
            **{c: st.estimate(of="compared_n") for c in estimates},
            **{c: kind for c, kind in bounds.items() if c in table.columns},
        )
    return out


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort, groups = leavers(extract, params)
    breakdowns = [g for g in common.breakdowns(cohort) if g in ("sex", "age_band")]
    main = by_need(cohort, [])
    tables = {"by_need": main}
    for by in breakdowns:
        tables[f"by_need_and_{by}"] = by_need(cohort, [by])
    tables["by_condition_group"] = by_condition_group(cohort, groups)
    tables["distinct_conditions"] = distinct_conditions(cohort)
    notes = []
    compared = comparison(cohort, main)
    if not compared:
        notes.append("The cohort lacks leavers with or without a need: no comparison between them")
    tables.update(compared)
    if not agreed(extract, SECONDARY):
        notes.append(f"{SECONDARY} is not in the agreement: condition groups come from the primary diagnosis only")
    charts = {
        "by_condition_group": common.share_chart(
            tables["by_condition_group"],
            "condition_group",
            "admitted_share",
            "Emergency admission in the year after release, by condition and substance misuse need",
            color="need",
        )
    }
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="multiple-conditions",
        title="Multiple conditions among prison leavers with and without a substance misuse need",
        question="DOMAIN.md 6.3 (seed 000, use case 3: substance misuse and risk of multiple conditions)",
        definition=DEFINITION,
        needs=(
            "prison.release_date",
            "prison.substance_misuse_need",
            "hospital.admission_date",
            "hospital.admission_method",
            "hospital.primary_diagnosis",
        ),
        optional=(SECONDARY, "person.sex", "person.birth_year"),
        compute=compute,
        parameters={"start": None, "end": None},
        main=MainMeasure.share("by_need", "multiple_conditions_share"),
    )
]
