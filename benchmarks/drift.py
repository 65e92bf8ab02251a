"""Benchmark: the per-batch cost of `cl_assets.lib.drift` on wide, long windows.

For each size N (default 100k and 1M rows) it builds a reference window and a current window
of N rows x 25 columns (20 numeric of assorted shapes, two with a few NaNs and some with ties;
5 categorical of ~10 string categories, one with nulls), the current window shifted in a few
columns (a mean, a scale, a tiny mean shift, category shares, a category the reference never
saw), and times the same statistics three ways:

- ours: `drift.numeric_stats` / `drift.categorical_stats` per column, against profiles built
  beforehand with `drift.numeric_profile` / `drift.categorical_profile`. Building the profiles
  is the once-per-champion cost: timed and printed separately, not part of `ours_s`.
  Categorical columns are passed as pandas Series of strings, as the assets pass them.
- numpy: a plain vectorized computation written here (sorting + searchsorted for KS and
  Wasserstein, bincount for the categories), given the same precomputed reference side as ours
  (sorted finite values, decile edges and shares, category counts) and the categorical columns
  as integer codes (the cheapest representation there is: no strings to hash).
- scipy: `ks_2samp(method="asymp")` and `wasserstein_distance` per numeric column on the raw
  windows, `chi2_contingency` per categorical column on a table counted with bincount; timed
  once (ours and numpy: the best of `--repeat` runs).

It checks that our KS statistic, KS p-value, Wasserstein distance and chi-squared statistic agree
with scipy (to 1e-6, absolute for the KS statistic and p-values, relative for the distance and
chi-squared) and that the numpy baseline computes the same statistics as ours; it exits non-zero
if not. It measures the peak memory of our per-batch computation with tracemalloc (in a separate
pass, so tracing does not slow the timed runs) and compares it with the current window's size.

Targets: at 1M rows, ours within 1.5x of the numpy baseline (`ratio_vs_numpy` <= 1.5), and the
peak memory of our per-batch computation at most twice the size of the data (the current
window's float64 columns and string-column pointers).

    uv run python benchmarks/drift.py [--sizes 100000,1000000] [--repeat 3]

The last lines, one per size: `rows=<N> ours_s=<x> numpy_s=<y> scipy_s=<z> ratio_vs_numpy=<x/y> peak_mb=<m>`.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cl_assets.lib import drift

N_NUMERIC = 20
N_CATEGORICAL = 5
N_CATEGORIES = 10
UNSEEN = N_CATEGORIES  # code of the category only the current window has
NULL = N_CATEGORIES + 1  # code of a null
CODES = N_CATEGORIES + 2
TOLERANCE = 1e-6
MB = 1024 * 1024

NUMERIC = [f"x{i:02d}" for i in range(N_NUMERIC)]
CATEGORICAL = [f"c{i}" for i in range(N_CATEGORICAL)]


# --- data -----------------------------------------------------------------------------------


def numeric_column(rng: np.random.Generator, i: int, n: int, current: bool) -> np.ndarray:
    """Column i: a shape chosen by i; columns 0-2 of the current window are shifted."""
    shift = {0: 0.5, 2: 0.02}.get(i, 0.0) if current else 0.0
    scale = 1.5 if current and i == 1 else 1.0
    shape = i % 5
    if shape == 0:
        x = rng.normal(shift, scale, n)
    elif shape == 1:
        x = rng.lognormal(shift, 0.5 * scale, n)
    elif shape == 2:
        x = rng.exponential(scale, n) + shift
    elif shape == 3:
        x = rng.poisson(4.0 * scale, n) + shift  # integers: many ties
    else:
        x = np.round(rng.normal(shift, scale, n), 2)  # rounded: some ties
    if i in (5, 6):  # a few missing values
        x[rng.random(n) < 0.005] = np.nan
    return x


def category_codes(rng: np.random.Generator, i: int, n: int, current: bool) -> np.ndarray:
    p = np.linspace(2.0, 1.0, N_CATEGORIES)
    if current and i == 0:
        p = p[::-1]  # shares move
    p = np.r_[p, 0.0, 0.0]
    if current and i == 1:
        p[UNSEEN] = 0.03 * p.sum()  # a category the reference never saw
    if i == 2:
        p[NULL] = 0.01 * p.sum()  # nulls, in both windows
    return rng.choice(CODES, n, p=p / p.sum())


def window(rng: np.random.Generator, n: int, current: bool) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A window as the assets see it (numeric floats, categorical strings and None) and its category codes."""
    columns: dict[str, object] = {}
    codes: dict[str, np.ndarray] = {}
    for i, col in enumerate(NUMERIC):
        columns[col] = numeric_column(rng, i, n, current)
    for i, col in enumerate(CATEGORICAL):
        names = np.array([f"{col}_{k}" for k in range(N_CATEGORIES)] + [f"{col}_new", None], dtype=object)
        codes[col] = category_codes(rng, i, n, current)
        columns[col] = pd.Series(names[codes[col]], dtype=object)
    return pd.DataFrame(columns), codes


# --- the numpy baseline ---------------------------------------------------------------------


@dataclass
class NumpyReference:
    """The reference side the numpy baseline is given: what ours keeps in its profile."""

    sorted_values: dict[str, np.ndarray]
    edges: dict[str, np.ndarray]
    shares: dict[str, np.ndarray]
    std: dict[str, float]
    counts: dict[str, np.ndarray]


def numpy_reference(ref: pd.DataFrame, ref_codes: dict[str, np.ndarray]) -> NumpyReference:
    out = NumpyReference({}, {}, {}, {}, {})
    for col in NUMERIC:
        x = ref[col].to_numpy()
        x = np.sort(x[np.isfinite(x)])
        edges = np.unique(np.quantile(x, np.linspace(0, 1, drift.BINS + 1)[1:-1]))
        out.sorted_values[col], out.edges[col], out.std[col] = x, edges, float(x.std())
        out.shares[col] = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1) / len(x)
    for col in CATEGORICAL:
        out.counts[col] = np.bincount(ref_codes[col], minlength=CODES)
    return out


def psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    r = np.maximum(ref_share, drift.PSI_FLOOR)
    c = np.maximum(cur_share, drift.PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def js(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * np.log2(p / m), 0.0).sum() + np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return math.sqrt(max(kl / 2, 0.0))


def numpy_numeric(ref: NumpyReference, col: str, values: np.ndarray) -> dict:
    a = ref.sorted_values[col]
    b = values[np.isfinite(values)]
    b.sort()
    n, m = len(a), len(b)
    pooled = np.concatenate([a, b])
    pooled.sort()
    gap = np.abs(np.searchsorted(a, pooled, side="right") / n - np.searchsorted(b, pooled, side="right") / m)
    d = float(gap.max())
    edges = ref.edges[col]
    cur_share = np.diff(np.r_[0, np.searchsorted(b, edges, side="right"), m]) / m
    return {
        "statistic": d,
        "p_value": float(stats.kstwo.sf(d, round(n * m / (n + m)))),
        "wasserstein": float(gap[:-1] @ np.diff(pooled)) / ref.std[col],
        "psi": psi(ref.shares[col], cur_share),
        "js": js(ref.shares[col], cur_share),
    }


def numpy_categorical(ref: NumpyReference, col: str, codes: np.ndarray) -> dict:
    ref_counts = ref.counts[col]
    cur_counts = np.bincount(codes, minlength=CODES)
    keep = (ref_counts + cur_counts) > 0
    table = np.stack([ref_counts[keep], cur_counts[keep]]).astype(float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    r, c = table[0] / table[0].sum(), table[1] / table[1].sum()
    return {
        "statistic": chi2,
        "p_value": float(stats.chi2.sf(chi2, table.shape[1] - 1)),
        "psi": psi(r, c),
        "js": js(r, c),
        "linf": float(np.abs(r - c).max()),
        "unseen_share": float(cur_counts[ref_counts == 0].sum() / len(codes)),
    }


# --- the three ways -------------------------------------------------------------------------


def run_ours(profiles: dict[str, drift.ColumnProfile], cur: pd.DataFrame) -> tuple[dict, float, float]:
    results = {}
    t0 = time.perf_counter()
    for col in NUMERIC:
        results[col] = drift.numeric_stats(profiles[col], cur[col])
    t1 = time.perf_counter()
    for col in CATEGORICAL:
        results[col] = drift.categorical_stats(profiles[col], cur[col])
    return results, t1 - t0, time.perf_counter() - t1


def run_numpy(ref: NumpyReference, cur: pd.DataFrame, cur_codes: dict[str, np.ndarray]) -> tuple[dict, float, float]:
    results = {}
    t0 = time.perf_counter()
    for col in NUMERIC:
        results[col] = numpy_numeric(ref, col, cur[col].to_numpy())
    t1 = time.perf_counter()
    for col in CATEGORICAL:
        results[col] = numpy_categorical(ref, col, cur_codes[col])
    return results, t1 - t0, time.perf_counter() - t1


def run_scipy(
    ref: pd.DataFrame, cur: pd.DataFrame, ref_codes: dict[str, np.ndarray], cur_codes: dict[str, np.ndarray]
) -> tuple[dict, float, float]:
    results = {}
    t0 = time.perf_counter()
    for col in NUMERIC:
        a, b = ref[col].to_numpy(), cur[col].to_numpy()
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        ks = stats.ks_2samp(a, b, method="asymp")
        results[col] = {
            "statistic": float(ks.statistic),
            "p_value": float(ks.pvalue),
            "wasserstein_raw": float(stats.wasserstein_distance(a, b)),
        }
    t1 = time.perf_counter()
    for col in CATEGORICAL:
        table = np.stack([np.bincount(ref_codes[col], minlength=CODES), np.bincount(cur_codes[col], minlength=CODES)])
        table = table[:, table.sum(axis=0) > 0]
        chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
        results[col] = {"statistic": float(chi2), "p_value": float(p_value)}
    return results, t1 - t0, time.perf_counter() - t1


def best_of(repeat: int, fn: Callable[[], tuple[dict, float, float]]) -> tuple[dict, float, float]:
    """The run with the smallest total time (timeit's convention: the others measure interference)."""
    runs = [fn() for _ in range(repeat)]
    return min(runs, key=lambda r: r[1] + r[2])


# --- checks ---------------------------------------------------------------------------------


def check(
    ours: dict, scipy_results: dict, numpy_results: dict, ref_std: dict[str, float]
) -> tuple[list[str], dict[str, float]]:
    """Failures, and the largest deviation of each compared statistic; `ref_std` is numpy's std of each reference column."""
    failures: list[str] = []
    worst: dict[str, float] = {}

    def compare(name: str, col: str, got: float, want: float, scale: str) -> None:
        """scale: abs (|got - want|), rel (divided by |want|) or mixed (divided by max(|want|, 1))."""
        denominator = {"abs": 1.0, "rel": max(abs(want), 1e-300), "mixed": max(abs(want), 1.0)}[scale]
        dev = abs(got - want) / denominator
        worst[name] = max(worst.get(name, 0.0), dev)
        if not dev <= TOLERANCE:
            failures.append(f"{col}: {name} ours={got!r} reference={want!r} deviation={dev:.3g}")

    for col in NUMERIC:
        o, s = ours[col], scipy_results[col]
        compare("ks_statistic vs scipy (abs)", col, o["statistic"], s["statistic"], "abs")
        compare("ks_p_value vs scipy (abs)", col, o["p_value"], s["p_value"], "abs")
        compare("wasserstein/std vs scipy/std (rel)", col, o["wasserstein"], s["wasserstein_raw"] / ref_std[col], "rel")
    for col in CATEGORICAL:
        o, s = ours[col], scipy_results[col]
        compare("chi2 vs scipy (rel)", col, o["statistic"], s["statistic"], "rel")
        compare("chi2_p_value vs scipy (abs)", col, o["p_value"], s["p_value"], "abs")
    # the numpy baseline must compute the same statistics, or its time says nothing
    for col in NUMERIC + CATEGORICAL:
        for key, value in numpy_results[col].items():
            compare(f"{key} vs numpy baseline (mixed)", col, ours[col][key], value, "mixed")
    return failures, worst


# --- one size -------------------------------------------------------------------------------


def bench(n: int, repeat: int, seed: int) -> tuple[str, bool]:
    rng = np.random.default_rng(seed)
    ref, ref_codes = window(rng, n, current=False)
    cur, cur_codes = window(rng, n, current=True)

    t0 = time.perf_counter()
    profiles = {col: drift.numeric_profile(col, ref[col]) for col in NUMERIC}
    t1 = time.perf_counter()
    profiles |= {col: drift.categorical_profile(col, ref[col]) for col in CATEGORICAL}
    t2 = time.perf_counter()
    np_ref = numpy_reference(ref, ref_codes)

    ours, ours_num, ours_cat = best_of(repeat, lambda: run_ours(profiles, cur))
    numpy_results, np_num, np_cat = best_of(repeat, lambda: run_numpy(np_ref, cur, cur_codes))
    # scipy is the slow reference point: timed once
    scipy_results, sp_num, sp_cat = run_scipy(ref, cur, ref_codes, cur_codes)
    ours_s, numpy_s, scipy_s = ours_num + ours_cat, np_num + np_cat, sp_num + sp_cat

    # the KS p-value alone (scipy's kstwo.sf, called by all three ways with the same arguments)
    t3 = time.perf_counter()
    for col in NUMERIC:
        n_ref, n_cur = profiles[col].rows, ours[col]["rows"]
        stats.kstwo.sf(ours[col]["statistic"], round(n_ref * n_cur / (n_ref + n_cur)))
    kstwo_s = time.perf_counter() - t3

    # the floor of any string-based categorical statistic: counting the strings once
    t3 = time.perf_counter()
    for col in CATEGORICAL:
        cur[col].value_counts(dropna=False)
    count_strings = time.perf_counter() - t3

    tracemalloc.start()
    tracemalloc.reset_peak()
    run_ours(profiles, cur)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_mb = peak / MB

    data_mb = cur.memory_usage(index=False, deep=False).sum() / MB
    deep_mb = cur.memory_usage(index=False, deep=True).sum() / MB
    profile_mb = sum(p.values.nbytes for p in profiles.values() if p.values is not None) / MB

    failures, worst = check(ours, scipy_results, numpy_results, np_ref.std)

    width = 17
    print(
        f"\n=== {n:,} rows x {N_NUMERIC + N_CATEGORICAL} columns ({N_NUMERIC} numeric, {N_CATEGORICAL} categorical) ==="
    )
    print(
        f"reference profiles (once per champion): {t2 - t0:.3f} s "
        f"(numeric {t1 - t0:.3f} s, categorical {t2 - t1:.3f} s); sorted reference values held: {profile_mb:.1f} MB"
    )
    print(f"per batch (ours and numpy: best of {repeat}; scipy: one run):")
    print(f"  {'method':<{width}} {'total_s':>9} {'numeric_s':>10} {'categorical_s':>14} {'x ours':>8}")
    for name, num, cat in (
        ("ours", ours_num, ours_cat),
        ("numpy (codes)", np_num, np_cat),
        ("scipy per column", sp_num, sp_cat),
    ):
        total = num + cat
        print(f"  {name:<{width}} {total:>9.3f} {num:>10.3f} {cat:>14.3f} {total / ours_s:>8.2f}")
    print(
        f"  categorical share of ours: {ours_cat / ours_s:.0%}; ours/numpy: numeric {ours_num / np_num:.2f}x, "
        f"categorical {ours_cat / np_cat:.1f}x; value_counts of the {N_CATEGORICAL} string columns alone: {count_strings:.3f} s"
    )
    print(
        f"  of which the KS p-values alone (scipy.stats.kstwo.sf, {N_NUMERIC} calls, in all three): {kstwo_s:.3f} s; "
        f"ours numeric without them: {ours_num - kstwo_s:.3f} s"
    )
    print(
        f"memory: peak of ours per batch {peak_mb:.1f} MB; current window {data_mb:.1f} MB "
        f"(float64 + string pointers; {deep_mb:.1f} MB counting each string object) -> peak/data = {peak_mb / data_mb:.2f}"
    )
    print(f"  target peak <= 2x data: {'met' if peak_mb <= 2 * data_mb else 'NOT MET'}")
    print("agreement (largest deviation over the columns, tolerance 1e-6):")
    for name, dev in worst.items():
        print(f"  {name:<44} {dev:.2e}")
    drifted = [c for c in NUMERIC + CATEGORICAL if ours[c]["p_value"] < 0.01 / 25 and ours[c]["psi"] >= 0.1]
    print(f"columns with p < 0.01/25 and PSI >= 0.1: {', '.join(drifted) or 'none'}")
    for failure in failures:
        print(f"  MISMATCH {failure}")

    summary = (
        f"rows={n} ours_s={ours_s:.3f} numpy_s={numpy_s:.3f} scipy_s={scipy_s:.3f} "
        f"ratio_vs_numpy={ours_s / numpy_s:.3f} peak_mb={peak_mb:.3f}"
    )
    return summary, not failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs of ours and of numpy; the best is kept (scipy runs once)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    summaries, ok = [], True
    for n in sizes:
        summary, agreed = bench(n, max(args.repeat, 1), args.seed)
        summaries.append(summary)
        ok &= agreed
    if not ok:
        print("\nFAILED: our statistics disagree with scipy or the numpy baseline (see MISMATCH lines)")
    print()
    for summary in summaries:
        print(summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
