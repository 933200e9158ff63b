"""Pilot evaluation (docs/design/DOMAIN.md 6.5 and 7): the DSCP's difference-in-differences on a binary outcome of
a cohort, 18 months before the pilot against 18 months after a 6-month implementation gap, the pilot areas against
comparison areas matched on their profile before it, standard errors clustered by person (one person can be
several releases or client-periods). Models are fitted inside the platform; only aggregates leave the study.

Outcomes reuse the other studies' definitions: continuity of care (``continuity.releases_with_need``, a release
per unit, the area its local authority of release) and the DSCP treatment outcomes (``treatment_outcomes``: a
client-period per unit as the DSCP counts it, the area the journey's local authority; re-presentation a completed
journey per unit, by its discharge date)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import altair as alt
import ibis
import pandas as pd

from bold.studies import economics
from bold.studies import statistics as st
from bold.studies.builtin import common, treatment_outcomes
from bold.studies.builtin.continuity import releases_with_need
from bold.studies.builtin.evaluation import COVARIATE_PERSON, covariates
from bold.studies.evaluation import difference_in_differences, match_areas
from bold.studies.language import PERSON, Cohort, Extract, StudyError
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

Span = tuple[str, dt.date, dt.date]  # a period's label, first and last day
# The before-period profile an area is matched on, beyond caseload and outcome rate: the share of units at each of
# these covariate levels (when the covariate is in the model).
PROFILE_LEVELS = {"sex": "F", "no_fixed_abode": True, "previous_treatment": True}
COMPARISONS = ("matched", "all")


@dataclass(frozen=True)
class Outcome:
    label: str  # what the outcome is, for titles and notes
    unit: str  # what one row is
    value: str  # its key in economics.unit_value (what may price it)
    needs: tuple[str, ...]  # dataset.field entries the agreement must hold for it
    units: Callable[[Extract, dict, list[Span]], Cohort]  # the units, with ``period``, ``area`` and ``outcome``


def in_periods(cohort: Cohort, spans: list[Span]) -> Cohort:
    """Label each index date with the span holding it (first and last days included) in ``period``; keep only those
    inside one (the gap, between the spans, is left out)."""

    def period(t):
        cases = [(t.index_date.between(first, last), label) for label, first, last in spans]
        return ibis.cases(*cases, else_=ibis.null("string"))

    cohort.derive(period=period)
    return cohort.keep(lambda t: t.period.notnull())


def _window(params: dict, spans: list[Span]) -> dict:
    return {**params, "start": spans[0][1].isoformat(), "end": spans[-1][2].isoformat()}


def _releases(extract: Extract, params: dict, spans: list[Span]) -> Cohort:
    days = params["within_days"]
    cohort = releases_with_need(extract, {**_window(params, spans), "pick_up_days": days}, ("ost_at_release",))
    common.complete_follow_up(cohort, days)
    in_periods(cohort, spans)
    return cohort.derive(area=lambda t: t.release_local_authority, outcome=lambda t: t.treated)


def _clients(effective: bool, column: str, exits_only: bool = False):
    def units(extract: Extract, params: dict, spans: list[Span]) -> Cohort:
        cohort = treatment_outcomes.clients(extract, params, effective=effective, spans=spans)
        if exits_only:
            cohort.keep(lambda t: t.exited)
        return cohort.derive(area=lambda t: t.local_authority, outcome=lambda t: t[column])

    return units


def _completers(extract: Extract, params: dict, spans: list[Span]) -> Cohort:
    cohort = treatment_outcomes.completers(extract, _window(params, spans))
    in_periods(cohort, spans)
    return cohort.derive(area=lambda t: t.local_authority, outcome=lambda t: t.returned)


RELEASES = ("prison.release_date", "prison.substance_misuse_need", "prison.release_local_authority")
JOURNEYS = ("treatment.discharge_date", "treatment.discharge_reason", "treatment.local_authority")
OUTCOMES = {
    "continuity": Outcome("continuity of care", "release", "continuity_of_care", RELEASES, _releases),
    "effective_treatment": Outcome(
        "effective treatment", "client-period", "effective_treatment", JOURNEYS, _clients(True, "effective")
    ),
    "successful_completion": Outcome(
        "successful completion among exits",
        "client-period with an exit",
        "successful_completion",
        JOURNEYS,
        _clients(False, "completed", exits_only=True),
    ),
    "successful_completion_in_treatment": Outcome(
        "successful completion among all in treatment",
        "client-period",
        "successful_completion",  # the additional completions are priced as completions
        JOURNEYS,
        _clients(False, "completed"),
    ),
    "re_presentation": Outcome(
        "re-presentation within a year of a successful completion",
        "completed journey",
        "re_presentation",
        JOURNEYS,
        _completers,
    ),
}


def _whole(params: dict, name: str, least: int) -> int:
    try:
        value = int(params[name])
    except (TypeError, ValueError):
        raise StudyError(f"{name}: expected a whole number, not {params[name]!r}") from None
    if value < least:
        raise StudyError(f"{name}: must be at least {least}, not {value}")
    return value


def did_periods(start: dt.date, before: int, gap: int, after: int) -> list[Span]:
    """Before: the ``before`` months up to the day before ``start``; after: the ``after`` months from ``gap`` months
    after ``start``; the gap (the implementation) belongs to neither."""

    def plus(months: int) -> dt.date:
        return (pd.Timestamp(start) + pd.DateOffset(months=months)).date()

    one = dt.timedelta(days=1)
    return [("before", plus(-before), start - one), ("after", plus(gap), plus(gap + after) - one)]


def _areas(value) -> list[str]:
    if value is None or value == "":
        raise StudyError("set --param pilot_areas=CODE,CODE,... (the pilot's local authority codes)")
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]


def _choice(params: dict, name: str, options) -> str:
    if params[name] not in options:
        raise StudyError(f"{name}: expected one of {', '.join(options)}, not {params[name]!r}")
    return params[name]


def profiles(rows: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Each area's before-period profile: units ``n``, ``people``, units with the outcome ``events`` and its
    ``outcome_share``, and for each ``PROFILE_LEVELS`` covariate in the model the units at that level and their
    share (missing values count as not at it)."""
    before = rows[~rows.after.astype(bool)]
    levels = {c: v for c, v in PROFILE_LEVELS.items() if c in names}
    flags = before.assign(**{f"{c}_{str(v).lower()}": before[c] == v for c, v in levels.items()})
    counts = [f"{c}_{str(v).lower()}" for c, v in levels.items()]
    grouped = flags.groupby("area")
    table = grouped.agg(n=("outcome", "size"), events=("outcome", "sum"), **{c: (c, "sum") for c in counts})
    table.insert(1, "people", grouped[PERSON].nunique())
    table = table.astype(int)
    table["outcome_share"] = table.events / table.n
    for c in counts:
        table[f"{c}_share"] = table[c] / table.n
    return table


def comparison_table(table: pd.DataFrame, pilot: list[str], chosen: pd.DataFrame) -> pd.DataFrame:
    """The pilot areas and their comparison areas with the before-period profiles they were compared on."""
    pilots = pd.DataFrame({"pilot_area": pilot, "area": pilot, "role": "pilot", "distance": 0.0})
    rows = pd.concat([pilots, chosen.assign(role="comparison")], ignore_index=True)
    rows = rows.merge(table, left_on="area", right_index=True, how="left")
    rows = rows.sort_values(["pilot_area", "role", "distance"], ascending=[True, False, True], ignore_index=True)
    counts = [c for c in table.columns if c not in ("n", "people") and not c.endswith("_share")]
    shares = {f"{c}_share" if c != "events" else "outcome_share": st.share(c, "n") for c in counts}
    return st.declare(
        rows, pilot_area=st.group(), area=st.group(), role=st.group(), distance=st.estimate(of="n"),
        n=st.events(), people=st.people(), **dict.fromkeys(counts, st.events()), **shares,
    )  # fmt: skip


def choose_comparison(rows: pd.DataFrame, names: list[str], pilot: list[str], params: dict):
    """The units of the pilot and comparison areas, the ``comparison_areas`` table and a note on the method."""
    method = _choice(params, "comparison", COMPARISONS)
    table = profiles(rows, names)
    if method == "all":
        others = table.index[~table.index.isin(pilot)]
        chosen = pd.DataFrame({"pilot_area": "", "area": others, "distance": float("nan")})
        note = "Comparison: every other area with units (comparison=all)."
    else:
        per_area, minimum = (_whole(params, k, 1) for k in ("comparison_per_area", "min_area_units"))
        columns = ["n", "outcome_share", *[c for c in table.columns if c.endswith("_share") and c != "outcome_share"]]
        try:
            chosen = match_areas(table[columns], pilot, per_area=per_area, minimum=minimum)
        except ValueError as exc:
            hint = "; lower min_area_units or set comparison=all" if "candidate" in str(exc) else ""
            raise StudyError(f"comparison areas: {exc}{hint}") from None
        note = (
            f"Comparison: for each pilot area the {per_area} nearest other area(s) with at least {minimum} units in "
            "the before period, without replacement, by Euclidean distance on the standardised before-period "
            f"profile ({', '.join(columns)}): {', '.join(chosen.area)}."
        )
    keep = rows.area.isin([*pilot, *chosen.area])
    return rows[keep], comparison_table(table, pilot, chosen), note


def pilot_did(extract: Extract, params: dict) -> StudyOutput:
    areas = _areas(params["pilot_areas"])
    if not params["pilot_start"]:
        raise StudyError("set --param pilot_start=YYYY-MM-DD (the date the pilot began)")
    try:
        start = dt.date.fromisoformat(str(params["pilot_start"]))
    except ValueError:
        raise StudyError(f"pilot_start: expected a date YYYY-MM-DD, not {params['pilot_start']!r}") from None
    outcome = OUTCOMES[_choice(params, "outcome", OUTCOMES)]
    months = [_whole(params, f"{k}_months", least) for k, least in (("before", 1), ("gap", 0), ("after", 1))]
    spans = did_periods(start, *months)
    if spans[1][1] > extract.data_end:
        raise StudyError(f"the data end ({extract.data_end}) before the after period starts ({spans[1][1]})")
    absent = [f for f in outcome.needs if not agreed(extract, f)]
    if absent:
        raise StudyError(f"outcome {params['outcome']} needs {', '.join(absent)} in the agreement")
    clipped = spans[1][2] > extract.data_end
    spans[1] = ("after", spans[1][1], min(spans[1][2], extract.data_end))
    cohort = outcome.units(extract, params, spans)
    names = covariates(cohort)
    cohort.keep(lambda t: t.area.notnull())
    cohort.derive(pilot=lambda t: t.area.isin(areas), after=lambda t: t.period == "after")
    rows = cohort.frame(["outcome", "pilot", "after", "area", *names])
    rows, comparison_areas, method = choose_comparison(rows, names, areas, params)
    rows = rows.assign(outcome=rows.outcome.astype(int))
    try:
        result = difference_in_differences(
            rows, outcome="outcome", pilot="pilot", after="after", covariates=names, cluster=PERSON
        )
    except ValueError as exc:
        raise StudyError(f"difference-in-differences: {exc}") from None
    tables = {**result.tables(), "comparison_areas": comparison_areas}
    cells = tables["cells"].set_index(["group", "period"])
    (_, b0, b1), (_, a0, a1) = spans
    notes = [
        f"Outcome: {outcome.label}, one unit per {outcome.unit}. Pilot areas: {', '.join(areas)}; pilot start "
        f"{start}; covariates: {', '.join(names) or 'none'}.",
        f"Periods: before {b0} to {b1}; after {a0} to {a1}"
        + (" (cut at the data end)" if clipped else "")
        + (f"; the {months[1]}-month implementation gap between them left out." if months[1] else "."),
        method,
        "Standard errors clustered by person: one person can be several units, and their outcomes are not independent.",
        f"Residual degrees of freedom {result.df_resid} (SACRO requires at least 10).",
        *result.notes,  # covariate levels merged or covariates left out so that the model could be fitted
        *value_the_effect(tables, cells, len(rows), params, outcome.value),
    ]
    charts = {"cells": cells_chart(tables["cells"].assign(share=lambda d: d.events / d.n), outcome.label)}
    return StudyOutput(tables, charts, notes)


def value_the_effect(tables: dict, cells: pd.DataFrame, n: int, params: dict, outcome="continuity_of_care"):
    """Price the DiD only with its own outcome's value: the DSCP's (``economics.unit_value``) where it has one,
    else only a value per client the user gives (with its source); the ratio needs a programme cost too. Adds the
    ``economic_value`` table when priced; returns the notes."""
    try:
        p = economics.EconomicParameters.from_overrides({"programme_cost": params["programme_cost"] or 0})
    except ValueError as exc:
        raise StudyError(f"economic parameters: {exc}") from None
    benefit, given = params["benefit_per_client"], params["benefit_per_client"] not in (None, "")
    if not given:
        benefit = economics.unit_value(outcome, p)
    if benefit is None:
        why = "set --param benefit_per_client=GBP (a value per additional client, with its source) to value it."
        return [f"{economics.NOT_VALUED[outcome]} No money value or benefit:cost ratio is given; {why}"]
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
    whose = "the user's value, not the DSCP's" if given else f"the DSCP's value of {outcome.replace('_', ' ')}"
    notes = [f"The effect is valued at £{benefit:,.0f} per additional client: {whose}."]
    if ratio is None:
        notes.append("No benefit:cost ratio: set --param programme_cost=GBP (the programme's cost) to have one.")
    else:
        value = value.assign(programme_cost_gbp=p.programme_cost, benefit_cost_ratio=ratio)
        value["formula"] += f"; ratio: benefit / {p.programme_cost:,.0f}"
        kinds |= {"programme_cost_gbp": st.reference(), "benefit_cost_ratio": st.estimate(of="n")}
    tables["economic_value"] = st.declare(value, **kinds)  # the DiD valued: an estimate from the units n
    return notes


def cells_chart(cells: pd.DataFrame, label: str = "continuity of care") -> alt.Chart:
    return (
        alt.Chart(cells, title=f"{label[0].upper()}{label[1:]} before and after the pilot")
        .mark_line(point=True)
        .encode(
            x=alt.X("period:N", sort=["before", "after"]),
            y=alt.Y("share:Q", axis=alt.Axis(format="%")),
            color="group:N",
        )
        .properties(width=common.WIDTH)
    )


DEFINITION = (
    "Outcome (parameter outcome): continuity (releases with a substance misuse need and complete follow-up, "
    "treatment within 21 days; area: local authority of release), effective_treatment, successful_completion "
    "(among exits), successful_completion_in_treatment (among all in treatment; the DSCP definitions per client "
    "and period, the area the journey's local authority) or re_presentation (successful completions with a year "
    "of follow-up, a new journey within 365 days; by discharge date). Periods: before, the 18 months before the "
    "pilot start; after, the 18 months from 6 months after it; the 6-month implementation gap left out "
    "(before_months, gap_months, after_months). Comparison areas (comparison=matched): for each pilot area the "
    "nearest other area (comparison_per_area) with at least 20 units before (min_area_units), without "
    "replacement, by Euclidean distance on the standardised before-period profile (caseload, outcome rate, shares "
    "female, with no fixed abode and with previous treatment, as the model has them); comparison=all takes every "
    "other area. Effect: (pilot after - pilot before) - (comparison after - comparison before), raw and adjusted "
    "by logistic regression (outcome ~ pilot + after + pilot:after + covariates) with a 'missing' category; the "
    "adjusted effect is the average marginal effect on pilot-after units (delta-method 95% interval), standard "
    "errors clustered by person. Covariates as agreed: sex, age band, ethnicity, no fixed abode, OST at release "
    "(continuity), previous treatment, mental-health contact in the year before. Value: DiD x pilot-after units x "
    "the DSCP's value of the outcome (effective treatment, successful completion), or a benefit per client given; "
    "benefit:cost ratio with a programme cost."
)

STUDIES = [
    Study(
        id="pilot-evaluation",
        title="Pilot evaluation: difference-in-differences against matched comparison areas",
        question="DOMAIN.md 6.5 (DSCP evaluation) and 7 (economic value)",
        definition=DEFINITION,
        needs=(*RELEASES, "treatment.treatment_start_date"),  # the default outcome's, continuity of care
        optional=(
            *JOURNEYS,
            *COVARIATE_PERSON,
            "prison.ost_at_release",
            "mental_health.referral_date",
        ),
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
            "outcome": "continuity",
            "before_months": 18,
            "gap_months": 6,
            "after_months": 18,
            "comparison": "matched",
            "comparison_per_area": 1,
            "min_area_units": 20,
            "within_days": 21,
            "effective_days": 83,
            "re_presentation_days": 365,
            "benefit_per_client": None,
            "programme_cost": 0.0,
        },
    )
]
