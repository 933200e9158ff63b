"""Reference data for the synthetic population: areas, prisons, names, nicknames and code lists.

Areas and prisons come from ``bold/sources/reference/areas.yaml``, whose codes and names are public
geography shared with studies; its weights, continuity shifts and pilot areas are the generator's alone.

Name vocabularies come from Faker's locale lists (pinned version, so a seed gives the same names),
nicknames from the hand-curated ``nicknames`` dataset. Everything here is loaded once and cached.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml
from faker.providers.person import en_GB, en_IN, pl_PL, yo_NG
from nicknames import NickNamer

# The public geography (codes and names) lives with the source contracts, where studies' lookups
# (bold.sources.geography) read it too; the generator's own parameters sit beside it in the same file.
AREAS_FILE = resources.files("bold.sources").joinpath("reference/areas.yaml")


@dataclass(frozen=True)
class Areas:
    region_code: np.ndarray  # per region
    region_name: np.ndarray
    region_weight: np.ndarray
    region_continuity_logit: np.ndarray
    la_code: np.ndarray  # per local authority
    la_name: np.ndarray
    la_region: np.ndarray  # index into regions
    la_pilot: np.ndarray  # bool
    district: np.ndarray  # per postcode district
    district_la: np.ndarray  # index into local authorities
    prison_code: np.ndarray
    prison_name: np.ndarray
    prison_region: np.ndarray
    prison_female: np.ndarray
    prison_continuity_logit: np.ndarray


@functools.cache
def areas() -> Areas:
    raw = yaml.safe_load(AREAS_FILE.read_text())
    regions = raw["regions"]
    pilot = set(raw["pilot_local_authorities"])
    las = [(r_i, la) for r_i, r in enumerate(regions) for la in r["local_authorities"]]
    districts = [(la_i, d) for la_i, (_, la) in enumerate(las) for d in la["districts"]]
    region_index = {r["code"]: i for i, r in enumerate(regions)}
    prisons = raw["prisons"]
    weights = np.array([r["weight"] for r in regions], dtype=float)
    return Areas(
        region_code=np.array([r["code"] for r in regions]),
        region_name=np.array([r["name"] for r in regions]),
        region_weight=weights / weights.sum(),
        region_continuity_logit=np.array([r["continuity_logit"] for r in regions], dtype=float),
        la_code=np.array([la["code"] for _, la in las]),
        la_name=np.array([la["name"] for _, la in las]),
        la_region=np.array([r_i for r_i, _ in las]),
        la_pilot=np.array([la["code"] in pilot for _, la in las]),
        district=np.array([d for _, d in districts]),
        district_la=np.array([la_i for la_i, _ in districts]),
        prison_code=np.array([p["code"] for p in prisons]),
        prison_name=np.array([p["name"] for p in prisons]),
        prison_region=np.array([region_index[p["region"]] for p in prisons]),
        prison_female=np.array([p["sex"] == "F" for p in prisons]),
        prison_continuity_logit=np.array([p["continuity_logit"] for p in prisons], dtype=float),
    )


# Name origins, and each ethnic group's mix of them: a crude but useful stand-in for the spread
# of names in English services, which matters for term-frequency adjustments in linkage.
ORIGINS = ("british", "south_asian", "west_african", "polish")
ETHNICITY_CODES = ("W", "M", "A", "B", "O")  # White, Mixed, Asian, Black, Other (ONS high-level groups)
ETHNICITY_SHARE = (0.82, 0.045, 0.065, 0.05, 0.02)
ETHNICITY_ORIGIN_MIX = {
    "W": (0.93, 0.0, 0.0, 0.07),
    "M": (0.8, 0.1, 0.1, 0.0),
    "A": (0.15, 0.85, 0.0, 0.0),
    "B": (0.5, 0.0, 0.5, 0.0),
    "O": (0.4, 0.3, 0.0, 0.3),
}


@dataclass(frozen=True)
class NamePool:
    values: np.ndarray
    weights: np.ndarray


def _zipf(n: int) -> np.ndarray:
    w = 1.0 / (np.arange(n) + 4.0)
    return w / w.sum()


def _pool(values, weights=None) -> NamePool:
    values = np.array(list(values), dtype=object)
    w = _zipf(len(values)) if weights is None else np.asarray(weights, dtype=float)
    return NamePool(values, w / w.sum())


@functools.cache
def name_pools() -> dict[tuple[str, str], NamePool]:
    """(origin, 'M'|'F'|'surname') -> pool of names with sampling weights."""
    gb = en_GB.Provider
    surnames = gb.last_names
    return {
        ("british", "M"): _pool(gb.first_names_male),
        ("british", "F"): _pool(gb.first_names_female),
        ("british", "surname"): _pool(surnames.keys(), list(surnames.values())),
        ("south_asian", "M"): _pool(en_IN.Provider.first_names_male),
        ("south_asian", "F"): _pool(en_IN.Provider.first_names_female),
        ("south_asian", "surname"): _pool(en_IN.Provider.last_names),
        ("west_african", "M"): _pool(yo_NG.Provider.first_names_male),
        ("west_african", "F"): _pool(yo_NG.Provider.first_names_female),
        ("west_african", "surname"): _pool(yo_NG.Provider.last_names),
        ("polish", "M"): _pool(pl_PL.Provider.first_names_male),
        ("polish", "F"): _pool(pl_PL.Provider.first_names_female),
        ("polish", "surname"): _pool(pl_PL.Provider.male_last_names),
    }


@functools.cache
def nickname_table() -> dict[str, tuple[str, ...]]:
    """Forename (as spelt in the pools) -> its common nicknames, title-cased, sorted."""
    namer = NickNamer()
    table = {}
    for (_, kind), pool in name_pools().items():
        if kind == "surname":
            continue
        for name in pool.values:
            nicks = sorted(n.title() for n in namer.nicknames_of(name.lower()) if len(n) >= 3 and n.isalpha())
            if nicks:
                table[name] = tuple(nicks)
    return table


# Code lists. Each is (code, label, ...); extracts carry codes, docs carry labels.
RELEASE_TYPES = (
    ("CRD", "conditional release", 0.68),
    ("HDC", "home detention curfew", 0.15),
    ("SED", "sentence expiry", 0.1),
    ("RMD", "released from remand", 0.07),
)
ORDER_TYPES = (("CO", "community order"), ("SSO", "suspended sentence order"), ("LIC", "licence"))
PROBATION_TERMINATIONS = (
    ("CMP", "completed"),
    ("RVB", "revoked for breach"),
    ("RVN", "revoked after new offence"),
    ("DEC", "died"),
)
REFERRAL_SOURCES = (
    ("PRI", "prison"),
    ("PRB", "probation"),
    ("SLF", "self"),
    ("GP", "GP"),
    ("HOS", "hospital"),
    ("HSG", "housing or homelessness service"),
)
SUBSTANCE_GROUPS = (
    ("OPI", "opiate"),
    ("NOP", "non-opiate"),
    ("ALC", "alcohol only"),
    ("NOA", "non-opiate and alcohol"),
)
DISCHARGE_REASONS = (
    ("CDF", "treatment completed, drug free", True),
    ("CAU", "treatment completed, occasional user", True),
    ("DRO", "dropped out or left", False),
    ("TNC", "transferred, not in custody", False),
    ("TIC", "transferred, in custody", False),
    ("TWD", "treatment withdrawn", False),
    ("DIE", "died", False),
)
COMPLETION_REASONS = tuple(code for code, _, done in DISCHARGE_REASONS if done)
HOUSING_NEED = (("1", "no housing problem"), ("2", "housing problem"), ("3", "urgent housing problem (NFA)"))
ADMISSION_METHODS = {"elective": ("11", "12", "13"), "emergency": ("21", "22", "23", "24", "28")}
MH_REFERRAL_REASONS = (
    ("10", "depression"),
    ("11", "anxiety"),
    ("12", "psychosis"),
    ("13", "self-harm"),
    ("14", "personality disorder"),
    ("15", "co-occurring substance use"),
)
HOMELESS_DUTIES = (("PREV", "prevention duty"), ("RELF", "relief duty"))

# ICD-10 codes (4-character, no dot, as HES and ONS files hold them) by the need that drives them.
DIAGNOSES = {
    "opiate": ("F112", "T401", "L031", "B182", "J189", "I269"),
    "other_drug": ("F142", "F192", "T405", "F155"),
    "alcohol": ("F102", "F100", "K703", "K860", "S060", "G312"),
    "mental_health": ("F329", "F209", "F603", "F431", "T509"),
    "general": ("R074", "J189", "S720", "K358", "N390", "R104", "I214", "J440"),
}
DEATH_CAUSES = {
    "drug": ("X42", "X41", "X44", "X62", "F112", "Y12"),
    "alcohol": ("K703", "K704", "F102", "X45"),
    "other": ("I219", "C349", "J440", "X700", "I251", "J189", "V892"),
}
NHS_NFA_POSTCODE = "ZZ99 3VZ"  # the NHS pseudo-postcode for no fixed abode
JUSTICE_NFA = "NFA"
