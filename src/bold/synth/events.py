"""Life events: prison, probation, treatment, hospital, homelessness, mental health and death.

The simulation runs in causal order, each step using only what happened before it:

1. prison spells (never overlapping), with the need flag, OST and address at release;
2. probation licences after release and community orders with DRR/ATR/MHTR requirements;
3. homelessness applications, including those that follow a release to no fixed abode;
4. treatment journeys from prison, probation, housing and self/GP referrals: continuity of care
   after release depends on OST, region, prison, year and the pilot; a journey ends at completion,
   drop-out, or the next prison reception; journeys of one person never overlap;
5. death: a baseline hazard by needs and age plus an excess in the weeks after release, lowered
   by OST at release and from the day community treatment starts (the hazards add, so the death
   time is the earliest of independent draws per constant-hazard segment);
6. hospital admissions, with more emergency admissions in the year after release without
   continuity of care; mental-health referrals, including dual-diagnosis referrals;
7. in pilot areas after the pilot start fewer journeys end early (drop-out, or a short custody spell) and more complete
   (``_pilot_on_treatment``, drawn last from a stream of its own so that nothing else changes with it);
8. everything after death is removed or closed at death, and the period's end censors what is open.

Days are integers since 1970-01-01. ``NEVER`` marks a date that has not happened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from bold.synth import calibration as cal
from bold.synth.config import SynthConfig
from bold.synth.population import NEVER, People
from bold.synth.reference import (
    ADMISSION_METHODS,
    COMPLETION_REASONS,
    DEATH_CAUSES,
    DIAGNOSES,
    HOMELESS_DUTIES,
    MH_REFERRAL_REASONS,
    RELEASE_TYPES,
    areas,
)
from bold.synth.tables import (
    Table,
    at,
    concat,
    first_at_or_after,
    in_spell,
    last_at_or_before,
    length,
    poisson_days,
    starts_after_previous_end,
    take,
)

PRE_PERIOD_DAYS = 730  # prison careers start before the period so it opens in a steady state


def day_number(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def year_of(day: np.ndarray) -> np.ndarray:
    return (day.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970).astype(np.int64)


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Timeline:
    """Every true event for one chunk of people; the extracts are views of these tables."""

    spells: Table
    orders: Table
    applications: Table
    journeys: Table
    admissions: Table
    mh_referrals: Table
    deaths: Table
    death_day: np.ndarray  # per person, NEVER if alive at the end
    without_pilot: Table  # the journeys the pilot changed, as they would have been without it (truth only)


def simulate(people: People, rng: np.random.Generator, cfg: SynthConfig) -> Timeline:
    start, end = day_number(cfg.start), day_number(cfg.end)
    spells = _prison_spells(people, rng, cfg, start, end)
    orders = _probation_orders(people, rng, spells, start, end)
    applications = _homelessness(people, rng, spells, start, end)
    journeys = _treatment(people, rng, cfg, spells, orders, applications, start, end)
    death_day, deaths = _deaths(people, rng, spells, journeys, start, end)
    admissions = _admissions(people, rng, spells, journeys, start, end)
    mh = _mental_health(people, rng, spells, journeys, start, end)
    without_pilot = _pilot_on_treatment(people, rng.spawn(1)[0], cfg, journeys, spells)  # last: see its docstring
    timeline = Timeline(spells, orders, applications, journeys, admissions, mh, deaths, death_day, without_pilot)
    _close_at_death_and_period_end(timeline, start, end)
    return timeline


# --- prison -------------------------------------------------------------------------------------


def _prison_spells(people: People, rng, cfg: SynthConfig, start: int, end: int) -> Table:
    a = areas()
    n = len(people)
    rows, receptions, releases = [], [], []
    active = np.flatnonzero(people.prison_propensity > 0)
    t = np.full(n, start - PRE_PERIOD_DAYS, dtype=np.int64)
    while active.size:
        gap = rng.exponential(365.25 / people.prison_propensity[active])
        reception = t[active] + np.ceil(gap).astype(np.int64)
        stay = np.clip(
            rng.lognormal(np.log(cal.PRISON_STAY_MEDIAN_DAYS), cal.PRISON_STAY_SIGMA, active.size), 3, 3650
        ).astype(np.int64)
        ok = reception <= end
        active, reception, stay = active[ok], reception[ok], stay[ok]
        rows.append(active)
        receptions.append(reception)
        releases.append(reception + stay)
        t[active] = reception + stay + 1
    pid = np.concatenate(rows) if rows else np.array([], dtype=np.int64)
    reception = np.concatenate(receptions).astype(np.int32) if rows else np.array([], dtype=np.int32)
    release = np.concatenate(releases).astype(np.int32) if rows else np.array([], dtype=np.int32)
    keep = release >= start
    pid, reception, release = pid[keep], reception[keep], release[keep]
    m = len(pid)

    # A prison in the region the person lives in at reception, holding their sex.
    region = a.la_region[people.la_on(pid, reception)]
    female = people.female[pid]
    prison = np.empty(m, dtype=np.int64)
    for r_i in range(len(a.region_code)):
        for sex in (False, True):
            where = np.flatnonzero((region == r_i) & (female == sex))
            options = np.flatnonzero((a.prison_region == r_i) & (a.prison_female == sex))
            prison[where] = options[rng.integers(0, len(options), where.size)]
    release_type = rng.choice(len(RELEASE_TYPES), m, p=[p for *_, p in RELEASE_TYPES])
    need = people.drug[pid] | people.alcohol[pid]
    flag = np.where(
        need,
        rng.random(m) < cal.SUBSTANCE_FLAG_SENSITIVITY,
        rng.random(m) < cal.SUBSTANCE_FLAG_FALSE_POSITIVE,
    )
    ost = people.opiate[pid] & flag & (rng.random(m) < cal.OST_AT_RELEASE_OPIATE)
    rates = cfg.corruption["prison"]
    nfa = rng.random(m) < np.where(people.homeless[pid], rates.nfa_homeless, rates.nfa_other)
    return {
        "pid": pid,
        "reception": reception,
        "release": release,
        "prison": prison,
        "release_type": release_type,
        "need_flag": flag,
        "ost": ost,
        "nfa": nfa,
        "stay": (release - reception).astype(np.int32),
    }


def released_in_period(spells: Table, end: int) -> np.ndarray:
    return spells["release"] <= end


# --- probation ----------------------------------------------------------------------------------


def _probation_orders(people: People, rng, spells: Table, start: int, end: int) -> Table:
    n = len(people)
    # Licences follow release from a sentence (not remand); 12 months of supervision at least.
    remand = [code for code, *_ in RELEASE_TYPES].index("RMD")
    lic = np.flatnonzero(released_in_period(spells, end) & (spells["release_type"] != remand))
    lic_pid = spells["pid"][lic]
    lic_start = spells["release"][lic]
    lic_end = lic_start + np.maximum(spells["stay"][lic], 90) + 365
    # Community and suspended sentence orders, at a rate that follows offending propensity.
    rate = cal.COMMUNITY_ORDERS_PER_YEAR * people.prison_propensity / cal.PRISON_SPELLS_PER_YEAR
    row, co_start = poisson_days(rng, rate, np.full(n, start), np.full(n, end))
    co_pid = row
    sso = rng.random(len(row)) < 0.25
    co_len = np.where(sso, 365, rng.choice([365, 548, 730], len(row)))
    pid = np.concatenate([lic_pid, co_pid])
    order_start = np.concatenate([lic_start, co_start]).astype(np.int32)
    order_end = np.concatenate([lic_end, co_start + co_len]).astype(np.int32)
    order_type = np.concatenate([np.full(len(lic), "LIC"), np.where(sso, "SSO", "CO")]).astype(object)
    is_co = order_type != "LIC"
    keep = ~(is_co & in_spell(pid, order_start, spells["pid"], spells["reception"], spells["release"]))
    pid, order_start, order_end, order_type, is_co = (x[keep] for x in (pid, order_start, order_end, order_type, is_co))
    m = len(pid)
    drr = is_co & people.drug[pid] & (rng.random(m) < cal.DRR_GIVEN_DRUG_NEED)
    atr = is_co & people.alcohol[pid] & (rng.random(m) < cal.ATR_GIVEN_ALCOHOL_NEED)
    mhtr = is_co & people.mental_health[pid] & (rng.random(m) < cal.MHTR_GIVEN_MH_NEED)
    # Termination: completed at the scheduled end, or revoked part-way; a prison reception
    # during the order revokes it for a new offence.
    u = rng.random(m)
    termination = np.where(u < 0.68, "CMP", np.where(u < 0.9, "RVB", "RVN")).astype(object)
    revoked_day = order_start + (rng.random(m) * (order_end - order_start)).astype(np.int32)
    terminated = np.where(termination == "CMP", order_end, np.maximum(revoked_day, order_start + 14))
    nxt = first_at_or_after(pid, order_start + 1, spells["pid"], spells["reception"])
    next_reception = np.where(nxt >= 0, at(spells["reception"], nxt), NEVER)
    recalled = next_reception < terminated
    terminated = np.where(recalled, next_reception, terminated).astype(np.int32)
    termination = np.where(recalled, "RVN", termination).astype(object)
    drug_score = np.where(people.drug[pid], rng.integers(4, 11, m), rng.integers(0, 3, m))
    alcohol_score = np.where(people.alcohol[pid], rng.integers(4, 11, m), rng.integers(0, 3, m))
    return {
        "pid": pid,
        "order_type": order_type,
        "start": order_start,
        "scheduled_end": order_end,
        "terminated": terminated,
        "termination": termination,
        "drr": drr,
        "atr": atr,
        "mhtr": mhtr,
        "drug_score": drug_score,
        "alcohol_score": alcohol_score,
    }


# --- homelessness -------------------------------------------------------------------------------


def _homelessness(people: People, rng, spells: Table, start: int, end: int) -> Table:
    n = len(people)
    rate = np.where(people.homeless, cal.HOMELESS_APPLICATIONS_PER_YEAR, 0.0)
    row, day = poisson_days(rng, rate, np.full(n, start), np.full(n, end))
    pid_a = row
    rel = np.flatnonzero(
        spells["nfa"] & released_in_period(spells, end) & (rng.random(length(spells)) < cal.NFA_RELEASE_TO_APPLICATION)
    )
    pid_b = spells["pid"][rel]
    day_b = (spells["release"][rel] + rng.integers(0, 57, rel.size)).astype(np.int32)
    pid = np.concatenate([pid_a, pid_b])
    day = np.concatenate([day, day_b])
    after_release = np.concatenate([np.zeros(len(pid_a), bool), np.ones(len(pid_b), bool)])
    keep = (day >= start) & (day <= end) & ~in_spell(pid, day, spells["pid"], spells["reception"], spells["release"])
    pid, day, after_release = pid[keep], day[keep], after_release[keep]
    m = len(pid)
    duty = np.where(after_release | (rng.random(m) < 0.55), HOMELESS_DUTIES[1][0], HOMELESS_DUTIES[0][0])
    return {
        "pid": pid,
        "day": day,
        "duty": duty.astype(object),
        "sn_drug": people.drug[pid] & (rng.random(m) < 0.7),
        "sn_alcohol": people.alcohol[pid] & (rng.random(m) < 0.6),
        "sn_mental_health": people.mental_health[pid] & (rng.random(m) < 0.6),
        "sn_offending": people.offending[pid] & (rng.random(m) < 0.6),
        "la": people.la_on(pid, day),
    }


# --- treatment ----------------------------------------------------------------------------------


def continuity_probability(people: People, spells: Table, cfg: SynthConfig) -> np.ndarray:
    """P(community treatment within 21 days) for each release: year, region, prison, OST, pilot."""
    a = areas()
    pid, release = spells["pid"], spells["release"]
    years = np.clip(year_of(release), min(cal.CONTINUITY_BY_YEAR), max(cal.CONTINUITY_BY_YEAR))
    national = np.vectorize(cal.CONTINUITY_BY_YEAR.get)(years) if len(years) else np.zeros(0)
    la = people.la_on(pid, release)
    pilot_on = a.la_pilot[la] & (release >= day_number(cfg.pilot_start))
    logit = (
        np.log(national / (1 - national))
        + cal.CONTINUITY_CALIBRATION_LOGIT
        + a.region_continuity_logit[a.la_region[la]]
        + a.prison_continuity_logit[spells["prison"]]
        + cal.CONTINUITY_OST_LOGIT * spells["ost"]
        + np.log(cfg.pilot_odds_ratio) * pilot_on
    )
    return logistic(logit)


def _treatment_candidates(people, rng, cfg, spells, orders, applications, start, end) -> Table:
    parts = []

    def add(pid, day, source, kind, release_index=None):
        parts.append(
            {
                "pid": pid.astype(np.int64),
                "start": day.astype(np.int32),
                "source": np.full(len(pid), source, dtype=object),
                "kind": np.full(len(pid), kind, dtype=object),
                "release_index": (np.full(len(pid), -1) if release_index is None else release_index),
            }
        )

    # After release: continuity within 21 days, or a later start, for flagged releases.
    rel = np.flatnonzero(released_in_period(spells, end))
    flagged = rel[spells["need_flag"][rel]]
    p = continuity_probability(people, take(spells, flagged), cfg)
    u = rng.random(flagged.size)
    soon = u < p
    late = ~soon & (u < p + (1 - p) * cal.LATE_TREATMENT_AFTER_RELEASE)
    days_soon = np.floor(rng.random(flagged.size) ** 1.6 * 22).astype(np.int64)  # front-loaded 0..21
    days_late = 22 + np.floor(rng.exponential(60, flagged.size)).astype(np.int64)
    rel_day = spells["release"][flagged]
    add(spells["pid"][flagged[soon]], rel_day[soon] + days_soon[soon], "PRI", "continuity", flagged[soon])
    add(spells["pid"][flagged[late]], rel_day[late] + days_late[late], "PRI", "after_release", flagged[late])
    # A real need that was not flagged in prison is sometimes picked up anyway, later.
    unflagged = rel[~spells["need_flag"][rel]]
    pid_u = spells["pid"][unflagged]
    hit = (people.drug[pid_u] | people.alcohol[pid_u]) & (rng.random(unflagged.size) < cal.UNFLAGGED_NEED_TREATMENT)
    add(
        pid_u[hit],
        spells["release"][unflagged[hit]] + 7 + rng.integers(0, 365, hit.sum()),
        "SLF",
        "after_release",
        unflagged[hit],
    )
    # Orders with a drug or alcohol treatment requirement.
    req = np.flatnonzero(orders["drr"] | orders["atr"])
    go = rng.random(req.size) < cal.TREATMENT_WITHIN_6_MONTHS_OF_DRR_ATR
    wait = np.minimum(np.floor(rng.exponential(25, req.size)), 182).astype(np.int64)
    add(orders["pid"][req[go]], orders["start"][req[go]] + wait[go], "PRB", "probation")
    # Homelessness applications with a drug or alcohol support need.
    sn = np.flatnonzero(applications["sn_drug"] | applications["sn_alcohol"])
    go = rng.random(sn.size) < cal.HOMELESS_SUPPORT_NEED_TO_TREATMENT
    wait = np.minimum(np.floor(rng.exponential(30, sn.size)), 90).astype(np.int64)
    add(applications["pid"][sn[go]], applications["day"][sn[go]] + wait[go], "HSG", "housing")
    # Self, GP and hospital referrals of anyone with a need.
    n = len(people)
    need = people.drug | people.alcohol
    row, day = poisson_days(
        rng, np.where(need, cal.SPONTANEOUS_REFERRALS_PER_YEAR, 0.0), np.full(n, start), np.full(n, end)
    )
    source = np.array(["SLF", "GP", "HOS"], dtype=object)[rng.choice(3, len(row), p=[0.6, 0.3, 0.1])]
    parts.append(
        {
            "pid": row.astype(np.int64),
            "start": day,
            "source": source,
            "kind": np.full(len(row), "community", dtype=object),
            "release_index": np.full(len(row), -1),
        }
    )
    return concat(parts)


def _substance_group(people: People, pid: np.ndarray, rng) -> np.ndarray:
    drug, alcohol = people.drug[pid], people.alcohol[pid]
    group = np.where(people.opiate[pid], "OPI", np.where(drug & alcohol, "NOA", np.where(drug, "NOP", "ALC")))
    no_need = ~(drug | alcohol)
    group[no_need] = np.where(rng.random(no_need.sum()) < 0.5, "ALC", "NOP")
    return group.astype(object)


def _journeys(people: People, rng, cand: Table, spells: Table, start: int, end: int) -> Table:
    """Turn candidate starts into journeys: dates, substance, outcome; end at the next reception;
    drop starts in custody or during another journey."""
    cand = take(cand, np.flatnonzero((cand["start"] >= start) & (cand["start"] <= end)))
    cand = take(
        cand,
        np.flatnonzero(~in_spell(cand["pid"], cand["start"], spells["pid"], spells["reception"], spells["release"])),
    )
    pid, begin = cand["pid"], cand["start"]
    m = len(pid)
    substance = _substance_group(people, pid, rng)
    p_complete = np.vectorize(cal.COMPLETION_PROBABILITY.get)(substance) if m else np.zeros(0)
    median = np.vectorize(cal.JOURNEY_MEDIAN_DAYS.get)(substance) if m else np.zeros(0)
    completed = rng.random(m) < p_complete
    early = ~completed & (rng.random(m) < cal.EARLY_DROP_OUT_SHARE)
    duration = np.where(
        completed,
        np.clip(rng.lognormal(np.log(median), 0.6), 42, 3000),
        np.where(
            early,
            rng.integers(1, cal.EARLY_STAY_DAYS, m),
            np.clip(rng.lognormal(np.log(median), 0.8), cal.EARLY_STAY_DAYS, 3000),
        ),
    )
    u = rng.random(m)
    reason = np.where(
        completed, np.where(u < 0.6, "CDF", "CAU"), np.where(u < 0.7, "DRO", np.where(u < 0.85, "TNC", "TWD"))
    ).astype(object)
    discharge = (begin + duration.astype(np.int64)).astype(np.int64)
    nxt = first_at_or_after(pid, begin + 1, spells["pid"], spells["reception"])
    next_reception = np.where(nxt >= 0, at(spells["reception"], nxt), NEVER)
    custody = next_reception <= discharge
    discharge = np.where(custody, next_reception, discharge).astype(np.int32)
    reason = np.where(custody, "TIC", reason).astype(object)
    # Referral and triage before the start: prison teams refer before release; others wait for triage.
    from_prison = cand["source"] == "PRI"
    triage_wait = np.where(from_prison, rng.integers(0, 4, m), np.floor(rng.exponential(11, m)))
    start_wait = rng.integers(0, 8, m)
    triage = begin - start_wait
    referral = (triage - triage_wait).astype(np.int32)
    journeys = {
        **cand,
        "referral": referral,
        "triage": triage.astype(np.int32),
        "discharge": discharge,
        "reason": reason,
        "substance": substance,
        "injecting": (substance == "OPI") & (rng.random(m) < 0.4),
        "housing": np.where(people.homeless[pid], np.where(rng.random(m) < 0.5, "3", "2"), "1").astype(object),
        "mh_treatment": people.mental_health[pid] & (rng.random(m) < 0.4),
    }
    return take(journeys, np.flatnonzero(starts_after_previous_end(pid, begin, discharge)))


def _treatment(people, rng, cfg, spells, orders, applications, start, end) -> Table:
    cand = _treatment_candidates(people, rng, cfg, spells, orders, applications, start, end)
    journeys = _journeys(people, rng, cand, spells, start, end)
    # Re-presentation: some successful completers come back within the year.
    done = np.flatnonzero(
        np.isin(journeys["reason"], COMPLETION_REASONS)
        & (rng.random(length(journeys)) < cal.RE_PRESENTATION_WITHIN_YEAR)
    )
    again = {
        "pid": journeys["pid"][done],
        "start": (journeys["discharge"][done] + rng.integers(14, 366, done.size)).astype(np.int32),
        "source": np.full(done.size, "SLF", dtype=object),
        "kind": np.full(done.size, "re-presentation", dtype=object),
        "release_index": np.full(done.size, -1),
    }
    merged = concat([journeys, _journeys(people, rng, again, spells, start, end)])
    return take(merged, np.flatnonzero(starts_after_previous_end(merged["pid"], merged["start"], merged["discharge"])))


def _odds_shift(p: np.ndarray, odds_ratio: float) -> np.ndarray:
    """The probability whose odds are ``odds_ratio`` times those of ``p``."""
    odds = odds_ratio * p / (1 - p)
    return odds / (1 + odds)


def _pilot_on_treatment(people: People, rng, cfg: SynthConfig, journeys: Table, spells: Table) -> Table:
    """The pilot's planted effect on treatment outcomes, on journeys referred in a pilot area and starting on or
    after the pilot start: an early ending (not completed within 12 weeks: a drop-out, or a short custody spell
    beginning) stays in treatment with the probability that multiplies the odds of staying by
    ``pilot_retention_odds_ratio``, lasting as long as other drop-outs do; a drop-out or withdrawal of 12 weeks or
    more becomes a completion with the probability that multiplies the odds of completing by
    ``pilot_completion_odds_ratio`` (so effective treatment moves through retention only).

    Custody ends most short journeys (docs/synthetic-data.md, the pilot), so an effect on drop-outs alone could not
    move effective treatment by the few points the DSCP's whole-system pilots did (seed 001, Table 6.1): the pilot's
    integrated criminal-justice and community treatment (001, chapter 3) holds a journey through a reception if the
    person is out again within ``cal.PILOT_HELD_CUSTODY_DAYS``, and it goes on after release for as long as a
    drop-out's would. A longer journey still ends at the person's next journey, or next reception (after the one
    held through).

    Changes ``journeys`` in place, with a generator of its own (``rng``, spawned from the chunk's) and after every
    other event is drawn, so the chunk's stream draws the same numbers whatever the effect and a seed's population
    differs only in the journeys changed: the extra time in treatment does not lower the death hazard (the deaths
    are drawn before it, and a death during it ends the journey), and a completion it adds brings no
    re-presentation. Returns the changed journeys as they would have been without the pilot, for the truth."""
    a = areas()
    pid, begin, reason = journeys["pid"], journeys["start"].astype(np.int64), journeys["reason"]
    on = a.la_pilot[people.la_on(pid, journeys["referral"])] & (begin >= day_number(cfg.pilot_start))
    before = {"discharge": journeys["discharge"].copy(), "reason": reason.copy()}
    nxt = first_at_or_after(pid, begin + 1, spells["pid"], spells["reception"])
    reception, release = at(spells["reception"], nxt), at(spells["release"], nxt).astype(np.int64)
    custody = (reason == "TIC") & (nxt >= 0) & (release - reception <= cal.PILOT_HELD_CUSTODY_DAYS)
    ended = custody | ~np.isin(reason, [*COMPLETION_REASONS, "TIC"])  # not completed, not ended by long custody
    early = on & ended & (journeys["discharge"] - begin < cal.EARLY_STAY_DAYS)
    p_early = cal.EARLY_DROP_OUT_SHARE  # each early drop-out stays early with p_pilot / p, so p_pilot of all drop out
    p_pilot = 1 - _odds_shift(np.array(1 - p_early), cfg.pilot_retention_odds_ratio)
    stays = early & (rng.random(len(pid)) < 1 - p_pilot / p_early)
    median = np.vectorize(cal.JOURNEY_MEDIAN_DAYS.get, otypes=[float])(journeys["substance"])
    drawn = np.clip(rng.lognormal(np.log(median), 0.8), cal.EARLY_STAY_DAYS, 3000).astype(np.int64)
    longer = np.where(custody, release, begin) + drawn  # held through custody: a drop-out's length after release
    later = first_at_or_after(pid, begin + 1, pid, begin)
    longer = np.minimum(longer, np.where(later >= 0, at(begin, later) - 1, NEVER))
    nxt = first_at_or_after(pid, np.where(custody, release + 1, begin + 1), spells["pid"], spells["reception"])
    reception = np.where(nxt >= 0, at(spells["reception"], nxt), NEVER)
    drop_out = np.array(["DRO", "TNC", "TWD"], dtype=object)[rng.choice(3, len(pid), p=[0.7, 0.15, 0.15])]
    journeys["discharge"] = np.where(stays, np.minimum(longer, reception), journeys["discharge"]).astype(np.int32)
    reason = np.where(stays & custody, drop_out, reason)  # held through custody: ends as other drop-outs do
    journeys["reason"] = np.where(stays & (reception <= longer), "TIC", reason).astype(object)

    p_complete = np.vectorize(cal.COMPLETION_PROBABILITY.get, otypes=[float])(journeys["substance"])
    lift = (_odds_shift(p_complete, cfg.pilot_completion_odds_ratio) - p_complete) / (1 - p_complete)
    dropped = np.isin(journeys["reason"], ["DRO", "TWD"]) & (journeys["discharge"] - begin >= cal.EARLY_STAY_DAYS)
    completes = on & dropped & (rng.random(len(pid)) < lift)
    completion = np.where(rng.random(len(pid)) < 0.6, "CDF", "CAU")
    journeys["reason"] = np.where(completes, completion, journeys["reason"]).astype(object)

    changed = np.flatnonzero((journeys["discharge"] != before["discharge"]) | (journeys["reason"] != before["reason"]))
    return {"pid": pid[changed], "start": journeys["start"][changed], **take(before, changed)}


# --- deaths -------------------------------------------------------------------------------------


def _segments_after_release(people, spells, journeys, end):
    """Constant-hazard segments of excess risk after each release, with the rate multiplier."""
    rel = np.flatnonzero(released_in_period(spells, end))
    pid, release, ost = spells["pid"][rel], spells["release"][rel].astype(np.int64), spells["ost"][rel]
    nxt_tx = first_at_or_after(pid, release, journeys["pid"], journeys["start"])
    tx_start = np.where(nxt_tx >= 0, at(journeys["start"], nxt_tx), NEVER).astype(np.int64)
    nxt_rec = first_at_or_after(pid, release + 1, spells["pid"], spells["reception"])
    back_in = np.where(nxt_rec >= 0, at(spells["reception"], nxt_rec), NEVER).astype(np.int64)
    female = people.female[pid]
    out = []
    for (a, b), (men, women) in cal.POST_RELEASE_EXCESS_PER_1000.items():
        lo, hi = release + a, np.minimum(release + b, back_in)
        rate = np.where(female, women, men) / 1000 / 365.25
        ost_factor = np.where(ost & (a < 28), cal.OST_EXCESS_FACTOR, 1.0)
        split = np.clip(tx_start, lo, np.maximum(hi, lo))
        # before treatment starts, and from the day it starts
        out.append((pid, lo, split, rate * ost_factor, (a, b)))
        out.append((pid, split, hi, rate * np.minimum(ost_factor, cal.TREATMENT_EXCESS_FACTOR), (a, b)))
    return out


def _protection(pid, t, spells, journeys) -> np.ndarray:
    """Multiplier on the baseline hazard at time ``t``: OST in the 4 weeks after release, or in
    community treatment (treatment halves, OST quarters, the risk of dying)."""
    day = np.floor(t).astype(np.int64)
    factor = np.ones(len(pid))
    j = last_at_or_before(pid, day, journeys["pid"], journeys["start"])
    in_treatment = (j >= 0) & (day <= at(journeys["discharge"], j))
    factor[in_treatment] = cal.TREATMENT_EXCESS_FACTOR
    r = last_at_or_before(pid, day, spells["pid"], spells["release"])
    after_ost = (r >= 0) & at(spells["ost"], r) & (day - at(spells["release"], r) < 28)
    factor[after_ost] = cal.OST_EXCESS_FACTOR
    return factor


def _baseline_death_time(rng, per_1000, people, spells, journeys, start, end) -> np.ndarray:
    """First event of the baseline hazard thinned by protection: candidate deaths from the
    unprotected rate are kept with probability equal to the protection multiplier, otherwise the
    (memoryless) process continues from the rejected time."""
    n = len(per_1000)
    scale = 365.25 * 1000 / per_1000
    death = start + rng.exponential(scale)
    pending = np.flatnonzero(death <= end + 1)
    while pending.size:
        keep = rng.random(pending.size) < _protection(pending, death[pending], spells, journeys)
        retry = pending[~keep]
        death[retry] += rng.exponential(scale[retry])
        pending = retry[death[retry] <= end + 1]
    return np.where(death <= end + 1, death, np.inf) if n else death


def _deaths(people: People, rng, spells, journeys, start, end):
    n = len(people)
    age = (start - people.dob) / 365.25
    base = cal.BASELINE_DEATHS_PER_1000
    per_1000 = (
        base["base"]
        + base["opiate"] * people.opiate
        + base["other_drug"] * (people.drug & ~people.opiate)
        + base["alcohol"] * people.alcohol
        + base["homeless"] * people.homeless
        + base["mental_health"] * people.mental_health
    ) * np.exp(cal.BASELINE_AGE_SLOPE * (age - 35))
    death_time = _baseline_death_time(rng, per_1000, people, spells, journeys, start, end)
    cause_kind = np.full(n, "baseline", dtype=object)
    for pid, lo, hi, rate, window in _segments_after_release(people, spells, journeys, end):
        draw = lo + rng.exponential(1.0 / rate)
        hit = (draw < hi) & (hi > lo)
        # several segments can hit one person: the earliest wins
        order = np.argsort(draw[hit])[::-1]
        p_hit, d_hit = pid[hit][order], draw[hit][order]
        earlier = d_hit < death_time[p_hit]
        death_time[p_hit[earlier]] = d_hit[earlier]
        cause_kind[p_hit[earlier]] = f"excess:{window[0]}-{window[1]}"
    dead = np.flatnonzero(np.floor(death_time) <= end)
    death_day = np.full(n, NEVER, dtype=np.int32)
    death_day[dead] = np.floor(death_time[dead]).astype(np.int32)
    kind = cause_kind[dead]
    drug_share = np.where(people.opiate[dead], 0.35, np.where(people.drug[dead], 0.15, 0.02))
    for (a, b), share in cal.DRUG_RELATED_SHARE_OF_EXCESS.items():
        drug_share = np.where(kind == f"excess:{a}-{b}", share, drug_share)
    drug_related = rng.random(dead.size) < drug_share
    alcohol = ~drug_related & people.alcohol[dead] & (rng.random(dead.size) < 0.35)
    group = np.where(drug_related, "drug", np.where(alcohol, "alcohol", "other"))
    cause = np.empty(dead.size, dtype=object)
    for g, codes in DEATH_CAUSES.items():
        rows = np.flatnonzero(group == g)
        cause[rows] = np.array(codes, dtype=object)[rng.integers(0, len(codes), rows.size)]
    deaths = {
        "pid": dead.astype(np.int64),
        "day": death_day[dead],
        "cause": cause,
        "drug_related": drug_related,
        "hazard": kind,
    }
    return death_day, deaths


# --- hospital and mental health -----------------------------------------------------------------


def _continuity_by_release(spells, journeys, end) -> tuple[np.ndarray, np.ndarray]:
    """(released-in-period spell index, started treatment within 21 days) for each release."""
    rel = np.flatnonzero(released_in_period(spells, end))
    nxt = first_at_or_after(spells["pid"][rel], spells["release"][rel], journeys["pid"], journeys["start"])
    days = np.where(nxt >= 0, at(journeys["start"], nxt) - spells["release"][rel], NEVER)
    return rel, days <= 21


def _admissions(people: People, rng, spells, journeys, start, end) -> Table:
    n = len(people)
    r = cal.ADMISSIONS_PER_YEAR
    rate = (
        r["base"]
        + r["drug"] * people.drug
        + r["opiate"] * people.opiate
        + r["alcohol"] * people.alcohol
        + r["mental_health"] * people.mental_health
        + r["homeless"] * people.homeless
    )
    row, day = poisson_days(rng, rate, np.full(n, start), np.full(n, end))
    elective = rng.random(len(row)) < cal.ELECTIVE_SHARE
    rel, cont = _continuity_by_release(spells, journeys, end)
    post = cal.POST_RELEASE_EMERGENCY_PER_YEAR
    rate_r = np.where(cont, post["continuity"], post["no_continuity"])
    lo = spells["release"][rel].astype(np.int64)
    r_row, r_day = poisson_days(rng, rate_r, lo, lo + 364)
    pid = np.concatenate([row, spells["pid"][rel][r_row]]).astype(np.int64)
    admit = np.concatenate([day, r_day])
    elective = np.concatenate([elective, np.zeros(len(r_row), bool)])
    keep = (
        (admit >= start) & (admit <= end) & ~in_spell(pid, admit, spells["pid"], spells["reception"], spells["release"])
    )
    pid, admit, elective = pid[keep], admit[keep], elective[keep]
    m = len(pid)
    stay = np.where(elective, rng.integers(0, 4, m), np.floor(rng.exponential(4, m))).astype(np.int32)
    discharge = admit + stay
    keep = starts_after_previous_end(pid, admit, discharge)
    pid, admit, discharge, elective = pid[keep], admit[keep], discharge[keep], elective[keep]
    m = len(pid)
    method = np.where(
        elective,
        np.array(ADMISSION_METHODS["elective"], dtype=object)[rng.integers(0, 3, m)],
        np.array(ADMISSION_METHODS["emergency"], dtype=object)[rng.integers(0, 5, m)],
    )
    return {
        "pid": pid,
        "admit": admit.astype(np.int32),
        "discharge": discharge.astype(np.int32),
        "method": method.astype(object),
        "emergency": ~elective,
        "diag1": _diagnoses(people, pid, rng, primary=True),
        "diag2": _diagnoses(people, pid, rng, primary=False),
    }


def _diagnoses(people: People, pid: np.ndarray, rng, primary: bool) -> np.ndarray:
    """An ICD-10 code per admission drawn from the groups the person's needs make likely."""
    m = len(pid)
    groups = ("opiate", "other_drug", "alcohol", "mental_health", "general")
    weight = np.stack(
        [
            people.opiate[pid] * 3.0,
            (people.drug[pid] & ~people.opiate[pid]) * 2.0,
            people.alcohol[pid] * 3.0,
            people.mental_health[pid] * 2.0,
            np.full(m, 2.0 if primary else 1.0),
        ],
        axis=1,
    )
    cum = np.cumsum(weight / weight.sum(axis=1, keepdims=True), axis=1)
    group = (rng.random((m, 1)) > cum).sum(axis=1)
    out = np.empty(m, dtype=object)
    for g_i, g in enumerate(groups):
        rows = np.flatnonzero(group == g_i)
        codes = np.array(DIAGNOSES[g], dtype=object)
        out[rows] = codes[rng.integers(0, len(codes), rows.size)]
    if not primary:
        out[rng.random(m) < 0.3] = ""  # not every episode has a secondary diagnosis
    return out


def _mental_health(people: People, rng, spells, journeys, start, end) -> Table:
    n = len(people)
    row, day = poisson_days(
        rng,
        np.where(people.mental_health, cal.MH_REFERRALS_PER_YEAR, 0.0),
        np.full(n, start),
        np.full(n, end),
    )
    dual = np.flatnonzero(
        people.mental_health[journeys["pid"]] & (rng.random(length(journeys)) < cal.DUAL_DIAGNOSIS_REFERRAL)
    )
    pid = np.concatenate([row, journeys["pid"][dual]]).astype(np.int64)
    day = np.concatenate([day, journeys["start"][dual] + rng.integers(-60, 91, dual.size)]).astype(np.int32)
    keep = (day >= start) & (day <= end) & ~in_spell(pid, day, spells["pid"], spells["reception"], spells["release"])
    pid, day = pid[keep], day[keep]
    m = len(pid)
    reason = np.where(people.drug[pid] | people.alcohol[pid], np.where(rng.random(m) < 0.4, "15", ""), "")
    other = np.array([c for c, _ in MH_REFERRAL_REASONS[:5]], dtype=object)
    reason = np.where(reason == "", other[rng.integers(0, len(other), m)], reason).astype(object)
    return {"pid": pid, "day": day, "contacts": rng.poisson(4, m).astype(np.int32), "reason": reason}


# --- death and the end of the period close everything --------------------------------------------


def _close(
    table: Table,
    death: np.ndarray,
    start_col: str,
    end_col: str,
    end: int,
    reason_col: str | None = None,
    died_code: str = "",
) -> Table:
    """Drop what starts after death; end at death what was open then (with the reason for it);
    leave open (``NEVER``) what is still open at the end of the period."""
    t = take(table, np.flatnonzero(table[start_col] <= death[table["pid"]]))
    died = death[t["pid"]] < t[end_col]
    t[end_col] = np.where(died, death[t["pid"]], t[end_col]).astype(np.int32)
    still_open = t[end_col] > end
    t[end_col] = np.where(still_open, NEVER, t[end_col]).astype(np.int32)
    if reason_col:
        reason = np.where(died, died_code, t[reason_col])
        t[reason_col] = np.where(still_open, "", reason).astype(object)
    return t


def _close_at_death_and_period_end(t: Timeline, start: int, end: int) -> None:
    death = t.death_day
    # A spell open at death is a death in custody: there is no release.
    s = take(t.spells, np.flatnonzero(t.spells["reception"] <= death[t.spells["pid"]]))
    no_release = (death[s["pid"]] < s["release"]) | (s["release"] > end)
    s["release"] = np.where(no_release, NEVER, s["release"]).astype(np.int32)
    t.spells = s
    t.orders = _close(t.orders, death, "start", "terminated", end, "termination", "DEC")
    t.journeys = _close(t.journeys, death, "start", "discharge", end, "reason", "DIE")
    w = _close(t.without_pilot, death, "start", "discharge", end, "reason", "DIE")
    actual = first_at_or_after(w["pid"], w["start"], t.journeys["pid"], t.journeys["start"])  # same person and start
    same = (at(t.journeys["discharge"], actual) == w["discharge"]) & (at(t.journeys["reason"], actual) == w["reason"])
    t.without_pilot = take(w, np.flatnonzero(~same))  # a change the period's end censored is no change
    t.admissions = _close(t.admissions, death, "admit", "discharge", end)
    t.applications = take(t.applications, np.flatnonzero(t.applications["day"] <= death[t.applications["pid"]]))
    t.mh_referrals = take(t.mh_referrals, np.flatnonzero(t.mh_referrals["day"] <= death[t.mh_referrals["pid"]]))
