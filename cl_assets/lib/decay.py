"""Decay of a deployed model's realized accuracy against its own baseline: a one-sided CUSUM.

A fixed rule ("alarm when the batch's accuracy is 5 points below the holdout's") ignores how
much a batch can say. On a batch of 5000 rows at 80% accuracy one standard error is 0.57
points, so a 4-point fall from the level the champion actually reached in production is a
7-SE drop the rule never sees; on a batch of 200 rows against a holdout of 200 a 5-point gap is
1.25 standard errors of the difference, noise the rule reports about one batch in ten. Comparing
with the holdout alone is a second error: the realized level of a champion often differs from
its holdout figure (another population, another label delay), and every batch is then judged
against the wrong level.

This detector judges each labeled batch of the champion, in order since its promotion:

- Baseline. The pooled accuracy (correct rows / rows) of the first `baseline_batches` labeled
  batches since promotion that came *before* the batch judged, or, while there are none, the
  holdout's. The judged batch is never part of its own baseline. Until `baseline_batches`
  batches arrived the baseline grows with every batch (the self-starting scheme); then it is
  frozen, so a later decay is not absorbed into the level it is compared with.
- Standardized drop. z_i = (baseline - a_i) / se_i with
  se_i = sqrt(p (1 - p) (1 / n_i + 1 / n_base)), p the baseline accuracy clipped into
  [0.01, 0.99], n_i the batch's rows and n_base the baseline's. Both samples' sampling errors
  are in the band, so a small holdout or a small batch gives a wide one: this is what makes the
  detector sample-size aware. While the baseline grows, the z_i are uncorrelated on a
  stationary stream (each batch against the pool of all before it: recursive residuals), so the
  threshold below holds even though the baseline is estimated; once it is frozen they share its
  error (correlation n_i / (n_i + n_base), about 1 / (baseline_batches + 1) for equal batches).
- CUSUM. S_0 = 0, S_i = max(0, S_{i-1} + z_i - k) with k = shift / 2, `shift` the drop (in
  standard errors of the comparison) to detect fast. Alarm while S_i >= h. The statistic keeps
  accumulating after an alarm (no reset): the caller starts again from a new champion. A batch
  with no rows, and the first batch when the holdout has no rows (it becomes the baseline), is
  not judged: z = 0 and S carries over unchanged.
- Threshold. h is solved from `arl0`, the mean number of batches between false alarms wanted
  on a stationary stream, with Siegmund's approximation for a normal CUSUM:
  ARL0 ~ (exp(2 k b) - 2 k b - 1) / (2 k^2), b = h + 1.166 (`threshold`).

The defaults (shift 2, arl0 70, baseline_batches 10: k = 1, h = 1.326) were chosen with
`benchmarks/decay.py` (seed 0, 2000 replications per setting) on simulated streams: Bernoulli
rows at accuracy 0.7, 0.8 and 0.9, batches of 500, 1500 and 5000 rows, a holdout of 20% of
two batches' rows, a drop after 10 stationary batches. Over the nine settings:

- a sustained drop of 3 standard errors of one batch is flagged at the first or second batch
  of the drop in 95.5% of replications (median delay 1 batch; 2 SE: 69.7%, median 2; 5 SE: all);
- a stationary stream raises 0.88 alarms (onsets: S crossing h from below) per 50 batches.

Per setting these range over 93.9% to 96.4% and 0.81 to 1.01: at accuracy 0.9 on batches of
500 and 1500 rows 93.9% and 94.7% are flagged (the drop there also widens the spread of the batch's
accuracy), and no shift from 1.5 to 3 with arl0 from 40 to 90 reached both aims in those two
settings. The fixed 5-point rule on the same streams: 1.9 to 2.6 false alarms per 50 batches of
500 rows at accuracy 0.7 and 0.8, and at most 1.3% of 3-SE drops flagged within two batches of
5000 rows.

A baseline of 3 batches cannot reach both aims: the two batches after a 3-SE drop against a
baseline of 3 batches differ from it by 3.29 sd (sd sqrt(1/2 + 1/3) SE), so flagging 95% of
them needs a threshold 1.65 sd lower, which a stationary stream crosses in about 5% of its
batches (measured: shift 3, arl0 200 flags 78.7%; shift 2, arl0 70 flags 89.2%). With 10 the
comparison is 3.87 sd and the aims hold. A drop before the baseline is complete is compared
with a shorter baseline and flagged less often (after 5 batches: 90.8% within two batches).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

HOLDOUT = "holdout"  # the batch was judged against the champion's holdout (no realized batch before it)
REALIZED = "realized"  # against the pool of the first realized batches before it
NONE = "none"  # not judged: no baseline yet (the holdout has no rows and this is the first batch)
SIEGMUND_CORRECTION = 1.166  # 2 * 0.583, Siegmund's correction of the threshold for the overshoot
P_CLIP = (0.01, 0.99)  # the baseline accuracy used in the standard error, away from 0 and 1
_SOURCE = {0: NONE, 1: HOLDOUT, 2: REALIZED}


def siegmund_arl0(k: float, h: float) -> float:
    """Mean run length of a one-sided normal CUSUM (reference value `k`, threshold `h`) on an
    in-control stream of independent N(0, 1) increments, by Siegmund's approximation:
    (exp(2 k b) - 2 k b - 1) / (2 k^2) with b = h + 1.166."""
    if k <= 0:
        raise ValueError(f"k must be positive, not {k}")
    b = h + SIEGMUND_CORRECTION
    return (math.expm1(2 * k * b) - 2 * k * b) / (2 * k * k)


@lru_cache(maxsize=256)
def threshold(k: float, arl0: float) -> float:
    """The CUSUM threshold h at which `siegmund_arl0(k, h)` equals `arl0`, solved with brentq.

    Raises ValueError when `arl0` is not above the run length at h = 0 (no threshold reaches
    a run length that short): ask for a longer one or a smaller k."""
    floor = siegmund_arl0(k, 0.0)
    if not arl0 > floor:
        raise ValueError(f"arl0 {arl0} is not above {floor:.3g}, the run length at h = 0 with k = {k}")
    high = 1.0
    while siegmund_arl0(k, high) < arl0:
        high *= 2
    return float(brentq(lambda h: siegmund_arl0(k, h) - arl0, 0.0, high, xtol=1e-10))


@dataclass(frozen=True)
class Settings:
    """The detector's configuration."""

    shift: float = 2.0  # drop, in standard errors, to flag fast (k = shift / 2)
    arl0: float = 70.0  # target mean batches between false alarms on a stationary stream (sets h)
    baseline_batches: int = 10  # realized batches pooled into the baseline, then frozen

    def __post_init__(self) -> None:
        if not self.shift > 0:
            raise ValueError(f"shift must be positive, not {self.shift}")
        if self.baseline_batches < 1:
            raise ValueError(f"baseline_batches must be at least 1, not {self.baseline_batches}")
        threshold(self.k, float(self.arl0))  # raises for an arl0 too short for this shift

    @property
    def k(self) -> float:
        """The CUSUM's reference value: half the shift to detect."""
        return self.shift / 2

    @property
    def h(self) -> float:
        """The CUSUM's threshold, from `arl0` by Siegmund's approximation."""
        return threshold(self.k, float(self.arl0))


@dataclass(frozen=True)
class Step:
    """One batch judged: its accuracy, the baseline it was compared with, and the CUSUM after it."""

    batch_id: str
    rows: int
    accuracy: float  # NaN for a batch without rows
    baseline_accuracy: float  # NaN when there is no baseline yet
    baseline_rows: int
    baseline: str  # 'holdout' | 'realized' | 'none' (not judged: no baseline yet)
    z: float  # the standardized drop; 0 for a batch not judged
    statistic: float  # S after this batch
    threshold: float  # h
    alarm: bool  # statistic >= threshold

    def as_dict(self) -> dict:
        """The step as a table row: NaN becomes None (SQL NULL)."""
        row = asdict(self)
        return {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}


def standardize(
    rows: np.ndarray,
    correct: np.ndarray,
    holdout_rows: np.ndarray | float,
    holdout_correct: np.ndarray | float,
    baseline_batches: int,
) -> dict[str, np.ndarray]:
    """Baselines and standardized drops of many streams at once (the last axis is time).

    `rows` and `correct` hold each batch's rows and correct rows, shape (..., batches);
    `holdout_rows` and `holdout_correct` broadcast against the leading axes. Returns arrays of
    shape (..., batches): `baseline_rows`, `baseline_accuracy` (NaN without a baseline),
    `source` (0 none, 1 holdout, 2 realized), `judged` (the batch has rows and a baseline),
    `accuracy` (NaN without rows) and `z` (0 where not judged)."""
    rows = np.asarray(rows, dtype=float)
    correct = np.asarray(correct, dtype=float)
    rows, correct = np.broadcast_arrays(rows, correct)
    lead = rows.shape[:-1]
    holdout_rows = np.broadcast_to(np.asarray(holdout_rows, dtype=float), lead)[..., None]
    holdout_correct = np.broadcast_to(np.asarray(holdout_correct, dtype=float), lead)[..., None]

    has_rows = rows > 0
    earlier = np.cumsum(has_rows, axis=-1) - has_rows  # batches with rows before this one
    pooled = has_rows & (earlier < baseline_batches)  # the batches that make the frozen baseline
    realized_rows = np.cumsum(np.where(pooled, rows, 0.0), axis=-1) - np.where(pooled, rows, 0.0)
    realized_correct = np.cumsum(np.where(pooled, correct, 0.0), axis=-1) - np.where(pooled, correct, 0.0)
    realized = realized_rows > 0
    use_holdout = ~realized & (holdout_rows > 0)
    base_rows = np.where(realized, realized_rows, np.where(use_holdout, holdout_rows, 0.0))
    base_correct = np.where(realized, realized_correct, np.where(use_holdout, holdout_correct, 0.0))
    source = np.where(realized, 2, np.where(use_holdout, 1, 0))
    has_base = base_rows > 0
    judged = has_rows & has_base

    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(has_rows, correct / np.where(has_rows, rows, 1.0), np.nan)
        base_accuracy = np.where(has_base, base_correct / np.where(has_base, base_rows, 1.0), np.nan)
        p = np.clip(np.where(has_base, base_accuracy, 0.5), *P_CLIP)
        se = np.sqrt(p * (1 - p) * (1 / np.where(has_rows, rows, 1.0) + 1 / np.where(has_base, base_rows, 1.0)))
        z = np.where(judged, (base_accuracy - accuracy) / se, 0.0)
    return {
        "baseline_rows": base_rows,
        "baseline_accuracy": base_accuracy,
        "source": source,
        "judged": judged,
        "accuracy": accuracy,
        "z": z,
    }


def cusum(z: np.ndarray, judged: np.ndarray, k: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """The one-sided CUSUM S_i = max(0, S_{i-1} + z_i - k) along the last axis, from S_0 = 0,
    carried over unchanged where a batch is not judged; returns the statistic and the alarms
    (S_i >= h), both shaped as `z`. No reset after an alarm."""
    z = np.asarray(z, dtype=float)
    judged = np.broadcast_to(np.asarray(judged, dtype=bool), z.shape)
    statistic = np.empty_like(z)
    s = np.zeros(z.shape[:-1])
    for i in range(z.shape[-1]):
        s = np.where(judged[..., i], np.maximum(0.0, s + z[..., i] - k), s)
        statistic[..., i] = s
    return statistic, statistic >= h


def onsets(alarms: np.ndarray) -> np.ndarray:
    """Where an alarm is newly raised along the last axis: on now, off at the batch before (or
    the first batch)."""
    alarms = np.asarray(alarms, dtype=bool)
    before = np.concatenate([np.zeros_like(alarms[..., :1]), alarms[..., :-1]], axis=-1)
    return alarms & ~before


def _accuracy(value, rows: int, what: str) -> float:
    if rows == 0:
        return math.nan  # nothing was measured, whatever the field says
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what}: accuracy {value} is not in [0, 1]")
    return value


def detect(batches: list[dict], holdout: dict, settings: Settings = Settings()) -> list[Step]:
    """Judge the champion's labeled batches since its promotion, in the order given.

    Each batch has `batch_id`, `rows` and `accuracy` (may be None when rows is 0); `holdout`
    has `rows` and `accuracy`, the champion's figures at training time. Returns one `Step` per
    batch. Raises ValueError for negative rows or an accuracy outside [0, 1]."""
    ids = [str(batch["batch_id"]) for batch in batches]
    rows = [int(batch["rows"]) for batch in batches]
    if any(n < 0 for n in rows) or int(holdout["rows"]) < 0:
        raise ValueError("rows must not be negative")
    accuracy = [_accuracy(b["accuracy"], n, f"batch {i!r}") for b, n, i in zip(batches, rows, ids, strict=True)]
    holdout_rows = int(holdout["rows"])
    holdout_accuracy = _accuracy(holdout.get("accuracy"), holdout_rows, "holdout")
    n = np.asarray(rows, dtype=float)
    correct = np.where(n > 0, n * np.nan_to_num(np.asarray(accuracy, dtype=float)), 0.0)
    holdout_correct = holdout_rows * holdout_accuracy if holdout_rows else 0.0
    judged = standardize(n, correct, holdout_rows, holdout_correct, settings.baseline_batches)
    h = settings.h
    statistic, alarm = cusum(judged["z"], judged["judged"], settings.k, h)
    return [
        Step(
            batch_id=ids[i],
            rows=rows[i],
            accuracy=accuracy[i],
            baseline_accuracy=float(judged["baseline_accuracy"][i]),
            baseline_rows=int(round(judged["baseline_rows"][i])),
            baseline=_SOURCE[int(judged["source"][i])],
            z=float(judged["z"][i]),
            statistic=float(statistic[i]),
            threshold=h,
            alarm=bool(alarm[i]),
        )
        for i in range(len(batches))
    ]
