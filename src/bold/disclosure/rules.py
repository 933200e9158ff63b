"""The rule for each kind of statistic: whether one published number may leave, and why not.

Each rule is a small function over `CellEvidence` (or plain numbers) and a `Profile`, returning the
findings against it: ``fail`` means the number is suppressed, ``review`` that an output checker must
look. No finding means the rule passes. Rules count *people* (distinct person keys), never rows: a
cell of 15 prison spells from 4 people describes 4 people. A reason names the threshold a number
missed, never the number itself ("fewer than 10 people", never "3 people"), because reasons are shown
to people who may not see the suppressed value.

Where the rules come from, and where they deliberately differ from ACRO, is in docs/disclosure-rules.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bold.disclosure.evidence import CellEvidence
from bold.disclosure.profiles import Policy, Profile
from bold.errors import BoldError, Kind

Outcome = Literal["fail", "review"]


class RuleError(BoldError):
    kind = Kind.INVALID


@dataclass(frozen=True)
class Finding:
    rule: str
    outcome: Outcome
    reason: str


def outcome(findings: Sequence[Finding]) -> Literal["fail", "review", "pass"]:
    """The verdict on one number: any fail suppresses it; otherwise any review sends it to a checker."""
    outcomes = {f.outcome for f in findings}
    return "fail" if "fail" in outcomes else "review" if "review" in outcomes else "pass"


def _policy(rule: str, policy: Policy, reason: str) -> list[Finding]:
    return [] if policy == "pass" else [Finding(rule, policy, reason)]


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _people(n: int, what: str = "people") -> str:
    return f"fewer than {n} {what}"


# --- people -------------------------------------------------------------------------------------------


def threshold(people: int, profile: Profile, rule: str = "threshold", whom: str = "people") -> list[Finding]:
    """Too few people behind a number lets someone who knows one of them learn about the others.

    Zero people is the zeros rule's business unless the profile holds zeros disclosive (then, as in
    ACRO, a zero is also below the threshold)."""
    if people < 0:
        raise RuleError(f"a number of people cannot be negative ({rule})")
    if people == 0 and profile.zeros != "fail":
        return []
    if people < profile.min_people:
        return [Finding(rule, "fail", _people(profile.min_people, whom))]
    return []


def zeros(people: int, value: float, profile: Profile) -> list[Finding]:
    """A zero says that no one in the group has the attribute, which is itself disclosive (ACRO's
    zeros_are_disclosive); bold-standard sends it to a checker, who knows whether it is structural."""
    if people == 0 or value == 0:
        return _policy("zeros", profile.zeros, "a zero count says something about everyone in the group")
    return []


# --- counts -----------------------------------------------------------------------------------------


def check_count(cell: CellEvidence, profile: Profile) -> list[Finding]:
    """A count of people or of events: judged on the people behind it, never on its value or rows."""
    if _missing(cell.value):
        return [Finding("missing", "review", "the count is missing: the checker must see why")]
    if cell.value < 0:
        return [Finding("negative", "fail", "a count cannot be negative: the study is wrong")]
    return threshold(cell.people, profile) + zeros(cell.people, cell.value, profile)


# --- magnitudes (sums, means) ---------------------------------------------------------------------------


def _absolute_sorted(contributions: np.ndarray) -> np.ndarray:
    values = np.abs(np.asarray(contributions, dtype=float))
    if np.isnan(values).any():
        raise RuleError("a contribution is missing: dominance cannot be judged on it")
    return np.sort(values)[::-1]


def nk_dominance(contributions: np.ndarray, profile: Profile) -> list[Finding]:
    """(n, k): the n largest contributors must not make up k or more of the cell, or each learns the rest.

    Judged on absolute values, so a negative contribution (a refund, a fall in a score) cannot switch the
    rule off as it does in ACRO. A share of exactly k fails, as ACRO defines it (``>= safe_nk_k``)."""
    values = _absolute_sorted(contributions)
    total = values.sum()
    if total == 0:
        return []
    if values[: profile.nk_n].sum() / total >= profile.nk_k:
        return [
            Finding(
                "nk-dominance",
                "fail",
                f"the largest {profile.nk_n} contributions make up {profile.nk_k:.0%} or more of the total",
            )
        ]
    return []


def p_percent(contributions: np.ndarray, profile: Profile) -> list[Finding]:
    """p%: the second largest contributor, knowing its own value, must not estimate the largest to within p.

    Fails when the contributions other than the two largest add up to less than p of the largest
    (ACRO's p-ratio, which passes at exactly p); absolute values, as for (n, k)."""
    values = _absolute_sorted(contributions)
    if values.size == 0 or values[0] == 0:
        return []
    rest = values.sum() - values[:2].sum()
    if rest / values[0] < profile.p_percent:
        return [
            Finding(
                "p-percent",
                "fail",
                f"the other contributions would let one contributor estimate the largest to within "
                f"{profile.p_percent:.0%}",
            )
        ]
    return []


def check_magnitude(cell: CellEvidence, profile: Profile) -> list[Finding]:
    """A sum or mean: enough people, and no one (or two) of them dominating the total."""
    if _missing(cell.value):
        return [Finding("missing", "review", "the value is missing: the checker must see why")]
    if cell.people <= 0:
        return [Finding("threshold", "fail", _people(profile.min_people))]
    findings = threshold(cell.people, profile)
    if cell.contributions.size == 0:
        return [
            *findings,
            Finding("contributions", "review", "each person's contribution is unknown: dominance is unchecked"),
        ]
    if cell.contributions.size != cell.people:
        raise RuleError("a magnitude needs one contribution per person")
    return findings + nk_dominance(cell.contributions, profile) + p_percent(cell.contributions, profile)


# --- shares and rates ------------------------------------------------------------------------------


def check_share(numerator: CellEvidence, denominator: CellEvidence, profile: Profile) -> list[Finding]:
    """A share (a percentage of a group): both counts safe, and the people outside the numerator too.

    A 0% or 100% share says something about everyone in the group (bold-standard sends it to review).
    Its interval is recomputed elsewhere from the protected counts; this rule only judges the counts."""
    if _missing(numerator.value) or _missing(denominator.value):
        return [Finding("missing", "review", "the share is missing: the checker must see why")]
    if numerator.people < 0 or numerator.people > denominator.people:
        return [Finding("share", "fail", "the numerator is not part of the denominator: the study is wrong")]
    if denominator.people == 0:
        return [Finding("share.denominator", "fail", _people(profile.min_people, "people in the group"))]
    outside = denominator.people - numerator.people
    findings = threshold(denominator.people, profile, "share.denominator", "people in the group")
    if numerator.people == 0 or outside == 0:
        return findings + _policy(
            "share.extreme", profile.extreme_shares, "a share of 0% or 100% says something about everyone"
        )
    findings += threshold(numerator.people, profile, "share.numerator", "people counted")
    findings += threshold(outside, profile, "share.complement", "people outside the count")
    return findings


def check_rate(events: CellEvidence, population: CellEvidence, profile: Profile) -> list[Finding]:
    """A rate (events per person or per person-time): both the event count and the population it is of
    must be safe, judged on people; a rate built from a count that would be redacted is redacted with it."""
    if _missing(events.value) or _missing(population.value):
        return [Finding("missing", "review", "the rate is missing: the checker must see why")]
    if events.value < 0 or population.value < 0:
        return [Finding("negative", "fail", "an event count or population cannot be negative: the study is wrong")]
    findings = [
        Finding("rate.events", f.outcome, f"{f.reason} behind the events")
        for f in threshold(events.people, profile) + zeros(events.people, events.value, profile)
    ]
    if population.people == 0:
        return [*findings, Finding("rate.population", "fail", _people(profile.min_people, "people in the group"))]
    findings += threshold(population.people, profile, "rate.population", "people in the group")
    return findings


# --- percentiles and extremes ---------------------------------------------------------------------------


def check_percentile(cell: CellEvidence, q: float, profile: Profile) -> list[Finding]:
    """A median or percentile is one person's actual value (or between two): it needs more people than
    a count does; the minimum and maximum (q = 0 or 1) are always one person's value and never pass."""
    if _missing(q) or not 0 <= q <= 1:
        raise RuleError("a percentile is between 0 and 1 (the median is 0.5)")
    needed = max(profile.min_people, profile.min_people_percentile)
    findings: list[Finding] = []
    if q in (0, 1):
        findings = _policy("extreme", profile.extremes, "a minimum or maximum is one person's value")
        if outcome(findings) == "fail":
            return findings
    if cell.people <= 0:
        return [*findings, Finding("percentile", "fail", _people(needed)), *zeros(0, 0, profile)]
    if _missing(cell.value):
        return [*findings, Finding("missing", "review", "the value is missing: the checker must see why")]
    if cell.people < needed:
        findings.append(Finding("percentile", "fail", _people(needed)))
    return findings


# --- model estimates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One level of a categorical predictor in a model: who is in it, and how many have the outcome
    (None for a continuous outcome, where separation does not apply)."""

    predictor: str
    level: str
    people: int
    with_outcome: int | None = None


def check_model(df_resid: float | None, levels: Sequence[Level], profile: Profile) -> list[Finding]:
    """A model's estimates: enough residual degrees of freedom, enough people in every level of each
    categorical predictor, and no level where all or none have the outcome (separation: the estimate
    then says what happened to every person in that level)."""
    findings: list[Finding] = []
    if _missing(df_resid):
        findings.append(Finding("model.df", "review", "the residual degrees of freedom are unknown"))
    elif df_resid < profile.min_df:
        findings.append(Finding("model.df", "fail", f"fewer than {profile.min_df} residual degrees of freedom"))
    for lv in levels:
        if lv.people < 0 or (lv.with_outcome is not None and not 0 <= lv.with_outcome <= lv.people):
            raise RuleError(f"level {lv.level!r} of {lv.predictor}: impossible numbers of people")
        if lv.people < profile.min_people:
            findings.append(
                Finding(
                    "model.level", "fail", f"level {lv.level!r} of {lv.predictor} has {_people(profile.min_people)}"
                )
            )
        if lv.with_outcome is not None and lv.with_outcome in (0, lv.people):
            findings.append(
                Finding(
                    "model.separation",
                    "fail",
                    f"in level {lv.level!r} of {lv.predictor} all or none have the outcome (separation)",
                )
            )
    return findings


# --- rounding ---------------------------------------------------------------------------------------


def _whole(value: float, what: str) -> int:
    if _missing(value) or value < 0 or value != int(value):
        raise RuleError(f"{what} is a whole number of zero or more")
    return int(value)


def round_count(value: float, profile: Profile) -> int:
    """A count as published: rounded half-up to the profile's base (base 5: 12 -> 10, 13 -> 15; base 10:
    15 -> 20), after suppression, so a small change in the people counted rarely changes what is shown."""
    n = _whole(value, "a count")
    if profile.rounding == "none":
        return n
    base = profile.rounding_base
    return (n + base // 2) // base * base


def round_rate_count(value: float, profile: Profile) -> int:
    """A count behind a rate, rounded as OpenSAFELY's midpoint 6: 0 stays 0, 1-6 -> 3, 7-12 -> 9, 13-18
    -> 15 (ceil(n / 6) * 6 - 3), so the rate is computed from a value in the middle of its range, never 0
    from a non-zero count. Other profiles round rate counts like any count."""
    n = _whole(value, "a count")
    if profile.rate_rounding != "midpoint6":
        return round_count(n, profile)
    return 0 if n == 0 else -(-n // 6) * 6 - 3


def rounded_interval(published: int, profile: Profile, *, rate: bool = False) -> tuple[int, int]:
    """The whole numbers an attacker knows a published count lies in (inclusive): what rounding hides."""
    r = _whole(published, "a published count")
    if rate and profile.rate_rounding == "midpoint6":
        if r != 0 and r % 6 != 3:
            raise RuleError("a count rounded to midpoint 6 is 0 or 3, 9, 15...")
        return (0, 0) if r == 0 else (r - 2, r + 3)
    if profile.rounding == "none":
        return (r, r)
    base = profile.rounding_base
    if r % base:
        raise RuleError(f"a count rounded to base {base} is a multiple of {base}")
    return max(0, r - base // 2), r + (base + 1) // 2 - 1
