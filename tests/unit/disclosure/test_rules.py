"""Each disclosure rule at its boundary, on the people behind a number (never its rows), with bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bold.disclosure import rules
from bold.disclosure.evidence import CellEvidence
from bold.disclosure.profiles import PROFILES, profile
from bold.disclosure.rules import Level
from bold.errors import BoldError, Kind

STANDARD = profile("bold-standard")
SACRO = profile("sacro")
OPENSAFELY = profile("opensafely")
STRICT = profile("bold-strict")


def people(n: int) -> CellEvidence:
    return CellEvidence(value=n, people=n, contributions=np.ones(n))


def names(findings) -> set[str]:
    return {f.rule for f in findings}


# --- profiles ---------------------------------------------------------------------------------------


def test_the_four_profiles_exist_and_an_unknown_one_is_refused_naming_them():
    assert set(PROFILES) == {"bold-standard", "sacro", "opensafely", "bold-strict"}
    with pytest.raises(BoldError) as err:
        profile("sacro2")
    assert err.value.kind is Kind.INVALID
    assert all(name in str(err.value) for name in PROFILES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        STANDARD.min_people = 3  # a profile is fixed: an output checked under it stays explainable


def test_bold_strict_is_stricter_than_standard_on_every_threshold():
    assert STRICT.min_people > STANDARD.min_people and STRICT.rounding_base > STANDARD.rounding_base
    assert STRICT.min_df > STANDARD.min_df and STRICT.min_people_percentile > STANDARD.min_people_percentile
    assert STRICT.p_percent > STANDARD.p_percent and STRICT.nk_k < STANDARD.nk_k


# --- counts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prof", "fails", "passes"), [(STANDARD, 9, 10), (SACRO, 9, 10), (OPENSAFELY, 7, 8), (STRICT, 19, 20)]
)
def test_a_count_fails_below_the_profile_threshold_and_passes_at_it(prof, fails, passes):
    below = rules.check_count(people(fails), prof)
    assert rules.outcome(below) == "fail" and names(below) == {"threshold"}
    assert rules.check_count(people(passes), prof) == []
    assert all(str(fails) not in f.reason for f in below)  # the reason names the threshold, never the value


def test_a_count_is_judged_on_people_not_rows():
    # 15 prison spells from 4 people: the rows are many, the people are few
    spells = CellEvidence(value=15, people=4, contributions=np.array([6, 4, 3, 2]))
    findings = rules.check_count(spells, STANDARD)
    assert rules.outcome(findings) == "fail"
    assert all("4" not in f.reason and "15" not in f.reason for f in findings)
    # and 12 people with one spell each pass, though there are fewer rows than above
    assert rules.check_count(people(12), STANDARD) == []


def test_a_negative_count_fails_and_a_missing_one_goes_to_review():
    negative = rules.check_count(CellEvidence(value=-3, people=12), STANDARD)
    assert [(f.rule, f.outcome) for f in negative] == [("negative", "fail")]
    assert "negative" in negative[0].reason and "3" not in negative[0].reason
    for missing in (float("nan"), None):
        found = rules.check_count(CellEvidence(value=missing, people=12), STANDARD)
        assert [(f.rule, f.outcome) for f in found] == [("missing", "review")]


def test_zeros_follow_the_profile():
    zero = CellEvidence(value=0, people=0)
    assert [(f.rule, f.outcome) for f in rules.check_count(zero, STANDARD)] == [("zeros", "review")]
    assert names(rules.check_count(zero, SACRO)) == {"threshold", "zeros"}  # as ACRO flags a zero twice
    assert rules.outcome(rules.check_count(zero, SACRO)) == "fail"
    assert rules.outcome(rules.check_count(zero, OPENSAFELY)) == "fail"  # zero is "7 or fewer"


def test_a_negative_number_of_people_is_refused():
    with pytest.raises(BoldError) as err:
        rules.check_count(CellEvidence(value=3, people=-1), STANDARD)
    assert err.value.kind is Kind.INVALID


# --- magnitudes -------------------------------------------------------------------------------------


def magnitude(contributions) -> CellEvidence:
    c = np.asarray(contributions, dtype=float)
    return CellEvidence(value=float(c.sum()), people=len(c), contributions=c)


def test_dominance_at_exactly_k_fails_as_acro_defines_it_and_just_under_passes():
    exactly = magnitude([450, 450] + [12.5] * 8)  # the two largest are exactly 90% of 1,000
    assert [(f.rule, f.outcome) for f in rules.check_magnitude(exactly, STANDARD)] == [("nk-dominance", "fail")]
    under = magnitude([450, 449] + [101 / 8] * 8)  # 89.9%
    assert rules.check_magnitude(under, STANDARD) == []


def test_a_negative_contribution_does_not_switch_dominance_off():
    # one person's value is negative (a refund): the cell is still dominated by one person
    cell = magnitude([-5, 9000] + [10] * 9)
    assert "nk-dominance" in names(rules.check_magnitude(cell, STANDARD))
    # dominance on absolute values: a large negative contribution dominates too
    assert "nk-dominance" in names(rules.check_magnitude(magnitude([-9000, 5] + [10] * 9), STANDARD))


def test_p_percent_fails_below_p_and_passes_at_exactly_p():
    assert rules.p_percent(np.array([100, 10] + [1.25] * 8), STANDARD) == []  # the rest is exactly 10% of the largest
    below = rules.p_percent(np.array([100, 10] + [1.2] * 8), STANDARD)
    assert [(f.rule, f.outcome) for f in below] == [("p-percent", "fail")]
    assert "100" not in below[0].reason
    assert rules.p_percent(np.array([100, -10] + [-1.2] * 8), STANDARD) == below  # signs do not hide it


def test_a_magnitude_is_judged_on_people_and_without_contributions_goes_to_review():
    few = magnitude([10.0] * 9)
    assert names(rules.check_magnitude(few, STANDARD)) == {"threshold"}
    assert rules.check_magnitude(magnitude([10.0] * 10), STANDARD) == []
    unknown = rules.check_magnitude(CellEvidence(value=5.2, people=30), STANDARD)
    assert [(f.rule, f.outcome) for f in unknown] == [("contributions", "review")]
    assert rules.outcome(rules.check_magnitude(CellEvidence(value=float("nan"), people=30), STANDARD)) == "review"
    with pytest.raises(BoldError):  # one contribution per person, or the evidence is wrong
        rules.check_magnitude(CellEvidence(value=10, people=30, contributions=np.ones(29)), STANDARD)
    with pytest.raises(BoldError):
        rules.check_magnitude(CellEvidence(value=10, people=10, contributions=np.array([1.0] * 9 + [np.nan])), STANDARD)


# --- shares and rates -------------------------------------------------------------------------------


def test_a_share_needs_safe_numerator_denominator_and_complement():
    assert rules.check_share(people(10), people(40), STANDARD) == []
    assert names(rules.check_share(people(9), people(40), STANDARD)) == {"share.numerator"}
    assert names(rules.check_share(people(5), people(9), STANDARD)) >= {"share.denominator"}
    # 95 of 100: the five people outside the count are as exposed as a count of five
    assert names(rules.check_share(people(95), people(100), STANDARD)) == {"share.complement"}
    assert rules.check_share(people(90), people(100), STANDARD) == []


def test_shares_of_0_and_100_percent_go_to_review_under_bold_standard():
    for numerator in (0, 40):
        found = rules.check_share(people(numerator), people(40), STANDARD)
        assert [(f.rule, f.outcome) for f in found] == [("share.extreme", "review")]
        assert rules.check_share(people(numerator), people(40), SACRO) == []
        assert rules.outcome(rules.check_share(people(numerator), people(40), STRICT)) == "fail"


def test_an_impossible_share_fails():
    assert rules.outcome(rules.check_share(people(41), people(40), STANDARD)) == "fail"
    assert rules.outcome(rules.check_share(people(0), people(0), STANDARD)) == "fail"


def test_a_rate_needs_its_events_and_population_safe():
    events, population = CellEvidence(value=30, people=9), CellEvidence(value=1200.5, people=400)
    assert names(rules.check_rate(events, population, STANDARD)) == {"rate.events"}
    assert rules.check_rate(CellEvidence(value=30, people=10), population, STANDARD) == []
    assert names(rules.check_rate(CellEvidence(value=30, people=10), CellEvidence(36.0, 9), STANDARD)) == {
        "rate.population"
    }
    # OpenSAFELY: a rate built from a count of 7 or fewer is redacted with it
    assert rules.outcome(rules.check_rate(CellEvidence(value=7, people=7), population, OPENSAFELY)) == "fail"
    assert rules.check_rate(CellEvidence(value=8, people=8), population, OPENSAFELY) == []
    assert rules.outcome(rules.check_rate(CellEvidence(value=-1, people=10), population, STANDARD)) == "fail"


# --- percentiles ------------------------------------------------------------------------------------


def test_a_median_needs_20_people_under_bold_standard():
    assert names(rules.check_percentile(people(19), 0.5, STANDARD)) == {"percentile"}
    assert rules.check_percentile(people(20), 0.5, STANDARD) == []
    assert rules.check_percentile(people(20), 0.25, STANDARD) == []
    assert rules.outcome(rules.check_percentile(people(49), 0.5, STRICT)) == "fail"


@pytest.mark.parametrize("q", [0, 1])
def test_a_minimum_or_maximum_never_passes_however_many_people(q):
    for prof in (STANDARD, OPENSAFELY, STRICT):
        assert rules.outcome(rules.check_percentile(people(100_000), q, prof)) == "fail"


@pytest.mark.parametrize("q", [-0.1, 1.5, float("nan")])
def test_a_percentile_outside_0_to_1_is_refused(q):
    with pytest.raises(BoldError) as err:
        rules.check_percentile(people(30), q, STANDARD)
    assert err.value.kind is Kind.INVALID


# --- models -----------------------------------------------------------------------------------------


def test_a_model_needs_10_residual_degrees_of_freedom():
    assert names(rules.check_model(9, [], STANDARD)) == {"model.df"}
    assert rules.check_model(10, [], STANDARD) == []
    assert [f.outcome for f in rules.check_model(None, [], STANDARD)] == ["review"]


def test_every_level_of_a_categorical_predictor_needs_enough_people_and_no_separation():
    ok = [Level("sex", "F", 30, 12), Level("sex", "M", 25, 9)]
    assert rules.check_model(100, ok, STANDARD) == []
    small = rules.check_model(100, [*ok, Level("region", "Orkney", 9, 4)], STANDARD)
    assert names(small) == {"model.level"} and "Orkney" in small[0].reason and "9" not in small[0].reason
    for with_outcome in (0, 30):  # everyone or no one in the level died: the estimate says so of each
        sep = rules.check_model(100, [Level("sex", "F", 30, with_outcome), ok[1]], STANDARD)
        assert names(sep) == {"model.separation"} and rules.outcome(sep) == "fail"
    assert rules.check_model(100, [Level("age", "50+", 30)], STANDARD) == []  # continuous outcome
    with pytest.raises(BoldError):
        rules.check_model(100, [Level("sex", "F", 30, 31)], STANDARD)


# --- rounding ---------------------------------------------------------------------------------------


def test_counts_round_half_up_to_the_profile_base():
    assert [rules.round_count(n, STANDARD) for n in (0, 2, 3, 12, 13, 17, 18)] == [0, 0, 5, 10, 15, 15, 20]
    assert [rules.round_count(n, STRICT) for n in (14, 15, 24, 25)] == [10, 20, 20, 30]  # 15 is half: up
    assert rules.round_count(13, SACRO) == 13  # ACRO rounds only when asked to
    for bad in (17.5, -1, float("nan")):
        with pytest.raises(BoldError) as err:
            rules.round_count(bad, STANDARD)
        assert err.value.kind is Kind.INVALID


def test_opensafely_rounds_rate_counts_to_midpoint_6():
    assert [rules.round_rate_count(n, OPENSAFELY) for n in (0, 1, 6, 7, 12, 13)] == [0, 3, 3, 9, 9, 15]
    assert rules.round_rate_count(13, STANDARD) == 15  # elsewhere a rate count rounds like any count


@pytest.mark.parametrize(("prof", "rate"), [(STANDARD, False), (STRICT, False), (OPENSAFELY, True), (SACRO, False)])
def test_the_interval_an_attacker_knows_is_exactly_the_values_that_round_to_it(prof, rate):
    rounder = rules.round_rate_count if rate else rules.round_count
    for n in range(200):
        lo, hi = rules.rounded_interval(rounder(n, prof), prof, rate=rate)
        assert lo <= n <= hi
        assert all(rounder(m, prof) == rounder(n, prof) for m in range(lo, hi + 1))
        assert lo == 0 or rounder(lo - 1, prof) != rounder(n, prof)
        assert rounder(hi + 1, prof) != rounder(n, prof)
    with pytest.raises(BoldError):
        rules.rounded_interval(12 if not rate else 4, STANDARD if not rate else prof, rate=rate)
