"""The economic value of treatment outcomes (docs/design/DOMAIN.md 7, after the DSCP evaluation's Appendix C): effective
treatment journeys and successful completions counted on the project's extract, valued with the economic model
whose every parameter is shown beside the result and can be changed with ``--param``."""

from __future__ import annotations

from bold.studies import economics
from bold.studies import statistics as st
from bold.studies.builtin import treatment_outcomes
from bold.studies.language import Extract, StudyError
from bold.studies.study import MainMeasure, Study, StudyOutput

# A programme cost needs a programme's effect (pilot-evaluation): these gross values have no ratio.
ECONOMIC_DEFAULTS = {k: v for k, v in economics.EconomicParameters().model_dump().items() if k != "programme_cost"}


def compute(extract: Extract, params: dict) -> StudyOutput:
    try:
        p = economics.EconomicParameters.from_overrides({k: params[k] for k in ECONOMIC_DEFAULTS})
    except ValueError as exc:
        raise StudyError(f"economic parameters: {exc}") from None
    outcome_params = {**treatment_outcomes.STUDIES[0].parameters, "start": params["start"], "end": params["end"]}
    clients = treatment_outcomes.clients(extract, outcome_params, effective=True, breakdowns=False)
    effective = clients.summarise(effective=lambda t: t.effective.cast("int64").sum()).iloc[0]
    ended = treatment_outcomes.clients(extract, outcome_params, breakdowns=False)
    completed = ended.summarise(completed=lambda t: t.completed.cast("int64").sum()).iloc[0]
    summary = economics.economic_summary(
        p, effective_treatment_people=int(effective.effective), successful_completions=int(completed.completed)
    )
    counts = {"effective_treatment_total": int(effective.n), "successful_completions_total": int(completed.n)}
    summary["n"] = summary.quantity.map(counts)
    counted = summary[summary.n.notna()].astype({"n": int})
    valued = counted.assign(outcomes=[int(effective.effective), int(completed.completed)][: len(counted)])
    tables = {  # outcomes counted (of n clients, by their latest journey in the period) times a price: a sum of money
        "outcomes_valued": st.declare(
            valued,
            quantity=st.group(),
            value_gbp=st.magnitude("GBP", "sum"),
            formula=st.reference(),
            prices=st.reference(),
            n=st.events(),
            outcomes=st.events(),
        )
    }
    notes = [
        # no count here: a note is not checked for disclosure, the outcomes_valued table is
        "Clients in effective treatment and successful completions are counted as in the treatment-outcomes study "
        f"(DSCP definitions, {p.results_price_year} prices); the counts are in outcomes_valued, checked like every "
        "table.",
        "Values are gross benefits per the DSCP model; they are not causal estimates of what treatment saved.",
        "The sensitivity table shows the DSCP's scenarios (harm decaying after completion; untreated harm falling) "
        "on these parameters, beside the published values.",
    ]
    if p.uprate_factor != 1:
        notes.append(
            f"Uprated from {p.price_year} to {p.uprate_to_year} prices by the GDP deflator ratio given, "
            f"{p.uprate_factor:g} (the user's, from HM Treasury)."
        )
    parameters = economics.parameters_table(p)
    reference = {
        "unit_values": summary[summary.n.isna()].drop(columns="n"),
        "sensitivity": economics.sensitivity_analyses(p),
        "parameters": parameters[parameters.name.isin(list(ECONOMIC_DEFAULTS))],  # the ones this study takes
    }
    return StudyOutput(tables, {}, notes, reference=reference)


STUDIES = [
    Study(
        id="economic-value",
        title="Economic value of effective treatment and successful completions",
        question="DOMAIN.md 7 (DSCP Appendix C; HM Treasury Green Book discounting)",
        definition=(
            "Clients in effective treatment (the treatment-outcomes study's DSCP definition, per client over the "
            "period) x the present value of 4 years of reduced harm (saving per person-year discounted at 3.5%, "
            "years 1-4), and successful completions (DSCP: clients whose latest journey in the period ended with a "
            "completion) x the expected value of completion (that value plus the recovery probability x the "
            "abstinence benefit, years 5-12). 2012 prices unless uprated (uprate_factor, uprate_to_year); every "
            "parameter shown and changeable; the DSCP's sensitivity analyses as a reference table."
        ),
        needs=("treatment.treatment_start_date", "treatment.discharge_date", "treatment.discharge_reason"),
        optional=("person.birth_year",),  # the DSCP counts clients aged 18+
        compute=compute,
        parameters={"start": None, "end": None, **ECONOMIC_DEFAULTS},
        main=MainMeasure("outcomes_valued", "value_gbp"),
    )
]
