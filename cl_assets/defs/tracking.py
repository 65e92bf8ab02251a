"""dagster-mlflow's tracking resource, with the experiment created under the state folder first.

dagster-mlflow calls `mlflow.set_experiment`, which would put artifacts in `./mlruns` of
whatever folder Dagster runs in; creating the experiment beforehand with an explicit
artifact location keeps every binary inside the state folder.
"""

import dagster as dg
from dagster_mlflow import mlflow_tracking
from dagster_mlflow.resources import CONFIG_SCHEMA

from cl_assets.defs.resources import ModelRegistry


@dg.resource(
    config_schema=CONFIG_SCHEMA,
    required_resource_keys={"model_registry"},
    description="dagster-mlflow tracking: one MLflow run per Dagster run, tagged with the Dagster run id.",
)
def mlflow_in_state_folder(context):
    context.resources.model_registry.ensure_experiment()
    yield from mlflow_tracking.resource_fn(context)


def tracking_resource(registry: ModelRegistry) -> dg.ResourceDefinition:
    return mlflow_in_state_folder.configured(
        {"experiment_name": registry.experiment_name, "mlflow_tracking_uri": registry.tracking_uri}
    )
