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
from bold.studies.measures import rate_ratio, share_comparison, with_proportion
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

SECONDARY = "hospital.secondary_diagnosis"
NEED, NO_NEED = "substance misuse need", "no substance misuse need"
FLAGS = {"any_emergency": "any_emergency", "multiple_conditions": "multiple"}

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
    cohort.derive(need=need_label, multiple=lambda t: t._conditions >= 2)
    return cohort, groups


def by_need(cohort: Cohort, by: list[str]) -> pd.DataFrame:
    """Leavers, the share with any emergency admission and with multiple conditions, and the admissions."""
    extra = {"emergency_admissions": lambda t: t.emergency.sum()}
    table = common.shares(cohort, ["need", *by], FLAGS, extra=extra)
    table["emergency_admissions"] = table["emergency_admissions"].fillna(0).astype(int)
    return st.declare(table, emergency_admissions=st.events())


def distinct_conditions(cohort: Cohort) -> pd.DataFrame:
    """Leavers by number of distinct condition groups, as a share of their need group's leavers (``need_n``)."""
    table = cohort.summarise(["need", "conditions"])
    table["need_n"] = table.groupby("need")["n"].transform("sum").astype(int)
    return with_proportion(st.declare(table, need_n=st.events()), "n", "need_n")


def by_condition_group(cohort: Cohort, groups: dict[str, str]) -> pd.DataFrame:
    rows = [
        common.shares(cohort, ["need"], {"admitted": f"has_{column}"}).assign(condition_group=label)
        for label, column in groups.items()
    ]
    table = pd.concat(rows, ignore_index=True)
    table = table[["condition_group", *[c for c in rows[0].columns if c != "condition_group"]]]
    return st.declare(st.carry(rows[0], table), condition_group=st.group())


def comparison(main: pd.DataFrame) -> pd.DataFrame | None:
    """Need against no need: each share's difference and ratio, and the admissions rate ratio."""
    rows = main.set_index("need")
    if not {NEED, NO_NEED} <= set(rows.index):
        return None
    a, b = rows.loc[NEED], rows.loc[NO_NEED]
    out = []
    for name in FLAGS:
        out.append({"measure": f"{name}_share", "n": int(a.n + b.n), **share_comparison(a[name], a.n, b[name], b.n)})
    rr = rate_ratio(a.emergency_admissions, a.n, b.emergency_admissions, b.n).iloc[0]
    out.append(
        {
            "measure": "emergency_admissions_rate",
            "n": int(a.n + b.n),
            "ratio": rr.rate_ratio,
            "ratio_low": rr.rate_ratio_low,
            "ratio_high": rr.rate_ratio_high,
            "p_value": rr.p_value,
        }
    )
    table = pd.DataFrame(out)
    return st.declare(  # estimates and their p-values, judged by the leavers behind them
        table,
        measure=st.group(),
        n=st.events(),
        **{c: st.estimate(of="n") for c in ("difference_pp", "ratio", "p_value")},
        difference_low=st.bound("difference_pp", "low"),
        difference_high=st.bound("difference_pp", "high"),
        ratio_low=st.bound("ratio", "low"),
        ratio_high=st.bound("ratio", "high"),
    )


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
    compared = comparison(main)
    if compared is None:
        notes.append("The cohort lacks leavers with or without a need: no comparison between them")
    else:
        tables["comparison"] = compared
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
