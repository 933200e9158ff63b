"""Evaluate an intervention on person-level data held inside the platform; results are aggregates only.

Two designs from the domain (docs/design/DOMAIN.md 6.5 and 6.7): the DSCP difference-in-differences with logistic
adjustment, and a Justice Data Lab style propensity-score matched comparison. A result holds estimates and
aggregate tables with unit counts (so output checkers can apply the SACRO rules of docs/design/DOMAIN.md 8), never rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit
from statsmodels.tools import sm_exceptions as sme

from bold.studies import statistics as st

MISSING = "missing"  # the DSCP category for a missing covariate value
SMD_THRESHOLD = 0.1  # the usual limit for a negligible standardised mean difference (Austin 2011)
MIN_LEVEL_PEOPLE = 10  # a covariate level with fewer people is merged: its estimate is unstable (and not releasable)


def _require(df: pd.DataFrame, columns: list[str]) -> None:
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise ValueError(f"missing columns: {', '.join(absent)}")


def _binary(df: pd.DataFrame, column: str) -> np.ndarray:
    values = df[column]
    if values.isna().any() or not values.isin([0, 1]).all():
        raise ValueError(f"column {column!r} must hold only 0/1 (or booleans), with no missing values")
    return values.astype(int).to_numpy()


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))


def _wald(estimate: float, se: float, z: float) -> tuple[float, float, float]:
    """Normal-approximation interval and two-sided p-value."""
    p = 2 * stats.norm.sf(abs(estimate) / se) if se > 0 else float(estimate == 0)
    return estimate - z * se, estimate + z * se, float(p)


def _categories(df: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Every covariate as string categories, missing values as an explicit level (the DSCP "missing" category)."""
    return pd.DataFrame(
        {c: df[c].astype(object).where(df[c].notna(), MISSING).astype(str) for c in covariates}, index=df.index
    )


def _indicators(cats: pd.DataFrame, *, drop_reference: bool) -> pd.DataFrame:
    """One 0/1 column per level, named "covariate=level"; the reference is the most common level (stablest baseline)."""
    parts = []
    for c in cats.columns:
        part = pd.get_dummies(cats[c], prefix=c, prefix_sep="=", dtype=float)
        if drop_reference:
            part = part.drop(columns=f"{c}={cats[c].value_counts().idxmax()}")
        parts.append(part)
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=cats.index)


def _fit_logit(y: np.ndarray, X: pd.DataFrame, groups: np.ndarray | None = None):
    """Maximum likelihood fit; separation or non-convergence is an error because the estimates would be meaningless.
    With ``groups`` (a cluster code per row) the covariance is cluster-robust (statsmodels ``cov_type="cluster"``)."""
    problem = "logistic regression failed: check for perfect separation (an outcome or group fully determined by a "
    problem += "covariate level) or for covariate levels that duplicate each other"
    failures = (sme.ConvergenceWarning, sme.HessianInversionWarning, sme.PerfectSeparationWarning)
    A = X.to_numpy()
    if np.linalg.matrix_rank(A.T @ A, hermitian=True) < X.shape[1]:  # else a coefficient is split between duplicates
        raise ValueError(f"{problem} (some columns are combinations of others)")
    try:
        with warnings.catch_warnings():
            for category in failures:
                warnings.simplefilter("error", category)
            robust = {} if groups is None else {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
            fit = sm.Logit(y, X).fit(disp=0, **robust)
    except (*failures, sme.PerfectSeparationError, np.linalg.LinAlgError) as e:
        raise ValueError(f"{problem} ({e})") from e
    if not fit.mle_retvals.get("converged", False) or not np.isfinite(fit.bse).all():
        raise ValueError(problem)
    return fit


def _unfit(levels: pd.Series, y: np.ndarray, minimum: int) -> list[str]:
    """Levels a logistic model cannot estimate: fewer than ``minimum`` people, or all or none with the outcome
    (separation: the level's coefficient runs off to infinity and the fit fails or means nothing)."""
    g = pd.DataFrame({"level": levels.to_numpy(), "y": y}).groupby("level")["y"].agg(["size", "sum"])
    return sorted(g.index[(g["size"] < minimum) | (g["sum"] == 0) | (g["sum"] == g["size"])])


def _quoted(levels: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in levels)


def _merge_levels(cats: pd.DataFrame, y: np.ndarray, what: str, minimum: int) -> tuple[pd.DataFrame, list[str]]:
    """Covariates a model can be fitted on, and a plain-words note for each change.

    In each covariate the levels ``_unfit`` names are pooled into one level when the pool can be estimated, else
    merged into the most common level; a covariate left with one level is dropped (it cannot adjust anything).
    Notes give no count and do not say which of the reasons applied, since neither has been checked for
    disclosure (a level where all or none had the outcome is itself a disclosure).
    """
    out, notes = cats.copy(), []
    why = f"too few people (fewer than {minimum}) or all or none of them {what}"
    for c in cats.columns:
        bad = _unfit(out[c], y, minimum)
        if not bad:
            continue
        good = [v for v in out[c].value_counts().index if v not in bad]  # most common first
        pool = out[c].isin(bad).to_numpy()
        pooled = len(bad) > 1 and pool.sum() >= minimum and 0 < y[pool].sum() < pool.sum()
        if good and (pooled or len(good) > 1):
            into = " + ".join(bad) if pooled else " + ".join([good[0], *bad])
            out[c] = out[c].where(~pool, into)
            if not pooled:
                out[c] = out[c].replace(good[0], into)
            target = "one level" if pooled else f"its most common level, '{good[0]}'"
            notes.append(f"{c}: level{'s' * (len(bad) > 1)} {_quoted(bad)} merged into {target} ({why}).")
        else:
            out = out.drop(columns=c)
            notes.append(f"{c} left out of the model: level{'s' * (len(bad) > 1)} {_quoted(bad)} had {why}, "
                         "and without them it does not vary.")  # fmt: skip
    return out, notes


def _fit_adjusted(y: np.ndarray, design: pd.DataFrame, cats: pd.DataFrame, what: str, minimum: int, groups=None):
    """The fit of ``y ~ design + covariates``, the model matrix and notes, after ``_merge_levels``. If the model
    still cannot be fitted, each covariate is left out in turn (last first), then all of them: what remains is a
    combination of levels that separates, or covariates that duplicate each other. Only when the design alone
    cannot be fitted (the exposure itself separates) is it an error."""
    cats, notes = _merge_levels(cats, y, what, minimum)

    def fit(kept: list[str]):
        X = pd.concat([design, _indicators(cats[kept], drop_reference=True)], axis=1)
        return _fit_logit(y, X, groups), X

    names = list(cats.columns)
    try:
        return (*fit(names), notes)
    except ValueError as failed:
        first = failed
    tries = [[n for n in names if n != left] for left in reversed(names)] + ([[]] if len(names) > 1 else [])
    for kept in tries:
        try:
            model, X = fit(kept)
        except ValueError:
            continue
        left = [n for n in names if n not in kept]
        notes.append(f"{', '.join(left)} left out of the model: with {'it' if len(left) == 1 else 'them'} the "
                     "model could not be fitted (a combination of levels separates the outcome, or levels duplicate "
                     "each other).")  # fmt: skip
        return model, X, notes
    raise first


class _Tables:
    def tables(self) -> dict[str, pd.DataFrame]:
        """The aggregate tables to publish (copies), keyed by name: the DataFrame fields of the result."""
        return {f.name: getattr(self, f.name).copy() for f in fields(self) if not f.compare}


@dataclass(frozen=True)
class DidResult(_Tables):
    """Adjusted DiD in percentage points (average marginal effect on pilot-after units) and its aggregates."""

    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    raw_did: float  # percentage points, from the four cell proportions
    odds_ratio: float  # of the pilot:after interaction
    or_ci_low: float
    or_ci_high: float
    or_p_value: float
    n: int
    df_resid: int  # SACRO needs at least 10 before a regression can be released
    cells: pd.DataFrame = field(repr=False, compare=False)
    estimates: pd.DataFrame = field(repr=False, compare=False)
    coefficients: pd.DataFrame = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()  # covariate levels merged or covariates left out so that the model could be fitted


def difference_in_differences(
    df: pd.DataFrame,
    *,
    outcome: str,
    pilot: str,
    after: str,
    covariates: list[str] = (),
    cluster: str | None = None,
    level: float = 0.95,
    min_level: int = MIN_LEVEL_PEOPLE,
) -> DidResult:
    """DSCP evaluation: [(a1P - a0P) - (a1C - a0C)] raw, then adjusted by logistic regression.

    The model is ``outcome ~ pilot + after + pilot:after + covariates`` with every covariate categorical. The
    headline is on the percentage-point scale the DSCP benefit formula needs (docs/design/DOMAIN.md 7): over
    the pilot-after units, mean predicted probability with the interaction on minus off. Its CI uses the delta
    method with the model's covariance: model-based, or with ``cluster`` (a column such as the person) clustered by
    it, since one person can be several units (releases, client-periods) whose outcomes are not independent; the raw
    DiD's interval is then the clustered one of the same contrast as a linear probability model. Covariate levels
    too sparse or separating to estimate are merged, or the covariate left out (``_fit_adjusted``); the result's
    ``notes`` say which.
    """
    covariates = list(covariates)
    _require(df, [outcome, pilot, after, *covariates, *([cluster] if cluster else [])])
    z = _z(level)
    y, p, a = _binary(df, outcome), _binary(df, pilot), _binary(df, after)
    counts = pd.DataFrame({"p": p, "a": a, "y": y}).groupby(["p", "a"])["y"].agg(["size", "sum"])
    rows, rates, variances = [], {}, 0.0
    for pi, ai in [(1, 0), (1, 1), (0, 0), (0, 1)]:
        group, period = ("pilot" if pi else "comparison"), ("after" if ai else "before")
        if (pi, ai) not in counts.index:
            raise ValueError(f"the {group}-{period} cell ({pilot}={bool(pi)}, {after}={bool(ai)}) has no units")
        n, events = (int(v) for v in counts.loc[(pi, ai)])
        rates[pi, ai] = events / n
        variances += rates[pi, ai] * (1 - rates[pi, ai]) / n
        rows.append({"group": group, "period": period, "n": n, "events": events, "rate_pct": 100 * events / n})
    raw = 100 * ((rates[1, 1] - rates[1, 0]) - (rates[0, 1] - rates[0, 0]))
    design = pd.DataFrame({"const": 1.0, "pilot": p, "after": a, "pilot:after": p * a}, index=df.index, dtype=float)
    groups = None if cluster is None else pd.factorize(df[cluster])[0]
    if groups is not None:  # the same contrast by least squares, its variance clustered (it equals ``raw``)
        ols = sm.OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": groups})
        variances = float(ols.bse["pilot:after"]) ** 2
    raw_low, raw_high, raw_p = _wald(raw, 100 * np.sqrt(variances), z)

    fit, X, notes = _fit_adjusted(y, design, _categories(df, covariates), "had the outcome", min_level, groups)
    b, cov = fit.params.to_numpy(), fit.cov_params().to_numpy()
    on = X.to_numpy()[(p == 1) & (a == 1)]
    off = on.copy()
    off[:, 3] = 0.0
    prob_on, prob_off = expit(on @ b), expit(off @ b)
    gradient = (prob_on * (1 - prob_on)) @ on / len(on) - (prob_off * (1 - prob_off)) @ off / len(off)
    effect = 100 * float(np.mean(prob_on - prob_off))
    low, high, p_value = _wald(effect, 100 * float(np.sqrt(gradient @ cov @ gradient)), z)

    ci = np.exp(fit.conf_int(1 - level).to_numpy())
    coefficients = pd.DataFrame({"term": X.columns, "odds_ratio": np.exp(b), "ci_low": ci[:, 0], "ci_high": ci[:, 1]})
    coefficients["p_value"] = fit.pvalues.to_numpy()
    coefficients["n"] = (X.to_numpy() != 0).sum(axis=0)  # units in the group or level the term describes
    _, odds_ratio, or_low, or_high, or_p, _ = coefficients.iloc[3]  # the pilot:after interaction
    n, df_resid = len(y), round(float(fit.df_resid))
    coefficients["df_resid"] = df_resid  # output checkers release a regression only with enough of these
    estimates = pd.DataFrame(
        [
            ("raw DiD (percentage points)", raw, raw_low, raw_high, raw_p, n, None),
            ("adjusted DiD (percentage points, pilot-after units)", effect, low, high, p_value, n, df_resid),
            ("interaction odds ratio", odds_ratio, or_low, or_high, or_p, n, df_resid),
        ],
        columns=["measure", "estimate", "ci_low", "ci_high", "p_value", "n", "df_resid"],
    ).astype({"df_resid": "Int64"})
    cells = st.declare(
        pd.DataFrame(rows), group=st.group(), period=st.group(), n=st.events(), events=st.events(),
        rate_pct=st.share("events", "n"),
    )  # fmt: skip
    return DidResult(
        effect=effect, ci_low=low, ci_high=high, p_value=p_value, raw_did=raw, odds_ratio=float(odds_ratio),
        or_ci_low=float(or_low), or_ci_high=float(or_high), or_p_value=float(or_p), n=n, df_resid=df_resid,
        cells=cells, estimates=_declared_estimates(estimates, "measure", "estimate", df="df_resid"),
        coefficients=_declared_estimates(coefficients, "term", "odds_ratio", df="df_resid"), notes=tuple(notes),
    )  # fmt: skip


def _declared_estimates(table: pd.DataFrame, label: str, value: str, df: str | None = None, unit=st.events):
    """An estimates table typed for disclosure control: each row's ``label``, its ``value`` with the interval
    ``ci_low``/``ci_high``, the ``p_value`` (judged as the model's estimate too: it is computed from it) and the
    units ``n`` behind it (releases, or people where the design has one release per person), with the residual
    degrees of freedom in ``df`` when the model has them."""
    kinds = {value: st.estimate(df=df, of="n"), "p_value": st.estimate(df=df, of="n")}
    kinds |= {"ci_low": st.bound(value, "low"), "ci_high": st.bound(value, "high")}
    return st.declare(table, **{label: st.group(), "n": unit(), **kinds, **({df: st.df()} if df else {})})


@dataclass(frozen=True)
class PsmResult(_Tables):
    """Matched difference in outcome rate, treated minus comparison, in percentage points (ATT on matched treated)."""

    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    naive_effect: float  # all treated against the whole comparison pool, percentage points
    n_treated: int
    n_matched: int  # matched pairs: this many treated and this many comparison units
    n_unmatched: int  # treated units with no comparison within the caliper
    treated_rate: float  # percent, matched treated
    comparison_rate: float  # percent, matched comparison
    caliper_width: float  # on the logit scale
    groups: pd.DataFrame = field(repr=False, compare=False)
    estimates: pd.DataFrame = field(repr=False, compare=False)
    balance: pd.DataFrame = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()  # covariate levels merged or covariates left out so that the model could be fitted


def _match(score: np.ndarray, treated: np.ndarray, width: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy 1:1 nearest neighbour without replacement, treated units taken in a seeded random order.

    Greedy matching is close to optimal matching in balance (Austin 2014). The comparison pool is sorted by score
    (ties in a seeded random order, so they fall randomly but the same way for a seed); each treated unit takes the
    nearer of the free neighbours either side of its score, found through "next free" pointers with path
    compression, so matching a million units takes seconds rather than hours.
    """
    rng = np.random.default_rng(seed)
    pool = rng.permutation(np.flatnonzero(~treated))
    pool = pool[np.argsort(score[pool], kind="stable")]
    pool_score, n = score[pool], len(pool)
    up = np.arange(n + 1)  # up[k]: a free position >= k (n: none)
    down = np.arange(n + 1)  # down[k + 1]: a free position <= k, shifted by one (0: none)

    def free(pointers: np.ndarray, k: int) -> int:
        root = k
        while pointers[root] != root:
            root = pointers[root]
        while pointers[k] != root:
            pointers[k], k = root, pointers[k]
        return root

    pairs = []
    for i in rng.permutation(np.flatnonzero(treated)):
        k = int(np.searchsorted(pool_score, score[i]))
        right, left = free(up, k), free(down, k) - 1
        options = [j for j in (left, right) if 0 <= j < n]
        if not options:
            break
        j = min(options, key=lambda j: abs(pool_score[j] - score[i]))
        if abs(pool_score[j] - score[i]) <= width:
            up[j], down[j + 1] = j + 1, j
            pairs.append((i, pool[j]))
    matched = np.array(pairs, dtype=int).reshape(-1, 2)
    return matched[:, 0], matched[:, 1]


def _balance(cats: pd.DataFrame, t: np.ndarray, mt: np.ndarray, mc: np.ndarray) -> pd.DataFrame:
    """SMD for every covariate level, before and after matching.

    The denominator is the pooled SD before matching in both columns, so the change reflects the means moving only.
    """
    covariate, level = zip(*[(c, v) for c in cats.columns for v in sorted(cats[c].unique())], strict=True)
    A = np.column_stack([cats[c].to_numpy() == v for c, v in zip(covariate, level, strict=True)]).astype(float)
    sd = np.sqrt((A[t].var(axis=0) + A[~t].var(axis=0)) / 2)

    def smd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        diff = x.mean(axis=0) - y.mean(axis=0)
        return np.divide(diff, sd, out=np.zeros_like(diff), where=sd > 0)

    before, after = smd(A[t], A[~t]), smd(A[mt], A[mc])
    table = pd.DataFrame(
        {
            "covariate": covariate,
            "level": level,
            "n_treated_before": A[t].sum(axis=0).astype(int),
            "n_comparison_before": A[~t].sum(axis=0).astype(int),
            "smd_before": before,
            "n_treated_after": A[mt].sum(axis=0).astype(int),
            "n_comparison_after": A[mc].sum(axis=0).astype(int),
            "smd_after": after,
            "imbalanced_before": np.abs(before) > SMD_THRESHOLD,
            "imbalanced_after": np.abs(after) > SMD_THRESHOLD,
        }
    )
    # counts of people at each level; a difference (and whether it is large) is judged by the treated behind it
    counts = ("n_treated_before", "n_comparison_before", "n_treated_after", "n_comparison_after")
    when = {w: st.estimate(people=f"n_treated_{w}") for w in ("before", "after")}
    return st.declare(
        table,
        covariate=st.group(),
        level=st.group(),
        **dict.fromkeys(counts, st.people()),
        **{f"{name}_{w}": stat for w, stat in when.items() for name in ("smd", "imbalanced")},
    )


def propensity_matched(
    df: pd.DataFrame,
    *,
    treated: str,
    outcome: str,
    covariates: list[str],
    caliper: float = 0.2,
    seed: int = 0,
    level: float = 0.95,
    min_level: int = MIN_LEVEL_PEOPLE,
) -> PsmResult:
    """Justice Data Lab style comparison: treated units against propensity-score matched untreated units.

    Logistic propensity score on the categorical covariates; 1:1 matching on its logit within ``caliper`` x SD of
    the logit (Austin 2011). The difference is tested on the matched pairs (paired Wald test on the per-pair
    differences, equivalent to McNemar's comparison of discordant pairs in large samples), because matched units are
    not independent samples. Uncertainty from estimating the score is ignored, as is usual for matching. Covariate
    levels too sparse or separating for the score model are merged, or the covariate left out (``_fit_adjusted``;
    the result's ``notes`` say which); the balance table still shows every level as the data hold it.
    """
    covariates = list(covariates)
    _require(df, [treated, outcome, *covariates])
    if not covariates:
        raise ValueError("propensity matching needs at least one covariate")
    z = _z(level)
    t, y = _binary(df, treated).astype(bool), _binary(df, outcome)
    if t.all() or not t.any():
        raise ValueError(f"column {treated!r} must have both treated and untreated units")
    cats = _categories(df, covariates)
    design = pd.DataFrame({"const": 1.0}, index=df.index)
    fit, X, notes = _fit_adjusted(t.astype(int), design, cats, "were treated", min_level)
    score = X.to_numpy() @ fit.params.to_numpy()  # the logit of the propensity score
    width = caliper * float(np.std(score, ddof=1))
    mt, mc = _match(score, t, width, seed)
    if len(mt) == 0:
        raise ValueError("no treated unit has a comparison unit within the caliper")

    pairs = y[mt] - y[mc]
    effect = 100 * float(pairs.mean())
    se = 100 * float(pairs.std(ddof=1) / np.sqrt(len(pairs))) if len(pairs) > 1 else 0.0
    low, high, p_value = _wald(effect, se, z)
    naive = 100 * float(y[t].mean() - y[~t].mean())
    naive_se = 100 * float(np.sqrt(y[t].var() / t.sum() + y[~t].var() / (~t).sum()))
    naive_low, naive_high, naive_p = _wald(naive, naive_se, z)
    named = {"treated": np.flatnonzero(t), "comparison pool": np.flatnonzero(~t), "treated, matched": mt}
    named |= {"comparison, matched": mc, "treated, unmatched": np.setdiff1d(named["treated"], mt)}
    rows = [(k, len(i), int(y[i].sum()), 100 * y[i].mean() if len(i) else np.nan) for k, i in named.items()]
    groups = st.declare(  # one release per person: the units are people, and so are those with the outcome
        pd.DataFrame(rows, columns=["group", "n", "events", "rate_pct"]),
        group=st.group(), n=st.people(), events=st.people(), rate_pct=st.share("events", "n"),
    )  # fmt: skip
    estimates = pd.DataFrame(
        [
            ("naive difference (percentage points)", naive, naive_low, naive_high, naive_p, int(t.sum())),
            ("matched difference (percentage points)", effect, low, high, p_value, len(mt)),
        ],
        columns=["measure", "estimate", "ci_low", "ci_high", "p_value", "n"],
    )
    estimates = _declared_estimates(estimates, "measure", "estimate", unit=st.people)  # a paired test: no model df
    return PsmResult(
        effect=effect, ci_low=low, ci_high=high, p_value=p_value, naive_effect=naive, n_treated=int(t.sum()),
        n_matched=len(mt), n_unmatched=len(named["treated, unmatched"]), treated_rate=100 * float(y[mt].mean()),
        comparison_rate=100 * float(y[mc].mean()), caliper_width=width, groups=groups, estimates=estimates,
        balance=_balance(cats, t, mt, mc), notes=tuple(notes),
    )  # fmt: skip


def match_areas(
    profiles: pd.DataFrame, pilot: list[str], *, per_area: int = 1, minimum: int = 0, size: str = "n"
) -> pd.DataFrame:
    """Comparison areas for the pilot areas, chosen by similarity of their profiles (the DSCP matched comparison
    areas on client profile and caseload).

    ``profiles`` has one row per area (the index: its code) and numeric columns, ``size`` among them. Each column is
    standardised over the pilot areas and the candidates (minus the mean, over the population SD), so that a
    caseload in hundreds and a share weigh alike; a column with no spread is left out. Candidates are the other
    areas with at least ``minimum`` in ``size``. Pairs are taken nearest first by Euclidean distance over all pilot
    areas (ties by area code), each candidate at most once (without replacement), until every pilot area has
    ``per_area`` comparisons. Returns ``pilot_area``, ``area`` and ``distance``, nearest first per pilot area."""
    if per_area < 1:
        raise ValueError(f"per_area must be at least 1, got {per_area}")
    absent = [a for a in pilot if a not in profiles.index]
    if absent:
        raise ValueError(f"no units to profile in pilot area(s) {', '.join(absent)}")
    candidates = profiles.index[~profiles.index.isin(pilot) & (profiles[size] >= minimum)]
    if len(candidates) < per_area * len(pilot):
        raise ValueError(
            f"{len(candidates)} candidate comparison areas (with at least {minimum} units) for {len(pilot)} pilot "
            f"areas x {per_area}: too few to match without replacement"
        )
    table = profiles.loc[[*pilot, *candidates]].astype(float)
    sd = table.std(ddof=0)
    z = (table - table.mean()) / sd.where(sd > 0)
    z = z.loc[:, sd > 0].to_numpy()
    distance = np.sqrt(((z[: len(pilot), None, :] - z[None, len(pilot) :, :]) ** 2).sum(axis=2))
    pairs = sorted((distance[i, j], p, c, i, j) for i, p in enumerate(pilot) for j, c in enumerate(candidates))
    need, used, chosen = dict.fromkeys(pilot, per_area), set(), []
    for d, p, c, _, _ in pairs:
        if need[p] and c not in used:
            need[p] -= 1
            used.add(c)
            chosen.append((p, c, float(d)))
    out = pd.DataFrame(chosen, columns=["pilot_area", "area", "distance"])
    out["_order"] = out.pilot_area.map({p: k for k, p in enumerate(pilot)})
    return out.sort_values(["_order", "distance"]).drop(columns="_order").reset_index(drop=True)
