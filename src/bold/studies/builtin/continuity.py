"""Continuity of care after prison release (docs/design/DOMAIN.md 6.2; OHID indicator C20, formerly PHOF 2.16) and the
DSCP prison-to-community pick-up (docs/design/DOMAIN.md 6.5)."""

from __future__ import annotations

from bold.studies.builtin import common
from bold.studies.language import Cohort, Extract
from bold.studies.study import Study, StudyOutput, agreed

DEFINITION = (
    "Releases from prison of adults with a substance misuse need (the prison's flag) who started structured "
    "community treatment within 21 days (3 weeks) of release: day 0 is the release date, a treatment start on "
    "days 0 to 21 counts, day 22 does not. The denominator counts releases, so a person released twice counts "
    "twice, as OHID's indicator does. Releases less than 42 days before the data end are left out so that "
    "every release has complete follow-up. Pick-up (DSCP): treatment start up to 42 days after release, the "
    "nearest measure to a community care-plan date these data hold. Intervals: Wilson 95%."
)


def releases_with_need(extract: Extract, params: dict, extra: tuple[str, ...] = ()) -> Cohort:
    """Releases with a substance misuse need and the days to the first treatment start in the pick-up window;
    ``extra`` prison fields are added when agreed (for models and breakdowns)."""
    fields = [f for f in ("prison", "release_local_authority", *extra) if agreed(extract, f"prison.{f}")]
    cohort = Cohort(
        extract,
        "prison",
        index="release_date",
        fields=fields,
        where=lambda t: t.substance_misuse_need,
        period=common.period(params),
    )
    cohort.first_event("days_to_treatment", "treatment", "treatment_start_date", within=(0, params["pick_up_days"]))
    within = params["within_days"]
    return cohort.derive(
        treated=lambda t: t.days_to_treatment.notnull() & (t.days_to_treatment <= within),
        picked_up=lambda t: t.days_to_treatment.notnull(),
    )


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = releases_with_need(extract, params)
    common.complete_follow_up(cohort, params["pick_up_days"])
    la = "release_local_authority" if agreed(extract, "prison.release_local_authority") else None
    groups = common.breakdowns(cohort, la)
    events = {"treated_21_days": "treated", "picked_up_42_days": "picked_up"}
    tables = {"overall": common.shares(cohort, [], events)}
    for by in [*groups, "prison"]:
        tables[f"by_{by}"] = common.shares(cohort, [by], events)
    if la:
        tables["by_region_financial_year"] = common.shares(cohort, ["region", "financial_year"], events)
    charts = {
        "by_financial_year": common.share_chart(
            tables["by_financial_year"],
            "financial_year",
            "treated_21_days_share",
            "Continuity of care: treatment within 21 days of release",
        )
    }
    notes = []
    if la:
        charts["by_region"] = common.share_chart(
            tables["by_region"], "region", "treated_21_days_share", "Continuity of care by region of release"
        )
    else:
        notes.append("prison.release_local_authority is not in the agreement: no regional breakdown")
    return StudyOutput(tables, charts, notes)


STUDIES = [
    Study(
        id="continuity-of-care",
        title="Continuity of care after prison release",
        question="DOMAIN.md 6.2 (OHID C20) and 6.5 (DSCP pick-up)",
        definition=DEFINITION,
        needs=(
            "prison.release_date",
            "prison.substance_misuse_need",
            "prison.prison",
            "treatment.treatment_start_date",
        ),
        optional=("prison.release_local_authority", "person.sex", "person.birth_year"),
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 21, "pick_up_days": 42},
    )
]
