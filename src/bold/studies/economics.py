"""Economic value of drug treatment outcomes, after the DSCP evaluation (seed 001, Appendix C5-C6, Table C6.1).

The figures are 2012 prices and assumptions, so every one is a visible parameter that a user can override, and
every result carries its working. The method is the HM Treasury Green Book's: benefits in year ``t`` are divided
by ``(1 + r) ** t`` with year 0 undiscounted. Table C6.1 discounts year 1 of treatment (12,040 -> 11,633), so
treatment years are 1..T and the years of abstinence that follow are T+1..T+A (5..12 by default).

Published figures and what this module gives from the defaults:

* saving per person-year 12,041 = (4,543 + 50,585) - 43,087, exactly;
* effective treatment 44,224 = sum over t=1..4 of 12,040 / 1.035**t; we get 44,227.5;
* abstinence benefit 330,225 = sum over t=5..12 of 55,127 / 1.035**t; we get 330,230.8;
* successful completion 195,149 = 44,224 + p * 330,225 with p = 0.457036; we get 195,154.9.

The residuals come from the source's own rounding: its components sum to 55,128 and give a saving of 12,041, while
Table C6.1 uses their total 55,127 and a saving of 12,040. £1 a year moves the 4-year value by £3.67 and the 8-year
abstinence value by £5.99. With the table's totals (health cost 4,542) every figure matches to £1. The text
rounds p to "46%"; 0.457036 is what the table uses (its weighted cost 29,932 = (1 - p) * 55,127). The text's net
value of £33,215 does not follow from the table (44,224 - 11,019 = 33,205) and is not reproduced.

The sensitivity analyses (after Table C6.1) change only the years after treatment. In recovery year k = 1..8
(table year 4 + k) the abstinent client's damage starts from the in-treatment cost and decays,
``43,087 x (1 - d) ** k``, and the untreated cost declines, ``55,127 x (1 - g) ** (k - 1)`` (year 5 at the full
level; the non-recovered cost the same, so they save nothing). With the table's totals:

* £189,684 ("2.8% from £195,149"): d = 0.75 gives 189,683.4; the defaults give 189,689.8 (the £1-a-year residual);
* £148,230 (d kept, g = 0.10): 148,229.5; the defaults give 148,235.1.

The text says "a decay rate of 70% pa". No reading of 70% we tried gives £189,684: d = 0.70 gives 188,144.5
(188,150.9 from the defaults, 3.6% below the base), and starting the decay a year earlier or later moves it
further away. 75% is what the text's own check needs too: "less than a nominal £1 by the end of the eight year
recovery period" holds for 43,087 x 0.25^8 = £0.66 and not for 43,087 x 0.30^8 = £2.83. So the DSCP scenarios
below use 0.75 and the table also shows the text's 70%. The published £148,230 likewise follows only if the
decline starts after treatment: declining from year 1 makes the saving in treatment negative by year 4 and the
value about £81,000.

Money parameters are in ``price_year`` prices. ``uprate_factor`` (a GDP deflator ratio, target year over price
year, which the user takes from HM Treasury's GDP deflators: none is shipped) moves every money result to
``uprate_to_year`` prices; the model is linear in money, so uprating the inputs uprates every result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

_C5 = "Seed 001, Table C5.1 (DTORS, DfE 2010 Table 9)"
_C6 = "Seed 001, Appendix C6 and Table C6.1"
_SENS = "Seed 001, Appendix C6 sensitivity analysis"


def _param(default: float, unit: str, source: str, **bounds: float) -> Any:
    return Field(default, description=source, json_schema_extra={"unit": unit}, **bounds)


class EconomicParameters(BaseModel):
    """Every assumption behind the published values; the defaults reproduce Table C6.1 (see module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_year: int = _param(2012, "year", "Seed 001: DSCP evaluation, 2012 prices")
    health_cost_untreated: float = _param(4_543, "GBP/year", f"{_C5}: health cost without treatment", ge=0)
    crime_cost_untreated: float = _param(50_585, "GBP/year", f"{_C5}: crime cost without treatment", ge=0)
    cost_in_treatment: float = _param(43_087, "GBP/year", f"{_C5}: 39,967 offending + 3,120 health", ge=0)
    treatment_cost_per_year: float = _param(3_000, "GBP/year", f"{_C6}: 'around £3,000 pa'", ge=0)
    effective_treatment_years: int = _param(4, "years", f"{_C6}: years 1-4, NTA (2011) misuse career", ge=0)
    discount_rate: float = _param(0.035, "per year", "HM Treasury Green Book, 3.5% a year", ge=0, lt=1)
    recovery_probability: float = _param(
        0.457036, "probability", f"{_C6}: text '46%'; table's 1 - 29,932/55,127 = 0.457036", ge=0, le=1
    )
    cost_while_abstinent: float = _param(0, "GBP/year", f"{_C6}: base case, no harm after recovery", ge=0)
    abstinence_years: int = _param(8, "years", f"{_C6}: years 5-12 of the 20-year career", ge=0)
    recovery_decay_rate: float = _param(
        0, "per year", f"{_SENS}: 0 = base case, harm stops at completion; DSCP 0.75 (text '70%')", ge=0, lt=1
    )
    untreated_decline_rate: float = _param(
        0, "per year", f"{_SENS}: untreated harm after treatment falls this much a year; DSCP 0.10", ge=0, lt=1
    )
    programme_cost: float = _param(
        0.0, "GBP", "The user's: the programme's cost in the results' prices; 0 = not given, no ratio", ge=0
    )
    uprate_factor: float = _param(
        1.0, "ratio", "The user's: HM Treasury GDP deflator, uprate_to_year / price_year; 1 = no uprating", gt=0
    )
    uprate_to_year: int | None = _param(None, "year", "The user's: the year uprate_factor moves prices to")

    @model_validator(mode="after")
    def _uprating_names_its_year(self) -> EconomicParameters:
        if (self.uprate_factor != 1) != (self.uprate_to_year not in (None, self.price_year)):
            raise ValueError(
                f"uprate_factor={self.uprate_factor:g} and uprate_to_year={self.uprate_to_year} go together: give "
                f"the GDP deflator ratio (uprate_to_year / price_year {self.price_year}) and the year it moves to"
            )
        return self

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | str | Path) -> EconomicParameters:
        """Defaults with some values replaced, from a mapping or a YAML/JSON file; unknown names are refused."""
        if isinstance(overrides, str | Path):
            text = Path(overrides).read_text()
            overrides = json.loads(text) if str(overrides).endswith(".json") else yaml.safe_load(text) or {}
        if not isinstance(overrides, Mapping):
            raise ValueError("economic parameter overrides must be a mapping of name: value")
        unknown = sorted(set(overrides) - set(cls.model_fields))
        if unknown:
            raise ValueError(
                f"unknown economic parameter(s): {', '.join(unknown)}; known: {', '.join(cls.model_fields)}"
            )
        return cls(**overrides)

    @property
    def cost_untreated(self) -> float:
        return (self.health_cost_untreated + self.crime_cost_untreated) * self.uprate_factor

    @property
    def results_price_year(self) -> int:
        return self.uprate_to_year or self.price_year

    def money(self, name: str) -> float:
        """A money parameter in the results' prices."""
        return getattr(self, name) * self.uprate_factor


def discount_factor(year: int, rate: float) -> float:
    """Green Book factor ``1 / (1 + rate) ** year``: year 0 is today, undiscounted; year 1 is discounted once."""
    if not 0 <= rate < 1:
        raise ValueError(f"discount rate must be in [0, 1), got {rate}")
    if year < 0:
        raise ValueError(f"year must be >= 0, got {year}")
    return 1 / (1 + rate) ** year


def present_value(amounts_by_year: Mapping[int, float], rate: float) -> float:
    """Sum of each year's amount times its discount factor; years are explicit keys so none is silently shifted."""
    return sum(amount * discount_factor(year, rate) for year, amount in amounts_by_year.items())


def _treatment_years(p: EconomicParameters) -> range:
    return range(1, p.effective_treatment_years + 1)


def _abstinence_years(p: EconomicParameters) -> range:
    start = p.effective_treatment_years + 1
    return range(start, start + p.abstinence_years)


def saving_per_person_year(p: EconomicParameters) -> float:
    """Harm avoided by one year in treatment: untreated health and crime costs less the cost while in treatment."""
    return p.cost_untreated - p.money("cost_in_treatment")


def value_of_effective_treatment(p: EconomicParameters) -> float:
    """Present value of the yearly saving over the years of effective treatment (published £44,224)."""
    return present_value(dict.fromkeys(_treatment_years(p), saving_per_person_year(p)), p.discount_rate)


def treatment_cost_present_value(p: EconomicParameters) -> float:
    """Present value of paying for those years of treatment (published £11,019)."""
    return present_value(dict.fromkeys(_treatment_years(p), p.money("treatment_cost_per_year")), p.discount_rate)


def untreated_cost_after_treatment(p: EconomicParameters) -> dict[int, float]:
    """The untreated cost in each year after treatment: constant in the base case, else declining from year T+2."""
    return {t: p.cost_untreated * (1 - p.untreated_decline_rate) ** k for k, t in enumerate(_abstinence_years(p))}


def cost_while_abstinent_by_year(p: EconomicParameters) -> dict[int, float]:
    """Damage in each year of abstinence: ``cost_while_abstinent`` in the base case; with a decay rate, an
    adjustment phase that starts from the in-treatment cost and decays towards it (the DSCP's sensitivity)."""
    floor = p.money("cost_while_abstinent")
    if p.recovery_decay_rate == 0:  # the base case: no adjustment phase, harm drops at completion
        return dict.fromkeys(_abstinence_years(p), floor)
    excess = p.money("cost_in_treatment") - floor
    return {t: floor + excess * (1 - p.recovery_decay_rate) ** k for k, t in enumerate(_abstinence_years(p), 1)}


def abstinence_benefit(p: EconomicParameters) -> float:
    """Present value of the harm avoided in the years after treatment if the person stays abstinent (£330,225)."""
    untreated, abstinent = untreated_cost_after_treatment(p), cost_while_abstinent_by_year(p)
    return present_value({t: untreated[t] - abstinent[t] for t in untreated}, p.discount_rate)


def value_of_successful_completion(p: EconomicParameters) -> float:
    """Expected value of completing: the treatment years for certain, abstinence only with the recovery probability."""
    return value_of_effective_treatment(p) + p.recovery_probability * abstinence_benefit(p)


# The DSCP's unit values, one per outcome it valued (Tables 7.8-7.11 use these two); a DiD is priced only with its
# own outcome's value.
UNIT_VALUES = {
    "effective_treatment": value_of_effective_treatment,
    "successful_completion": value_of_successful_completion,
}
NOT_VALUED = {
    "continuity_of_care": (
        "The DSCP values only effective treatment and successful completions (Table C6.1) and gives no chain from "
        "continuity of care to either, so the continuity effect is not given a money value: pricing it at "
        "another outcome's value would count a benefit the evidence does not show."
    ),
    "re_presentation": (
        "The DSCP values only effective treatment and successful completions (Table C6.1): a return to treatment "
        "within a year of completing has no value of its own there (a fall in it is harm avoided, but not priced), "
        "so the re-presentation effect is not given a money value."
    ),
}


def unit_value(outcome: str, p: EconomicParameters) -> float | None:
    """The DSCP's value of one more client with ``outcome``; None for an outcome it gives no value (why: NOT_VALUED)."""
    if outcome in NOT_VALUED:
        return None
    if outcome not in UNIT_VALUES:
        known = ", ".join([*UNIT_VALUES, *NOT_VALUED])
        raise ValueError(f"no unit value for outcome {outcome!r}; known outcomes: {known}")
    return UNIT_VALUES[outcome](p)


def benefit_cost_ratio(benefit: float, p: EconomicParameters) -> float | None:
    """Benefit over ``programme_cost`` (Table 7.11: 20,678 / 185 = 112); None when no programme cost is given."""
    return benefit / p.programme_cost if p.programme_cost > 0 else None


def difference_in_differences_benefit(
    a0_pilot: float,
    a1_pilot: float,
    a0_comparison: float,
    a1_comparison: float,
    clients_in_pilot: float,
    benefit_per_client: float,
) -> float:
    """[(a1P - a0P) - (a1C - a0C)] x clients x benefit: the pilot's change beyond the comparison area's, valued.

    The a's are proportions (0.35, not 35), before (0) and during (1) the pilot; a percentage would inflate 100-fold.
    """
    shares = {
        "a0_pilot": a0_pilot,
        "a1_pilot": a1_pilot,
        "a0_comparison": a0_comparison,
        "a1_comparison": a1_comparison,
    }
    bad = [f"{k}={v}" for k, v in shares.items() if not 0 <= v <= 1]
    if bad:
        raise ValueError(f"proportions must be in [0, 1]: {', '.join(bad)}")
    if clients_in_pilot < 0:
        raise ValueError(f"clients_in_pilot must be >= 0, got {clients_in_pilot}")
    return ((a1_pilot - a0_pilot) - (a1_comparison - a0_comparison)) * clients_in_pilot * benefit_per_client


# The DSCP's sensitivity analyses (Appendix C6): name, what changes, the parameters, the published value.
SCENARIOS = (
    ("base case", "harm stops at completion; untreated harm constant", 0.0, 0.0, 195_149),
    ("adjustment phase", "in-treatment harm decays 75% a year after completion", 0.75, 0.0, 189_684),
    (
        "adjustment phase, untreated decline",
        "as above; untreated harm falls 10% a year after treatment",
        0.75,
        0.1,
        148_230,
    ),
    ("adjustment phase at the text's 70%", "in-treatment harm decays 70% a year after completion", 0.70, 0.0, 189_684),
    (
        "the text's 70%, untreated decline",
        "as above; untreated harm falls 10% a year after treatment",
        0.70,
        0.1,
        148_230,
    ),
)


def sensitivity_analyses(p: EconomicParameters) -> pd.DataFrame:
    """The base case and the DSCP's sensitivity scenarios on ``p``'s other assumptions, against the published values.

    The published column is the DSCP's (2012 prices, its defaults); both 70% rows are set against the figures the
    text gives for "70%", which only 75% reproduces (module docstring).
    """
    rows = []
    for name, assumption, decay, decline, published in SCENARIOS:
        q = p.model_copy(update={"recovery_decay_rate": decay, "untreated_decline_rate": decline})
        vc, ve = value_of_successful_completion(q), value_of_effective_treatment(q)
        rows.append((name, assumption, decay, decline, vc, ve, published))
    columns = ["scenario", "assumption", "recovery_decay_rate", "untreated_decline_rate"]
    values = ["value_of_successful_completion", "value_of_effective_treatment", "published_2012_gbp"]
    out = pd.DataFrame(rows, columns=[*columns, *values])
    base = out.value_of_successful_completion.iloc[0]  # SCENARIOS starts with the base case
    out.insert(6, "change_gbp", out.value_of_successful_completion - base)
    out.insert(7, "change_share", out.change_gbp / base if base else float("nan"))
    out["prices"] = f"{p.results_price_year} prices"
    out.attrs["price_year"] = p.results_price_year
    return out


def parameters_table(p: EconomicParameters) -> pd.DataFrame:
    """Every parameter with its value, unit and source, to print beside any result that uses them."""
    rows = [
        (name, getattr(p, name), (f.json_schema_extra or {}).get("unit", ""), f.description)
        for name, f in type(p).model_fields.items()
    ]
    return pd.DataFrame(rows, columns=["name", "value", "unit", "source"])


def economic_summary(
    p: EconomicParameters,
    *,
    effective_treatment_people: float | None = None,
    successful_completions: float | None = None,
    did: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per quantity with the formula and numbers behind it; ``attrs['parameters']`` holds every input.

    ``did`` takes the keyword arguments of :func:`difference_in_differences_benefit`.
    """
    s, ve, cost = saving_per_person_year(p), value_of_effective_treatment(p), treatment_cost_present_value(p)
    ab, vc, u = abstinence_benefit(p), value_of_successful_completion(p), p.cost_untreated
    uprated = f" x {p.uprate_factor:g}" if p.uprate_factor != 1 else ""  # to uprate_to_year prices

    def pv(years: range, amount: str) -> str:
        return f"sum t={years.start}..{years.stop - 1} of {amount} / {1 + p.discount_rate:g}^t"

    after, first = _abstinence_years(p), _abstinence_years(p).start
    untreated = f"{u:,.0f}" + (f" x {1 - p.untreated_decline_rate:g}^(t-{first})" if p.untreated_decline_rate else "")
    floor = p.money("cost_while_abstinent")
    abstinent = f"{floor:,.0f}"
    if p.recovery_decay_rate:
        excess = p.money("cost_in_treatment") - floor
        decayed = f"{excess:,.0f} x {1 - p.recovery_decay_rate:g}^(t-{first - 1})"
        abstinent = f"{abstinent} + {decayed}" if floor else decayed
    rows = [
        ("cost_untreated", u, f"({p.health_cost_untreated:,.0f} + {p.crime_cost_untreated:,.0f}){uprated}"),
        ("saving_per_person_year", s, f"{u:,.0f} - {p.money('cost_in_treatment'):,.0f}"),
        ("value_of_effective_treatment", ve, pv(_treatment_years(p), f"{s:,.0f}")),
        ("treatment_cost_pv", cost, pv(_treatment_years(p), f"{p.money('treatment_cost_per_year'):,.0f}")),
        ("net_value_of_effective_treatment", ve - cost, f"{ve:,.0f} - {cost:,.0f}"),
        ("abstinence_benefit", ab, pv(after, f"({untreated} - {abstinent})")),
        ("value_of_successful_completion", vc, f"{ve:,.0f} + {p.recovery_probability:g} x {ab:,.0f}"),
    ]
    if effective_treatment_people is not None:
        n = effective_treatment_people
        rows.append(("effective_treatment_total", n * ve, f"{n:g} x {ve:,.0f}"))
    if successful_completions is not None:
        n = successful_completions
        rows.append(("successful_completions_total", n * vc, f"{n:g} x {vc:,.0f}"))
    if did is not None:
        d = dict(did)
        change = f"[({d['a1_pilot']:g} - {d['a0_pilot']:g}) - ({d['a1_comparison']:g} - {d['a0_comparison']:g})]"
        formula = f"{change} x {d['clients_in_pilot']:g} x {d['benefit_per_client']:,.0f}"
        rows.append(("did_benefit", difference_in_differences_benefit(**d), formula))
    out = pd.DataFrame(rows, columns=["quantity", "value_gbp", "formula"]).assign(
        prices=f"{p.results_price_year} prices"
    )
    out.attrs["parameters"] = p.model_dump()  # a plain dict: pandas compares attrs when combining frames
    out.attrs["price_year"] = p.results_price_year
    return out
