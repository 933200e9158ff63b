"""Evaluations (docs/design/DOMAIN.md 6.7): the effect of continuity of care on returning to prison within a year by
propensity-score matching (Justice Data Lab style), and the adjustment covariates every evaluation shares (the
pilot's difference-in-differences is in ``pilot_evaluation``). Models are fitted inside the platform on the
project extract; only their aggregate results leave the study."""

from __future__ import annotations

import ibis

from bold.studies.builtin import common
from bold.studies.builtin.continuity import releases_with_need
from bold.studies.evaluation import propensity_matched
from bold.studies.language import Cohort, Extract, StudyError, age_band
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

JDL_MINIMUM_PARTICIPANTS = 60  # the Justice Data Lab's minimum number of participants for an analysis
COVARIATE_PERSON = tuple(f"person.{f}" for f in ("sex", "birth_year", "ethnicity", "no_fixed_abode"))


def covariates(cohort: Cohort) -> list[str]:
    """Add the adjustment variables the agreement allows; unknown values become the "missing" category."""
    extract = cohort.extract
    names = []
    person = [f.removeprefix("person.") for f in COVARIATE_PERSON if agreed(extract, f)]
    if person:
        missing = [f for f in person if f not in cohort.t.columns]  # a cohort may hold some already (birth_year)
        if missing:
            cohort.person(missing)
        if "sex" in person:
            cohort.derive(sex=lambda t: ibis.ifelse(t.sex.isin(["M", "F"]), t.sex, ibis.null("string")))
            names.append("sex")
        if "birth_year" in person:
            cohort.derive(age_band=age_band)
            names.append("age_band")
        names += [f for f in ("ethnicity", "no_fixed_abode") if f in person]  # DSCP covariates; null: "missing"
    if "ost_at_release" in cohort.t.columns:
        names.append("ost_at_release")
    if agreed(extract, "treatment.treatment_start_date"):  # every evaluation but the participant lists needs it
        cohort.last_event("_previous_treatment", "treatment", "treatment_start_date", within=(None, -1))
        cohort.derive(previous_treatment=lambda t: t._previous_treatment.notnull())
        names.append("previous_treatment")
    if agreed(extract, "mental_health.referral_date"):
        cohort.last_event("_mh", "mental_health", "referral_date", within=(-365, -1))
        cohort.derive(dual_diagnosis=lambda t: t._mh.notnull())
        names.append("dual_diagnosis")
    return names


def previous_prison(cohort: Cohort) -> Cohort:
    """Add ``previous_prison``: releases before the index date, 0, 1 or 2+ (the Justice Data Lab matches on
    previous offending; prison releases are the nearest these data hold)."""
    cohort.count_events("previous_releases", "prison", "release_date", within=(None, -1))
    return cohort.derive(
        previous_prison=lambda t: ibis.cases((t.previous_releases >= 2, "2+"), else_=t.previous_releases.cast("string"))
    )


def back_in_prison(cohort: Cohort) -> Cohort:
    """Add ``reoffended``: a new prison reception on days 1 to 365 after the index date (re-imprisonment standing
    in for one-year proven reoffending, which these data do not hold)."""
    cohort.first_event("back_in", "prison", "reception_date", within=(1, 365))
    return cohort.derive(reoffended=lambda t: t.back_in.notnull())


def enough_participants(n: int) -> None:
    """Refuse a matched comparison below the Justice Data Lab's minimum, without saying the count (it has not been
    checked for disclosure)."""
    if n < JDL_MINIMUM_PARTICIPANTS:
        raise StudyError(
            f"fewer than {JDL_MINIMUM_PARTICIPANTS} participants: the Justice Data Lab needs at least "
            f"{JDL_MINIMUM_PARTICIPANTS} (the exact count is not said: it has not been checked for disclosure)"
        )


def treatment_psm(extract: Extract, params: dict) -> StudyOutput:
    cohort = releases_with_need(extract, {**params, "pick_up_days": params["within_days"]}, ("ost_at_release",))
    common.complete_follow_up(cohort, 365)
    names = covariates(cohort)
    previous_prison(cohort)
    back_in_prison(cohort)
    rows = cohort.frame(["treated", "reoffended", "previous_prison", *names])
    rows = rows.sort_values(["person_id", "index_date"]).drop_duplicates("person_id")  # one release per person
    enough_participants(int(rows.treated.sum()))
    rows["treated"] = rows.treated.astype(int)
    rows["reoffended"] = rows.reoffended.astype(int)
    result = propensity_matched(
        rows, treated="treated", outcome="reoffended", covariates=["previous_prison", *names], seed=params["seed"]
    )
    notes = [
        "Participants: the first release of each person in the period followed by treatment within 21 days; "
        "comparison: releases without. Outcome: a new prison reception on days 1-365 (re-imprisonment stands in "
        "for one-year proven reoffending, which these data do not hold).",
        # no count here: a note is not checked for disclosure, the groups table is
        "Participants with no comparison within the caliper are left out; how many is in the groups table "
        "('treated, unmatched'), checked like every table.",
        *result.notes,  # covariate levels merged or covariates left out so that the propensity score could be fitted
    ]
    return StudyOutput(result.tables(), {}, notes)


STUDIES = [
    Study(
        id="treatment-impact",
        title="Impact of continuity of care on returning to prison (propensity-score matched)",
        question="DOMAIN.md 6.7 (Justice Data Lab)",
        definition=(
            "First release per person with a substance misuse need and a year of follow-up. Participants started "
            "community treatment within 21 days; each is matched 1:1 without replacement to the nearest comparison "
            "release on the logit of a propensity score (logistic regression on previous releases, sex, age band, "
            "ethnicity, no fixed abode, OST at release, previous treatment and dual diagnosis as agreed, 'missing' "
            "categories), caliper 0.2 SD. "
            "Outcome: back in prison within 365 days. Effect: difference in percentage points with a paired 95% "
            "interval and p-value; balance: standardised mean differences before and after matching."
        ),
        needs=(
            "prison.release_date",
            "prison.reception_date",
            "prison.substance_misuse_need",
            "treatment.treatment_start_date",
        ),
        optional=(*COVARIATE_PERSON, "prison.ost_at_release", "mental_health.referral_date"),
        compute=treatment_psm,
        parameters={"start": None, "end": None, "within_days": 21, "seed": 0},
        main=MainMeasure(
            "estimates", "estimate", "ci_low", "ci_high", (("measure", "matched difference (percentage points)"),)
        ),
    ),
]
