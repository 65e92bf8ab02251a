"""MonitoringPolicy as a user configures it: per-feature overrides reach every drift test."""

import numpy as np
import pandas as pd

from cl_assets.defs.monitoring.policy import FeatureDrift, MonitoringPolicy
from cl_assets.lib import drift, reference


def test_feature_overrides_fill_in_the_defaults_they_leave_unset():
    policy = MonitoringPolicy(
        alpha=0.02,
        psi_threshold=0.15,
        band_k=1.0,
        feature_overrides={"age": FeatureDrift(psi_threshold=0.3), "plan": FeatureDrift(skip=True)},
    ).drift_policy()
    assert policy.for_feature("age") == drift.Thresholds(alpha=0.02, psi=0.3, band_k=1.0, skip=False)
    assert policy.for_feature("plan").skip
    assert policy.for_feature("other") == drift.Thresholds(alpha=0.02, psi=0.15, band_k=1.0)


def _frames(seed: int = 4, n: int = 1500):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"steady": rng.normal(0, 1, n), "moved": rng.normal(0, 1, n), "score": rng.random(n)})
    cur = pd.DataFrame({"steady": rng.normal(0, 1, n), "moved": rng.normal(1.5, 1, n), "score": rng.random(n)})
    return ref, cur


def test_a_skipped_feature_is_left_out_of_the_whole_table_test_too():
    ref, cur = _frames()
    profiles = reference.build(ref, ["steady", "moved"], [], "score", None)

    def table(policy: drift.Policy) -> dict:
        frame = drift.compare(
            profiles,
            cur,
            policy,
            reference_sample=ref,
            numeric=["steady", "moved"],
            categorical=[],
            score_column="score",
        )
        return frame.set_index("feature").loc[drift.TABLE]

    seen = table(drift.Policy())
    skipped = table(drift.Policy(overrides={"moved": drift.Thresholds(skip=True)}))
    assert seen["drifted"] and seen["statistic"] > 0.75
    assert not skipped["drifted"] and skipped["statistic"] < 0.6
