"""Participant outcomes, Justice Data Lab style (docs/design/DOMAIN.md 6.7): an organisation's list of participants,
linked like any source, against a propensity-matched comparison group from the linked population.

The list arrives as the ``participants`` source (its identifiers stay in the identifiers zone), so the project sees
each participant only as a pseudonym with the programme and the intervention date. The participants' index is the
first prison release on or after their intervention date (the programmes it is meant for start in custody, and the
JDL measures reoffending from release); the comparison pool is everyone else in the linked population released in
the period, at their first release. Matching and the paired test are ``propensity_matched``'s, as for
``treatment-impact``; only aggregates leave the study, and the list is to be deleted once its report is out.
"""

from __future__ import annotations

import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common
from bold.studies.builtin.evaluation import (
    COVARIATE_PERSON,
    back_in_prison,
    covariates,
    enough_participants,
    previous_prison,
)
from bold.studies.evaluation import propensity_matched
from bold.studies.language import PERSON, Cohort, Extract, StudyError
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

LIST = "participants"  # the source a participant list arrives as (src/bold/sources/participants.yaml)
FOLLOW_UP = 365
TREATMENT_DAYS = 21  # the treatment outcome: community treatment started within 21 days of release (OHID C20)
OUTCOMES = {"reoffended": "re-imprisonment within a year", "treatment_21_days": "treatment within 21 days"}
MAIN = "matched difference (percentage points)"
DELETE = (
    "The participant list has served its purpose once this report is released: its custodian should now delete it "
    "(bold batch delete-list participants --yes), which removes its identifiers, content and links from the "
    "platform and records the deletion in the audit trail."
)


def _yes(value, name: str) -> bool:
    text = str(value).strip().lower()
    if text not in ("yes", "no", "true", "false"):
        raise StudyError(f"{name}: expected yes or no, not {value!r}")
    return text in ("yes", "true")


def _days(value, name: str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise StudyError(f"{name}: expected a whole number of days, not {value!r}") from None
    if days < 0:
        raise StudyError(f"{name}: expected 0 or more days, not {days}")
    return days


def listed(params: dict):
    """The condition on the list's rows: one programme (``programme``) or all of them."""
    programme = params["programme"]
    return None if programme in (None, "") else (lambda t: t.programme == str(programme))


def releases(extract: Extract, params: dict) -> Cohort:
    """Releases with a year of follow-up, each with whether the person is on the list at all (``_listings``) and the
    days back to an intervention on days -``within_days`` to 0 (``_since_intervention``)."""
    need = _yes(params["need_only"], "need_only")
    within = _days(params["within_days"], "within_days")
    if params["programme"] not in (None, "") and not agreed(extract, f"{LIST}.programme"):
        raise StudyError(f"programme: {LIST}.programme is not in this project's agreement")
    fields = [f for f in ("ost_at_release",) if agreed(extract, f"prison.{f}")]
    cohort = Cohort(
        extract,
        "prison",
        index="release_date",
        fields=fields,
        where=(lambda t: t.substance_misuse_need) if need else None,
        period=common.period(params),
    )
    common.complete_follow_up(cohort, FOLLOW_UP)
    where = listed(params)
    cohort.count_events("_listings", LIST, "intervention_date", within=(None, None), where=where)
    return cohort.last_event("_since_intervention", LIST, "intervention_date", within=(-within, 0), where=where)


def index_releases(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per person: a participant at their first release on or after an intervention (within the window), a
    person not on the list at their first release; listed people with no such release are left out (``treated``)."""
    rows = rows.sort_values([PERSON, "index_date"])
    on_list = rows._listings > 0
    after = rows._since_intervention.notna()
    chosen = rows[~on_list | after].drop_duplicates(PERSON).copy()
    chosen["treated"] = chosen._since_intervention.notna().astype(int)
    return chosen


def matched(rows: pd.DataFrame, outcome: str, names: list[str], seed: int):
    try:
        return propensity_matched(
            rows.assign(**{outcome: rows[outcome].astype(int)}),
            treated="treated",
            outcome=outcome,
            covariates=["previous_prison", *names],
            seed=seed,
        )
    except ValueError as exc:  # nothing to match, or a score model that cannot be fitted even after merging
        raise StudyError(f"the matched comparison cannot be made: {exc}") from None


def stack(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One table of several outcomes' tables, a block per outcome."""
    first = next(iter(parts.values()))
    table = pd.concat([t.assign(outcome=OUTCOMES[name]) for name, t in parts.items()], ignore_index=True)
    table = st.carry(first, table[["outcome", *first.columns]])
    return st.declare(table, outcome=st.group())


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = releases(extract, params)
    names = covariates(cohort)
    previous_prison(cohort)
    back_in_prison(cohort)
    outcomes = ["reoffended"]
    if agreed(extract, "treatment.treatment_start_date"):
        cohort.first_event("_days_to_treatment", "treatment", "treatment_start_date", within=(0, TREATMENT_DAYS))
        cohort.derive(treatment_21_days=lambda t: t._days_to_treatment.notnull())
        outcomes.append("treatment_21_days")
    rows = index_releases(cohort.frame(["_listings", "_since_intervention", "previous_prison", *outcomes, *names]))
    enough_participants(int(rows.treated.sum()))
    results = {o: matched(rows, o, names, params["seed"]) for o in outcomes}
    on_list = Cohort(extract, LIST, index="intervention_date", where=listed(params)).summarise([])
    tables = {
        "estimates": stack({o: r.estimates for o, r in results.items()}),
        "groups": stack({o: r.groups for o, r in results.items()}),
        "balance": results["reoffended"].balance,  # the same pairs for every outcome: matching never reads one
        "list": on_list,  # everyone on the list: n interventions, people
    }
    notes = [
        "Participants: people on the list at their first prison release in the period on or after their "
        f"intervention date (at most {params['within_days']} days after it)"
        + (", releases with a substance misuse need only" if _yes(params["need_only"], "need_only") else "")
        + "; comparison: people not on the list, at their first such release. Outcomes: a new prison reception "
        "on days 1-365 (re-imprisonment stands in for one-year proven reoffending, which these data do not hold)"
        + (f" and community treatment started on days 0-{TREATMENT_DAYS}" if len(outcomes) > 1 else "")
        + ". Everyone has a year of follow-up.",
        # counts only in tables: a note is not checked for disclosure
        "People on the list with no such release (not linked to a prison record, or not released in the window) "
        "are left out: the list table counts everyone on it, the groups table the participants found; participants "
        "with no comparison within the caliper are in the groups table ('treated, unmatched').",
        f"Matched on previous releases and {', '.join(names) or 'nothing else'}; the same pairs for every outcome.",
        *dict.fromkeys(n for r in results.values() for n in r.notes),  # levels merged for the score model
        DELETE,
    ]
    return StudyOutput(tables, {}, notes)


STUDIES = [
    Study(
        id="participant-outcomes",
        title="Participant outcomes against a matched comparison group (Justice Data Lab style)",
        question="DOMAIN.md 6.7 (Justice Data Lab)",
        definition=(
            "An organisation's participant list, linked like any source. Participants: each person on the list at "
            "their first prison release on or after their intervention date (within within_days, default 365; with "
            "need_only, releases with the prison's substance misuse flag), with a year of follow-up; comparison "
            "pool: everyone in the linked population not on the list, at their first such release. Each participant "
            "is matched 1:1 without replacement to the nearest comparison on the logit of a propensity score "
            "(logistic regression on previous releases 0/1/2+, sex, age band, ethnicity, no fixed abode, OST at "
            "release, previous treatment and dual diagnosis as agreed, 'missing' categories), caliper 0.2 SD. "
            "Outcomes: a new prison reception on days 1-365 (one-year re-imprisonment) and, with treatment agreed, "
            "community treatment started on days 0-21. Effect: matched difference in percentage points with a paired "
            "95% interval and p-value. Refused below the Justice Data Lab's 60 participants. The list is deleted "
            "after the report (bold batch delete-list)."
        ),
        needs=(
            f"{LIST}.intervention_date",
            "prison.release_date",
            "prison.reception_date",
            "prison.substance_misuse_need",
        ),
        optional=(
            f"{LIST}.programme",
            *COVARIATE_PERSON,
            "prison.ost_at_release",
            "treatment.treatment_start_date",
            "mental_health.referral_date",
        ),
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 365, "need_only": "yes", "programme": None, "seed": 0},
        main=MainMeasure(
            "estimates", "estimate", "ci_low", "ci_high", (("outcome", OUTCOMES["reoffended"]), ("measure", MAIN))
        ),
    )
]
