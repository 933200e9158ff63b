"""A synthetic participant list (Justice Data Lab style): people released with a substance misuse need who took
part in a programme in custody, with a planted effect on one-year re-imprisonment.

The list draws from its own random stream (``[seed, chunk, STREAM]``), never the chunk's, so every other file of
every seed stays byte-identical. The effect is planted by choosing who took part, not by changing anything that
happened: among each person's first release with the prison's substance-need flag and a year of follow-up (the
study's comparison unit), a release is chosen with probability ``base x female factor x under-35 factor x odds
ratio if back in prison within a year`` (``bold.synth.calibration``). By Bayes' rule the participants' odds of
re-imprisonment are then the odds ratio times those of releases of the same sex and age group. The realised effect
(participants' one-year re-imprisonment minus that of non-participants of the same sex and age group, weighted by
the participants: what exact matching on the selection's covariates estimates) is written to
``truth/participants.json``, and the list's rows with their truth to ``truth/participants.parquet``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from bold.synth import calibration as cal
from bold.synth import identifiers as ids
from bold.synth.config import CorruptionRates
from bold.synth.events import NEVER, Timeline
from bold.synth.extracts import Counters, _case, _identity, as_date32, dates
from bold.synth.population import People
from bold.synth.tables import at, first_at_or_after

SOURCE = "participants"
STREAM = 7919  # the third word of the list's seed sequence: a stream no other file draws from
PROGRAMME = "Recovery Through Custody"
FOLLOW_UP = 365  # days: the outcome is a new prison reception on days 1 to 365 after release
MAX_DAYS_BEFORE_RELEASE = 180  # the programme starts in custody, at most this long before release
DATE_FORMAT = "%d/%m/%Y"  # as the participants contract reads it
RATES = CorruptionRates(forename_typo=cal.PARTICIPANT_TYPO, surname_typo=cal.PARTICIPANT_TYPO)


def stream(seed: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng([seed, chunk, STREAM])


def first_releases(people: People, t: Timeline, end: int) -> dict[str, np.ndarray]:
    """Each person's first release with the substance-need flag and a full year of follow-up: the person (chunk
    index), the spell's reception and release days, the stratum (female, under 35 at release) and the outcome."""
    s = t.spells
    rows = np.flatnonzero((s["release"] != NEVER) & s["need_flag"] & (s["release"].astype(np.int64) + FOLLOW_UP <= end))
    rows = rows[np.lexsort((s["release"][rows], s["pid"][rows]))]
    if rows.size:
        rows = rows[np.r_[True, s["pid"][rows][1:] != s["pid"][rows][:-1]]]
    pid, release = s["pid"][rows], s["release"][rows]
    nxt = first_at_or_after(pid, release + 1, s["pid"], s["reception"])
    days = np.where(nxt >= 0, at(s["reception"], nxt).astype(np.int64) - release, -1)
    return {
        "pid": pid,
        "reception": s["reception"][rows],
        "release": release,
        "female": people.female[pid],
        "under_35": (release.astype(np.int64) - people.dob[pid]) < 35 * 365.25,
        "back_in": (days >= 1) & (days <= FOLLOW_UP),
    }


def choose(first: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Which first releases joined the programme (a boolean per release), selection depending on the outcome."""
    p = np.full(len(first["pid"]), cal.PARTICIPANT_BASE_SHARE)
    p *= np.where(first["female"], cal.PARTICIPANT_FEMALE_FACTOR, 1.0)
    p *= np.where(first["under_35"], cal.PARTICIPANT_UNDER_35_FACTOR, 1.0)
    p *= np.where(first["back_in"], cal.PARTICIPANT_ODDS_RATIO, 1.0)
    return rng.random(len(p)) < np.minimum(p, 1.0)


class ParticipantList:
    """The list written chunk by chunk (its rows and truth rows), and the counts per stratum its truth needs."""

    def __init__(self) -> None:
        self.counts = np.zeros((2, 2, 2, 2), dtype=np.int64)  # female, under 35, participant, [releases, back in]

    def chunk(self, people: People, t: Timeline, end: int, seed: int, chunk: int, counters: Counters):
        """This chunk's list rows and truth rows (pyarrow tables)."""
        rng = stream(seed, chunk)
        first = first_releases(people, t, end)
        chosen = choose(first, rng)
        for key in np.ndindex(2, 2, 2):
            f, u, c = key
            hit = (first["female"] == f) & (first["under_35"] == u) & (chosen == c)
            self.counts[key] += (hit.sum(), (hit & first["back_in"]).sum())
        rows = np.flatnonzero(chosen)
        pid, release = first["pid"][rows], first["release"][rows].astype(np.int64)
        longest = np.minimum(release - first["reception"][rows], MAX_DAYS_BEFORE_RELEASE)
        start = release - np.floor(rng.random(rows.size) * (longest + 1)).astype(np.int64)  # in custody
        ident = _identity(people, pid, start, np.arange(rows.size), RATES, rng, nfa=np.zeros(rows.size, bool))
        seq = counters.take("records", SOURCE, rows.size)
        record_id = ids.local_ids(seq, "JD", 8, seed, 31)
        order = rng.permutation(rows.size)  # an organisation's list is in no order the platform could read
        extract = pa.table(
            {
                "PARTICIPANT_ID": record_id,
                "FORENAME": _case(ident.forename, "title"),
                "SURNAME": _case(ident.surname, "title"),
                "DATE_OF_BIRTH": dates(ident.dob, DATE_FORMAT),
                "SEX": np.where(people.female[pid], "F", "M").astype(object),
                "POSTCODE": ident.postcode,
                "PROGRAMME": np.full(rows.size, PROGRAMME, dtype=object),
                "INTERVENTION_DATE": dates(start, DATE_FORMAT),
            }
        ).take(pa.array(order))
        truth = pa.table(
            {
                "record_id": record_id,
                "person_id": people.person_id[pid],
                "intervention_date": as_date32(start),
                "release_date": as_date32(release),
                "back_in_prison_within_year": first["back_in"][rows],
                "forename_typo": ident.flags["forename_typo"],
                "surname_typo": ident.flags["surname_typo"],
            }
        ).take(pa.array(order))
        return extract, truth

    def effect(self) -> dict:
        """The planted odds ratio and the realised effect in percentage points (see the module's docstring)."""
        n, back = self.counts[..., 0], self.counts[..., 1]
        rates = np.divide(back, n, out=np.zeros(n.shape), where=n > 0)
        weight = n[:, :, 1]  # participants per stratum
        usable = (weight > 0) & (n[:, :, 0] > 0)
        total = int(weight[usable].sum())
        diff = ((rates[:, :, 1] - rates[:, :, 0]) * weight)[usable].sum() / total if total else None
        return {
            "source": SOURCE,
            "programme": PROGRAMME,
            "planted_odds_ratio": cal.PARTICIPANT_ODDS_RATIO,
            "participants": int(n[:, :, 1].sum()),
            "participants_back_in_prison_within_year": int(back[:, :, 1].sum()),
            "comparison_releases": int(n[:, :, 0].sum()),
            "comparison_back_in_prison_within_year": int(back[:, :, 0].sum()),
            "true_effect_percentage_points": None if diff is None else round(100 * float(diff), 3),
            "strata": "sex and age under 35 at release (the selection's covariates)",
        }

    def write_truth(self, out: Path) -> dict:
        effect = self.effect()
        (out / "truth" / "participants.json").write_text(json.dumps(effect, indent=2))
        return effect
