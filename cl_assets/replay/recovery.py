"""After a crash: what a writer finds half-done in its state folder, set straight.

A writer (`cl demo`, `cl replay`, `cl backtest`, `cl dev`) calls `recover` once it holds the
folder's writer lock, so nothing else is running and whatever looks in progress is dead:

- Dagster runs left STARTED (or queued, starting, canceling) are marked failed and tagged
  `cl/orphaned` and `cl/run_again` (which a replay also puts on a run it stopped on), so the
  UI shows them ended and a resumed replay runs them again first (`runs_to_do_again`), and
  the pool slots (`duckdb`) that finished runs still claim are freed;
- MLflow runs left RUNNING are ended as KILLED;
- the MLflow alias `champion` is set to what DuckDB's `champion_history` says (DuckDB is the
  truth: champion_model writes the decision there first, then moves the alias).

- registered versions that no `candidate_models` row records are tagged `cl.unrecorded` (the
  registry shows them for what they are); the retrain that registered them adopts the version
  when it is run again (candidate_model), which removes the tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

ORPHANED_TAG = "cl/orphaned"
# on a failed run a resumed replay runs again: an orphaned one, or one a replay stopped on
RUN_AGAIN_TAG = "cl/run_again"
RESUMES_TAG = "cl/resumes"  # on the run that does again what such a run left undone
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass
class Recovered:
    """What `recover` set straight; empty after a clean stop."""

    orphaned_runs: list[str] = field(default_factory=list)
    killed_mlflow_runs: list[str] = field(default_factory=list)
    champion_alias: str | None = None  # "v1 -> v2" when the alias had to follow DuckDB
    unrecorded_versions: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if self.orphaned_runs:
            out.append(
                f"marked {len(self.orphaned_runs)} orphaned Dagster run(s) failed: {', '.join(self.orphaned_runs)}"
            )
        if self.killed_mlflow_runs:
            out.append(f"ended {len(self.killed_mlflow_runs)} MLflow run(s) left RUNNING as KILLED")
        if self.unrecorded_versions:
            shown = ", ".join(f"v{v}" for v in self.unrecorded_versions)
            out.append(f"tagged registered version(s) no candidate_models row records: {shown} (cl.unrecorded)")
        if self.champion_alias:
            out.append(f"MLflow alias 'champion' set to what champion_history says ({self.champion_alias})")
        return out


def orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark every run still in progress failed: with the writer lock held, its process is dead."""
    ended = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        instance.add_run_tags(run.run_id, {ORPHANED_TAG: "true", RUN_AGAIN_TAG: "true"})
        instance.report_run_failed(
            instance.get_run_by_id(run.run_id),
            message="orphaned: the process that ran it died (found when the state folder was next opened)",
        )
        ended.append(run.run_id)
    # a killed run never gave back its slots of the `duckdb` pool: every run after it would wait
    for run_id in instance.event_log_storage.get_concurrency_run_ids():
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return ended


def to_run_again(run) -> bool:
    """A failed run that a resumed replay does again (tagged RUN_AGAIN_TAG)."""
    return run.status == dg.DagsterRunStatus.FAILURE and run.tags.get(RUN_AGAIN_TAG) == "true"


def runs_to_do_again(instance: dg.DagsterInstance) -> list:
    """The runs tagged to be run again that no later run has done again yet, oldest first."""
    tagged = instance.get_runs(filters=dg.RunsFilter(tags={RUN_AGAIN_TAG: "true"}))  # newest first
    return [
        r
        for r in reversed(tagged)
        if to_run_again(r) and not instance.get_runs(filters=dg.RunsFilter(tags={RESUMES_TAG: r.run_id}), limit=1)
    ]


def killed_mlflow_runs(tracking_uri: str) -> list[str]:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri)
    ended = []
    for experiment in client.search_experiments(view_type=ViewType.ACTIVE_ONLY):
        for run in client.search_runs(
            [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
        ):
            client.set_terminated(run.info.run_id, status="KILLED")
            ended.append(run.info.run_id)
    return ended


def champion_alias(tracking_uri: str, registered_model: str, champion_version: int | None) -> str | None:
    """Point `champion` at DuckDB's champion (or remove it before the first promotion)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        marked = int(client.get_model_version_by_alias(registered_model, "champion").version)
    except mlflow.exceptions.MlflowException:
        marked = None
    if marked == champion_version:
        return None
    if champion_version is None:
        client.delete_registered_model_alias(registered_model, "champion")
    else:
        client.set_registered_model_alias(registered_model, "champion", str(champion_version))
    return f"v{marked if marked is not None else '-'} -> v{champion_version if champion_version is not None else '-'}"


UNRECORDED_TAG = "cl.unrecorded"


def unrecorded_versions(tracking_uri: str, registered_model: str, recorded: set[int]) -> list[int]:
    """Tag the registered versions DuckDB does not record (a run died between the two)."""
    from mlflow import MlflowClient

    from cl_assets.lib import registry

    client = MlflowClient(tracking_uri)
    tagged = []
    for v in registry.versions(tracking_uri, registered_model):
        if int(v.version) not in recorded and (v.tags or {}).get(UNRECORDED_TAG) != "true":
            client.set_model_version_tag(registered_model, v.version, UNRECORDED_TAG, "true")
            tagged.append(int(v.version))
    return sorted(tagged)


def recover(paths, registered_model: str = "cl_model", instance: dg.DagsterInstance | None = None) -> Recovered:
    """Set straight what a crash left in the state folder `paths` (the caller holds its writer lock)."""
    from cl_assets.lib import queries, warehouse

    done = Recovered()
    if not paths.dagster_home.is_dir():
        return done
    owned = instance is None
    instance = instance or dg.DagsterInstance.from_config(str(paths.dagster_home))
    try:
        done.orphaned_runs = orphaned_runs(instance)
    finally:
        if owned:
            instance.dispose()
    if paths.mlflow_db.exists():
        done.killed_mlflow_runs = killed_mlflow_runs(paths.mlflow_tracking_uri)
        if paths.warehouse.exists():
            with warehouse.connect(paths.warehouse, read_only=True) as con:
                recorded = (
                    {int(r["model_version"]) for r in queries.CANDIDATE_VERSIONS.all(con)}
                    if warehouse.table_exists(con, "candidate_models")
                    else set()
                )
                row = queries.CURRENT_CHAMPION.one(con) if warehouse.table_exists(con, "champion_history") else None
            done.unrecorded_versions = unrecorded_versions(paths.mlflow_tracking_uri, registered_model, recorded)
            done.champion_alias = champion_alias(
                paths.mlflow_tracking_uri, registered_model, int(row["model_version"]) if row else None
            )
    return done
