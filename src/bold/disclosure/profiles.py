"""Disclosure profiles: the named, versioned sets of thresholds an agreement chooses from.

A profile is data, never code: every rule in `bold.disclosure.rules` reads its parameters from the
profile it is given, so the same output judged under two profiles differs only where the numbers do.
Each profile says where its numbers come from (DOMAIN.md 8, the SACRO guide / ACRO's ``default.yaml``,
OpenSAFELY's output checking guidance); changing a number is a new version, because an output checked
under ``bold-standard`` v1 must stay explainable after v2 exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bold.errors import BoldError, Kind

Policy = Literal["fail", "review", "pass"]


class ProfileError(BoldError):
    kind = Kind.INVALID


@dataclass(frozen=True)
class Profile:
    name: str
    version: int
    description: str
    source: str
    min_people: int  # a statistic describing fewer distinct people than this fails
    rounding: Literal["half_up", "none"]  # how published counts are rounded, after suppression
    rounding_base: int  # the base counts are rounded to (kept even when rounding is "none": ACRO's safe_round_base)
    rate_rounding: Literal["midpoint6", "none"]  # OpenSAFELY rounds the counts behind rates to midpoints of 6
    p_percent: float  # p% rule: the others' total must be at least p of the largest contribution
    nk_n: int  # (n, k) dominance: the n largest contributions...
    nk_k: float  # ...must be under k of the cell total (a share of exactly k fails, as in ACRO)
    min_df: int  # residual degrees of freedom a model needs
    zeros: Policy  # a count of zero: "fail" (disclosive, as ACRO's zeros_are_disclosive), "review" or "pass"
    extreme_shares: Policy  # a share of 0% or 100% says something about everyone in the group
    min_people_percentile: int  # a median or percentile is an actual person's value: it needs more people
    extremes: Policy  # minimum and maximum (q = 0 or 1) are one person's value


BOLD_STANDARD = Profile(
    name="bold-standard",
    version=1,
    description="BOLD's default: SACRO's thresholds, with rounding, stricter percentiles and no extremes",
    source="DOMAIN.md 8; SACRO guide (ACRO default.yaml); issue 12",
    min_people=10,
    rounding="half_up",
    rounding_base=5,
    rate_rounding="none",
    p_percent=0.10,
    nk_n=2,
    nk_k=0.90,
    min_df=10,
    zeros="review",
    extreme_shares="review",
    min_people_percentile=20,
    extremes="fail",
)

SACRO = Profile(
    name="sacro",
    version=1,
    description="ACRO 1.0.2's default.yaml exactly: for agreements that promise SACRO's rules",
    source="ACRO 1.0.2 default.yaml (safe_threshold 10, safe_dof_threshold 10, safe_nk_n 2, safe_nk_k 0.9, "
    "safe_pratio_p 0.1, zeros_are_disclosive True, safe_round_base 5 used only by ACRO's 'round' mitigation)",
    min_people=10,
    rounding="none",  # ACRO's default mitigation suppresses; it rounds only when asked to
    rounding_base=5,
    rate_rounding="none",
    p_percent=0.10,
    nk_n=2,
    nk_k=0.90,
    min_df=10,
    zeros="fail",
    extreme_shares="pass",  # ACRO has no rule for shares of 0% or 100%
    min_people_percentile=10,  # ACRO checks medians and quartiles with its ordinary threshold
    extremes="pass",  # ACRO passes a maximum describing 10 or more people
)

OPENSAFELY = Profile(
    name="opensafely",
    version=1,
    description="OpenSAFELY's output checking: redact 7 or fewer, round counts to the nearest 5",
    source="OpenSAFELY documentation, releasing files / output checking; DOMAIN.md 8",
    min_people=8,  # "redact any statistic describing 7 or fewer people"
    rounding="half_up",
    rounding_base=5,
    rate_rounding="midpoint6",
    p_percent=0.10,
    nk_n=2,
    nk_k=0.90,
    min_df=10,
    zeros="fail",  # zero is 7 or fewer
    extreme_shares="review",
    min_people_percentile=8,
    extremes="fail",
)

BOLD_STRICT = Profile(
    name="bold-strict",
    version=1,
    description="For small or sensitive populations: 20 people, base 10, zeros suppressed, 50 for percentiles",
    source="bold-standard with every threshold doubled (issue 12)",
    min_people=20,
    rounding="half_up",
    rounding_base=10,
    rate_rounding="none",
    p_percent=0.20,
    nk_n=2,
    nk_k=0.80,
    min_df=20,
    zeros="fail",
    extreme_shares="fail",
    min_people_percentile=50,
    extremes="fail",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (BOLD_STANDARD, SACRO, OPENSAFELY, BOLD_STRICT)}
DEFAULT = BOLD_STANDARD.name


def profile(name: str) -> Profile:
    """The profile an agreement names; an unknown name is refused with the names that exist."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(PROFILES))
        raise ProfileError(f"unknown disclosure profile {name!r}: the profiles are {known}") from None
