"""Benchmark: one turn of the loop for a large batch, stage by stage, on the real definitions.

It builds a fresh state folder (DuckDB, MLflow on sqlite, a Dagster instance) and runs the real
jobs in-process, as the sensors would launch them. Setup, not timed: batches 0 and 1 of the
built-in stream (`--rows` each) are ingested and labeled, and a first champion is trained on
batch 0. Then, timed:

1. ingest_batch_job for batch 2 (`--rows` rows): validate (raw_batches: the data contract and
   every GX expectation, stored), features (the SQL models), score (predictions with the
   champion), drift (drift_metrics, its check, and the drift report), refit (refit_impact and
   refit_check: the champion's parameters fitted on its own training batch and on the newest
   labeled batches, both scoring batch 2);
2. its labels arrive; retrain_job with `--trials` hyperopt trials: compose (the trigger record
   and the training set: the newest labeled batches), tune (candidate_model: the search, the
   final fit, MLflow logging and registration), evaluate (evaluation_report and the gate),
   promote (champion_model and the new reference profile).

Stage times are Dagster's own step timings (step start to step success) read back from the
run's event log; `overhead_s` is what the two runs took beyond their steps (run start and
finish, event writes, resource setup). The total is the wall-clock time of both runs. Each
turn is repeated `--repeat` times on fresh state folders, and min/median/max are printed,
because this 2-core VM's speed varies by up to 40% within an hour.

Target: total under 60 s on 2 cores for a 50k-row batch with 20 trials.

    uv run python benchmarks/loop.py [--rows 50000] [--trials 20] [--repeat 1]

The last line: `total_s=<x>` (the median total).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from cl_assets.defs import build_defs
from cl_assets.lib import landing, scenario
from cl_assets.replay import playback
from cl_assets.settings import StatePaths, quiet_third_party_env

STAGES = {
    "validate": ["raw_batches"],
    "features": ["stg_batches", "batch_features"],
    "score": ["predictions"],
    "drift": ["drift_metrics", "drift_metrics_drift_check", "drift_report"],
    "refit": ["refit_impact", "refit_impact_refit_check"],
    "compose": ["retrain_trigger", "training_set"],
    "tune": ["candidate_model"],
    "evaluate": ["evaluation_report", "evaluation_report_promotion_gate"],
    "promote": ["champion_model", "reference_profile"],
}
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds from each step's start to its success, from the run's event log."""
    starts, out = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            out[event.step_key] = record.timestamp - starts[event.step_key]
    return out


def run(defs, instance, job: str, partition: str | None = None, run_config: dict | None = None) -> tuple[str, float]:
    started = time.perf_counter()
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        partition_key=partition,
        run_config={**(run_config or {}), **QUIET},
        raise_on_error=False,
    )
    if not result.success:
        sys.exit(f"{job} {partition or ''} failed (run {result.run_id})")
    return result.run_id, time.perf_counter() - started


def land(paths: StatePaths, batch: int, rows: int, labels: bool):
    spec = scenario.spec()
    frame = scenario.generate_batch(batch, rows)  # the demo's stream (DEFAULT_STREAM_SEED)
    batch_id = f"batch_{batch:04d}"
    landing.write(frame.drop(columns=[spec.target]), paths.landing / "batches" / f"{batch_id}.csv")
    if labels:
        landing.write(frame[[spec.id_column, spec.target]], paths.landing / "labels" / f"{batch_id}.csv")
    return batch_id


def one_turn(home: Path, rows: int, trials: int) -> dict[str, float]:
    paths = StatePaths(home).prepare()
    instance = playback.instance_for(paths)
    defs = build_defs(paths)
    ids = [land(paths, b, rows, labels=True) for b in range(3)]
    instance.add_dynamic_partitions("batches", ids)
    # setup: a champion trained on batch 0, batch 1 scored and labeled
    run(defs, instance, "ingest_batch_job", ids[0])
    run(defs, instance, "ingest_labels_job", ids[0])
    run(defs, instance, "retrain_job", run_config={"ops": {"candidate_model": {"config": {"max_trials": 4}}}})
    run(defs, instance, "ingest_batch_job", ids[1])
    run(defs, instance, "ingest_labels_job", ids[1])
    # timed: batch 2 through ingest, then a retrain that includes it
    ingest_id, ingest_s = run(defs, instance, "ingest_batch_job", ids[2])
    run(defs, instance, "ingest_labels_job", ids[2])
    config = {"ops": {"candidate_model": {"config": {"max_trials": trials, "max_seconds": 600}}}}
    retrain_id, retrain_s = run(defs, instance, "retrain_job", run_config=config)
    steps = {**step_seconds(instance, ingest_id), **step_seconds(instance, retrain_id)}
    missing = sorted({s for keys in STAGES.values() for s in keys} - set(steps))
    if missing:
        sys.exit(f"steps not found in the runs' event logs: {missing} (found {sorted(steps)})")
    out = {stage: sum(steps[k] for k in keys) for stage, keys in STAGES.items()}
    out["overhead"] = ingest_s + retrain_s - sum(steps.values())
    out["total"] = ingest_s + retrain_s
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows per batch (default 50000)")
    parser.add_argument("--trials", type=int, default=20, help="hyperopt trials of the timed retrain (default 20)")
    parser.add_argument("--repeat", type=int, default=1, help="turns, each on a fresh state folder (default 1)")
    args = parser.parse_args()
    quiet_third_party_env()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    turns = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="cl-bench-") as home:
            turns.append(one_turn(Path(home), args.rows, args.trials))
        print(f"turn {i + 1}: " + " ".join(f"{k}_s={v:.2f}" for k, v in turns[-1].items()), flush=True)
    print(f"\nrows={args.rows} trials={args.trials} turns={args.repeat}")
    for stage in [*STAGES, "overhead", "total"]:
        values = [t[stage] for t in turns]
        print(
            f"stage={stage:9s} min_s={min(values):7.2f} median_s={statistics.median(values):7.2f} "
            f"max_s={max(values):7.2f}"
        )
    print(f"total_s={statistics.median(t['total'] for t in turns):.2f}")


if __name__ == "__main__":
    main()
