"""The built-in data stream: subscription renewals, with a scripted story of drift.

A seeded, deterministic generator. Batch `b` depends only on (seed, b), so a stream of any
length shares its first batches with every longer one. The story, by batch index:

- 0-4   stationary.
- 5     covariate shift: spend rises 25%, weekly sessions fall, customers are older.
        P(churn | x) is unchanged, so a retrained model need not be better.
- 8     a new category: channel 'app' appears in a quarter of the rows.
- 11    label prior change: the base churn rate rises from about one half to three quarters (same feature effects).
- 14    concept drift: support calls, discounts and sessions change the direction of their
        effect. A model trained before it loses several points of accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from cl_assets.lib.dataset import DatasetSpec


@dataclass(frozen=True)
class Story:
    covariate_shift: int = 5
    new_category: int = 8
    label_prior: int = 11
    concept_drift: int = 14


STORY = Story()
DEFAULT_BATCHES = 20
DEFAULT_ROWS = 2000
DEFAULT_STREAM_SEED = 7  # `cl demo`'s stream
START = datetime(2026, 1, 28, 12, 0)  # so the monthly retrain schedule fires once, on day 4
REGIONS = ["north", "south", "east", "west"]
PLANS = ["basic", "plus", "premium"]


def spec() -> DatasetSpec:
    return DatasetSpec(
        name="subscriptions",
        target="churned",
        id_column="customer_id",
        time_column="event_time_utc",
        slice_column="region",
        numeric=["tenure_months", "monthly_spend", "support_calls", "discount_pct", "sessions_last_week", "age"],
        categorical=["region", "channel", "plan"],
    )


def batch_time(batch: int) -> datetime:
    """The simulated clock: one batch a day."""
    return START + timedelta(days=batch)


def generate_batch(
    batch: int, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_STREAM_SEED, story: Story = STORY
) -> pd.DataFrame:
    """Rows of batch `batch`, with the label column `churned`."""
    rng = np.random.default_rng([seed, batch])
    shifted = batch >= story.covariate_shift
    tenure = np.clip(rng.gamma(2.0, 14.0, rows), 1, 120).round()
    spend = rng.lognormal(np.log(55 * (1.25 if shifted else 1.0)), 0.35, rows).round(2)
    calls = rng.poisson(1.2, rows)
    discount = np.where(rng.random(rows) < 0.4, 0.0, rng.uniform(5, 30, rows)).round(1)
    sessions = rng.poisson(3.8 if shifted else 5.0, rows)
    age = np.clip(rng.normal(48 if shifted else 42, 12, rows), 18, 85).round()
    region = rng.choice(REGIONS, rows, p=[0.3, 0.25, 0.25, 0.2])
    channels, channel_p = ["web", "store", "phone"], [0.5, 0.3, 0.2]
    if batch >= story.new_category:
        channels, channel_p = [*channels, "app"], [0.375, 0.225, 0.15, 0.25]
    channel = rng.choice(channels, rows, p=channel_p)
    plan = rng.choice(PLANS, rows, p=[0.5, 0.35, 0.15])

    concept = batch >= story.concept_drift
    logit = (
        -1.0
        + (1.5 if batch >= story.label_prior else 0.0)
        - 0.035 * (tenure - 28)
        + 0.02 * (spend - 55)
        + (-0.6 if concept else 0.6) * (calls - 1.2)
        + (0.07 if concept else -0.07) * (discount - 10)
        + (0.25 if concept else -0.25) * (sessions - 5)
        + 0.01 * (age - 42)
        + pd.Series(region).map({"north": 0.0, "south": 0.3, "east": -0.3, "west": 0.5}).to_numpy()
        * (-1 if concept else 1)
        + pd.Series(channel).map({"web": 0.0, "store": -0.4, "phone": 0.3, "app": 0.6}).to_numpy()
        + pd.Series(plan).map({"basic": 0.3, "plus": 0.0, "premium": -0.5}).to_numpy()
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    seconds = np.sort(rng.integers(0, 86_400, rows))
    times = pd.Timestamp(batch_time(batch).date()) + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame(
        {
            "customer_id": batch * 100_000 + np.arange(rows),
            "event_time_utc": times,
            "tenure_months": tenure,
            "monthly_spend": spend,
            "support_calls": calls,
            "discount_pct": discount,
            "sessions_last_week": sessions,
            "age": age,
            "region": region,
            "channel": channel,
            "plan": plan,
            "churned": churned,
        }
    )
