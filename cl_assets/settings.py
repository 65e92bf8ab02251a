"""Where cl_assets keeps its state: one folder, resolved lazily, never created at import.

The folder holds the DuckDB warehouse, MLflow's sqlite store and artifacts, the Dagster
instance (DAGSTER_HOME) and the landing folder that the ingest sensor watches.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "CL_HOME"
DEFAULT_HOME = ".cl"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DAGSTER_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


@dataclass(frozen=True)
class StatePaths:
    """Every path under the state folder, derived from its root."""

    home: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> StatePaths:
        root = home or os.environ.get(HOME_ENV) or DEFAULT_HOME
        return cls(Path(root).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow" / "mlflow.db"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlflow" / "artifacts"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def dataset_spec(self) -> Path:
        return self.home / "dataset.json"

    @property
    def retrain_policy(self) -> Path:
        """The RetrainPolicy a replay ran under (`cl replay --policy`), so `cl dev` (dg dev) uses it too."""
        return self.home / "retrain_policy.json"

    @property
    def promotion_policy(self) -> Path:
        """The PromotionPolicy a replay ran under (`cl replay --promotion`), for `cl dev` (dg dev) too."""
        return self.home / "promotion_policy.json"

    @property
    def suites(self) -> Path:
        """Suites written for a user's dataset; the built-in scenario uses `expectations/`."""
        return self.home / "expectations"

    def prepare(self) -> StatePaths:
        """Create the folders and the Dagster instance config. Called by commands, never at import."""
        for path in (self.mlflow_artifacts, self.dagster_home, self.landing / "batches", self.landing / "labels"):
            path.mkdir(parents=True, exist_ok=True)
        config = self.dagster_home / "dagster.yaml"
        if not config.exists():
            config.write_text(DAGSTER_YAML)
        return self


def quiet_third_party_env() -> None:
    """Keep MLflow and GX off the network and out of the logs at run time."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # dagster-mlflow marks its own hooks as beta when it is imported; that is its business, not the user's.
    warnings.filterwarnings("ignore", message=r".*is currently in beta", module=r"dagster_mlflow\.")
    # ...and Dagster warns of the same resource, and of an argument its own automation tester
    # passes, where it builds them (seen when a resumed replay runs an orphaned run first)
    for said in (r"Dagster resource `mlflow_tracking` is currently in beta", r"Parameter `include_sources` of"):
        warnings.filterwarnings("ignore", message=said, module=r"dagster\.")


RETRAIN_CRON_ENV = "CL_RETRAIN_CRON"
DEFAULT_RETRAIN_CRON = "0 3 1 * *"  # 03:00 UTC on the first of each month


def retrain_cron() -> str:
    """Cron string of the periodic retrain schedule (a definition, so read when definitions load)."""
    return os.environ.get(RETRAIN_CRON_ENV, DEFAULT_RETRAIN_CRON)


THREADS_ENV = "CL_THREADS"
SEED_ENV = "CL_SEED"


def _whole_number(name: str, meaning_of_0: str) -> int:
    """A whole number >= 0 from the environment variable `name` (unset or empty: 0)."""
    text = os.environ.get(name, "").strip() or "0"
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number >= 0 (0: {meaning_of_0}), got '{text}'")
    return int(text)


def configured_threads() -> int:
    """CPU threads a model fit may use, as `CL_THREADS` sets them (0 or unset: every core, see resolved_threads)."""
    return _whole_number(THREADS_ENV, "every core")


def configured_seed() -> int:
    """Base seed of the loop's random draws, as `CL_SEED` sets it (0 or unset: the configured seeds as they are)."""
    return _whole_number(SEED_ENV, "the configured seeds as they are")


def resolved_threads(threads: int) -> int:
    """`threads`, or every core this process may run on when it is 0."""
    return threads or available_cores()


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's cpuset), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


LOCK_WAIT_ENV = "CL_LOCK_WAIT_S"
DEFAULT_LOCK_WAIT_S = 120


def lock_wait_s() -> float:
    """Seconds a DuckDB open waits for another process's lock on the warehouse before it fails,
    as `CL_LOCK_WAIT_S` sets them (unset or empty: 120)."""
    text = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        wait = float(text) if text else DEFAULT_LOCK_WAIT_S
    except ValueError:
        raise ValueError(f"{LOCK_WAIT_ENV} must be a number of seconds >= 0, got '{text}'") from None
    if not wait >= 0:
        raise ValueError(f"{LOCK_WAIT_ENV} must be a number of seconds >= 0, got '{text}'")
    return wait
