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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

_C5 = "Seed 001, Table C5.1 (DTORS, DfE 2010 Table 9)"
_C6 = "Seed 001, Appendix C6 and Table C6.1"


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
        return self.health_cost_untreated + self.crime_cost_untreated


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
    return p.cost_untreated - p.cost_in_treatment


def value_of_effective_treatment(p: EconomicParameters) -> float:
    """Present value of the yearly saving over the years of effective treatment (published £44,224)."""
    return present_value(dict.fromkeys(_treatment_years(p), saving_per_person_year(p)), p.discount_rate)


def treatment_cost_present_value(p: EconomicParameters) -> float:
    """Present value of paying for those years of treatment (published £11,019)."""
    return present_value(dict.fromkeys(_treatment_years(p), p.treatment_cost_per_year), p.discount_rate)


def abstinence_benefit(p: EconomicParameters) -> float:
    """Present value of the harm avoided in the years after treatment if the person stays abstinent (£330,225)."""
    return present_value(
        dict.fromkeys(_abstinence_years(p), p.cost_untreated - p.cost_while_abstinent), p.discount_rate
    )


def value_of_successful_completion(p: EconomicParameters) -> float:
    """Expected value of completing: the treatment years for certain, abstinence only with the recovery probability."""
    return value_of_effective_treatment(p) + p.recovery_probability * abstinence_benefit(p)


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

    def pv(years: range, amount: str) -> str:
        return f"sum t={years.start}..{years.stop - 1} of {amount} / {1 + p.discount_rate:g}^t"

    rows = [
        ("cost_untreated", u, f"{p.health_cost_untreated:,.0f} + {p.crime_cost_untreated:,.0f}"),
        ("saving_per_person_year", s, f"{u:,.0f} - {p.cost_in_treatment:,.0f}"),
        ("value_of_effective_treatment", ve, pv(_treatment_years(p), f"{s:,.0f}")),
        ("treatment_cost_pv", cost, pv(_treatment_years(p), f"{p.treatment_cost_per_year:,.0f}")),
        ("net_value_of_effective_treatment", ve - cost, f"{ve:,.0f} - {cost:,.0f}"),
        ("abstinence_benefit", ab, pv(_abstinence_years(p), f"({u:,.0f} - {p.cost_while_abstinent:,.0f})")),
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
    out = pd.DataFrame(rows, columns=["quantity", "value_gbp", "formula"])
    out.attrs["parameters"] = p.model_dump()  # a plain dict: pandas compares attrs when combining frames
    out.attrs["price_year"] = p.price_year
    return out
