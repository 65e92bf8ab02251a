"""Drive the real definitions in-process, tick by tick, as the Dagster daemon would.

Each tick evaluates the sensors, the automation conditions and the schedules that are due at
the (possibly simulated) time, then executes the runs they request against the same
DagsterInstance, with the tags the daemon would add. Runs therefore show up in `dagster dev`
exactly as launched: by `landing_sensor`, `retrain_sensor`, `automation_sensor` or the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
from croniter import croniter

from cl_assets.replay.recovery import ORPHANED_TAG, RESUMES_TAG, RUN_AGAIN_TAG, runs_to_do_again, to_run_again

SENSOR_ORDER = ("landing_sensor", "automation_sensor", "retrain_sensor", "promotion_sensor")
INTERRUPTED = "DagsterExecutionInterruptedError"
# Runs' own logs stay in the instance (the UI shows them); the console gets the timeline only.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class LaunchedRun:
    run_id: str
    job_name: str
    launched_by: str
    partition: str | None
    success: bool
    tags: dict = field(default_factory=dict)
    failure: dict | None = None  # the step that broke and why, when the run failed by an error

    def describe(self) -> str:
        where = f" for batch {self.partition}" if self.partition else ""
        step = self.failure or {}
        return (
            f"run {self.run_id} of {self.job_name}{where}, launched by {self.launched_by}, failed "
            f"in step {step.get('step', '?')}: {step.get('error', 'no step failed')}"
        )


class RunFailed(RuntimeError):
    """A run the loop launched failed by an error (not a blocking check doing its job)."""

    def __init__(self, run: LaunchedRun, where: str = ""):
        super().__init__(f"{where}: {run.describe()}" if where else run.describe())
        self.run = run
        self.where = where

    def __reduce__(self):  # picklable across a backtest's worker processes
        return (RunFailed, (self.run, self.where))


CHECK_FAILED = "DagsterAssetCheckFailedError"
SCHEDULED_TAG = "cl/scheduled_at"  # the schedule tick a run was launched for


def failure_of(result: dg.ExecuteInProcessResult) -> dict | None:
    """Why a run failed, or None when it succeeded or only blocking checks stopped it.

    A blocking check that fails stops its asset's downstream steps and fails the run: a
    quarantined batch, a candidate the gate rejects. That is the loop deciding, not breaking.
    Any other step failure is an error: the step, the exception's class and its message."""
    if result.success:
        return None
    failures = [e for e in result.all_events if e.is_step_failure]
    if not failures:
        return {"step": None, "error": "the run failed before any step ran"}
    for event in failures:
        error = event.step_failure_data.error
        root = error.cause if error is not None and error.cause is not None else error
        if root is not None and CHECK_FAILED in (error.cls_name, root.cls_name):
            continue
        name = root.cls_name if root is not None else "error"
        message = (root.message if root is not None else "").strip()
        head, _, rest = message.partition(": ")
        if head.endswith(name):  # the message repeats the class's dotted path
            message = rest
        first = message.splitlines()[0] if message else ""
        # a Failure's text is the reason the asset gave; another error's class says what broke
        return {"step": event.step_key, "error": first if name == "Failure" else f"{name}: {first}"}
    return None


def _unpack(result, cursor) -> tuple[list[dg.RunRequest], str | None, list]:
    """Run requests, cursor and partition requests from whatever a sensor or schedule returned."""
    if isinstance(result, dg.SensorResult):
        return list(result.run_requests or []), result.cursor, list(result.dynamic_partitions_requests or [])
    if isinstance(result, dg.RunRequest):
        return [result], cursor, []
    if isinstance(result, list):
        return [r for r in result if isinstance(r, dg.RunRequest)], cursor, []
    return [], cursor, []  # SkipReason or None


def stop_if_interrupted(result: dg.ExecuteInProcessResult) -> None:
    """Dagster turns Ctrl-C (SIGINT, and SIGTERM) during a run into a failed step and returns;
    whoever pressed it wants the replay to stop, not to go on with the next run."""
    for event in result.all_events:
        error = event.step_failure_data.error if event.is_step_failure else None
        if error is not None and error.cls_name == INTERRUPTED:
            raise KeyboardInterrupt(f"interrupted during run {result.run_id} of {result.job_def.name}")


class Driver:
    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, log=print, quiet: bool = True):
        self.defs = defs
        self.repo = defs.get_repository_def()
        self.instance = instance
        self.log = log
        self.cursors: dict[str, str | None] = {}
        self.automation_cursor = None
        self.last_tick: datetime | None = None
        self.logging = QUIET if quiet else {}

    def state(self) -> dict:
        """What the daemon keeps between ticks (sensor cursors, the automation cursor, the last
        tick), as JSON: a replay's journal holds it so a resumed replay goes on from there."""
        return {
            "cursors": dict(self.cursors),
            "automation_cursor": dg.serialize_value(self.automation_cursor) if self.automation_cursor else None,
            "last_tick": self.last_tick.isoformat() if self.last_tick else None,
        }

    def restore(self, state: dict) -> None:
        self.cursors = dict(state.get("cursors") or {})
        cursor = state.get("automation_cursor")
        self.automation_cursor = dg.deserialize_value(cursor) if cursor else None
        self.last_tick = datetime.fromisoformat(state["last_tick"]) if state.get("last_tick") else None

    def tick(self, now: datetime) -> list[LaunchedRun]:
        """One daemon iteration at time `now` (naive times are UTC)."""
        launched: list[LaunchedRun] = []
        for name in SENSOR_ORDER:
            if name == "automation_sensor":
                launched += self._automation()
            else:
                launched += self._sensor(name)
        launched += self._schedules(now)
        self.last_tick = now
        return launched

    def _sensor(self, name: str) -> list[LaunchedRun]:
        sensor = self.repo.get_sensor_def(name)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(name),
            definitions=self.defs,
            resources={k: self.defs.resources[k] for k in sensor.required_resource_keys},
        )
        result = sensor(context)  # direct invocation: what the daemon receives from user code
        requests, cursor, partitions = _unpack(result, context.cursor)
        if isinstance(result, dg.SensorResult):
            for event in result.asset_events or []:  # the daemon stores these as runless events
                self.instance.report_runless_asset_event(event)
        self.cursors[name] = cursor
        for request in partitions:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        out = []
        for request in requests:
            tags = {"dagster/sensor_name": name, **({"dagster/run_key": request.run_key} if request.run_key else {})}
            if request.run_key and not self._not_launched_yet(tags):
                continue  # the daemon skips a run key it has already launched
            out.append(self._execute(request, request.job_name or sensor.job_name, name, tags))
        return out

    def _automation(self) -> list[LaunchedRun]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.automation_cursor
        )
        self.automation_cursor = result.cursor
        by_partition: dict[str | None, list[dg.AssetKey]] = {}
        for key in self.repo.asset_graph.get_all_asset_keys():
            for partition in result.get_requested_partitions(key):
                by_partition.setdefault(partition, []).append(key)
        job = self.defs.resolve_implicit_global_asset_job_def()
        out = []
        for partition, keys in sorted(by_partition.items(), key=lambda kv: str(kv[0])):
            tags = {"dagster/sensor_name": "automation_sensor", "dagster/from_automation_condition": "true"}
            out.append(self._launch(job, "automation_sensor", partition, tags, None, keys))
        return out

    def _schedules(self, now: datetime) -> list[LaunchedRun]:
        out = []
        if self.last_tick is None:
            return out  # like the daemon, a schedule fires on ticks after it started, not before
        for schedule in self.repo.schedule_defs:
            if schedule.default_status == dg.DefaultScheduleStatus.STOPPED:
                continue  # the daemon runs only schedules that are on
            ticks = croniter(schedule.cron_schedule, self.last_tick.replace(tzinfo=UTC))
            while (when := ticks.get_next(datetime)) <= now.replace(tzinfo=UTC):
                context = dg.build_schedule_context(instance=self.instance, scheduled_execution_time=when)
                requests, _, _ = _unpack(schedule(context), None)
                for request in requests:
                    tags = {"dagster/schedule_name": schedule.name, SCHEDULED_TAG: when.isoformat()}
                    if self._not_launched_yet(tags):  # a tick is run once, like the daemon's
                        out.append(self._execute(request, request.job_name or schedule.job_name, schedule.name, tags))
        return out

    def rerun(self) -> list[LaunchedRun]:
        """Run again, to the end and oldest first, the failed runs tagged to be run again (lib/
        recovery.py: orphaned by a crash, or a run a replay stopped on): same job, partition,
        assets, config and tags, plus RESUMES_TAG. Sensors need not ask again: a request they
        regenerate finds its run key done."""
        out = []
        for run in runs_to_do_again(self.instance):
            tags = {
                k: v
                for k, v in run.tags.items()
                if k
                not in (
                    ORPHANED_TAG,
                    RUN_AGAIN_TAG,
                    "dagster/partition",
                    "dagster/parent_run_id",
                    "dagster/root_run_id",
                )
            }
            tags[RESUMES_TAG] = run.run_id
            job = (
                self.defs.resolve_implicit_global_asset_job_def()
                if run.job_name.startswith("__ASSET_JOB")
                else self.defs.resolve_job_def(run.job_name)
            )
            launched_by = tags.get("dagster/sensor_name") or tags.get("dagster/schedule_name") or "resume"
            partition = run.tags.get("dagster/partition")
            selection = list(run.asset_selection) if run.asset_selection else None
            out.append(self._launch(job, launched_by, partition, tags, run.run_config, selection))
        return out

    def _not_launched_yet(self, tags: dict) -> bool:
        """No run carries these tags, or only failed runs tagged to be run again (then `tags`
        gain RESUMES_TAG, naming the run this one does again)."""
        earlier = self.instance.get_runs(filters=dg.RunsFilter(tags=dict(tags)))
        if any(not to_run_again(r) for r in earlier):
            return False
        if earlier:
            tags[RESUMES_TAG] = earlier[0].run_id
        return True

    def _execute(self, request: dg.RunRequest, job_name: str, launched_by: str, tags: dict) -> LaunchedRun:
        job = self.defs.resolve_job_def(job_name)
        return self._launch(job, launched_by, request.partition_key, {**request.tags, **tags}, request.run_config)

    def _launch(self, job, launched_by: str, partition, tags: dict, run_config, selection=None) -> LaunchedRun:
        """Execute one run in-process against the instance, as the daemon's launcher would."""
        run = job.execute_in_process(
            instance=self.instance,
            partition_key=partition,
            asset_selection=selection,
            run_config={**(run_config or {}), **self.logging} or None,
            tags=tags,
            raise_on_error=False,
        )
        stop_if_interrupted(run)
        return LaunchedRun(run.run_id, job.name, launched_by, partition, run.success, tags, failure_of(run))
