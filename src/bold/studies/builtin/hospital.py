"""Hospital admissions after release from prison (docs/design/DOMAIN.md 6.3): emergency admissions in the year after
release of people with a substance misuse need, which conditions, how many distinct conditions, and whether
continuity of care (community treatment within 21 days) goes with fewer admissions."""

from __future__ import annotations

import ibis
import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.builtin.continuity import releases_with_need
from bold.studies.language import Cohort, Extract
from bold.studies.measures import rate_ratio
from bold.studies.study import MainMeasure, Study, StudyOutput

# ICD-10 groups that matter for people who use drugs and alcohol (primary diagnosis of the admission).
DIAGNOSIS_GROUPS = {
    "drug or alcohol (F10-F19)": lambda c: c.startswith("F1"),
    "other mental and behavioural (F)": lambda c: c.startswith("F") & ~c.startswith("F1"),
    "injury and poisoning (S, T)": lambda c: c.startswith("S") | c.startswith("T"),
    "infections (A, B)": lambda c: c.startswith("A") | c.startswith("B"),
    "skin and soft tissue (L)": lambda c: c.startswith("L"),
    "liver and digestive (K)": lambda c: c.startswith("K"),
    "respiratory (J)": lambda c: c.startswith("J"),
    "circulatory (I)": lambda c: c.startswith("I"),
}
OTHER = "other"

DEFINITION = (
    "Releases of adults with a substance misuse need, followed for one year: emergency hospital admissions (HES "
    "admission methods 21-25 and 28) with an admission date on days 0-364 after release. Releases less than 365 "
    "days before the data end are left out. Continuity of care: community treatment started on days 0-21. "
    "Conditions: the primary diagnosis's ICD-10 group; distinct conditions counts the groups (including 'other') "
    "among a release's emergency admissions. Shares with Wilson intervals; the admissions rate ratio (continuity vs "
    "none) treats each release as one person-year, as all have complete follow-up (deaths are not censored)."
)


def admissions(cohort: Cohort, diagnoses: tuple[str, ...] = ("primary_diagnosis",)) -> dict[str, str]:
    """Add ``emergency`` (admissions in the year), ``any_emergency``, ``conditions`` (distinct groups), its count
    ``_conditions`` and a ``has_<column>`` flag per diagnosis group; returns each group's label with its column.
    An admission is in every group one of its ``diagnoses`` fields falls in ('other': a code in no group)."""

    def emergency(t):
        return t.admission_method.isin(common.EMERGENCY_METHODS)

    window = (0, 364)
    groups = {label: f"_group{i}" for i, label in enumerate([*DIAGNOSIS_GROUPS, OTHER])}

    def other(t):
        def elsewhere(code):
            return code.notnull() & (code != "") & ~ibis.or_(*[test(code) for test in DIAGNOSIS_GROUPS.values()])

        return ibis.or_(*[elsewhere(t[d].upper()) for d in diagnoses])

    tests = {
        label: (lambda t, test=test: ibis.or_(*[test(t[d].upper()) for d in diagnoses]))
        for label, test in DIAGNOSIS_GROUPS.items()
    }
    tests[OTHER] = other
    cohort.count_each(
        "hospital",
        "admission_date",
        within=window,
        where=emergency,
        emergency=emergency,
        **{groups[label]: test for label, test in tests.items()},
    )
    cohort.derive(_conditions=lambda t: sum((t[c] > 0).cast("int64") for c in groups.values()))
    cohort.derive(
        any_emergency=lambda t: t.emergency > 0,
        conditions=lambda t: ibis.cases((t._conditions >= 3, "3+"), else_=t._conditions.cast("string")),
        **{f"has_{c}": (lambda t, c=c: t[c] > 0) for c in groups.values()},
    )
    return groups


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = releases_with_need(extract, {**params, "pick_up_days": params["within_days"]})
    common.complete_follow_up(cohort, 365)
    diagnosis_groups = admissions(cohort)
    cohort.derive(
        continuity=lambda t: ibis.ifelse(t.treated, "treatment within 21 days", "no treatment within 21 days")
    )
    groups = common.breakdowns(cohort)
    shares = common.shares(cohort, ["continuity"], {"any_emergency": "any_emergency"})
    totals = cohort.summarise(["continuity"], emergency_admissions=lambda t: t.emergency.sum())
    main = st.carry(shares, shares.merge(totals[["continuity", "emergency_admissions"]], on="continuity"))
    main["admissions_per_release"] = main.emergency_admissions / main.n
    st.declare(
        main,
        emergency_admissions=st.events(),
        admissions_per_release=st.magnitude("admissions", "mean", people="people"),
    )
    tables = {"by_continuity": main}
    for by in groups:
        tables[f"by_continuity_and_{by}"] = common.shares(
            cohort, ["continuity", by], {"any_emergency": "any_emergency"}
        )
    parts = {
        label: (lambda column=column: common.shares(cohort, ["continuity"], {"admitted": f"has_{column}"}))
        for label, column in diagnosis_groups.items()
    }
    tables["by_diagnosis_group"] = common.stacked(cohort, "diagnosis_group", parts)
    tables["distinct_conditions"] = cohort.summarise(["continuity", "conditions"])
    yes = main[main.continuity == "treatment within 21 days"]
    no = main[main.continuity != "treatment within 21 days"]
    rr = rate_ratio(yes.emergency_admissions.sum(), yes.n.sum(), no.emergency_admissions.sum(), no.n.sum()).iloc[0]
    ratio = pd.DataFrame(
        [{"comparison": "emergency admissions, continuity vs none", "n": int(main.n.sum()), **rr.to_dict()}]
    )
    tables["rate_ratio"] = st.declare(  # a ratio and its Wald p-value are estimates, judged by the releases
        ratio,
        comparison=st.group(),
        n=st.events(),
        rate_ratio=st.estimate(of="n"),
        rate_ratio_low=st.bound("rate_ratio", "low"),
        rate_ratio_high=st.bound("rate_ratio", "high"),
        p_value=st.estimate(of="n"),
    )
    charts = {
        "by_diagnosis_group": common.share_chart(
            tables["by_diagnosis_group"],
            "diagnosis_group",
            "admitted_share",
            "Emergency admission in the year after release, by condition",
            color="continuity",
        )
    }
    return StudyOutput(tables, charts)


STUDIES = [
    Study(
        id="hospital-after-release",
        title="Hospital admissions after release from prison",
        question="DOMAIN.md 6.3",
        definition=DEFINITION,
        needs=(
            "prison.release_date",
            "prison.substance_misuse_need",
            "treatment.treatment_start_date",
            "hospital.admission_date",
            "hospital.admission_method",
            "hospital.primary_diagnosis",
        ),
        optional=common.PERSON_OPTIONAL,
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 21},
        main=MainMeasure.share("by_continuity", "any_emergency_share"),
    )
]
