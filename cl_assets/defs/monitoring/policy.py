"""MonitoringPolicy: when is a batch drifted, and when has the champion's realized performance decayed.

Its defaults are the lib dataclasses' (`lib.drift.Policy`, `lib.decay.Settings`): one source each."""

from enum import StrEnum

import dagster as dg
from pydantic import Field

from cl_assets.lib.decay import Settings as DecaySettings
from cl_assets.lib.drift import Policy as DriftPolicy
from cl_assets.lib.drift import Thresholds


class FeatureDrift(dg.Config):
    """Drift thresholds of one feature, overriding MonitoringPolicy's defaults where set."""

    alpha: float | None = Field(default=None, description="Significance level for this feature.")
    psi_threshold: float | None = Field(default=None, description="Minimum PSI for this feature.")
    band_k: float | None = Field(default=None, description="Data-derived band width for this feature (0: off).")
    skip: bool = Field(default=False, description="Do not test this feature at all.")


_DECAY = DecaySettings()  # the decay detector's defaults
_DRIFT = DriftPolicy()  # the drift tests' defaults


class DecayDetector(StrEnum):
    CUSUM = "cusum"
    FIXED = "fixed"


class MonitoringPolicy(dg.ConfigurableResource):
    """When is a batch drifted, and when has the champion's realized performance decayed?"""

    alpha: float = Field(
        default=_DRIFT.default.alpha, description="Family-wise significance level, Bonferroni-corrected over tests."
    )
    psi_threshold: float = Field(
        default=_DRIFT.default.psi, description="Minimum PSI for a significant shift to count as drift."
    )
    band_k: float = Field(
        default=_DRIFT.default.band_k,
        description="If > 0, PSI must also exceed mean + band_k * sd of the PSI between chunks of the "
        "reference and the whole reference (a data-derived band).",
    )
    feature_overrides: dict[str, FeatureDrift] = Field(
        default_factory=dict, description="Per-feature thresholds, by feature name (or __prediction_score__)."
    )
    multivariate: bool = Field(
        default=_DRIFT.multivariate, description="Run the whole-table test (a domain classifier)."
    )
    domain_auc_threshold: float = Field(
        default=_DRIFT.domain_auc,
        description="Out-of-fold ROC AUC at which reference and batch rows count as told apart.",
    )
    low_confidence_margin: float = Field(
        default=_DRIFT.low_confidence_margin, description="Scores within this of 0.5 are low-confidence."
    )
    low_confidence_increase: float = Field(
        default=_DRIFT.low_confidence_increase,
        description="Drift when the low-confidence share grows by this much over the reference's.",
    )
    decay_detector: DecayDetector = Field(
        default=DecayDetector.CUSUM,
        description="performance_check's rule. cusum: a sequential change detector on the champion's realized "
        "accuracy against its own baseline (lib/decay.py; the holdout only until realized batches exist), sample-"
        "size aware; fixed: accuracy or ROC AUC more than max_accuracy_drop / max_auc_drop below the holdout's and "
        "outside its band (benchmarks/decay.py: it misses 3-SE drops on large batches and cries wolf on small ones).",
    )
    decay_shift: float = Field(
        default=_DECAY.shift,
        gt=0,
        description="cusum: the sustained drop, in standard errors of a batch's accuracy, to flag fast (within "
        "two labeled batches; the reference value is half of it).",
    )
    decay_arl0: float = Field(
        default=_DECAY.arl0,
        description="cusum: the mean number of labeled batches between false alarms wanted on a stationary stream "
        "(sets the threshold, by Siegmund's approximation).",
    )
    decay_baseline_batches: int = Field(
        default=_DECAY.baseline_batches,
        ge=1,
        description="cusum: the champion's first this many labeled batches make its baseline (pooled, growing "
        "until then, never containing the batch judged); the holdout is the baseline until the first arrives.",
    )
    max_accuracy_drop: float = Field(
        default=0.05,
        description="fixed: realized accuracy may fall this far below the champion's holdout accuracy.",
    )
    max_auc_drop: float = Field(
        default=0.05, description="fixed: realized ROC AUC may fall this far below the champion's holdout ROC AUC."
    )
    refit: bool = Field(
        default=True,
        description="refit_impact fits the candidate windows with the champion's parameters on every labeled "
        "batch (eight fits at most: two for the batch alone, one per other window; lib/windows.py). False: it records 'not refitted' and refit_check passes, for "
        "very large batches or while retraining when it pays is not wanted.",
    )
    band_z: float = Field(
        default=1.96,
        description="Width, in standard errors, of the uncertainty band around the champion's reference "
        "accuracy: a drop inside the band is not concept drift, however large.",
    )

    def decay_settings(self) -> DecaySettings:
        return DecaySettings(shift=self.decay_shift, arl0=self.decay_arl0, baseline_batches=self.decay_baseline_batches)

    def drift_policy(self) -> DriftPolicy:
        default = Thresholds(alpha=self.alpha, psi=self.psi_threshold, band_k=self.band_k)
        overrides = {
            name: Thresholds(
                alpha=default.alpha if o.alpha is None else o.alpha,
                psi=default.psi if o.psi_threshold is None else o.psi_threshold,
                band_k=default.band_k if o.band_k is None else o.band_k,
                skip=o.skip,
            )
            for name, o in self.feature_overrides.items()
        }
        return DriftPolicy(
            default=default,
            overrides=overrides,
            domain_auc=self.domain_auc_threshold,
            low_confidence_margin=self.low_confidence_margin,
            low_confidence_increase=self.low_confidence_increase,
            multivariate=self.multivariate,
        )
