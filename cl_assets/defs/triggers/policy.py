"""RetrainPolicy: when a failing monitor becomes a retrain, and the backtest's policies.

The alert-fatigue controls' defaults are `lib.alerting.AlertPolicy`'s: one source each."""

from enum import StrEnum
from typing import ClassVar

import dagster as dg
from pydantic import Field

from cl_assets.lib.alerting import AlertPolicy

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
