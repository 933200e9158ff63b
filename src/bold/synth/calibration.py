"""Calibration targets and the model parameters tuned to meet them, in one place.

Every target names its source in docs/design/DOMAIN.md (and the seed document behind it). The tests in
``tests/integration/test_synth_calibration.py`` check the generated population against these
targets with the tolerances stated here, so a change to a parameter that drifts away from the
published figures fails a test rather than passing silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A published figure the synthetic population must reproduce, with its tolerance."""

    name: str
    low: float
    high: float
    source: str

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


CONTINUITY_OF_CARE = Target(
    "share of releases with a substance misuse need starting community treatment within 21 days",
    0.30,
    0.55,
    "DOMAIN.md s6.2: OHID indicator C20, national 30.3% (2015-16) to 53% (2023-24)",
)
# Post-release all-cause mortality per 1,000 per year, Farrell & Marsden 2008 (docs/design/DOMAIN.md s6.2).
# "Of the order of" the published rates: the tolerance is a factor of two either way, because at a
# few thousand releases a fortnight of follow-up holds only a handful of deaths.
MORTALITY_PUBLISHED = {("M", 1): 37.0, ("M", 2): 26.0, ("F", 1): 47.0, ("F", 2): 38.0}
MORTALITY_TOLERANCE_FACTOR = 2.0
DRUG_DEATH_RATIO_WEEKS_1_2_VS_3_12 = Target(
    "drug-related death rate in weeks 1-2 after release over weeks 3-12",
    3.0,
    8.0,
    "DOMAIN.md s6.2: Merrall et al. 2010, 3-8 times (UK relative risk 7.5)",
)
OST_MORTALITY_RATIO = Target(
    "all-cause mortality in the first 4 weeks, on OST at release over not on OST",
    0.1,
    0.6,
    "DOMAIN.md s6.2: Marsden et al. 2017, 0.93 vs 3.67 per 100 person-years (hazard ratio 0.25)",
)
EFFECTIVE_TREATMENT = Target(
    "clients in treatment in a year whose latest journey completed or lasted at least 83 days",
    0.85,
    0.98,
    "DOMAIN.md s6.5; DSCP report (001) tables 6.1 and 6.3: 87.8% to 97.4%",
)
SUCCESSFUL_COMPLETION = Target(
    "journeys ending in a year that ended with a completion reason",
    0.25,
    0.62,
    "DOMAIN.md s6.5; DSCP report (001) tables 6.2 and 6.4: 25.5% to 62.1%",
)


# ---------------------------------------------------------------------------------------------
# Model parameters. Rates are per person-year unless named otherwise.
# ---------------------------------------------------------------------------------------------

# Latent needs: prevalence in the synthetic population and their correlation on the latent scale
# (Gaussian copula). docs/design/DOMAIN.md s1: drug and alcohol use, offending, homelessness and mental-health
# problems co-occur.
NEEDS = ("drug", "alcohol", "offending", "homeless", "mental_health")
NEED_PREVALENCE = {"drug": 0.50, "alcohol": 0.35, "offending": 0.45, "homeless": 0.22, "mental_health": 0.38}
NEED_CORRELATION = (
    # drug  alc   off   hom   mh
    (1.00, 0.10, 0.50, 0.40, 0.30),
    (0.10, 1.00, 0.20, 0.30, 0.30),
    (0.50, 0.20, 1.00, 0.40, 0.20),
    (0.40, 0.30, 0.40, 1.00, 0.30),
    (0.30, 0.30, 0.20, 0.30, 1.00),
)
OFFENDING_FEMALE_FACTOR = 0.55  # women are a minority of people in prison and on probation
OPIATE_SHARE_OF_DRUG_USERS = 0.55
SHARE_FEMALE = 0.27

# Prison: spells per year for people with an offending need (gamma-distributed propensity, so a
# minority return again and again, as short-sentence prisoners do); time served is log-normal.
PRISON_SPELLS_PER_YEAR = 0.38
PRISON_PROPENSITY_SHAPE = 1.3
PRISON_STAY_MEDIAN_DAYS = 75
PRISON_STAY_SIGMA = 1.0
SUBSTANCE_FLAG_SENSITIVITY = 0.9  # a real need is flagged at release
SUBSTANCE_FLAG_FALSE_POSITIVE = 0.04
OST_AT_RELEASE_OPIATE = 0.5  # flagged opiate users on opioid substitution treatment at release

# Continuity of care: national share by calendar year (docs/design/DOMAIN.md s6.2, financial years mapped to
# the calendar year they mostly cover; before 2019 the 2015-16 to 2019-20 trend).
CONTINUITY_BY_YEAR = {
    2015: 0.303,
    2016: 0.31,
    2017: 0.32,
    2018: 0.33,
    2019: 0.345,
    2020: 0.381,
    2021: 0.374,
    2022: 0.43,
    2023: 0.53,
    2024: 0.53,
}
CONTINUITY_OST_LOGIT = 0.9  # people on OST must be picked up for their prescription
CONTINUITY_CALIBRATION_LOGIT = -0.3  # offsets the mix of OST and regions so the national rate holds
PILOT_ODDS_RATIO = 1.8  # planted effect of the pilot on continuity of care (difference-in-differences)
LATE_TREATMENT_AFTER_RELEASE = 0.35  # missed the 3 weeks but start within the next months
UNFLAGGED_NEED_TREATMENT = 0.10

# Probation.
COMMUNITY_ORDERS_PER_YEAR = 0.18
DRR_GIVEN_DRUG_NEED = 0.4
ATR_GIVEN_ALCOHOL_NEED = 0.35
MHTR_GIVEN_MH_NEED = 0.08
TREATMENT_WITHIN_6_MONTHS_OF_DRR_ATR = 0.62

# Treatment journeys.
SPONTANEOUS_REFERRALS_PER_YEAR = 0.12  # self, GP and hospital referrals of people with a need
HOMELESS_SUPPORT_NEED_TO_TREATMENT = 0.25  # within 3 months (docs/design/DOMAIN.md s6.6)
COMPLETION_PROBABILITY = {"OPI": 0.28, "NOP": 0.55, "ALC": 0.55, "NOA": 0.5}
JOURNEY_MEDIAN_DAYS = {"OPI": 480, "NOP": 170, "ALC": 160, "NOA": 190}
EARLY_DROP_OUT_SHARE = 0.03  # of drop-outs, the share who leave before 12 weeks (not "effective")
EARLY_STAY_DAYS = 83  # 12 weeks: a journey ended sooner, not completed, is an early drop-out
# The pilot's planted effects on treatment outcomes (events._pilot_on_treatment): odds ratios on staying past 12
# weeks (what effective treatment measures) and on completing, for journeys in pilot areas from the pilot start.
PILOT_RETENTION_ODDS_RATIO = 4.0
PILOT_COMPLETION_ODDS_RATIO = 1.5
# The pilot holds a journey through custody of up to 182 days (docs/synthetic-data.md): a sentence under 12 months,
# the short sentences of the revolving door, is served half in custody.
PILOT_HELD_CUSTODY_DAYS = 182
RE_PRESENTATION_WITHIN_YEAR = 0.15  # successful completers who return (DSCP re-presentation)

# Deaths. Baseline per 1,000 person-years by need (added), scaled by age; excess after release
# per 1,000 person-years by window, chosen so that all-cause rates in weeks 1 and 2 land on
# Farrell & Marsden once the baseline is added, and so the drug-related ratio sits in Merrall's range.
BASELINE_DEATHS_PER_1000 = {
    "base": 1.2,
    "opiate": 6.0,
    "other_drug": 2.0,
    "alcohol": 3.0,
    "homeless": 2.5,
    "mental_health": 1.0,
}
BASELINE_AGE_SLOPE = 0.06  # log-rate per year of age, centred at 35
POST_RELEASE_EXCESS_PER_1000 = {  # (first day, last day + 1) -> (men, women)
    (0, 7): (30.0, 42.0),
    (7, 14): (18.0, 28.0),
    (14, 28): (8.0, 10.0),
    (28, 84): (3.0, 4.0),
}
OST_EXCESS_FACTOR = 0.25  # Marsden et al. 2017, hazard ratio on OST in the first 4 weeks (all causes)
TREATMENT_EXCESS_FACTOR = 0.5  # while in community treatment, from the day it starts
DRUG_RELATED_SHARE_OF_EXCESS = {(0, 7): 0.85, (7, 14): 0.8, (14, 28): 0.6, (28, 84): 0.45}

# Hospital admissions.
ADMISSIONS_PER_YEAR = {
    "base": 0.08,
    "drug": 0.22,
    "opiate": 0.12,
    "alcohol": 0.28,
    "mental_health": 0.12,
    "homeless": 0.15,
}
ELECTIVE_SHARE = 0.25
POST_RELEASE_EMERGENCY_PER_YEAR = {"no_continuity": 0.55, "continuity": 0.22}

# Homelessness and mental health.
HOMELESS_APPLICATIONS_PER_YEAR = 0.3
NFA_RELEASE_TO_APPLICATION = 0.4  # within 8 weeks of a release to no fixed abode
MH_REFERRALS_PER_YEAR = 0.28
DUAL_DIAGNOSIS_REFERRAL = 0.3  # mental-health referral around a treatment start

MOVE_SHARE = 0.15  # people who move home once during the period
MOVE_WITHIN_REGION = 0.7
SURNAME_CHANGE_FEMALE = 0.05
ALIAS_SHARE_OFFENDERS = 0.3
NI_NUMBER_HELD = 0.96

# Participant lists (Justice Data Lab style, docs/studies.md "participant-outcomes"): an organisation's programme
# for people with a substance misuse need, in custody before their release. Participants are chosen among releases
# whose year after release was already simulated, with selection odds depending on the outcome, so no other event
# changes: P(chosen | back in prison within a year) / P(chosen | not) = the odds ratio, and by Bayes' rule the
# participants' odds of re-imprisonment are this times those of otherwise similar releases.
PARTICIPANT_ODDS_RATIO = 0.5  # planted effect of the programme on one-year re-imprisonment (odds ratio)
PARTICIPANT_BASE_SHARE = 0.2  # chance a man aged 35 or more, not re-imprisoned, joins (before the factors below)
PARTICIPANT_FEMALE_FACTOR = 2.0  # women and younger people join more often: a naive comparison is confounded
PARTICIPANT_UNDER_35_FACTOR = 1.5
PARTICIPANT_TYPO = 0.01  # organisations' lists are typed by hand: a forename or surname typo at this rate
