"""Evaluations (docs/design/DOMAIN.md 6.5 and 6.7): a pilot's effect on continuity of care by difference-in-differences
with logistic adjustment (the DSCP method), and the effect of continuity of care on returning to prison within
a year by propensity-score matching (Justice Data Lab style). Models are fitted inside the platform on the
project extract; only their aggregate results leave the study."""

from __future__ import annotations

import datetime as dt

import altair as alt
import ibis
import pandas as pd

from bold.studies import economics
from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.builtin.continuity import releases_with_need
from bold.studies.evaluation import difference_in_differences, propensity_matched
from bold.studies.language import Cohort, Extract, StudyError, age_band
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

JDL_MINIMUM_PARTICIPANTS = 60  # the Justice Data Lab's minimum number of participants for an analysis
COVARIATE_PERSON = tuple(f"person.{f}" for f in ("sex", "birth_year", "ethnicity", "no_fixed_abode"))
OUTCOME = "continuity_of_care"  # what the pilot's DiD measures, so what may price it (economics.unit_value)


def covariates(cohort: Cohort) -> list[str]:
    """Add the adjustment variables the agreement allows; unknown values become the "missing" category."""
    extract = cohort.extract
    names = []
    person = [f.removeprefix("person.") for f in COVARIATE_PERSON if agreed(extract, f)]
    if person:
        cohort.person(person)
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


def _areas(value) -> list[str]:
    if value is None or value == "":
        raise StudyError("set --param pilot_areas=CODE,CODE,... (the pilot's local authority codes)")
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]


def pilot_did(extract: Extract, params: dict) -> StudyOutput:
    areas = _areas(params["pilot_areas"])
    if not params["pilot_start"]:
        raise StudyError("set --param pilot_start=YYYY-MM-DD (the date the pilot began)")
    start = dt.date.fromisoformat(str(params["pilot_start"]))
    cohort = releases_with_need(extract, {**params, "pick_up_days": params["within_days"]}, ("ost_at_release",))
    common.complete_follow_up(cohort, params["within_days"])
    names = covariates(cohort)
    cohort.derive(
        pilot=lambda t: t.release_local_authority.isin(areas),
        after=lambda t: t.index_date >= start,
    )
    rows = cohort.frame(["treated", "pilot", "after", *names])
    rows["treated"] = rows.treated.astype(int)
    result = difference_in_differences(rows, outcome="treated", pilot="pilot", after="after", covariates=names)
    tables = result.tables()
    cells = tables["cells"].set_index(["group", "period"])
    notes = [
        f"Pilot areas: {', '.join(areas)}; pilot start {start}; covariates: {', '.join(names) or 'none'}.",
        f"Residual degrees of freedom {result.df_resid} (SACRO requires at least 10).",
        *result.notes,  # covariate levels merged or covariates left out so that the model could be fitted
        *value_the_effect(tables, cells, len(rows), params),
    ]
    charts = {"cells": cells_chart(tables["cells"].assign(share=lambda d: d.events / d.n))}
    return StudyOutput(tables, charts, notes)


def value_the_effect(tables: dict, cells: pd.DataFrame, n: int, params: dict) -> list[str]:
    """Price the DiD only with its own outcome's value: continuity of care has no DSCP value, so only a value per
    client the user gives (with its source) prices it; the ratio needs a programme cost too. Returns the notes."""
    try:
        p = economics.EconomicParameters.from_overrides({"programme_cost": params["programme_cost"] or 0})
    except ValueError as exc:
        raise StudyError(f"economic parameters: {exc}") from None
    benefit = params["benefit_per_client"]
    if benefit in (None, ""):
        benefit = economics.unit_value(OUTCOME, p)
    if benefit is None:
        why = "set --param benefit_per_client=GBP (a value per additional client, with its source) to value it."
        return [f"{economics.NOT_VALUED[OUTCOME]} No money value or benefit:cost ratio is given; {why}"]
    try:
        benefit = float(benefit)
    except ValueError:
        raise StudyError(f"benefit_per_client: expected an amount in GBP, not {benefit!r}") from None
    share = cells.events / cells.n
    did = {
        "a0_pilot": share["pilot", "before"],
        "a1_pilot": share["pilot", "after"],
        "a0_comparison": share["comparison", "before"],
        "a1_comparison": share["comparison", "after"],
        "clients_in_pilot": float(cells.n["pilot", "after"]),
        "benefit_per_client": benefit,
    }
    value = economics.economic_summary(p, did=did)
    value = value[value.quantity == "did_benefit"].drop(columns="prices").assign(n=n)
    ratio = economics.benefit_cost_ratio(value.value_gbp.iloc[0], p)
    kinds = {"quantity": st.group(), "value_gbp": st.estimate(of="n"), "formula": st.reference(), "n": st.events()}
    notes = [
        f"The effect is valued at the benefit per client given, £{benefit:,.0f}: the user's value, not the DSCP's."
    ]
    if ratio is None:
        notes.append("No benefit:cost ratio: set --param programme_cost=GBP (the programme's cost) to have one.")
    else:
        value = value.assign(programme_cost_gbp=p.programme_cost, benefit_cost_ratio=ratio)
        value["formula"] += f"; ratio: benefit / {p.programme_cost:,.0f}"
        kinds |= {"programme_cost_gbp": st.reference(), "benefit_cost_ratio": st.estimate(of="n")}
    tables["economic_value"] = st.declare(value, **kinds)  # the DiD valued: an estimate from the releases n
    return notes


def cells_chart(cells: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(cells, title="Continuity of care before and after the pilot")
        .mark_line(point=True)
        .encode(
            x=alt.X("period:N", sort=["before", "after"]),
            y=alt.Y("share:Q", axis=alt.Axis(format="%")),
            color="group:N",
        )
        .properties(width=common.WIDTH)
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
        id="pilot-evaluation",
        title="Pilot evaluation: difference-in-differences on continuity of care",
        question="DOMAIN.md 6.5 (DSCP evaluation) and 7 (economic value)",
        definition=(
            "Releases with a substance misuse need and complete 21-day follow-up; outcome: treatment within 21 days. "
            "Pilot: the local authority of release is a pilot area; after: released on or after the pilot start. "
            "Effect: (pilot after - pilot before) - (comparison after - comparison before), raw and adjusted by "
            "logistic regression (outcome ~ pilot + after + pilot:after + covariates) with a 'missing' category for "
            "missing values; the adjusted effect is the average marginal effect on pilot-after releases (delta-method "
            "95% interval). Covariates as agreed: sex, age band, ethnicity, no fixed abode, OST at release, "
            "previous treatment, mental-health contact in the year before (dual diagnosis). Value: DiD x pilot "
            "clients x benefit per client, only with a benefit per client given (the DSCP values no continuity of "
            "care); benefit:cost ratio with a programme cost."
        ),
        needs=(
            "prison.release_date",
            "prison.substance_misuse_need",
            "prison.release_local_authority",
            "treatment.treatment_start_date",
        ),
        optional=(*COVARIATE_PERSON, "prison.ost_at_release", "mental_health.referral_date"),
        compute=pilot_did,
        required=("pilot_areas", "pilot_start"),
        main=MainMeasure(
            "estimates",
            "estimate",
            "ci_low",
            "ci_high",
            (("measure", "adjusted DiD (percentage points, pilot-after units)"),),
        ),
        parameters={
            "pilot_areas": None,
            "pilot_start": None,
            "start": None,
            "end": None,
            "within_days": 21,
            "benefit_per_client": None,
            "programme_cost": 0.0,
        },
    ),
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
