"""Thin Dagster wrappers around `cl_assets.lib`, one package per stage of the loop."""

import json

import dagster as dg

from cl_assets.settings import StatePaths, configured_seed, configured_threads, retrain_cron


def build_defs(paths: StatePaths, cron: str | None = None) -> dg.Definitions:
    """Every asset, check, job, sensor, schedule and resource, bound to one state folder."""
    from cl_assets.defs import jobs
    from cl_assets.defs.deployment import assets as deployment
    from cl_assets.defs.deployment.promotion import champion_model
    from cl_assets.defs.deployment.sensors import promotion_sensor
    from cl_assets.defs.evaluation import assets as evaluation
    from cl_assets.defs.evaluation import checks as gate
    from cl_assets.defs.features.assets import sql_model_assets, suites_for
    from cl_assets.defs.ingest import assets as ingest
    from cl_assets.defs.ingest.sensors import landing_sensor
    from cl_assets.defs.monitoring import drift, estimates, performance, refits
    from cl_assets.defs.resources import Dataset, ModelRegistry
    from cl_assets.defs.training.candidate import candidate_model
    from cl_assets.defs.training.training_set import training_set
    from cl_assets.defs.triggers.assets import retrain_trigger
    from cl_assets.defs.triggers.policy import RetrainMode, RetrainPolicy
    from cl_assets.defs.triggers.schedules import periodic_retrain_schedule
    from cl_assets.defs.triggers.sensors import automation_sensor, retrain_sensor

    dataset = Dataset(spec_path=str(paths.dataset_spec), suites_dir=str(paths.suites))
    retrain_policy = _saved(RetrainPolicy, paths.retrain_policy)
    model_registry = ModelRegistry(
        tracking_uri=paths.mlflow_tracking_uri, artifact_location=str(paths.mlflow_artifacts)
    )
    return dg.Definitions(
        assets=[
            ingest.raw_batches_asset(dataset.suite(ingest.RAW_SUITE)),
            ingest.batch_labels_asset(dataset.suite(ingest.LABELS_SUITE)),
            *sql_model_assets(suites_for(dataset)),
            retrain_trigger,
            training_set,
            candidate_model,
            evaluation.evaluation_report_asset(dataset.suite(evaluation.MODEL_SUITE)),
            champion_model,
            deployment.reference_profile,
            deployment.predictions,
            drift.drift_metrics,
            drift.drift_report,
            performance.batch_performance,
            refits.refit_impact,
            estimates.estimated_performance,
        ],
        asset_checks=[
            gate.promotion_gate,
            drift.drift_check,
            performance.performance_check,
            refits.refit_check,
            estimates.estimated_performance_check,
        ],
        jobs=[jobs.ingest_batch_job, jobs.ingest_labels_job, jobs.retrain_job, jobs.promotion_job],
        sensors=[landing_sensor, retrain_sensor, automation_sensor, promotion_sensor],
        schedules=[
            periodic_retrain_schedule(
                cron or retrain_cron(),
                running=retrain_policy.mode == RetrainMode.AUTO,
                held=retrain_policy.approval,
            )
        ],
        resources=_resources(paths, dataset, model_registry, retrain_policy),
    )


def _saved(policy, path):
    """The policy a replay saved in the state folder (`cl replay --policy`, `--promotion`), else its defaults."""
    return policy(**json.loads(path.read_text())) if path.is_file() else policy()


def _resources(paths: StatePaths, dataset, model_registry, retrain_policy) -> dict:
    """Every resource, bound to the state folder; the stages' policies under the replay's retrain policy."""
    from cl_assets.defs.deployment.policy import PromotionPolicy
    from cl_assets.defs.evaluation.policy import PromotionGate
    from cl_assets.defs.ingest.landing_zone import Landing
    from cl_assets.defs.monitoring.policy import MonitoringPolicy
    from cl_assets.defs.resources import Compute, Warehouse
    from cl_assets.defs.tracking import tracking_resource
    from cl_assets.defs.triggers.policy import RetrainMode

    return {
        "warehouse": Warehouse(path=str(paths.warehouse)),
        "landing_zone": Landing(path=str(paths.landing)),
        "dataset": dataset,
        "model_registry": model_registry,
        "compute": Compute(threads=configured_threads(), seed=configured_seed()),
        # the backtest policies ignore the monitors: no refits to price retrains they never decide on
        "monitoring_policy": MonitoringPolicy(refit=retrain_policy.mode == RetrainMode.AUTO),
        # a cron job has no gate: the fixed policies promote every candidate (each rule still recorded)
        "promotion_gate": PromotionGate(enforce=retrain_policy.mode != RetrainMode.FIXED),
        "promotion_policy": _saved(PromotionPolicy, paths.promotion_policy),
        "retrain_policy": retrain_policy,
        "mlflow": tracking_resource(model_registry),
    }
