"""MLflow tracking and model registry on a local sqlite store, aliases instead of stages."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mlflow
from mlflow import MlflowClient

CHAMPION, CHALLENGER = "champion", "challenger"
# MLflow stores sklearn models with skops (no pickle); XGBoost's classes must be named as trusted.
TRUSTED_TYPES = ["xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"]


def ensure_experiment(tracking_uri: str, name: str, artifact_location: Path) -> str:
    """Create the experiment with its artifacts under the state folder (not ./mlruns)."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=artifact_location.as_uri())


def pip_requirements() -> list[str]:
    """Pinned from the running environment, so logging skips requirement inference."""
    import sklearn
    import xgboost

    return [f"scikit-learn=={sklearn.__version__}", f"xgboost=={xgboost.__version__}", f"mlflow=={mlflow.__version__}"]


def log_and_register(model, input_example, registered_model: str, tags: dict[str, str] | None = None) -> int:
    """Log the pipeline in the active MLflow run and register it (the version carries `tags`);
    returns the new version."""
    from mlflow.models import infer_signature

    signature = infer_signature(input_example, model.predict_proba(input_example)[:, 1])
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements(),
        skops_trusted_types=TRUSTED_TYPES,
    )
    # The client API registers without the fluent API's prints to stderr.
    client = MlflowClient()
    try:
        client.get_registered_model(registered_model)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(
            registered_model, description="Candidates of the cl_assets loop; @champion serves."
        )
    version = client.create_model_version(
        registered_model, source=info.model_uri, run_id=info.run_id, model_id=info.model_id, tags=tags
    )
    return int(version.version)


@dataclass(frozen=True)
class Registered:
    """A registered version and the parameters its MLflow run logged."""

    version: int
    run_id: str
    params: dict[str, str]


def versions(tracking_uri: str, registered_model: str) -> list:
    """Every version of the registered model (none before the first registration)."""
    quoted = registered_model.replace("'", "''")
    try:
        return list(MlflowClient(tracking_uri).search_model_versions(f"name = '{quoted}'"))
    except mlflow.exceptions.MlflowException:
        return []


def registered_for(tracking_uri: str, registered_model: str, trigger_id: str) -> Registered | None:
    """The newest version registered for a retrain trigger (tag `cl.trigger_id`), if any."""
    client = MlflowClient(tracking_uri)
    mine = [v for v in versions(tracking_uri, registered_model) if (v.tags or {}).get("cl.trigger_id") == trigger_id]
    if not mine:
        return None
    newest = max(mine, key=lambda v: int(v.version))
    params = client.get_run(newest.run_id).data.params if newest.run_id else {}
    return Registered(int(newest.version), newest.run_id, dict(params))


def untag_version(tracking_uri: str, registered_model: str, version: int, key: str = "cl.unrecorded") -> None:
    """Remove a tag from a version, if it carries it."""
    client = MlflowClient(tracking_uri)
    if key in (client.get_model_version(registered_model, str(version)).tags or {}):
        client.delete_model_version_tag(registered_model, str(version), key)


def delete_version(tracking_uri: str, registered_model: str, version: int) -> None:
    MlflowClient(tracking_uri).delete_model_version(registered_model, str(version))


def set_alias(tracking_uri: str, registered_model: str, alias: str, version: int) -> None:
    MlflowClient(tracking_uri).set_registered_model_alias(registered_model, alias, str(version))


def delete_alias(tracking_uri: str, registered_model: str, alias: str, version: int) -> None:
    """Remove `alias` if it marks `version` (a newer challenger keeps its alias)."""
    client = MlflowClient(tracking_uri)
    try:
        marked = client.get_model_version_by_alias(registered_model, alias)
    except mlflow.exceptions.MlflowException:
        return
    if int(marked.version) == version:
        client.delete_registered_model_alias(registered_model, alias)


@lru_cache(maxsize=4)
def load(tracking_uri: str, registered_model: str, version: int):
    """A registered model version. Versions never change, so each is read from the artifact
    store once per process, not once per batch it scores (callers only predict with it)."""
    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.sklearn.load_model(f"models:/{registered_model}/{version}")
