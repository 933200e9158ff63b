"""The pilot's planted effect on treatment outcomes (events._pilot_on_treatment), journey by journey: which early
endings it keeps in treatment (drop-outs, and journeys a short custody spell ended), which it leaves alone, and
how long a kept journey lasts."""

from __future__ import annotations

import datetime as dt

import numpy as np

from bold.synth import calibration as cal
from bold.synth.config import SynthConfig
from bold.synth.events import _pilot_on_treatment, day_number
from bold.synth.reference import areas

PILOT_START = dt.date(2020, 1, 1)
S = day_number(PILOT_START)
HELD = cal.PILOT_HELD_CUSTODY_DAYS


class Homes:
    """Each person's local authority, the only part of ``People`` the pilot reads."""

    def __init__(self, la):
        self.la = np.array(la)

    def la_on(self, pid, day):
        return self.la[pid]


def run(rows, spells, homes, retention=1e12):
    """Apply the pilot (an odds ratio of 1e12 keeps every early ending it acts on) to journeys given as
    (pid, start, length, reason) rows, sorted by person and start."""
    pid, start, length, reason = (np.array(c) for c in zip(*rows, strict=True))
    journeys = {
        "pid": pid,
        "start": start.astype(np.int32),
        "referral": (start - 5).astype(np.int32),
        "discharge": (start + length).astype(np.int32),
        "reason": reason.astype(object),
        "substance": np.full(len(pid), "OPI", dtype=object),
    }
    pids, receptions, releases = zip(*spells, strict=True)
    spells = {"pid": np.array(pids), "reception": np.array(receptions), "release": np.array(releases)}
    odds = {"pilot_retention_odds_ratio": retention, "pilot_completion_odds_ratio": 1}
    cfg = SynthConfig(people=10, seed=1, pilot_start=PILOT_START, **odds)
    without = _pilot_on_treatment(homes, np.random.default_rng(0), cfg, journeys, spells)
    return journeys, without


def test_early_endings_in_pilot_areas_from_the_start_stay_and_nothing_else_changes():
    a = areas()
    pilot, other = np.flatnonzero(a.la_pilot)[0], np.flatnonzero(~a.la_pilot)[0]
    homes = Homes([pilot, pilot, pilot, other, pilot, pilot, pilot, pilot, pilot])
    rows = [
        (0, S, 40, "DRO"),  # early drop-out: stays
        (1, S + 10, 40, "TIC"),  # custody of HELD days ended it: held through custody
        (2, S + 10, 40, "TIC"),  # custody of HELD + 1 days: not held
        (3, S, 40, "DRO"),  # not a pilot area
        (4, S - 1, 40, "DRO"),  # started the day before the pilot
        (5, S, 83, "DRO"),  # 12 weeks: not an early ending
        (6, S, 40, "CDF"),  # completed early: effective already
        (7, S, 40, "TWD"),  # early withdrawal, the person's next journey 60 days on: stays until the day before
        (7, S + 60, 100, "DRO"),
        (8, S + 10, 40, "TIC"),  # held through custody, then a second reception 30 days after release
    ]
    spells = [
        (1, S + 50, S + 50 + HELD),
        (2, S + 50, S + 50 + HELD + 1),
        (8, S + 50, S + 150),
        (8, S + 180, S + 200),
    ]
    journeys, without = run(rows, spells, homes)
    end, reason = journeys["discharge"], journeys["reason"]
    assert end[0] >= S + cal.EARLY_STAY_DAYS and reason[0] == "DRO"
    assert end[1] >= S + 50 + HELD + cal.EARLY_STAY_DAYS  # a drop-out's length after release
    assert reason[1] in {"DRO", "TNC", "TWD"}  # ends as a drop-out, no longer by custody
    for i in (2, 3, 4, 5, 6, 8):
        assert end[i] == rows[i][1] + rows[i][2] and reason[i] == rows[i][3], rows[i]
    assert end[7] == S + 59 and reason[7] == "TWD"
    assert end[9] == S + 180 and reason[9] == "TIC"  # the next reception after the one held through ends it
    changed = sorted(zip(without["pid"].tolist(), without["start"].tolist(), strict=True))
    assert changed == [(0, S), (1, S + 10), (7, S), (8, S + 10)]
    held = without["pid"] == 1  # the truth keeps each changed journey as it was
    assert (without["discharge"][held].tolist(), without["reason"][held].tolist()) == ([S + 50], ["TIC"])


def test_an_odds_ratio_of_one_changes_nothing():
    a = areas()
    homes = Homes([np.flatnonzero(a.la_pilot)[0]] * 2)
    journeys, without = run([(0, S, 40, "DRO"), (1, S + 10, 40, "TIC")], [(1, S + 50, S + 60)], homes, retention=1)
    assert len(without["pid"]) == 0
    assert journeys["discharge"].tolist() == [S + 40, S + 50]
