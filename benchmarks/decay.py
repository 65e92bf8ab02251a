"""Benchmark: false alarms and detection delay of `cl_assets.lib.decay` against the fixed-drop rule.

Simulated streams: every row of a batch is correct with probability `accuracy` (0.7, 0.8, 0.9
by default), batches of `rows` rows (500, 1500, 5000), and a holdout of 20% of two batches'
rows drawn at the same accuracy. For each setting, `--reps` replications of

- a stationary stream of `--batches` (50) batches: the false alarms, counted as onsets (a batch
  at which an alarm is newly raised: the CUSUM crossing h from below, or the fixed rule failing
  after a batch that passed), their mean per stream with a 95% interval (mean +- 1.96 standard
  errors over replications), and the share of streams with at least one alarm;
- a sustained drop of `--drops` (2, 3, 5) standard errors of one batch, sqrt(p (1 - p) / rows),
  from batch `--change` + 1 on (after `--change` = 10 stationary batches), followed for
  `--after` (20) batches: the share flagged within 2 batches of the change (an alarm at the
  first or second batch of the drop), the median delay in batches (1: flagged at the first
  batch of the drop; inf: not within `--after`), and the share of streams already alarmed before
  the change (their pre-change false alarm; such a stream counts as flagged when the alarm still
  stands at the change).

The rules compared on the same simulated streams:

- cusum: `decay.standardize` and `decay.cusum` with `decay.Settings()` (or the overrides given);
- fixed: alarm when the batch's accuracy is below the holdout's minus 0.05;
- fixed+band: the same, and also below the holdout's minus 1.96 standard errors of both samples
  (what `performance_check` applies).

It checks that `decay.detect`, the list-of-dicts API, gives the same statistics and alarms as
the array path on a few replications, and exits non-zero if not.

    uv run python benchmarks/decay.py [--reps 2000] [--rows 500,1500,5000] [--accuracies 0.7,0.8,0.9]

The last two lines, over the cusum rows: `worst setting: ...` (the lowest share flagged within 2
batches of a 3-SE drop and the highest mean onsets per 50 stationary batches among the settings)
and `aim detection_within_2=<share> false_alarms_per_50=<x> met=yes|no`, the same two figures
over all settings' replications (each setting has `--reps` of them), met when the share is at
least 0.95 and the false alarms at most 1.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np

from cl_assets.lib import decay

FIXED_DROP = 0.05
BAND_Z = 1.96
AIM_DETECTION = 0.95  # share of 3-SE drops flagged within 2 batches
AIM_FALSE_ALARMS = 1.0  # onsets per 50 stationary batches
AIM_SHIFT = 3.0


@dataclass(frozen=True)
class Stream:
    rows: int
    correct: np.ndarray  # (reps, batches)
    holdout_rows: int
    holdout_correct: np.ndarray  # (reps,)


def simulate(
    rng: np.random.Generator, reps: int, rows: int, accuracy: float, batches: int, change: int, drop_se: float
) -> Stream:
    """Bernoulli rows: `batches` batches of `rows`, the accuracy lowered by `drop_se` standard
    errors of one batch from index `change` on; a holdout of 20% of two batches' rows."""
    holdout_rows = round(0.2 * 2 * rows)
    level = np.full(batches, accuracy)
    level[change:] -= drop_se * math.sqrt(accuracy * (1 - accuracy) / rows)
    return Stream(
        rows=rows,
        correct=rng.binomial(rows, level, size=(reps, batches)).astype(float),
        holdout_rows=holdout_rows,
        holdout_correct=rng.binomial(holdout_rows, accuracy, size=reps).astype(float),
    )


def cusum_alarms(stream: Stream, settings: decay.Settings) -> np.ndarray:
    rows = np.full(stream.correct.shape, float(stream.rows))
    judged = decay.standardize(
        rows, stream.correct, stream.holdout_rows, stream.holdout_correct, settings.baseline_batches
    )
    _, alarm = decay.cusum(judged["z"], judged["judged"], settings.k, settings.h)
    return alarm


def fixed_alarms(stream: Stream, band: bool) -> np.ndarray:
    accuracy = stream.correct / stream.rows
    holdout = (stream.holdout_correct / stream.holdout_rows)[:, None]
    alarm = accuracy < holdout - FIXED_DROP
    if band:
        se = np.sqrt(holdout * (1 - holdout) / stream.holdout_rows + accuracy * (1 - accuracy) / stream.rows)
        alarm &= accuracy < holdout - BAND_Z * se
    return alarm


RULES = {
    "cusum": cusum_alarms,
    "fixed": lambda stream, _settings: fixed_alarms(stream, band=False),
    "fixed+band": lambda stream, _settings: fixed_alarms(stream, band=True),
}


def false_alarms(alarm: np.ndarray) -> dict:
    count = decay.onsets(alarm).sum(axis=-1).astype(float)
    half = BAND_Z * count.std(ddof=1) / math.sqrt(len(count)) if len(count) > 1 else math.nan
    return {"mean": float(count.mean()), "half": float(half), "any": float(alarm.any(axis=-1).mean())}


def detection(alarm: np.ndarray, change: int) -> dict:
    after = alarm[:, change:]
    flagged = after.any(axis=-1)
    delay = np.where(flagged, after.argmax(axis=-1) + 1, np.inf)
    return {
        "within_2": float(after[:, :2].any(axis=-1).mean()),
        "median_delay": float(np.median(delay)),
        "pre_change": float(alarm[:, :change].any(axis=-1).mean()),
    }


def check_detect(stream: Stream, settings: decay.Settings, reps: int = 20) -> bool:
    """`decay.detect` on the first `reps` replications agrees with the array path."""
    rows = np.full(stream.correct.shape, float(stream.rows))
    judged = decay.standardize(
        rows, stream.correct, stream.holdout_rows, stream.holdout_correct, settings.baseline_batches
    )
    statistic, alarm = decay.cusum(judged["z"], judged["judged"], settings.k, settings.h)
    for r in range(min(reps, len(stream.correct))):
        batches = [
            {"batch_id": f"b{i}", "rows": stream.rows, "accuracy": c / stream.rows}
            for i, c in enumerate(stream.correct[r])
        ]
        holdout = {"rows": stream.holdout_rows, "accuracy": stream.holdout_correct[r] / stream.holdout_rows}
        steps = decay.detect(batches, holdout, settings)
        got = np.array([s.statistic for s in steps])
        if not np.allclose(got, statistic[r], rtol=1e-9, atol=1e-9) or [s.alarm for s in steps] != list(alarm[r]):
            return False
    return True


def fmt_delay(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--rows", default="500,1500,5000", help="batch sizes, comma-separated")
    parser.add_argument("--accuracies", default="0.7,0.8,0.9", help="accuracy levels, comma-separated")
    parser.add_argument("--batches", type=int, default=50, help="length of the stationary streams")
    parser.add_argument("--change", type=int, default=10, help="stationary batches before the drop")
    parser.add_argument("--after", type=int, default=20, help="batches followed after the drop")
    parser.add_argument("--drops", default="2,3,5", help="drops, in standard errors of one batch")
    parser.add_argument("--seed", type=int, default=0)
    defaults = decay.Settings()
    parser.add_argument("--shift", type=float, default=defaults.shift)
    parser.add_argument("--arl0", type=float, default=defaults.arl0)
    parser.add_argument("--baseline-batches", type=int, default=defaults.baseline_batches)
    args = parser.parse_args(argv)

    settings = decay.Settings(shift=args.shift, arl0=args.arl0, baseline_batches=args.baseline_batches)
    sizes = [int(x) for x in args.rows.split(",")]
    levels = [float(x) for x in args.accuracies.split(",")]
    drops = [float(x) for x in args.drops.split(",")]
    if AIM_SHIFT not in drops:
        drops.append(AIM_SHIFT)

    print(
        f"cusum: shift={settings.shift:g} k={settings.k:g} arl0={settings.arl0:g} h={settings.h:.4f} "
        f"baseline_batches={settings.baseline_batches} (Siegmund ARL0 at this h: "
        f"{decay.siegmund_arl0(settings.k, settings.h):.1f} batches)"
    )
    print(
        f"fixed: accuracy < holdout - {FIXED_DROP}; fixed+band: and < holdout - {BAND_Z} se of both samples. "
        f"reps={args.reps}, stationary batches={args.batches}, drop after {args.change} batches, "
        f"followed {args.after} batches, holdout = 20% of 2 batches' rows"
    )
    drop_cols = " ".join(f"{f'within2@{d:g}SE':>13}" for d in drops)
    delay_cols = " ".join(f"{f'delay@{d:g}SE':>10}" for d in drops)
    header = (
        f"{'rows':>5} {'acc':>4} {'rule':<10} {'fa/50':>6} {'95% interval':>15} {'any/50':>6} "
        f"{'ARL0':>7} {drop_cols} {delay_cols} {'pre@3SE':>7}"
    )
    print(header)
    print("-" * len(header))

    aim_detection, aim_false = [], []  # per setting, cusum
    consistent = True
    for rows in sizes:
        for accuracy in levels:
            tag = [args.seed, rows, round(accuracy * 1000)]
            stationary = simulate(
                np.random.default_rng([*tag, 0]), args.reps, rows, accuracy, args.batches, args.batches, 0.0
            )
            dropped = {
                d: simulate(
                    np.random.default_rng([*tag, 1 + j]),
                    args.reps,
                    rows,
                    accuracy,
                    args.change + args.after,
                    args.change,
                    d,
                )
                for j, d in enumerate(drops)
            }
            consistent &= check_detect(dropped[AIM_SHIFT], settings)
            for rule, alarms in RULES.items():
                fa = false_alarms(alarms(stationary, settings))
                fa50 = fa["mean"] * 50 / args.batches
                half50 = fa["half"] * 50 / args.batches
                arl = args.batches / fa["mean"] if fa["mean"] else math.inf
                det = {d: detection(alarms(stream, settings), args.change) for d, stream in dropped.items()}
                within = " ".join(f"{det[d]['within_2']:>13.3f}" for d in drops)
                delays = " ".join(f"{fmt_delay(det[d]['median_delay']):>10}" for d in drops)
                interval = f"[{max(fa50 - half50, 0.0):.3f}, {fa50 + half50:.3f}]"
                print(
                    f"{rows:>5} {accuracy:>4g} {rule:<10} {fa50:>6.3f} {interval:>15} {fa['any']:>6.3f} "
                    f"{arl:>7.0f} {within} {delays} {det[AIM_SHIFT]['pre_change']:>7.3f}"
                )
                if rule == "cusum":
                    aim_detection.append(det[AIM_SHIFT]["within_2"])
                    aim_false.append(fa50)
    print("-" * len(header))
    print(
        "fa/50: mean alarm onsets per 50 stationary batches; any/50: share of stationary streams with an alarm; "
        "ARL0: stationary batches per onset; within2@dSE: share flagged at the 1st or 2nd batch of a d-SE drop; "
        "delay@dSE: median batches to the alarm (1 = first batch of the drop); pre@3SE: share alarmed before the change"
    )
    print(f"detect() agrees with the array path: {'yes' if consistent else 'NO'}")
    worst_met = min(aim_detection) >= AIM_DETECTION and max(aim_false) <= AIM_FALSE_ALARMS
    print(
        f"worst setting: detection_within_2={min(aim_detection):.3f} false_alarms_per_50={max(aim_false):.3f} "
        f"met={'yes' if worst_met else 'no'}"
    )
    detection_all, false_all = float(np.mean(aim_detection)), float(np.mean(aim_false))
    met = detection_all >= AIM_DETECTION and false_all <= AIM_FALSE_ALARMS
    print(
        f"aim detection_within_2={detection_all:.3f} false_alarms_per_50={false_all:.3f} met={'yes' if met else 'no'}"
    )
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
