"""Continuity of care after prison release (docs/design/DOMAIN.md 6.2; OHID indicator C20, formerly PHOF 2.16) and the
DSCP prison-to-community pick-up (docs/design/DOMAIN.md 6.5)."""

from __future__ import annotations

from bold.studies.builtin import common
from bold.studies.language import Cohort, Extract
from bold.studies.study import MainMeasure, Study, StudyOutput, agreed

DEFINITION = (
    "Releases from prison of adults with a substance misuse need (the prison's flag) who started structured "
    "community treatment within 21 days (3 weeks) of release: day 0 is the release date, a treatment start on "
    "days 0 to 21 counts, day 22 does not. The denominator counts releases, so a person released twice counts "
    "twice, as OHID's indicator does. Releases less than 42 days before the data end are left out so that "
    "every release has complete follow-up. Pick-up (DSCP, seed 001 appendix B2): a treatment start on days 0 to 42 "
    "after release (up to, not exceeding, 42 days), the nearest measure to a community care-plan date these data "
    "hold, local referrals only: the journey's local authority must be the release local authority, and releases "
    "picked up only in another area (non-local referrals) or with no release local authority are left out of its "
    "denominator (pick_up_referrals). A release stands in for the CARAT referral and the data hold no prison code "
    "on treatment records to match. Without treatment.local_authority and prison.release_local_authority agreed, "
    "any pick-up counts, over all releases (noted). Intervals: Wilson 95%."
)
LOCAL = ("prison.release_local_authority", "treatment.local_authority")


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


def local_pick_up(cohort: Cohort, days: int) -> Cohort:
    """The DSCP's local-referral rule: ``picked_up`` only by a treatment start in the release's own local
    authority; ``pick_up_referral`` false for releases picked up only elsewhere (a referral to another area) or
    released to no known local authority."""
    cohort.first_event(
        "days_to_local_treatment",
        "treatment",
        "treatment_start_date",
        within=(0, days),
        same={"release_local_authority": "local_authority"},
    )
    return cohort.derive(
        pick_up_referral=lambda t: (
            t.release_local_authority.notnull() & (t.days_to_local_treatment.notnull() | t.days_to_treatment.isnull())
        ),
    ).derive(picked_up=lambda t: t.days_to_local_treatment.notnull())


def compute(extract: Extract, params: dict) -> StudyOutput:
    cohort = releases_with_need(extract, params)
    common.complete_follow_up(cohort, params["pick_up_days"])
    local = all(agreed(extract, entry) for entry in LOCAL)
    if local:
        local_pick_up(cohort, params["pick_up_days"])
    la = "release_local_authority" if agreed(extract, "prison.release_local_authority") else None
    groups = common.breakdowns(cohort, la)
    events = {"treated_21_days": "treated", "picked_up_42_days": "picked_up"}
    denominators = {"picked_up_42_days": "pick_up_referrals"} if local else {}
    counts = {"pick_up_referrals": "pick_up_referral"} if local else {}

    def shares(by):
        return common.shares(cohort, by, events, denominators, counts)

    tables = {"overall": shares([])}
    for by in [*groups, "prison"]:
        tables[f"by_{by}"] = shares([by])
    if la:
        tables["by_region_financial_year"] = shares(["region", "financial_year"])
    charts = {
        "by_financial_year": common.share_chart(
            tables["by_financial_year"],
            "financial_year",
            "treated_21_days_share",
            "Continuity of care: treatment within 21 days of release",
        )
    }
    notes = []
    if not local:
        notes.append(
            "treatment.local_authority or prison.release_local_authority is not in the agreement: the 42-day "
            "pick-up counts a treatment start in any area, over all releases, not the DSCP's local referrals only"
        )
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
        optional=("prison.release_local_authority", "treatment.local_authority", *common.PERSON_OPTIONAL),
        compute=compute,
        parameters={"start": None, "end": None, "within_days": 21, "pick_up_days": 42},
        main=MainMeasure.share("overall", "treated_21_days_share", linked=("prison", "treatment")),
    )
]
