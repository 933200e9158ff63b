"""Ground truth derived from the timeline: one row per release with what truly followed, and the
headline figures of the summary. Written to ``truth/`` and never ingested."""

from __future__ import annotations

import numpy as np

from bold.synth.events import NEVER, Timeline, continuity_probability
from bold.synth.population import People
from bold.synth.reference import areas
from bold.synth.tables import Table, at, first_at_or_after, take


def releases(people: People, t: Timeline, cfg, end: int) -> Table:
    """Every release in the period with the person's true follow-up: treatment start, death."""
    a = areas()
    s = take(t.spells, np.flatnonzero(t.spells["release"] != NEVER))
    pid, day = s["pid"], s["release"]
    nxt = first_at_or_after(pid, day, t.journeys["pid"], t.journeys["start"])
    to_treatment = np.where(nxt >= 0, at(t.journeys["start"], nxt) - day, -1)
    nxt_rec = first_at_or_after(pid, day + 1, t.spells["pid"], t.spells["reception"])
    back_in = np.where(nxt_rec >= 0, at(t.spells["reception"], nxt_rec) - day, -1)
    death = t.death_day[pid]
    to_death = np.where(death != NEVER, death.astype(np.int64) - day, -1)
    la = people.la_on(pid, day)
    return {
        "person_id": people.person_id[pid],
        "release_date": day,
        "female": people.female[pid],
        "prison": a.prison_code[s["prison"]],
        "region": a.region_name[a.la_region[la]],
        "local_authority": a.la_code[la],
        "pilot_area": a.la_pilot[la],
        "need_flag": s["need_flag"],
        "true_need": people.drug[pid] | people.alcohol[pid],
        "ost_at_release": s["ost"],
        "continuity_probability": continuity_probability(people, s, cfg),
        "days_to_treatment": to_treatment.astype(np.int32),
        "days_to_reception": back_in.astype(np.int32),
        "days_to_death": to_death.astype(np.int32),
        "days_to_period_end": (end - day).astype(np.int32),
        "drug_related_death": np.isin(
            people.person_id[pid], people.person_id[t.deaths["pid"][t.deaths["drug_related"]]]
        ),
    }


class Summary:
    """Counts accumulated over chunks, turned into the headline figures at the end."""

    def __init__(self) -> None:
        self.records: dict[str, int] = {}
        self.people = 0
        self.releases = 0
        self.flagged_releases = 0
        self.continuity = 0
        self.deaths = 0
        self.deaths_14 = 0
        self.person_days_14 = 0

    def add_records(self, source: str, n: int) -> None:
        self.records[source] = self.records.get(source, 0) + n

    def add_chunk(self, people: People, t: Timeline, rel: Table) -> None:
        self.people += len(people)
        self.deaths += len(t.deaths["pid"])
        self.releases += len(rel["person_id"])
        flagged = rel["need_flag"]
        within = (rel["days_to_treatment"] >= 0) & (rel["days_to_treatment"] <= 21)
        self.flagged_releases += int(flagged.sum())
        self.continuity += int((flagged & within).sum())
        died = rel["days_to_death"]
        self.deaths_14 += int(((died >= 0) & (died < 14)).sum())
        self.person_days_14 += int(_follow_up_days(rel, 0, 14).sum())

    def figures(self) -> dict:
        return {
            "people": self.people,
            "records": dict(self.records),
            "releases": self.releases,
            "releases_with_substance_need": self.flagged_releases,
            "continuity_of_care_21_days": _ratio(self.continuity, self.flagged_releases),
            "deaths": self.deaths,
            "deaths_within_14_days_of_release": self.deaths_14,
            "deaths_within_14_days_per_1000_person_years": _ratio(self.deaths_14 * 1000 * 365.25, self.person_days_14),
        }


def _follow_up_days(rel: Table, lo: int, hi: int) -> np.ndarray:
    """Days each release contributes to the window [lo, hi) after release, ended by death (the
    day of death counts), a return to prison or the end of the period."""
    stop = np.minimum(hi, rel["days_to_period_end"].astype(np.int64) + 1)
    for col in ("days_to_death", "days_to_reception"):
        v = rel[col].astype(np.int64)
        stop = np.where((v >= 0) & (v < stop), v + (col == "days_to_death"), stop)
    return np.clip(stop - lo, 0, hi - lo)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None
