"""Play a stream of batches through the loop: land files, tick the driver, report per batch."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from cl_assets.lib import contracts, failpoints, landing, scenario, warehouse
from cl_assets.lib.dataset import DatasetSpec
from cl_assets.replay import journal, timeline
from cl_assets.replay.driver import Driver, LaunchedRun, RunFailed
from cl_assets.settings import StatePaths, quiet_third_party_env


@dataclass(frozen=True)
class Batch:
    batch_id: str
    rows: pd.DataFrame  # features and the target
    time: datetime


def scenario_batches(batches: int, rows: int, seed: int, story: scenario.Story = scenario.STORY) -> Iterator[Batch]:
    for b in range(batches):
        yield Batch(f"batch_{b:04d}", scenario.generate_batch(b, rows, seed, story), scenario.batch_time(b))


def file_batches(frame: pd.DataFrame, spec: DatasetSpec, batch_rows: int, start: datetime) -> list[Batch]:
    """Consecutive slices of a file (in time order when it has a time column), one a day."""
    if batch_rows < 1:
        raise ValueError("--batch-rows must be at least 1")
    if spec.time_column:
        times = frame[spec.time_column]
        if not pd.api.types.is_numeric_dtype(times):  # text: in time order, offsets applied, not as text
            times = contracts.event_times(times.astype(str))
        frame = frame.iloc[times.argsort(kind="stable")]
    if spec.id_column not in frame.columns:
        frame = frame.assign(**{spec.id_column: range(len(frame))})
    frame = frame.reset_index(drop=True)
    return [
        Batch(f"batch_{i:04d}", frame.iloc[lo : lo + batch_rows].reset_index(drop=True), start + timedelta(days=i))
        for i, lo in enumerate(range(0, len(frame), batch_rows))
    ]


def instance_for(paths: StatePaths) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(paths.dagster_home))


def fingerprint(spec: DatasetSpec, batches: list[Batch], cron=None, policy=None, promotion=None) -> str:
    """The journal's name for this replay (replay/journal.py): the same stream under the same settings."""
    return journal.fingerprint(spec, batches, cron=cron, policy=policy, promotion=promotion)


def play(
    paths: StatePaths,
    spec: DatasetSpec,
    batches: Iterable[Batch],
    report: Path | None = None,
    echo=print,
    cron: str | None = None,
    policy: dict | None = None,
    promotion: dict | None = None,
    resume: bool = False,
) -> dict:
    """Land each batch's features, then (one tick later) its labels; return the report.

    A run that fails by an error (not a blocking check stopping a bad batch or candidate) ends
    the replay with RunFailed, naming the run, its step and the error; the report written so
    far lists it under `failed_runs`. After every tick the journal (replay/journal.py) records how
    far the replay got; with `resume` the replay goes on after the journal's last completed tick,
    once replay/recovery.py has set straight what the crash left: orphaned runs, and the runs a
    replay stopped on, are run again first."""
    from cl_assets.defs import build_defs

    quiet_third_party_env()
    started = time.perf_counter()
    batches = list(batches)
    name = fingerprint(spec, batches, cron, policy, promotion)
    entry = journal.read(paths.home) if resume else None
    if resume and (entry is None or entry.get("fingerprint") != name):
        raise ValueError(f"{paths.home}: no journal of this replay to resume")
    paths.prepare()
    spec.save(paths.dataset_spec)
    if policy is not None:  # RetrainPolicy fields; build_defs reads them from the state folder
        paths.retrain_policy.write_text(json.dumps(policy) + "\n")
    if promotion is not None:  # PromotionPolicy fields, likewise
        paths.promotion_policy.write_text(json.dumps(promotion) + "\n")
    defs = build_defs(paths, cron=cron)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    replay = _Replay(paths, spec, batches, Driver(defs, instance_for(paths), log=echo), name, report, echo, started)
    done = 0
    if entry is None:
        replay.record(0)  # from the first tick on, the same command resumes this replay
    else:
        done = replay.resume(entry, defs.resources["model_registry"].registered_model)
    return replay.run(done)


class _Replay:
    """One replay's progress: the report's rows so far, the batch whose labels the next tick lands
    (`pending`: the batch, the retrain runs of its tick, the champion then), and the runs a crash cut
    short, done again in the tick that is redone (`carried`)."""

    def __init__(self, paths, spec, batches, driver, name, report, echo, started):
        self.paths, self.spec, self.batches, self.driver = paths, spec, batches, driver
        self.name, self.report, self.echo, self.started = name, report, echo, started
        self.rows: list[dict] = []
        self.pending: tuple[Batch, list[str], int | None] | None = None
        self.carried: list = []
        self.index_of = {b.batch_id: i for i, b in enumerate(batches)}

    def resume(self, entry: dict, registered_model: str) -> int:
        """Set straight what the crash left, take the journal's progress; the ticks done."""
        from cl_assets.replay import recovery

        for line in recovery.recover(self.paths, registered_model, self.driver.instance).lines():
            self.echo(f"recovered: {line}")
        self.rows = list(entry["rows"])
        if entry.get("pending"):
            index, runs, champion = entry["pending"]
            self.pending = (self.batches[index], list(runs), champion)
        self.driver.restore(entry["driver"])
        self.echo(f"resuming the replay: {journal.describe(entry)}\n")
        self.carried.extend(self.driver.rerun())  # the orphaned runs, and the ones a replay stopped on
        return int(entry["ticks_done"])

    def run(self, done: int) -> dict:
        """Every tick after the first `done`: a batch lands with the labels of the one before it."""
        batches, spec, landed = self.batches, self.spec, self.paths.landing
        for k, batch in enumerate(batches):
            if k < done:
                continue
            landing.write(batch.rows.drop(columns=[spec.target]), landed / "batches" / f"{batch.batch_id}.csv")
            if k > 0:
                self.land_labels(batches[k - 1])
            failpoints.reached("tick")
            retrain_runs, champion = self.tick(batch.time)
            if self.pending:
                self.finish(*self.pending)
            self.pending = (batch, retrain_runs, champion)
            self.record(k + 1)
        if batches and done <= len(batches):
            self.land_labels(batches[-1])
            retrain_runs, champion = self.tick(batches[-1].time + timedelta(days=1))
            batch, earlier_runs, _ = self.pending
            self.finish(batch, earlier_runs + retrain_runs, champion)
            self.pending = None
            self.record(len(batches) + 1, finished=True)
        return self.write({"batches": self.rows, "failed_runs": [], "summary": self.summary()})

    def summary(self) -> dict:
        return summary(self.rows, time.perf_counter() - self.started)

    def record(self, ticks_done: int, finished: bool = False) -> None:
        pending = self.pending
        journal.write(
            self.paths.home,
            {
                "fingerprint": self.name,
                "ticks": len(self.batches) + 1,
                "ticks_done": ticks_done,
                "finished": finished,
                "rows": self.rows,
                "pending": [self.index_of[pending[0].batch_id], pending[1], pending[2]] if pending else None,
                "driver": self.driver.state(),
            },
        )

    def finish(self, batch: Batch, retrain_runs: list[str], champion: int | None) -> None:
        with warehouse.connect(self.paths.warehouse, read_only=True) as con:
            status = timeline.batch_status(con, batch.batch_id)
            retrained = timeline.retrains(con, retrain_runs)
            rejected = timeline.rejection(con, batch.batch_id)
        self.echo(timeline.line(status, retrained, champion, rejected))
        last = retrained[-1] if retrained else None
        self.rows.append(
            {
                **status,
                "retrain_triggered": bool(retrained),
                "trigger_reason": f"{last['kind']}: {last['reason']}" if last else None,
                "champion_version": champion,
            }
        )

    def write(self, result: dict) -> dict:
        if self.report:
            Path(self.report).write_text(json.dumps(result, indent=2, default=str) + "\n")
        return result

    def tick(self, now: datetime) -> tuple[list[str], int | None]:
        from cl_assets.replay import recovery

        launched = self.carried + self.driver.tick(now)
        self.carried.clear()
        failed = [r for r in launched if r.failure]
        if failed:  # stop: what follows would describe a loop that did not run as reported
            for run in failed:  # the same command, once the cause is mended, runs them again
                self.driver.instance.add_run_tags(run.run_id, {recovery.RUN_AGAIN_TAG: "true"})
            self.write(
                {"batches": self.rows, "failed_runs": [failed_run(r) for r in failed], "summary": self.summary()}
            )
            raise RunFailed(failed[0])
        with warehouse.connect(self.paths.warehouse, read_only=True) as con:
            return [r.run_id for r in launched if r.job_name == "retrain_job"], timeline.champion_version(con)

    def land_labels(self, batch: Batch) -> None:
        rows = batch.rows[[self.spec.id_column, self.spec.target]]
        landing.write(rows, self.paths.landing / "labels" / f"{batch.batch_id}.csv")


def failed_run(run: LaunchedRun) -> dict:
    """A failed run as the report records it."""
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "launched_by": run.launched_by,
        "partition": run.partition,
        **(run.failure or {}),
    }


def summary(rows: list[dict], elapsed: float) -> dict:
    scored = [r["metrics"] for r in rows if r["metrics"]]
    aucs = [m["roc_auc"] for m in scored if m["roc_auc"] is not None]
    return {
        "batches": len(rows),
        "retrains": sum(r["retrain_triggered"] for r in rows),
        "mean_accuracy": sum(m["accuracy"] for m in scored) / len(scored) if scored else None,
        "mean_roc_auc": sum(aucs) / len(aucs) if aucs else None,
        "elapsed_s": round(elapsed, 1),
    }
