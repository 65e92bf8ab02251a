"""Typed resources: where the data lives and the policies the loop runs under."""

from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

import dagster as dg
from pydantic import Field

from cl_assets.lib import landing, registry, scenario, warehouse
from cl_assets.lib.alerting import AlertPolicy
from cl_assets.lib.contracts import BadFile
from cl_assets.lib.dataset import DatasetSpec
from cl_assets.lib.decay import Settings as DecaySettings
from cl_assets.lib.drift import Policy as DriftPolicy
from cl_assets.lib.drift import Thresholds
from cl_assets.lib.expectations import load_suite
from cl_assets.lib.gate import GateRules
from cl_assets.settings import PROJECT_ROOT, SEED_ENV, THREADS_ENV, resolved_threads

LANDING_FORMATS = (".csv", ".parquet")


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file that holds every table of the loop. Connections are short-lived."""

    path: str = Field(description="Path of the DuckDB database file.")

    @contextmanager
    def connect(self, read_only: bool = False):
        with warehouse.connect(self.path, read_only=read_only) as con:
            yield con


class Landing(dg.ConfigurableResource):
    """The folder new files land in: `batches/<batch_id>.csv|parquet` and `labels/<batch_id>.*`."""

    path: str = Field(description="Landing folder watched by the landing sensor.")
    max_file_mb: float = Field(default=256, description="Files larger than this are quarantined unread.")
    future_tolerance_hours: float = Field(
        default=24, description="Event times may lie this far after the file's arrival; later ones are in the future."
    )
    out_of_order_days: float = Field(
        default=30, description="Event times may lie this far before the newest accepted event time."
    )

    def folder(self, kind: str) -> Path:
        return Path(self.path) / kind

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def file_for(self, kind: str, batch_id: str) -> Path:
        """The landed file of a batch; a batch id that would leave the folder is refused."""
        if not landing.BATCH_ID.match(batch_id):
            raise BadFile(
                "path_in_landing_folder",
                f"batch id '{batch_id}' is not a plain file name (letters, digits, '_', '-', '.'): "
                "it could point outside the landing folder",
            )
        for ext in LANDING_FORMATS:
            candidate = self.folder(kind) / f"{batch_id}{ext}"
            if candidate.exists() or candidate.is_symlink():
                return candidate
        raise BadFile("file_present", f"no {kind} file for batch '{batch_id}' in {self.folder(kind)}")


class Dataset(dg.ConfigurableResource):
    """Column roles of the data being learned, and where its expectation suites are kept.

    Without a dataset file the built-in scenario is used, with the suites in `expectations/`.
    """

    spec_path: str = Field(description="dataset.json written by `cl replay`; absent for the built-in scenario.")
    suites_dir: str = Field(description="Suites for a user's dataset; `expectations/` is the fallback.")

    def spec(self) -> DatasetSpec:
        path = Path(self.spec_path)
        return DatasetSpec.load(path) if path.is_file() else scenario.spec()

    def suite_path(self, name: str) -> Path:
        own = Path(self.suites_dir) / f"{name}.json"
        return own if own.is_file() else PROJECT_ROOT / "expectations" / f"{name}.json"

    def suite(self, name: str) -> dict:
        return load_suite(self.suite_path(name))


class Compute(dg.ConfigurableResource):
    """How the loop's model fits run: the CPU threads of the candidate's search and final fit and of
    refit_impact's two fits, and the base seed of their random draws. `cl backtest --jobs N` gives
    each replay its share of the cores; `cl backtest --seeds` replays each policy under several seeds."""

    threads: int = Field(
        default=0,
        ge=0,
        description=f"XGBoost threads of a fit (0: every core this process may run on; the {THREADS_ENV} "
        "environment variable sets it for `dagster dev`, `cl demo` and `cl replay`).",
    )
    seed: int = Field(
        default=0,
        ge=0,
        description="Added to the `seed` config of training_set (holdout draw, sampling) and candidate_model "
        "(search, validation split, XGBoost), and seeds refit_impact's fits: another base seed gives the "
        f"whole loop other draws without editing any run's config (the {SEED_ENV} environment variable sets it).",
    )

    @property
    def fit_threads(self) -> int:
        return resolved_threads(self.threads)

    def seeded(self, seed: int) -> int:
        """A run's configured `seed`, moved by this resource's base seed."""
        return seed + self.seed


class ModelRegistry(dg.ConfigurableResource):
    """MLflow's model registry on the state folder's sqlite store; models addressed by version."""

    tracking_uri: str = Field(description="MLflow tracking URI (sqlite in the state folder).")
    artifact_location: str = Field(description="Folder for MLflow artifacts (model binaries).")
    experiment_name: str = Field(default="cl_assets", description="Experiment that holds every candidate run.")
    registered_model: str = Field(default="cl_model", description="Registered model name; aliases mark the champion.")

    def ensure_experiment(self) -> str:
        return registry.ensure_experiment(self.tracking_uri, self.experiment_name, Path(self.artifact_location))

    def load(self, version: int):
        return registry.load(self.tracking_uri, self.registered_model, version)

    def set_alias(self, alias: str, version: int) -> None:
        registry.set_alias(self.tracking_uri, self.registered_model, alias, version)

    def delete_alias(self, alias: str, version: int) -> None:
        registry.delete_alias(self.tracking_uri, self.registered_model, alias, version)


class FeatureDrift(dg.Config):
    """Drift thresholds of one feature, overriding MonitoringPolicy's defaults where set."""

    alpha: float | None = Field(default=None, description="Significance level for this feature.")
    psi_threshold: float | None = Field(default=None, description="Minimum PSI for this feature.")
    band_k: float | None = Field(default=None, description="Data-derived band width for this feature (0: off).")
    skip: bool = Field(default=False, description="Do not test this feature at all.")


_DECAY = DecaySettings()  # the decay detector's defaults


class DecayDetector(StrEnum):
    CUSUM = "cusum"
    FIXED = "fixed"


class MonitoringPolicy(dg.ConfigurableResource):
    """When is a batch drifted, and when has the champion's realized performance decayed?"""

    alpha: float = Field(default=0.01, description="Family-wise significance level, Bonferroni-corrected over tests.")
    psi_threshold: float = Field(default=0.1, description="Minimum PSI for a significant shift to count as drift.")
    band_k: float = Field(
        default=0.0,
        description="If > 0, PSI must also exceed mean + band_k * sd of the PSI between chunks of the "
        "reference and the whole reference (a data-derived band).",
    )
    feature_overrides: dict[str, FeatureDrift] = Field(
        default_factory=dict, description="Per-feature thresholds, by feature name (or __prediction_score__)."
    )
    multivariate: bool = Field(default=True, description="Run the whole-table test (a domain classifier).")
    domain_auc_threshold: float = Field(
        default=0.6, description="Out-of-fold ROC AUC at which reference and batch rows count as told apart."
    )
    low_confidence_margin: float = Field(default=0.1, description="Scores within this of 0.5 are low-confidence.")
    low_confidence_increase: float = Field(
        default=0.1, description="Drift when the low-confidence share grows by this much over the reference's."
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


_ALERTS = AlertPolicy()  # the default alert-fatigue controls


class RetrainMode(StrEnum):
    AUTO = "auto"
    PERIODIC = "periodic"
    VOLUME = "volume"
    FIXED = "fixed"
    NEVER = "never"


class RetrainPolicy(dg.ConfigurableResource):
    """When a failing monitor becomes a retrain: alert-fatigue controls of the retrain sensor.

    `mode` picks the policy: `auto` (the configured triggers: failed drift and performance
    checks under the controls below, new-label volume, and the schedule), `periodic` (every
    `every_batches` labeled batches), `volume` (every `min_new_labels` labeled rows), `fixed`
    (the cron job a user would compare against: every `every_batches` labeled batches on the
    newest `window_rows` labeled rows, XGBoost with fixed parameters, no search, no gate) or
    `never` (keep the first model). The last four exist for backtests (`cl backtest`) and ignore
    the monitors and the schedule.
    """

    mode: RetrainMode = Field(default=RetrainMode.AUTO, description="auto | periodic | volume | fixed | never.")
    every_batches: int = Field(
        default=0, description="periodic, fixed: retrain once this many labeled batches arrived."
    )
    window_rows: int = Field(default=0, description="fixed: train on the newest this many labeled rows.")

    # the controls' defaults are lib.alerting's, so the state machine and the resource agree
    drift_breaches: int = Field(
        default=_ALERTS.window("drift_check")[0],
        description="Drift must fail this many of the last drift_window batches (0: it alerts, never triggers).",
    )
    drift_window: int = Field(
        default=_ALERTS.window("drift_check")[1], description="Batches over which drift_breaches are counted."
    )
    performance_breaches: int = Field(
        default=_ALERTS.window("performance_check")[0],
        description="Performance decay must fail this many of the last performance_window batches (0: off).",
    )
    performance_window: int = Field(
        default=_ALERTS.window("performance_check")[1],
        description="Batches over which performance_breaches are counted.",
    )
    refit_breaches: int = Field(
        default=_ALERTS.window("refit_check")[0],
        description="refit_check must fail this many of the last refit_window batches (0: it alerts, never triggers).",
    )
    refit_window: int = Field(
        default=_ALERTS.window("refit_check")[1], description="Batches over which refit_breaches are counted."
    )
    estimated_breaches: int = Field(
        default=_ALERTS.window("estimated_performance_check")[0],
        description="estimated_performance_check must fail this many of the last estimated_window batches to "
        "retrain before labels exist (0: it alerts, never triggers).",
    )
    estimated_window: int = Field(
        default=_ALERTS.window("estimated_performance_check")[1],
        description="Batches over which estimated_breaches are counted.",
    )
    refit_cooldown_batches: int = Field(
        default=_ALERTS.cooldown("refit_check"),
        description="No retrain by refit_check within this many batches after the last one (0: none needed: the "
        "check sums the gains since the champion's promotion, so a new champion starts from nothing).",
    )
    retrain_cost_points: float = Field(
        default=1.0,
        ge=0,
        description="The cost of one retrain, in accuracy points over one batch: refit_check fails (a retrain) "
        "once the accuracy the champion lost to a refit, summed over its labeled batches, reaches it. 1.0: "
        "retrain when not retraining has cost one point of accuracy for one batch (or a tenth of a point for ten). "
        "Raise it where a retrain is dear (a review, a large fit), lower it where it is cheap.",
    )
    retrain_confidence_z: float = Field(
        default=1.0,
        ge=0,
        description="refit_check buys a retrain only when the accumulated gain, less this many of its standard "
        "errors (each batch's paired error, in quadrature), reaches retrain_cost_points: the loss is measured, "
        "not known, and on small batches one batch's gain is a point or two of noise. 0: the point estimate.",
    )
    cooldown_batches: int = Field(
        default=_ALERTS.cooldown_batches,
        description="No retrain by drift (or new-label volume) within this many batches after the last one "
        "(chosen by a sweep on NOAA weather: benchmarks/policies.py, docs/retrain-policies.md).",
    )
    performance_cooldown_batches: int = Field(
        default=_ALERTS.cooldown("performance_check"),
        description="No retrain by performance decay within this many batches after the last one: decay is direct "
        "evidence that the model is losing, so it waits less than drift (1: not twice in one batch).",
    )
    retry_batches: int = Field(
        default=_ALERTS.retry_batches,
        description="Fire an incident again when the same model still fails this many batches after its "
        "retrain (the candidate was not promoted); 0: never.",
    )
    refit_retry_batches: int = Field(
        default=_ALERTS.retries["refit_check"],
        description="refit_check fires again this many batches after its retrain left the champion in place "
        "(rejected by the gate): it fails then only if the loss since that attempt reached the cost again.",
    )
    budget: int = Field(
        default=_ALERTS.budget, description="At most this many triggered retrains within budget_window_batches."
    )
    budget_window_batches: int = Field(
        default=_ALERTS.budget_window_batches, description="The window, in monitored batches, of the budget."
    )
    min_new_labels: int = Field(
        default=0,
        description="Retrain once this many labeled rows arrived since the last training set (0: off).",
    )
    approval: bool = Field(
        default=False,
        description="auto: hold every retrain the sensor or the schedule would launch (the first model included) "
        "for a person. "
        "It is recorded as an 'awaiting_approval' observation on retrain_trigger, with its trigger id, reason and "
        "evidence; `cl approve-retrain TRIGGER_ID --reason ...`, or retrain_job launched with retrain_trigger's "
        "config `approve: TRIGGER_ID` (plus `reason`, `by`), runs it, recording who approved it and why.",
    )

    # the settings `auto:NAME=VALUE:...` may override in a backtest: the auto policy's own controls
    AUTO_SETTINGS: ClassVar[tuple[str, ...]] = (
        "drift_breaches",
        "drift_window",
        "performance_breaches",
        "performance_window",
        "cooldown_batches",
        "performance_cooldown_batches",
        "refit_breaches",
        "refit_window",
        "refit_cooldown_batches",
        "retrain_cost_points",
        "retrain_confidence_z",
        "estimated_breaches",
        "estimated_window",
        "retry_batches",
        "refit_retry_batches",
        "budget",
        "budget_window_batches",
        "min_new_labels",
        "approval",  # 1: hold retrains for a person
    )

    @classmethod
    def parse(cls, text: str) -> "RetrainPolicy":
        """`auto[:NAME=VALUE...]`, `periodic:K`, `volume:N`, `fixed:K:ROWS` or `never`, as `cl replay --policy` and
        `cl backtest --policies` take it; `auto:cooldown_batches=4:drift_breaches=3` is the auto
        policy with those controls changed, so a backtest can compare settings of the same policy."""
        name, *args = text.strip().split(":")
        usage = (
            f"unknown policy '{text}': use auto[:NAME=VALUE...], periodic:K, volume:N, fixed:K:ROWS or never (K, N, ROWS > 0; "
            f"NAME one of {', '.join(cls.AUTO_SETTINGS)}; VALUE a whole number >= 0, retrain_cost_points and "
            "retrain_confidence_z any number >= 0, approval 0 or 1)"
        )
        if name == "never" and not args:
            return cls(mode=RetrainMode.NEVER)
        if name == "fixed":
            if len(args) != 2 or not all(a.isdigit() and int(a) >= 1 for a in args):
                raise ValueError(usage)
            return cls(mode=RetrainMode.FIXED, every_batches=int(args[0]), window_rows=int(args[1]))
        if name in ("periodic", "volume"):
            if len(args) != 1 or not args[0].isdigit() or int(args[0]) < 1:
                raise ValueError(usage)
            field = "every_batches" if name == "periodic" else "min_new_labels"
            return cls(mode=RetrainMode(name), **{field: int(args[0])})
        if name != "auto":
            raise ValueError(usage)
        overrides = {}
        for arg in args:
            key, eq, value = arg.partition("=")
            decimal = key in ("retrain_cost_points", "retrain_confidence_z")
            number = value.replace(".", "", 1).isdigit() if decimal else value.isdigit()
            if not eq or key not in cls.AUTO_SETTINGS or not number or key in overrides:
                raise ValueError(usage)
            if key == "approval" and value not in ("0", "1"):
                raise ValueError(usage)
            overrides[key] = float(value) if decimal else int(value)
        policy = cls(mode=RetrainMode.AUTO, **overrides)
        policy.alert_policy()  # refuses inconsistent controls (breaches beyond their window) now
        return policy

    @property
    def label(self) -> str:
        """The policy as `parse` reads it: auto names the controls that differ from the defaults."""
        if self.mode == RetrainMode.PERIODIC:
            return f"periodic:{self.every_batches}"
        if self.mode == RetrainMode.VOLUME:
            return f"volume:{self.min_new_labels}"
        if self.mode == RetrainMode.FIXED:
            return f"fixed:{self.every_batches}:{self.window_rows}"
        if self.mode == RetrainMode.NEVER:
            return "never"
        fields = type(self).model_fields
        changed = [
            f":{key}={getattr(self, key):g}"  # booleans as parse reads them: 0 or 1
            for key in self.AUTO_SETTINGS
            if getattr(self, key) != fields[key].default
        ]
        return "auto" + "".join(changed)

    def run_config(self) -> dict:
        """The retrain run's config under this policy: the fixed policies' recipe (the newest
        window_rows rows, fixed parameters; refitted with the holdout like every candidate); none for the others."""
        if self.mode != RetrainMode.FIXED:
            return {}
        return {
            "ops": {
                "training_set": {"config": {"window": "rows", "window_rows": self.window_rows}},
                "candidate_model": {"config": {"search": False}},
            }
        }

    def alert_policy(self) -> AlertPolicy:
        return AlertPolicy(
            m_of_n={
                "drift_check": (self.drift_breaches, self.drift_window),
                "performance_check": (self.performance_breaches, self.performance_window),
                "refit_check": (self.refit_breaches, self.refit_window),
                "estimated_performance_check": (self.estimated_breaches, self.estimated_window),
            },
            cooldown_batches=self.cooldown_batches,
            cooldowns={
                "performance_check": self.performance_cooldown_batches,
                "refit_check": self.refit_cooldown_batches,
            },
            retry_batches=self.retry_batches,
            retries={"refit_check": self.refit_retry_batches},
            budget=self.budget,
            budget_window_batches=self.budget_window_batches,
        )


class PromotionMode(StrEnum):
    AUTO = "auto"
    CANARY = "canary"
    MANUAL = "manual"


class PromotionPolicy(dg.ConfigurableResource):
    """What happens to a candidate that passed the gate.

    `auto` promotes it at once. `canary` makes it the challenger: it scores `canary_share` of
    each new batch beside the champion, and once `canary_batches` of those batches have labels
    it is promoted, or rolled back, by their realized metrics (the promotion_sensor acts on the
    verdict). `manual` holds it for a person: `cl approve VERSION --reason ...`, or launch
    promotion_job from the UI with champion_model's `action: APPROVE`, `version` and `reason`.
    """

    mode: PromotionMode = Field(default=PromotionMode.AUTO, description="auto | canary | manual.")
    canary_share: float = Field(default=0.2, description="canary: share of each batch's rows the challenger scores.")
    canary_batches: int = Field(default=2, description="canary: labeled batches before the verdict.")
    canary_min_rows: int = Field(default=100, description="canary: labeled canary rows needed for a verdict.")
    canary_max_accuracy_drop: float = Field(
        default=0.01, description="canary: the challenger's realized accuracy may be this far below the champion's."
    )
    canary_max_log_loss_increase: float = Field(
        default=0.01, description="canary: the challenger's realized log loss may be this far above the champion's."
    )

    @classmethod
    def parse(cls, text: str) -> "PromotionPolicy":
        """`auto`, `manual`, or `canary[:SHARE[:BATCHES]]`, as `cl replay --promotion` takes it."""
        name, *args = text.strip().split(":")
        try:
            mode = PromotionMode(name)
            if mode != PromotionMode.CANARY and args or len(args) > 2:
                raise ValueError
            share = float(args[0]) if args else 0.2
            count = int(args[1]) if len(args) > 1 else 2
        except ValueError:
            raise ValueError(
                f"unknown promotion mode '{text}': use auto, manual or canary[:SHARE[:BATCHES]] "
                "(0 < SHARE < 1, BATCHES > 0)"
            ) from None
        if not 0 < share < 1 or count < 1:
            raise ValueError(f"canary share must lie in (0, 1) and batches be positive: '{text}'")
        return cls(mode=mode, canary_share=share, canary_batches=count)


class PromotionGate(dg.ConfigurableResource):
    """Rules a candidate must pass, on the same rows as the champion, to be promoted: value
    thresholds, change thresholds (absolute and relative, overall and per slice, on the holdout,
    the newest batch and older rows), and slice coverage. Each kind is a blocking check."""

    min_roc_auc: float = Field(default=0.6, description="Minimum holdout ROC AUC for any model.")
    min_slice_roc_auc: float = Field(default=0.5, description="Minimum holdout ROC AUC in every judged slice.")
    max_auc_drop: float = Field(default=0.005, description="Allowed overall ROC AUC drop against the champion.")
    max_auc_drop_relative: float = Field(
        default=0.01, description="Allowed overall ROC AUC drop as a share of the champion's (the tighter binds)."
    )
    max_log_loss_increase: float = Field(
        default=0.01, description="Allowed overall log loss increase against the champion."
    )
    max_slice_auc_drop: float = Field(default=0.05, description="Allowed ROC AUC drop in any one slice.")
    max_slice_auc_drop_relative: float = Field(
        default=0.07, description="Allowed ROC AUC drop in a slice as a share of the champion's there."
    )
    max_newest_auc_drop: float = Field(
        default=0.02, description="Allowed ROC AUC drop on the newest batch's holdout rows."
    )
    max_forgetting_auc_drop: float | None = Field(
        default=None,
        description="Allowed ROC AUC drop on older rows neither model trained on (forgetting). Off by default: "
        "after a concept drift the old rows' labels follow the old concept, and forgetting it is the point; "
        "set it when old regimes come back (seasons). The older rows' metrics are reported either way.",
    )
    forgetting_rows: int = Field(default=2000, description="Older labeled rows sampled for the forgetting check.")
    min_slice_rows: int = Field(default=50, description="Slices with fewer holdout rows cannot be judged.")
    refuse_short_slices: bool = Field(
        default=True, description="Fail the gate when a slice cannot be judged (else it is only reported)."
    )
    change_confidence: float | None = Field(
        default=0.95,
        gt=0.5,
        lt=1.0,
        description="One-sided confidence at which a change threshold must be shown broken to fail: the candidate "
        "fails only when its shortfall against the champion exceeds the allowed drop by z standard errors of the "
        "paired difference on the same rows (DeLong for ROC AUC, paired rows for log loss). A 0.01 ROC AUC gap "
        "on 300 rows is noise; on 30,000 it is not. None: compare the point estimates (the fixed rule).",
    )
    enforce: bool = Field(
        default=True,
        description="False: every candidate passes; each rule's verdict is still computed, recorded and shown as "
        "what it would have decided. Off only under the backtest's fixed:K:ROWS policies (a cron job has no gate).",
    )

    def rules(self) -> GateRules:
        return GateRules(**self.model_dump(exclude={"forgetting_rows", "enforce"}))
