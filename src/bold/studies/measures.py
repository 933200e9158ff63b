"""Confidence intervals for the statistics studies publish: proportions, rates per person-time and
rate ratios. Vectorised over pandas columns so a table of many breakdown rows gets its intervals at once.

Wilson intervals for proportions (good coverage for small counts and shares near 0 or 1, which matter
here: a prison with few releases, deaths in a week), exact Poisson (Garwood) intervals for rates, and the
usual log-normal interval for a ratio of two rates with a Wald test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, test_proportions_2indep

from bold.studies import statistics as st

LEVEL = 0.95


def proportion(events, n, level: float = LEVEL) -> pd.DataFrame:
    """Share with its Wilson interval; rows with ``n == 0`` get no share."""
    events = np.atleast_1d(np.asarray(events, dtype=float))
    n = np.atleast_1d(np.asarray(n, dtype=float))
    safe = np.where(n > 0, n, 1)
    low, high = proportion_confint(events, safe, alpha=1 - level, method="wilson")
    share = events / safe
    empty = n == 0
    return pd.DataFrame(
        {
            "share": np.where(empty, np.nan, share),
            "share_low": np.where(empty, np.nan, low),
            "share_high": np.where(empty, np.nan, high),
        }
    )


def rate(events, person_years, per: float = 1000, level: float = LEVEL) -> pd.DataFrame:
    """Events per ``per`` person-years with the exact Poisson interval."""
    events = np.atleast_1d(np.asarray(events, dtype=float))
    time = np.atleast_1d(np.asarray(person_years, dtype=float))
    alpha = 1 - level
    low = np.where(events > 0, stats.chi2.ppf(alpha / 2, 2 * events) / 2, 0.0)
    high = stats.chi2.ppf(1 - alpha / 2, 2 * (events + 1)) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(time > 0, per / time, np.nan)
    return pd.DataFrame({"rate": events * scale, "rate_low": low * scale, "rate_high": high * scale})


def rate_ratio(events_a, years_a, events_b, years_b, level: float = LEVEL) -> pd.DataFrame:
    """Rate in group a over rate in group b, with a log-normal interval and a two-sided Wald p-value.
    Undefined (NaN) where either group has no events."""
    ea, ya, eb, yb = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (events_a, years_a, events_b, years_b))
    ok = (ea > 0) & (eb > 0) & (ya > 0) & (yb > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(ok, np.log(ea / ya) - np.log(eb / yb), np.nan)
        se = np.where(ok, np.sqrt(1 / ea + 1 / eb), np.nan)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    return pd.DataFrame(
        {
            "rate_ratio": np.exp(log_ratio),
            "rate_ratio_low": np.exp(log_ratio - z * se),
            "rate_ratio_high": np.exp(log_ratio + z * se),
            "p_value": 2 * stats.norm.sf(np.abs(log_ratio / se)),
        }
    )


def share_comparison(events_a, n_a, events_b, n_b, level: float = LEVEL) -> dict[str, float]:
    """Share in group a against share in group b: the difference in percentage points with Newcomb's hybrid
    score interval (built from the Wilson intervals the shares carry), the ratio of the shares with its log
    (Katz) interval, and the score test's two-sided p-value of no difference. NaN where a group is empty; the
    ratio also where either group has no events."""
    names = ("difference_pp", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high", "p_value")
    out = dict.fromkeys(names, np.nan)
    if n_a <= 0 or n_b <= 0:
        return out
    counts, alpha = (events_a, n_a, events_b, n_b), 1 - level
    low, high = confint_proportions_2indep(*counts, method="newcomb", compare="diff", alpha=alpha)
    difference = 100 * (events_a / n_a - events_b / n_b)
    out.update(difference_pp=difference, difference_low=100 * low, difference_high=100 * high)
    if events_a > 0 and events_b > 0:
        low, high = confint_proportions_2indep(*counts, method="log", compare="ratio", alpha=alpha)
        out.update(ratio=(events_a / n_a) / (events_b / n_b), ratio_low=low, ratio_high=high)
    pooled = (events_a + events_b) / (n_a + n_b)
    out["p_value"] = 1.0 if pooled in (0, 1) else test_proportions_2indep(*counts, method="score").pvalue
    return {k: float(v) for k, v in out.items()}


def with_proportion(
    table: pd.DataFrame, events: str, n: str, prefix: str | None = None, level: float = LEVEL
) -> pd.DataFrame:
    """``table`` with the share of ``events`` among ``n`` and its interval appended, as ``share``,
    ``share_low``, ``share_high`` or, with a ``prefix``, ``<prefix>_share``, ``<prefix>_share_low``, ..."""
    shares = proportion(table[events], table[n], level)
    if prefix:
        shares.columns = [f"{prefix}_{c}" for c in shares.columns]
    value, low, high = shares.columns
    out = st.carry(table, pd.concat([table.reset_index(drop=True), shares], axis=1))
    return st.declare(out, **{value: st.share(events, n), low: st.bound(value, "low"), high: st.bound(value, "high")})


def with_rate(table: pd.DataFrame, events: str, years: str, per: float = 1000, level: float = LEVEL) -> pd.DataFrame:
    """``table`` with events per ``per`` person-years and its interval appended."""
    out = st.carry(
        table, pd.concat([table.reset_index(drop=True), rate(table[events], table[years], per, level)], axis=1)
    )
    return st.declare(
        out, rate=st.rate(events, years, per), rate_low=st.bound("rate", "low"), rate_high=st.bound("rate", "high")
    )
