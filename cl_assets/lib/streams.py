"""Generated streams with known change points, one per kind of change a retrain policy meets.

Each stream is seeded and deterministic: batch `b` depends only on (seed, b). Rows carry an id,
an event time, six numeric features, a categorical `segment` (the slice) and the label `y`, whose
probability is a logistic function of the features (with a curved term and an interaction, so a
tree model has something to learn and more rows help). The kinds:

- `stationary`: one concept throughout (what a policy should not retrain much on);
- `abrupt_concept`: at `change`, P(y | x) flips the direction of three effects; no feature moves;
- `gradual_concept`: from `change` on, the effects turn towards the other concept over `span` batches;
- `covariate_shift`: at `change`, three features move; P(y | x) is unchanged;
- `label_prior`: at `change`, the base rate of y rises (the same feature effects);
- `recurring`: the two concepts take turns every `period` batches from `change` on.

`cl backtest` replays them from a file (`benchmarks/policies.py` writes each to CSV).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from cl_assets.lib.dataset import DatasetSpec

KINDS = ("stationary", "abrupt_concept", "gradual_concept", "covariate_shift", "label_prior", "recurring")
NUMERIC = ["x1", "x2", "x3", "x4", "x5", "x6"]
SEGMENTS = ["a", "b", "c"]
START = datetime(2026, 1, 1, 12, 0)
# the two concepts: coefficients of x1..x6, the curved term x2^2, the interaction x3*x4, and the segments
CONCEPT_A = {"linear": [1.2, -0.8, 0.9, 0.0, 0.6, -0.5], "curve": 0.5, "interaction": 0.7, "segment": [0.0, 0.4, -0.4]}
CONCEPT_B = {
    "linear": [-1.2, -0.8, -0.9, 0.0, 0.6, 0.5],
    "curve": 0.5,
    "interaction": -0.7,
    "segment": [0.0, -0.4, 0.4],
}


@dataclass(frozen=True)
class Stream:
    kind: str
    batches: int = 30
    rows: int = 1500
    change: int = 10  # the first batch of the change
    span: int = 12  # gradual_concept: batches over which the concept turns
    period: int = 8  # recurring: batches per concept
    seed: int = 0
    name: str = field(default="")

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown stream kind '{self.kind}': one of {', '.join(KINDS)}")
        if not 0 < self.change < self.batches or self.rows < 1 or self.span < 1 or self.period < 1:
            raise ValueError("a stream needs 0 < change < batches, rows >= 1, span >= 1 and period >= 1")

    @property
    def label(self) -> str:
        return self.name or self.kind

    def mix(self, batch: int) -> float:
        """How far batch `batch` is from concept A (0) towards concept B (1)."""
        if batch < self.change or self.kind not in ("abrupt_concept", "gradual_concept", "recurring"):
            return 0.0
        if self.kind == "abrupt_concept":
            return 1.0
        if self.kind == "gradual_concept":
            return min(1.0, (batch - self.change + 1) / self.span)
        return float(((batch - self.change) // self.period) % 2 == 0)

    def frame(self) -> pd.DataFrame:
        """The whole stream as one table, in time order (what `cl backtest FILE` reads)."""
        return pd.concat([self.batch(b) for b in range(self.batches)], ignore_index=True)

    def batch(self, batch: int) -> pd.DataFrame:
        rng = np.random.default_rng([self.seed, batch, KINDS.index(self.kind)])
        shifted = self.kind == "covariate_shift" and batch >= self.change
        means = np.array([0.8, -0.6, 0.7, 0, 0, 0]) if shifted else np.zeros(len(NUMERIC))
        x = rng.normal(means, 1.0, (self.rows, len(NUMERIC)))
        segment = rng.choice(len(SEGMENTS), self.rows, p=[0.5, 0.3, 0.2])
        w = self.mix(batch)
        a, b = CONCEPT_A, CONCEPT_B

        def blend(key: str) -> np.ndarray:
            return (1 - w) * np.asarray(a[key], dtype=float) + w * np.asarray(b[key], dtype=float)

        intercept = 1.2 if self.kind == "label_prior" and batch >= self.change else 0.0
        logit = (
            intercept
            + x @ blend("linear")
            + blend("curve") * (x[:, 1] ** 2 - 1)
            + blend("interaction") * x[:, 2] * x[:, 3]
            + blend("segment")[segment]
        )
        y = (rng.random(self.rows) < 1 / (1 + np.exp(-logit))).astype(int)
        seconds = np.sort(rng.integers(0, 86_400, self.rows))
        out = pd.DataFrame(x.round(4), columns=NUMERIC)
        out.insert(0, "time", pd.Timestamp(START + timedelta(days=batch)) + pd.to_timedelta(seconds, unit="s"))
        out.insert(0, "id", batch * 1_000_000 + np.arange(self.rows))
        out["segment"] = np.asarray(SEGMENTS)[segment]
        out["y"] = y
        return out

    def spec(self) -> DatasetSpec:
        return DatasetSpec(
            name=self.label,
            target="y",
            id_column="id",
            time_column="time",
            slice_column="segment",
            numeric=list(NUMERIC),
            categorical=["segment"],
        )
