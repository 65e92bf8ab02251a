"""Drift of a batch against a reference profile: per column, per slice, and for the whole table.

The reference side of every statistic comes from a `ColumnProfile` computed once (when a
champion is promoted, or when a person accepts drift), so the cost per batch grows with the
batch, not with the reference or the history.

- numeric columns (and the prediction scores): two-sample Kolmogorov-Smirnov (asymptotic
  p-value, as scipy's `ks_2samp(method="asymp")`), PSI over the reference's deciles,
  Wasserstein distance divided by the reference's standard deviation, Jensen-Shannon
  distance (base 2, in [0, 1]) over the same bins;
- categorical columns: chi-squared on the contingency table, PSI, Jensen-Shannon, L-infinity
  (the largest change of one category's share), and the share of rows in categories the
  reference never saw;
- the whole table: a domain classifier (reference rows against batch rows, out-of-fold ROC
  AUC; Mann-Whitney p-value of the out-of-fold scores);
- prediction scores: the share of low-confidence predictions (scores within a margin of 0.5).

A column drifts when its p-value is below `alpha / number of tests` (Bonferroni) *and* its
effect size reaches the threshold: PSI (or the domain AUC for the table). Significance alone
flags harmless shifts on large batches; effect size alone flags noise on small ones. With
`band_k > 0` the effect must also leave a data-derived band: mean + k*sd of the same effect
measured between chunks of the reference and the whole reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

ALL = "*"  # the slice value of rows computed over the whole batch
NULL = "<null>"  # nulls are a category of their own
PSI_FLOOR = 1e-4
BINS = 10
CHUNKS = 5
TABLE = "__table__"
PREDICTION = "__prediction_score__"
LOW_CONFIDENCE = "__low_confidence__"


@dataclass(frozen=True)
class Thresholds:
    """When one column counts as drifted; `MonitoringPolicy` holds a default and per-feature overrides."""

    alpha: float = 0.01
    psi: float = 0.1
    band_k: float = 0.0
    skip: bool = False


@dataclass(frozen=True)
class Policy:
    default: Thresholds = Thresholds()
    overrides: dict[str, Thresholds] = field(default_factory=dict)
    domain_auc: float = 0.6  # effect threshold of the whole-table test
    low_confidence_margin: float = 0.1  # scores within this of 0.5 are low-confidence
    low_confidence_increase: float = 0.1  # effect threshold of the low-confidence share
    multivariate: bool = True

    def for_feature(self, feature: str) -> Thresholds:
        return self.overrides.get(feature, self.default)


@dataclass
class ColumnProfile:
    """What the statistics need of one reference column (in one slice)."""

    feature: str
    kind: str  # numeric | categorical | prediction
    slice: str = ALL
    rows: int = 0
    values: np.ndarray | None = None  # sorted finite values (numeric)
    edges: np.ndarray | None = None  # inner bin edges at the reference's deciles (numeric)
    shares: np.ndarray | None = None  # reference share per bin (numeric)
    std: float | None = None
    categories: list[str] | None = None  # categorical
    counts: np.ndarray | None = None  # categorical
    band_mean: float | None = None  # PSI between reference chunks and the whole reference
    band_sd: float | None = None


# --- profiles ---------------------------------------------------------------------------


def as_category(values) -> pd.Series:
    """Category labels as text, nulls as a category of their own. An integer-coded column
    reads the same whether or not a null made pandas store it as floats ('1', not '1.0')."""
    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        numbers = pd.to_numeric(series, errors="coerce")
        present = numbers.dropna()
        if len(present) and np.isfinite(present).all() and (present == np.floor(present)).all():
            return numbers.astype("Int64").astype("string").fillna(NULL).astype(object)
        return numbers.astype(str).where(numbers.notna(), NULL).astype(object)
    return series.astype(object).where(series.notna(), NULL).astype(str)


def _finite(values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def _bin_shares(edges: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(edges) + 1)
    # values are sorted: the bin boundaries are one searchsorted, not a pass per value
    cuts = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate([[0], cuts, [len(sorted_values)]]))
    return counts / len(sorted_values)


def numeric_profile(feature: str, values, kind: str = "numeric", slice_value: str = ALL) -> ColumnProfile:
    """Profile a numeric column; `values` in reference order (the band's chunks follow it)."""
    raw = _finite(values)
    ordered = np.sort(raw)
    edges = np.unique(np.quantile(ordered, np.linspace(0, 1, BINS + 1)[1:-1])) if len(ordered) else np.array([])
    profile = ColumnProfile(
        feature=feature,
        kind=kind,
        slice=slice_value,
        rows=len(ordered),
        values=ordered,
        edges=edges,
        shares=_bin_shares(edges, ordered),
        std=float(ordered.std()) if len(ordered) else None,
    )
    profile.band_mean, profile.band_sd = _band(
        [
            _psi(profile.shares, _bin_shares(edges, np.sort(chunk)))
            for chunk in np.array_split(raw, CHUNKS)
            if len(chunk)
        ]
    )
    return profile


def categorical_profile(feature: str, values: pd.Series, slice_value: str = ALL) -> ColumnProfile:
    text = as_category(values)
    counts = text.value_counts()
    profile = ColumnProfile(
        feature=feature,
        kind="categorical",
        slice=slice_value,
        rows=len(text),
        categories=[str(c) for c in counts.index],
        counts=counts.to_numpy(dtype=np.int64),
    )
    profile.band_mean, profile.band_sd = _band(
        [
            categorical_stats(profile, text.iloc[chunk])["psi"]
            for chunk in np.array_split(np.arange(len(text)), CHUNKS)
            if len(chunk)
        ]
    )
    return profile


def _band(chunk_psis: list[float]) -> tuple[float | None, float | None]:
    """Mean and sd of the PSI between reference chunks and the whole reference (None: too few chunks)."""
    if len(chunk_psis) < 2:
        return None, None
    return float(np.mean(chunk_psis)), float(np.std(chunk_psis, ddof=1))


# --- statistics -------------------------------------------------------------------------


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    ref_share = np.clip(ref_share, PSI_FLOOR, None)
    cur_share = np.clip(cur_share, PSI_FLOOR, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _js(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (as `scipy.spatial.distance.jensenshannon(p, q, base=2)`)."""
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log2(p / m), 0.0)
        right = np.where(q > 0, q * np.log2(q / m), 0.0)
    return float(math.sqrt(max((left.sum() + right.sum()) / 2, 0.0)))


NAN_NUMERIC = {
    "method": "ks",
    "statistic": math.nan,
    "p_value": math.nan,
    "psi": math.nan,
    "wasserstein": math.nan,
    "js": math.nan,
}


def numeric_stats(profile: ColumnProfile, current) -> dict:
    """KS (statistic, asymptotic p-value), PSI, normalized Wasserstein and JS of `current`."""
    cur = np.sort(_finite(current))
    ref = profile.values
    n, m = len(ref), len(cur)
    if n == 0 or m == 0:
        return {**NAN_NUMERIC, "rows": m}
    pooled = np.concatenate([ref, cur])
    pooled.sort(kind="stable")  # two sorted runs: a merge, not a full sort
    gap = np.abs(np.searchsorted(ref, pooled, side="right") / n - np.searchsorted(cur, pooled, side="right") / m)
    d = float(gap.max())
    wasserstein = float(np.dot(gap[:-1], np.diff(pooled)))
    big, small = max(n, m), min(n, m)
    p_value = float(stats.kstwo.sf(d, np.round(big * small / (big + small))))
    shares = _bin_shares(profile.edges, cur)
    return {
        "method": "ks",
        "statistic": d,
        "p_value": p_value,
        "psi": _psi(profile.shares, shares),
        "wasserstein": wasserstein / profile.std if profile.std else wasserstein,
        "js": _js(profile.shares, shares),
        "rows": m,
    }


def categorical_stats(profile: ColumnProfile, current: pd.Series) -> dict:
    """Chi-squared (statistic, p-value), PSI, JS, L-infinity and the unseen-category share."""
    text = as_category(current)
    counts = text.value_counts()
    known = set(profile.categories)
    unseen = [c for c in counts.index if c not in known]
    categories = list(profile.categories) + unseen
    ref = np.concatenate([profile.counts, np.zeros(len(unseen), dtype=np.int64)]).astype(float)
    cur = counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
    m = cur.sum()
    if m == 0 or ref.sum() == 0:
        return {
            "method": "chi2",
            "statistic": math.nan,
            "p_value": math.nan,
            "psi": math.nan,
            "js": math.nan,
            "linf": math.nan,
            "unseen_share": math.nan,
            "rows": int(m),
        }
    table = np.stack([ref, cur], axis=1)
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
        statistic = float(((table - expected) ** 2 / expected).sum())
        p_value = float(stats.chi2.sf(statistic, table.shape[0] - 1))
    ref_share, cur_share = ref / ref.sum(), cur / m
    return {
        "method": "chi2",
        "statistic": statistic,
        "p_value": p_value,
        "psi": _psi(ref_share, cur_share),
        "js": _js(ref_share, cur_share),
        "linf": float(np.abs(ref_share - cur_share).max()),
        "unseen_share": float(cur[len(profile.categories) :].sum() / m),
        "rows": int(m),
    }


def low_confidence(reference_scores: ColumnProfile, scores, margin: float) -> dict:
    """The share of scores within `margin` of 0.5, against the reference's (two-proportion z-test)."""
    ref = reference_scores.values
    cur = _finite(scores)
    lo, hi = 0.5 - margin, 0.5 + margin
    ref_share = float(((ref >= lo) & (ref <= hi)).mean()) if len(ref) else math.nan
    cur_share = float(((cur >= lo) & (cur <= hi)).mean()) if len(cur) else math.nan
    return {
        "method": "share",
        "statistic": cur_share,
        "p_value": two_proportions(ref_share, len(ref), cur_share, len(cur)),
        "reference_share": ref_share,
        "rows": len(cur),
    }


def two_proportions(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-sided p-value that two shares differ (pooled z-test)."""
    if not n1 or not n2 or math.isnan(p1) or math.isnan(p2):
        return math.nan
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if p1 == p2 else 0.0
    return float(2 * stats.norm.sf(abs(p1 - p2) / se))


def domain_classifier(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str], seed: int = 0
) -> dict:
    """Can a classifier tell batch rows from reference rows? Out-of-fold ROC AUC over two folds;
    0.5 means it cannot. The p-value is Mann-Whitney's on the out-of-fold scores (one-sided)."""
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if len(reference) < 10 or len(current) < 10:
        return {"method": "domain_auc", "statistic": math.nan, "p_value": math.nan, "rows": len(current)}
    both = pd.concat([reference[numeric + categorical], current[numeric + categorical]], ignore_index=True)
    for col in numeric:
        both[col] = pd.to_numeric(both[col], errors="coerce").astype(float)
    for col in categorical:
        both[col] = as_category(both[col]).astype("category")
    y = np.concatenate([np.zeros(len(reference)), np.ones(len(current))])
    oof = np.zeros(len(both))
    for train, test in StratifiedKFold(2, shuffle=True, random_state=seed).split(both, y):
        model = xgb.XGBClassifier(
            n_estimators=40, max_depth=3, learning_rate=0.3, tree_method="hist", enable_categorical=True, n_jobs=1
        )
        model.fit(both.iloc[train], y[train])
        oof[test] = model.predict_proba(both.iloc[test])[:, 1]
    auc = float(roc_auc_score(y, oof))
    p_value = float(stats.mannwhitneyu(oof[y == 1], oof[y == 0], alternative="greater").pvalue)
    return {"method": "domain_auc", "statistic": auc, "p_value": p_value, "rows": len(current)}


# --- the verdict ------------------------------------------------------------------------

COLUMNS = [
    "slice",
    "feature",
    "kind",
    "method",
    "rows",
    "statistic",
    "p_value",
    "psi",
    "wasserstein",
    "js",
    "linf",
    "unseen_share",
    "effect",
    "threshold",
    "alpha_corrected",
    "drifted",
]


def compare(
    profiles: list[ColumnProfile],
    current: pd.DataFrame,
    policy: Policy,
    slice_column: str | None = None,
    reference_sample: pd.DataFrame | None = None,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    score_column: str | None = None,
) -> pd.DataFrame:
    """One row per (slice, column) with every statistic, the effect, its threshold and the verdict.

    `profiles` hold the reference of each feature (kind numeric/categorical) and, for the
    prediction scores, kind `prediction` under `score_column`, in slice ALL and per slice.
    `reference_sample` (rows of the reference) enables the whole-table test.
    """
    slice_labels = (
        as_category(current[slice_column]).to_numpy() if slice_column and slice_column in current.columns else None
    )
    rows = []
    for profile in profiles:
        rows += _profile_rows(profile, current, slice_labels, policy, score_column)
    if policy.multivariate and reference_sample is not None and numeric is not None:

        def tested(columns: list[str]) -> list[str]:  # a skipped feature is out of the table test too
            return [c for c in columns if not policy.for_feature(c).skip]

        result = domain_classifier(reference_sample, current, tested(numeric), tested(categorical or []))
        rows.append(
            {"slice": ALL, "feature": TABLE, "kind": "multivariate", **result}
            | {"effect": result["statistic"], "threshold": policy.domain_auc, "_alpha": policy.default.alpha}
        )
    return _verdicts(pd.DataFrame(rows))


def _profile_rows(profile: ColumnProfile, current, slice_labels, policy: Policy, score_column) -> list[dict]:
    """The tests of one profiled column in its slice: its distribution, and for the prediction
    scores also the low-confidence share; none when the column or the slice is not there."""
    feature = PREDICTION if profile.kind == "prediction" else profile.feature
    thresholds = policy.for_feature(feature)
    if thresholds.skip:
        return []
    if profile.slice == ALL:
        part = current
    elif slice_labels is not None:
        part = current[slice_labels == profile.slice]
    else:
        return []
    column = score_column if profile.kind == "prediction" else profile.feature
    if column not in part.columns:
        return []
    if profile.kind == "categorical":
        result = categorical_stats(profile, part[column])
    else:
        result = numeric_stats(profile, pd.to_numeric(part[column], errors="coerce"))
    threshold = thresholds.psi
    if thresholds.band_k > 0 and profile.band_mean is not None:
        threshold = max(threshold, profile.band_mean + thresholds.band_k * (profile.band_sd or 0.0))
    rows = [
        {"slice": profile.slice, "feature": feature, "kind": profile.kind, **result}
        | {"effect": result["psi"], "threshold": threshold, "_alpha": thresholds.alpha}
    ]
    if profile.kind == "prediction":
        low = low_confidence(profile, part[column], policy.low_confidence_margin)
        reference_share = low.pop("reference_share")
        rows.append(
            {"slice": profile.slice, "feature": LOW_CONFIDENCE, "kind": "prediction", **low}
            | {
                "effect": low["statistic"] - reference_share,
                "threshold": policy.low_confidence_increase,
                "_alpha": thresholds.alpha,
            }
        )
    return rows


def _verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column of COLUMNS, the Bonferroni-corrected alpha within each family (the whole batch's
    tests, and the per-slice tests) and the verdict: significant and at least the effect threshold."""
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    for col in COLUMNS:
        if col not in frame.columns:
            frame[col] = math.nan
    family = np.where(frame["slice"] == ALL, "all", "slices")
    tests = pd.Series(family).map(pd.Series(family).value_counts()).to_numpy()
    frame["alpha_corrected"] = frame.pop("_alpha") / tests
    frame["drifted"] = (frame["p_value"] < frame["alpha_corrected"]) & (frame["effect"] >= frame["threshold"])
    return frame[COLUMNS]
