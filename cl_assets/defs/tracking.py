"""MLflow tracking: dagster-mlflow's run per Dagster run, and one nested run per tuning trial.

dagster-mlflow calls `mlflow.set_experiment`, which would put artifacts in `./mlruns` of
whatever folder Dagster runs in; creating the experiment beforehand with an explicit
artifact location keeps every binary inside the state folder.
"""

import json
import logging
import time

import dagster as dg
import mlflow
import pandas as pd
from dagster_mlflow import mlflow_tracking
from dagster_mlflow.resources import CONFIG_SCHEMA
from mlflow.entities import Metric, Param, RunTag

from cl_assets.defs.resources import ModelRegistry
from cl_assets.lib import failpoints, markdown, tuning

# `cl demo` / `cl replay` print this logger's records (trial n of N) while a candidate is tuned.
PROGRESS = logging.getLogger("cl_assets.progress")


@dg.resource(
    config_schema=CONFIG_SCHEMA,
    required_resource_keys={"model_registry"},
    description="dagster-mlflow tracking: one MLflow run per Dagster run, tagged with the Dagster run id.",
)
def mlflow_in_state_folder(context):
    context.resources.model_registry.ensure_experiment()
    try:
        yield from mlflow_tracking.resource_fn(context)
    finally:
        # dagster-mlflow starts the MLflow run when the resource is initialized, at the start of a
        # run that has candidate_model in it, and candidate_model ends it. A run that stops earlier
        # (a refused approval, a failed training set) would leave it active in this process, and the
        # next run here would log into it, or fail on it in another state folder: end it as FAILED.
        if mlflow.active_run() is not None:
            mlflow.end_run(status="FAILED")


def tracking_resource(registry: ModelRegistry) -> dg.ResourceDefinition:
    return mlflow_in_state_folder.configured(
        {"experiment_name": registry.experiment_name, "mlflow_tracking_uri": registry.tracking_uri}
    )


class TrialLogger:
    """The `on_trial` callback of a search: each trial becomes a nested MLflow run (parameters,
    validation metrics, duration, peak memory, threads) under the candidate's run, a line in the
    Dagster run log ("trial n of N, best so far") and a row for `tuning_trials`."""

    def __init__(self, experiment_id: str, parent_run_id: str, tags: dict, budget: tuning.Budget, log):
        self.client = mlflow.MlflowClient()
        self.experiment_id, self.parent, self.tags = experiment_id, parent_run_id, tags
        self.budget, self.log = budget, log
        self.trials: list[tuple[tuning.Trial, bool, str]] = []

    def __call__(self, trial: tuning.Trial, best: tuning.Trial) -> None:
        now = int(time.time() * 1000)
        run = self.client.create_run(
            self.experiment_id,
            start_time=now - int(trial.seconds * 1000),
            tags={"mlflow.parentRunId": self.parent, **self.tags, "cl.warm_start": str(trial.warm).lower()},
            run_name=f"trial {trial.number}",
        )
        failpoints.reached("tuning")  # the trial's run exists, RUNNING
        metrics = {
            "validation_log_loss": trial.loss,
            **{f"validation_{k}": v for k, v in trial.metrics.items() if v is not None and k != "log_loss"},
            "seconds": trial.seconds,
            "peak_mb": trial.peak_mb,
            "threads": trial.threads,
        }
        self.client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in trial.params.items()],
            tags=[RunTag("cl.trial", str(trial.number))],
        )
        self.client.set_terminated(run.info.run_id, end_time=now)
        self.trials.append((trial, best is trial, run.info.run_id))
        line = (
            f"trial {trial.number} of {self.budget.max_trials}{' (warm start)' if trial.warm else ''}: "
            f"validation log loss {trial.loss:.4f} in {trial.seconds:.1f} s; "
            f"best so far {best.loss:.4f} (trial {best.number})"
        )
        self.log.info(line)
        PROGRESS.info(line)

    def rows(self, model_version: int) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "model_version": model_version,
                    "trial": t.number,
                    "params": json.dumps(t.params),
                    "validation_log_loss": t.loss,
                    "validation_roc_auc": t.metrics.get("roc_auc"),
                    "validation_accuracy": t.metrics.get("accuracy"),
                    "seconds": t.seconds,
                    "peak_mb": t.peak_mb,
                    "threads": t.threads,
                    "warm_start": t.warm,
                    "best_so_far": improved,
                    "mlflow_run_id": run_id,
                }
                for t, improved, run_id in self.trials
            ]
        )

    def table(self) -> str:
        frame = self.rows(0)[
            ["trial", "warm_start", "validation_log_loss", "validation_roc_auc", "seconds", "peak_mb", "threads"]
        ]
        return markdown.table(frame)
