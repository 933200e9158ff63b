"""People: demographics, home areas and moves, latent needs, and their true identifiers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from bold.synth import calibration as cal
from bold.synth import identifiers as ids
from bold.synth.reference import (
    ETHNICITY_CODES,
    ETHNICITY_ORIGIN_MIX,
    ETHNICITY_SHARE,
    ORIGINS,
    areas,
    name_pools,
)

NEVER = np.iinfo(np.int32).max  # "no such date"


@dataclass
class People:
    """Column arrays for one chunk of people; ``person_id`` is global across chunks."""

    person_id: np.ndarray
    female: np.ndarray
    dob: np.ndarray  # days since 1970-01-01
    ethnicity: np.ndarray
    forename: np.ndarray
    surname: np.ndarray
    new_surname: np.ndarray  # after a surname change ("" if none)
    surname_change_day: np.ndarray
    alias_forename: np.ndarray  # "" if the person has no alias
    alias_surname: np.ndarray
    drug: np.ndarray
    opiate: np.ndarray
    alcohol: np.ndarray
    offending: np.ndarray
    homeless: np.ndarray
    mental_health: np.ndarray
    prison_propensity: np.ndarray  # spells per year
    la: np.ndarray  # home local authority before any move
    postcode: np.ndarray
    move_day: np.ndarray
    la_after_move: np.ndarray
    postcode_after_move: np.ndarray
    nhs_number: np.ndarray
    ni_number: np.ndarray  # "" if none
    pnc_year: np.ndarray
    pnc_serial: np.ndarray

    def __len__(self) -> int:
        return len(self.person_id)

    def la_on(self, pid: np.ndarray, day: np.ndarray) -> np.ndarray:
        moved = day >= self.move_day[pid]
        return np.where(moved, self.la_after_move[pid], self.la[pid])

    def postcode_on(self, pid: np.ndarray, day: np.ndarray) -> np.ndarray:
        moved = day >= self.move_day[pid]
        return np.where(moved, self.postcode_after_move[pid], self.postcode[pid])

    def surname_on(self, pid: np.ndarray, day: np.ndarray) -> np.ndarray:
        changed = day >= self.surname_change_day[pid]
        return np.where(changed, self.new_surname[pid], self.surname[pid])


def _needs(rng: np.random.Generator, female: np.ndarray) -> dict[str, np.ndarray]:
    """Correlated needs through a Gaussian copula; women less often offend."""
    n = len(female)
    z = rng.multivariate_normal(np.zeros(len(cal.NEEDS)), np.array(cal.NEED_CORRELATION), size=n, method="cholesky")
    out = {}
    for j, need in enumerate(cal.NEEDS):
        p = np.full(n, cal.NEED_PREVALENCE[need])
        if need == "offending":
            p = np.where(female, p * cal.OFFENDING_FEMALE_FACTOR, p)
        out[need] = z[:, j] > norm.ppf(1 - p)
    return out


def _names(rng: np.random.Generator, origin: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Draw a name for each row from the pool of its origin and kind ('M', 'F' or 'surname')."""
    out = np.empty(len(origin), dtype=object)
    pools = name_pools()
    for o_i, o in enumerate(ORIGINS):
        for k in np.unique(kind):
            rows = np.flatnonzero((origin == o_i) & (kind == k))
            if rows.size:
                pool = pools[(o, k)]
                out[rows] = pool.values[rng.choice(len(pool.values), rows.size, p=pool.weights)]
    return out


def _surnames(rng: np.random.Generator, origin: np.ndarray) -> np.ndarray:
    names = _names(rng, origin, np.full(len(origin), "surname"))
    double = (origin == 0) & (rng.random(len(origin)) < 0.02)  # double-barrelled British surnames
    if double.any():
        names[double] = names[double] + "-" + _names(rng, origin[double], np.full(double.sum(), "surname"))
    return names


def _place(rng: np.random.Generator, la: np.ndarray) -> np.ndarray:
    a = areas()
    postcode = np.empty(len(la), dtype=object)
    for la_i in np.unique(la):
        rows = np.flatnonzero(la == la_i)
        districts = a.district[a.district_la == la_i]
        postcode[rows] = ids.postcode_units(districts[rng.integers(0, len(districts), rows.size)], rng)
    return postcode


def make_people(rng: np.random.Generator, first_id: int, n: int, start: int, end: int, seed: int) -> People:
    a = areas()
    person_id = np.arange(first_id, first_id + n, dtype=np.int64)
    female = rng.random(n) < cal.SHARE_FEMALE
    age = np.clip(18 + rng.gamma(3.5, 5.5, n), 18, 85)
    dob = (start - np.round(age * 365.25) - rng.integers(0, 365, n)).astype(np.int32)
    ethnicity = rng.choice(len(ETHNICITY_CODES), n, p=ETHNICITY_SHARE)
    origin = np.empty(n, dtype=np.int64)
    for e_i, e in enumerate(ETHNICITY_CODES):
        rows = np.flatnonzero(ethnicity == e_i)
        origin[rows] = rng.choice(len(ORIGINS), rows.size, p=ETHNICITY_ORIGIN_MIX[e])
    forename = _names(rng, origin, np.where(female, "F", "M"))
    surname = _surnames(rng, origin)

    needs = _needs(rng, female)
    drug = needs["drug"]
    opiate = drug & (rng.random(n) < cal.OPIATE_SHARE_OF_DRUG_USERS)
    offending = needs["offending"]
    propensity = np.where(
        offending,
        rng.gamma(cal.PRISON_PROPENSITY_SHAPE, cal.PRISON_SPELLS_PER_YEAR / cal.PRISON_PROPENSITY_SHAPE, n),
        0.0,
    )

    changes = female & (rng.random(n) < cal.SURNAME_CHANGE_FEMALE)
    surname_change_day = np.where(changes, rng.integers(start, end + 1, n), NEVER).astype(np.int32)
    new_surname = np.where(changes, _surnames(rng, np.zeros(n, dtype=np.int64)), "").astype(object)

    has_alias = offending & (rng.random(n) < cal.ALIAS_SHARE_OFFENDERS)
    alias_forename = np.where(has_alias, _names(rng, origin, np.where(female, "F", "M")), "").astype(object)
    keep_surname = rng.random(n) < 0.5  # half of aliases change only the forename
    alias_surname = np.where(has_alias, np.where(keep_surname, surname, _surnames(rng, origin)), "").astype(object)

    region = rng.choice(len(a.region_code), n, p=a.region_weight)
    la = _la_in_region(rng, region)
    moves = rng.random(n) < cal.MOVE_SHARE
    move_day = np.where(moves, rng.integers(start, end + 1, n), NEVER).astype(np.int32)
    new_region = np.where(
        rng.random(n) < cal.MOVE_WITHIN_REGION, region, rng.choice(len(a.region_code), n, p=a.region_weight)
    )
    la_after = np.where(moves, _la_in_region(rng, new_region), la)
    postcode = _place(rng, la)
    postcode_after = np.where(moves, _place(rng, la_after), postcode)

    nhs = ids.nhs_numbers(person_id, seed)
    nino = np.where(rng.random(n) < cal.NI_NUMBER_HELD, ids.ni_numbers(person_id, seed, rng), "").astype(object)
    pnc_year_first = np.clip(
        1970 + (dob // 365.25).astype(np.int64) + 18 + rng.integers(0, 15, n), None, 1970 + end // 365
    )
    pnc_year, pnc_serial = ids.pnc_ids(person_id, pnc_year_first, seed)

    return People(
        person_id=person_id,
        female=female,
        dob=dob,
        ethnicity=ethnicity,
        forename=forename,
        surname=surname,
        new_surname=new_surname,
        surname_change_day=surname_change_day,
        alias_forename=alias_forename,
        alias_surname=alias_surname,
        drug=drug,
        opiate=opiate,
        alcohol=needs["alcohol"],
        offending=offending,
        homeless=needs["homeless"],
        mental_health=needs["mental_health"],
        prison_propensity=propensity,
        la=la,
        postcode=postcode,
        move_day=move_day,
        la_after_move=la_after,
        postcode_after_move=postcode_after,
        nhs_number=nhs,
        ni_number=nino,
        pnc_year=pnc_year,
        pnc_serial=pnc_serial,
    )


def _la_in_region(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    a = areas()
    la = np.empty(len(region), dtype=np.int64)
    for r_i in np.unique(region):
        rows = np.flatnonzero(region == r_i)
        options = np.flatnonzero(a.la_region == r_i)
        la[rows] = options[rng.integers(0, len(options), rows.size)]
    return la
