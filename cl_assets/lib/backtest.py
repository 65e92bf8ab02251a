"""Policy backtests: one history replayed under several retrain policies, compared side by side.

Each policy is also compared with a baseline policy batch by batch: the mean of the paired
accuracy differences, its standard error and a 95% confidence interval (Student's t over the
batches both scored), and its share of the baseline's retrains. The pairing removes what the
batches have in common (a hard year is hard for every policy), yet on a few dozen batches the
interval is still about a point wide: a difference of half a point between two policies on one
history is within noise, and the interval says so.

The interval treats each replay's models as given, yet they are one draw among many: another
seed gives other holdouts, searches and fits, and under a sudden drift one set of parameters
can score ten points below another on the same batch. A backtest under several seeds
(`combine`) averages each batch over them and reports the gap under each seed beside it.
"""

from __future__ import annotations

import io

from scipy import stats


def summarize(played: dict) -> dict:
    """Mean prequential accuracy / ROC AUC and retrains of one replay, with the per-batch series."""
    summary = played["summary"]
    return {
        "mean_accuracy": summary["mean_accuracy"],
        "mean_roc_auc": summary["mean_roc_auc"],
        "retrains": summary["retrains"],
        "batches": summary["batches"],
        "elapsed_s": summary["elapsed_s"],
        "accuracy": [b["metrics"]["accuracy"] if b["metrics"] else None for b in played["batches"]],
        "roc_auc": [b["metrics"]["roc_auc"] if b["metrics"] else None for b in played["batches"]],
        "retrained_at": [i for i, b in enumerate(played["batches"]) if b["retrain_triggered"]],
    }


def combine(by_seed: dict[int, dict]) -> dict:
    """One policy replayed under several seeds (each a `summarize`), as one result: per batch the
    mean over the seeds, the means of their means, their mean number of retrains, the batches any
    of them retrained at, and every seed's own result under `by_seed`. One seed: its result as is."""
    if len(by_seed) == 1:
        return next(iter(by_seed.values()))
    runs = list(by_seed.values())

    def mean(values) -> float | None:
        values = list(values)
        return None if any(v is None for v in values) else sum(values) / len(values)

    return {
        "mean_accuracy": mean(r["mean_accuracy"] for r in runs),
        "mean_roc_auc": mean(r["mean_roc_auc"] for r in runs),
        "retrains": mean(r["retrains"] for r in runs),
        "batches": runs[0]["batches"],
        "elapsed_s": sum(r["elapsed_s"] for r in runs),
        "accuracy": [mean(batch) for batch in zip(*(r["accuracy"] for r in runs), strict=True)],
        "roc_auc": [mean(batch) for batch in zip(*(r["roc_auc"] for r in runs), strict=True)],
        "retrained_at": sorted(set().union(*(r["retrained_at"] for r in runs))),
        "by_seed": {str(seed): r for seed, r in by_seed.items()},
    }


def versus(result: dict, baseline: dict, name: str) -> dict:
    """`result` against `baseline` (named `name`): the paired accuracy gap in accuracy points,
    with its standard error and 95% interval, and the share of the baseline's retrains."""
    pairs = [
        (a, b) for a, b in zip(result["accuracy"], baseline["accuracy"], strict=True) if a is not None and b is not None
    ]
    gaps = [100 * (a - b) for a, b in pairs]
    n = len(gaps)
    mean = sum(gaps) / n if n else None
    se = float(stats.sem(gaps)) if n > 1 else None
    half = float(stats.t.ppf(0.975, n - 1)) * se if se is not None else None
    compared = {
        "baseline": name,
        "batches": n,
        "accuracy_gap_points": mean,
        "se_points": se,
        "ci95_points": [mean - half, mean + half] if half is not None else None,
        "retrain_share": result["retrains"] / baseline["retrains"] if baseline["retrains"] else None,
    }
    seeds, baseline_seeds = result.get("by_seed", {}), baseline.get("by_seed", {})
    if seeds and seeds.keys() == baseline_seeds.keys():  # each seed's gap, paired with the baseline's same seed
        compared["gap_by_seed_points"] = {
            seed: versus(seeds[seed], baseline_seeds[seed], name)["accuracy_gap_points"] for seed in seeds
        }
    return compared


def compare(results: dict[str, dict], baseline: str) -> dict[str, dict]:
    """Every result with its `vs_baseline` comparison added (the baseline's own is a zero gap)."""
    if baseline not in results:
        raise ValueError(f"baseline policy '{baseline}' is not among the policies: {', '.join(results)}")
    return {name: {**r, "vs_baseline": versus(r, results[baseline], baseline)} for name, r in results.items()}


FIXED = "fixed:"  # the naive policies' labels: fixed:K:ROWS


def best_fixed(results: dict[str, dict]) -> dict[str, dict]:
    """Every result that is not a fixed policy with `vs_best_fixed` added: the fixed:K:ROWS policy
    (a cron job) with the highest mean accuracy among those that retrained no more often, and the
    paired gap against it (None when no fixed policy ran that cheaply)."""
    fixed = {n: r for n, r in results.items() if n.startswith(FIXED) and r["mean_accuracy"] is not None}
    out = {}
    for name, result in results.items():
        if name.startswith(FIXED) or not fixed:
            out[name] = result
            continue
        cheaper = {n: r for n, r in fixed.items() if r["retrains"] <= result["retrains"]}
        rival = max(cheaper, key=lambda n: cheaper[n]["mean_accuracy"]) if cheaper else None
        out[name] = {
            **result,
            "vs_best_fixed": None
            if rival is None
            else {**versus(result, fixed[rival], rival), "mean_accuracy": fixed[rival]["mean_accuracy"]},
        }
    return out


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def _seed_count(results: dict[str, dict]) -> int:
    """The seeds the policies were replayed under, 0 when one (results without `by_seed`)."""
    return max((len(r.get("by_seed", {})) for r in results.values()), default=0)


def _retrains(count: float) -> str:
    """A replay's retrains, or their mean over seeds (one decimal when it is not whole)."""
    return f"{count:g}" if float(count).is_integer() else f"{count:.1f}"


def _versus(r: dict, seeds: bool) -> str:
    v = r.get("vs_baseline")
    if not v or v["accuracy_gap_points"] is None:
        return ""
    interval = f"[{v['ci95_points'][0]:+.2f}, {v['ci95_points'][1]:+.2f}]" if v["ci95_points"] else "—"
    share = "—" if v["retrain_share"] is None else f"{v['retrain_share']:.0%}"
    text = f" {v['accuracy_gap_points']:>+9.2f} {interval:>16} {share:>7}"
    if seeds:
        gaps = [g for g in v.get("gap_by_seed_points", {}).values() if g is not None]
        text += f" {f'[{min(gaps):+.2f}, {max(gaps):+.2f}]' if gaps else '—':>16}"
    return text


def table(results: dict[str, dict]) -> str:
    """One row per policy; with a baseline, its paired gap in points, 95% interval and retrain share,
    and with several seeds, the range of the gaps the seeds gave one by one."""
    width = max([14, *map(len, results)])  # `auto:NAME=VALUE` labels are long
    head = f"{'policy':<{width}} {'mean accuracy':>14} {'mean ROC AUC':>13} {'retrains':>9}"
    baseline = next((r["vs_baseline"]["baseline"] for r in results.values() if r.get("vs_baseline")), None)
    seeds = _seed_count(results)
    if baseline:
        head += f" {'gap (pt)':>9} {'95% interval':>16} {'share':>7}"
        if seeds:
            head += f" {'seed by seed':>16}"
    rows = [
        f"{name:<{width}} {_fmt(r['mean_accuracy']):>14} {_fmt(r['mean_roc_auc']):>13} {_retrains(r['retrains']):>9}"
        + _versus(r, bool(seeds))
        for name, r in results.items()
    ]
    foot = []
    for name, r in results.items():
        if "vs_best_fixed" not in r:
            continue
        v = r["vs_best_fixed"]
        if v is None:
            foot.append(f"{name}: no fixed policy retrained as rarely ({_retrains(r['retrains'])} retrains)")
        else:
            share = "—" if v["retrain_share"] is None else f"{v['retrain_share']:.0%}"
            foot.append(
                f"{name} against the best fixed policy at no more retrains, {v['baseline']} "
                f"({_fmt(v['mean_accuracy'])}): {v['accuracy_gap_points']:+.2f} points, {share} of its retrains"
            )
    if seeds:
        foot.append(f"each policy replayed under {seeds} seeds: per batch the mean over the seeds")
    if baseline:
        foot.append(f"gap, interval and share of retrains against {baseline}, batch by batch")
        if seeds:
            foot.append("seed by seed: the lowest and highest gap of one seed against the same seed of the baseline")
    return "\n".join([head, "-" * len(head), *rows, *foot])


def plot(results: dict[str, dict], title: str = "") -> bytes:
    """PNG: prequential accuracy over batches, one line per policy, retrains marked."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    fig = Figure(figsize=(10, 4.5))
    ax = fig.subplots()
    styles = ["-", "--", ":", "-."]
    for n, (name, r) in enumerate(results.items()):
        xs = [i for i, v in enumerate(r["accuracy"]) if v is not None]
        ys = [r["accuracy"][i] for i in xs]
        # policies that keep the same champions draw the same line: the styles keep each visible
        (line,) = ax.plot(
            xs,
            ys,
            linestyle=styles[n % len(styles)],
            linewidth=2.4 - 0.5 * (n % 3),
            marker=".",
            label=f"{name} ({_retrains(r['retrains'])} retrains, mean {_fmt(r['mean_accuracy'])})",
        )
        marks = [i for i in r["retrained_at"] if r["accuracy"][i] is not None]
        ax.scatter(marks, [r["accuracy"][i] for i in marks], color=line.get_color(), marker="^", s=40, zorder=3)
    seeds = _seed_count(results)
    ax.set_xlabel("batch")
    ax.set_ylabel(f"prequential accuracy{f' (mean of {seeds} seeds)' if seeds else ''}")
    marks = "triangles: retrains under any seed" if seeds else "triangles: retrains"
    ax.set_title(f"retrain policies{': ' + title if title else ''} ({marks})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()
