"""The pathway after release from prison (issue 17, item 5: the order in which people reach services after
release): for the continuity-of-care cohort, which services a release is followed by in the ``days`` after it,
which comes first, in what order and how many days apart, as ordered flows with small flows merged.

No published indicator measures this, so every boundary is decided here and explicit:

- Cohort: ``continuity-of-care``'s releases with a substance misuse need (``releases_with_need``), releases with
  less than ``days`` (90) of data after them left out; day 0 is the release date.
- Services, each the first event of its dataset on days 0 to ``days`` (day ``days`` counts, the next day does
  not), in ``SERVICES``' fixed order, which also breaks ties on one day: community treatment start, probation order
  start (a community or suspended sentence order; licences, the release's own supervision from day 0, are left out
  when ``probation.order_type`` is agreed), mental-health referral, homelessness application, hospital admission
  (any method), re-imprisonment (a prison reception on days 1 to ``days``: the spell released from was received
  before day 0, and a reception on the release day is taken to be the same custody), death. Planned hand-overs
  come first, pathway-ending events last. Community treatment is needed; the others count when the agreement holds
  their date (noted when not).
- Steps: the first three distinct services in order of days (then the fixed order); "none within N days" as the
  first step when no service is reached and "no further service" after the last one reached, so every step
  accounts for every release and the nodes of the flow chart balance. Days between steps: from the release to
  step 1, from step 1 to step 2, from step 2 to step 3 (quartiles, linear interpolation).
- Flows (step 1 -> step 2 -> step 3): counted as releases and people; labels reached by fewer than ``min_flow``
  people (10, bold-standard's threshold) are merged into "other" at that step, from the first step to the last,
  the smallest remaining label joining "other" while it is still too small (``flows.merge_small``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import pandas as pd

from bold.studies import statistics as st
from bold.studies.builtin import common, flows
from bold.studies.builtin.continuity import releases_with_need
from bold.studies.language import PERSON, Cohort, Extract, StudyError
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed


@dataclass(frozen=True)
class Service:
    key: str
    label: str
    dataset: str
    field: str
    first_day: int = 0
    where: tuple[str, Callable] | None = None  # (field, condition): events counted when that field is agreed

    @property
    def entry(self) -> str:
        return f"{self.dataset}.{self.field}"

    @property
    def days(self) -> str:
        return f"days_to_{self.key}"  # treatment: the column releases_with_need adds


SERVICES = (  # the fixed order: ties on one day go to the earlier service
    Service("treatment", "community treatment", "treatment", "treatment_start_date"),
    Service(  # a licence is the release's own supervision, started on day 0 by design: not a service reached
        "probation",
        "probation order",
        "probation",
        "order_start_date",
        where=("order_type", lambda t: t.order_type != "LIC"),
    ),
    Service("mental_health", "mental-health referral", "mental_health", "referral_date"),
    Service("homelessness", "homelessness application", "homelessness", "application_date"),
    Service("hospital", "hospital admission", "hospital", "admission_date"),
    Service("prison", "re-imprisonment", "prison", "reception_date", first_day=1),
    Service("death", "death", "deaths", "date_of_death"),
)
STEPS = ("step_1", "step_2", "step_3")
END = "no further service"
QUARTILES = (("days_q1", 0.25), ("days_median", 0.5), ("days_q3", 0.75))

DEFINITION = (
    "Releases from prison of adults with a substance misuse need (the continuity-of-care cohort), day 0 the release "
    "date, releases with less than 90 days (parameter days) of data after them left out. Services reached on days "
    "0 to 90 (day 90 counts, day 91 does not), the first event of each: community treatment start, probation order "
    "start (community or suspended sentence orders: a licence after prison is the release's own supervision and "
    "left out), mental-health referral, homelessness application, hospital admission (any method), re-imprisonment (a "
    "prison reception on days 1 to 90), death; those the agreement holds. First service: the earliest, ties on one "
    "day broken in that order; 'none within 90 days' when there is none. Order: the first three distinct services, "
    "then 'no further service'. Days between steps: quartiles (linear interpolation) among releases reaching the "
    "step. Flows step 1 -> 2 -> 3 count releases and people; labels reached by fewer than 10 people (parameter "
    "min_flow, bold-standard's threshold) are merged into 'other' at that step, the smallest remaining label "
    "joining while 'other' is still too small, so every flow meets it. Main measure: the share of releases whose "
    "first service is community treatment. Intervals: Wilson 95%."
)


def _days(params: dict) -> tuple[int, int]:
    days, minimum = params["days"], params["min_flow"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (days, minimum)):
        raise StudyError("pathway-after-release needs whole numbers: days >= 1 and min_flow >= 1")
    return days, minimum


def none_label(days: int) -> str:
    return f"none within {days} days"


def pathway(extract: Extract, params: dict) -> tuple[Cohort, list[Service]]:
    """The cohort with each agreed service's days to its first event, and the ordered steps (``steps``)."""
    days, _ = _days(params)
    cohort = releases_with_need(extract, {**params, "within_days": days, "pick_up_days": days})
    common.complete_follow_up(cohort, days)
    present = [s for s in SERVICES if agreed(extract, s.entry)]
    for service in present:
        if service.days not in cohort.t.columns:
            where = service.where[1] if service.where and agreed(extract, condition_field(service)) else None
            cohort.first_event(service.days, service.dataset, service.field, (service.first_day, days), where)
    return steps(cohort, present, days), present


def condition_field(service: Service) -> str:
    """The agreed field (``dataset.field``) a service's condition needs; without it every event counts."""
    return f"{service.dataset}.{service.where[0]}"


def steps(cohort: Cohort, services: list[Service], days: int) -> Cohort:
    """Add ``service_<j>`` (the j-th distinct service reached, or a terminal label), ``gap_<j>`` (days from the
    previous step, or from the release for step 1) and, per service, ``first_<key>`` and ``reached_<key>``."""

    def position(t, service: Service, i: int):
        """1 + the services reached before it (on an earlier day, or the same day and earlier in the order)."""
        d = t[service.days]
        before = [
            ibis.ifelse(t[o.days].notnull() & ((t[o.days] <= d) if j < i else (t[o.days] < d)), 1, 0)
            for j, o in enumerate(services)
            if j != i
        ]
        return ibis.ifelse(d.notnull(), sum(before, ibis.literal(1)), ibis.null("int64"))

    cohort.derive(**{f"_pos_{s.key}": (lambda t, s=s, i=i: position(t, s, i)) for i, s in enumerate(services)})

    for j, step in enumerate(STEPS, start=1):
        terminal = none_label(days) if j == 1 else END

        def label(t, j=j, terminal=terminal):
            return ibis.cases(*[(t[f"_pos_{s.key}"] == j, s.label) for s in services], else_=terminal)

        def on_day(t, j=j):
            return ibis.cases(*[(t[f"_pos_{s.key}"] == j, t[s.days]) for s in services], else_=ibis.null("int64"))

        def gap(t, j=j):  # step 1 counts from the release, each later step from the one before
            return t[f"_day_{j}"] - (t[f"_day_{j - 1}"] if j > 1 else 0)

        cohort.derive(**{f"service_{j}": label, f"_day_{j}": on_day})
        cohort.derive(**{f"gap_{j}": gap, f"has_{step}": lambda t, j=j: t[f"_day_{j}"].notnull()})
    none = none_label(days)
    cohort.derive(
        **{f"first_{s.key}": (lambda t, s=s: t.service_1 == s.label) for s in services},
        **{f"reached_{s.key}": (lambda t, s=s: t[s.days].notnull()) for s in services},
        first_none=lambda t: t.service_1 == none,
    )
    return cohort


def reached(cohort: Cohort, flag: str, days: str) -> pd.DataFrame:
    """One row: releases, those with ``flag`` (count, share, Wilson interval), the people behind them and the
    quartiles of ``days`` among them."""
    quartiles = {name: (lambda t, q=q: t[days].quantile(q)) for name, q in QUARTILES}
    extra = {"reached_people": lambda t: t[PERSON].nunique(where=t[flag]), **quartiles}
    table = common.shares(cohort, [], {"reached": flag}, extra=extra)
    table["reached_people"] = table["reached_people"].fillna(0).astype(int)
    return st.declare(
        table,
        reached_people=st.people(),
        **{name: st.percentile(q, people="reached_people") for name, q in QUARTILES},
    )


def merged_flows(cohort: Cohort, minimum: int, order: list[str]) -> pd.DataFrame:
    """The flows table: releases and people per flow ``step_1 -> step_2 -> step_3``, small flows merged. The
    merge is decided on the cohort's rows inside the platform and applied to the cohort as a lookup, so the table
    comes from one summary and disclosure control sees the people behind each merged flow."""
    raw = [f"service_{j}" for j in range(1, len(STEPS) + 1)]
    cohort.derive(_path=lambda t: ibis.literal(" > ").join([t[c] for c in raw]))
    frame = cohort.frame([*raw, "_path"]).rename(columns=dict(zip(raw, STEPS, strict=True)))
    merged = flows.merge_small(frame, STEPS, minimum, order)
    mapping = merged[["_path", *STEPS]].drop_duplicates()
    if mapping.empty:
        cohort.derive(**{step: (lambda t, c=c: t[c]) for step, c in zip(STEPS, raw, strict=True)})
    else:
        cohort.lookup(mapping, on="_path")
    return cohort.summarise(list(STEPS))


def compute(extract: Extract, params: dict) -> StudyOutput:
    days, minimum = _days(params)
    cohort, present = pathway(extract, params)
    none = none_label(days)
    order = [*(s.label for s in present), flows.OTHER, none, END]
    tables = {"overall": common.shares(cohort, [], {"first_treatment": "first_treatment"})}
    first = {s.label: f"first_{s.key}" for s in present} | {none: "first_none"}
    tables["first_service"] = common.stacked(
        cohort,
        "first_service",
        {label: (lambda c=c: common.shares(cohort, [], {"first": c})) for label, c in first.items()},
    )
    tables["reached"] = common.stacked(
        cohort, "service", {s.label: (lambda s=s: reached(cohort, f"reached_{s.key}", s.days)) for s in present}
    )
    tables["steps"] = common.stacked(
        cohort, "step", {f"step {j}": (lambda j=j: reached(cohort, f"has_step_{j}", f"gap_{j}")) for j in (1, 2, 3)}
    )
    tables["flows"] = merged_flows(cohort, minimum, order)
    la = "release_local_authority" if agreed(extract, "prison.release_local_authority") else None
    for by in (g for g in common.breakdowns(cohort, la) if g != "quarter"):
        tables[f"by_{by}"] = common.shares(cohort, [by], {"first_treatment": "first_treatment"})
    charts = {
        "flows": flows.flow_chart(tables["flows"], STEPS, order, f"Services reached in the {days} days after release"),
        "first_service": common.share_chart(
            tables["first_service"], "first_service", "first_share", "First service reached after release"
        ),
    }
    absent = [s for s in SERVICES if s not in present]
    notes = [f"{s.entry} is not in the agreement: {s.label} is left out of the pathway" for s in absent]
    notes += [
        f"{condition_field(s)} is not in the agreement: every {s.dataset} start counts as a {s.label}, licences too"
        for s in present
        if s.where and not agreed(extract, condition_field(s))
    ]
    notes.append(
        f"Flows reached by fewer than {minimum} people are merged into '{flows.OTHER}' at the step where they part "
        "(parameter min_flow); first_service and reached are not merged, and disclosure control judges their cells."
    )
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="pathway-after-release",
        title="The pathway after release from prison",
        question="DOMAIN.md 6.2 and 6.3 (the pathway after release: which service first, in what order, days between)",
        definition=DEFINITION,
        needs=("prison.release_date", "prison.substance_misuse_need", "treatment.treatment_start_date"),
        optional=(
            *(s.entry for s in SERVICES if s.dataset != "treatment"),
            "probation.order_type",
            "prison.prison",
            "prison.release_local_authority",
            *common.PERSON_OPTIONAL,
        ),
        compute=compute,
        parameters={"start": None, "end": None, "days": 90, "min_flow": 10},
        main=MainMeasure.share("overall", "first_treatment_share"),
    )
]
