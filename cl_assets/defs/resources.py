"""The resources every stage shares: the warehouse, the dataset, the model fits' compute and the
model registry. Each stage's policy lives beside the stage (`ingest/landing_zone.py`,
`triggers/policy.py`, `evaluation/policy.py`, `deployment/policy.py`, `monitoring/policy.py`)."""

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from pydantic import Field

from cl_assets.lib import registry, scenario, warehouse
from cl_assets.lib.dataset import DatasetSpec
from cl_assets.lib.expectations import load_suite
from cl_assets.settings import PROJECT_ROOT, SEED_ENV, THREADS_ENV, resolved_threads


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file that holds every table of the loop. Connections are short-lived."""

    path: str = Field(description="Path of the DuckDB database file.")

    @contextmanager
    def connect(self, read_only: bool = False):
        with warehouse.connect(self.path, read_only=read_only) as con:
            yield con


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
        "environment variable sets it for `cl dev`, `cl demo` and `cl replay`).",
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
