"""The loop under faults and concurrent processes: one writer per state folder, readers that
never break the writer, and a run that fails is reported as failed (never a quiet exit 0)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from cl_assets import cli
from cl_assets.lib import warehouse, writer_lock
from cl_assets.settings import LOCK_WAIT_ENV, StatePaths

DEMO = ["demo", "--batches", "4", "--rows", "300"]

# A reader in another process, as a person at the SQL prompt or a dashboard would be: it holds a
# read-only connection for a while, drops it, and comes back, until told to stop. It counts the
# reads it made and the errors it met.
HAMMER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import duckdb
    from cl_assets import cli
    path, stop, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    reads, errors = 0, []
    while not stop.exists():
        if not path.exists():
            time.sleep(0.05)
            continue
        try:
            con = duckdb.connect(str(path), read_only=True)
            con.sql("select count(*) from information_schema.tables").fetchall()
            time.sleep(0.3)
            con.close()
            reads += 1
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower():
                errors.append(str(exc))
        try:  # what a person types: cl pending waits, saying so, while the loop writes
            cli.main(["pending", "--home", str(path.parent), "--json"])
            reads += 1
        except SystemExit as exc:
            if "no loop state" not in str(exc.code):
                errors.append(f"cl pending: {exc.code}")
        except Exception as exc:
            errors.append(f"cl pending: {exc!r}")
        time.sleep(0.05)
    out.write_text(json.dumps({"reads": reads, "errors": errors}))
    """
)


def _cl(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cl_assets.cli", *args, "--home", str(home)]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)


def _final_state(home: Path) -> dict:
    """What a replay decided, table by table, without run ids and clocks."""
    with warehouse.connect(StatePaths(home).warehouse, read_only=True) as con:
        return {
            "predictions": warehouse.fetch_records(
                con, "select batch_id, entity_id, model_version, round(score, 9) as s from predictions order by all"
            ),
            "deliveries": warehouse.fetch_records(
                con, "select batch_id, asset, rows, status from batch_deliveries order by all"
            ),
            "champions": warehouse.fetch_records(con, "select model_version from champion_history order by all"),
            "triggers": warehouse.fetch_records(con, "select kind, batch_id from retrain_triggers order by all"),
            "performance": warehouse.fetch_records(
                con,
                "select batch_id, model_version, slice, round(accuracy, 9) as a from batch_performance order by all",
            ),
        }


def _whole_state(home: Path) -> dict:
    """_final_state and every other decision of the loop: training sets, candidates, reports,
    promotions, drift, trials; audit rows (validations, deliveries, check results) as distinct
    facts, since a run done again after a crash validates its delivery again. Ids drawn from
    the event log (trigger and report ids hash run keys that name storage ids) are left out."""
    with warehouse.connect(StatePaths(home).warehouse, read_only=True) as con:

        def rows(sql: str) -> list[dict]:
            return warehouse.fetch_records(con, sql)

        state = {
            **_final_state(home),
            "deliveries": rows("select distinct batch_id, asset, rows, status from batch_deliveries order by all"),
            "triggers": rows(
                "select kind, batch_id, training_set_version, model_version, promoted from retrain_triggers order by all"
            ),
            "training_sets": rows(
                "select version, batches, rows_train, rows_holdout from training_set_versions order by all"
            ),
            "training_rows": rows("select version, count(*) as n from training_sets group by all order by all"),
            "candidates": rows("select model_version, training_set_version, params from candidate_models order by all"),
            "holdout_scores": rows("select model_version, count(*) as n from holdout_scores group by all order by all"),
            "trials": rows("select model_version, count(*) as n from tuning_trials group by all order by all"),
            "reports": rows("select candidate_version, champion_version, passed from gate_decisions order by all"),
            "report_rows": rows(
                "select candidate_version, count(*) as n from evaluation_reports group by all order by all"
            ),
            "promotions": rows("select action, model_version, champion_version from promotions order by all"),
            "drift": rows(
                "select batch_id, feature, slice, drifted, round(statistic, 9) as s from drift_metrics order by all"
            ),
            "checks": rows("select distinct batch_id, check_name, passed from check_results order by all"),
            "labels": rows("select batch_id, count(*) as n from labels group by all order by all"),
        }
    from mlflow import MlflowClient

    paths = StatePaths(home)
    alias = MlflowClient(paths.mlflow_tracking_uri).get_model_version_by_alias("cl_model", "champion")
    state["champion_alias"] = int(alias.version)
    versions = MlflowClient(paths.mlflow_tracking_uri).search_model_versions("name = 'cl_model'")
    state["unrecorded"] = sorted(int(v.version) for v in versions if "cl.unrecorded" in (v.tags or {}))
    return state


def _runs(home: Path) -> list[dg.DagsterRun]:
    instance = dg.DagsterInstance.from_config(str(StatePaths(home).dagster_home))
    return list(instance.get_runs())


def _outcomes(home: Path) -> list[tuple[str, str, str]]:
    return sorted((r.job_name, r.tags.get("dagster/partition", ""), r.status.value) for r in _runs(home))


def test_a_second_writer_is_refused_naming_the_holder_and_the_lock_dies_with_it(tmp_path):
    home = tmp_path / "state"
    first = subprocess.Popen(
        [sys.executable, "-m", "cl_assets.cli", *DEMO, "--home", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (writer_lock.holder(home) or {}).get("pid") != first.pid:
            assert first.poll() is None, "the first demo ended before a second could be started"
            time.sleep(0.2)
        for command in (["demo", "--reset"], ["replay", str(tmp_path / "x.csv"), "--target", "y"], ["dev"]):
            if command[0] == "replay":
                (tmp_path / "x.csv").write_text("a,y\n1,0\n2,1\n")
            with pytest.raises(SystemExit) as refused:
                cli.main([*command, "--home", str(home)])
            message = str(refused.value.code)
            assert f"in use by `cl demo` (pid {first.pid}" in message, message
        assert first.poll() is None  # the refused --reset deleted nothing under it
        os.killpg(first.pid, signal.SIGKILL)  # a crash: the kernel drops the lock with its holder
        first.wait(timeout=30)
        with writer_lock.writing(home, "a test") as _fd:
            assert writer_lock.holder(home)["pid"] == os.getpid()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()


def test_a_run_that_fails_ends_the_replay_naming_the_run_the_step_and_the_error(tmp_path, alone):
    """A reader that never lets go, and a writer told not to wait: the run that cannot open the
    warehouse fails, and `cl demo` says which run, which step and why, and exits non-zero. The
    same command once the reader is gone resumes, runs the failed run again first, and ends
    where an undisturbed demo ends."""
    home, stop = tmp_path / "state", tmp_path / "stop"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time, duckdb
                from pathlib import Path
                path, stop = Path(sys.argv[1]), Path(sys.argv[2])
                while not path.exists():
                    time.sleep(0.01)
                while True:  # take the first gap between the writer's connections, and keep it
                    try:
                        con = duckdb.connect(str(path), read_only=True)
                        break
                    except duckdb.Error:
                        time.sleep(0.005)
                while not stop.exists():
                    time.sleep(0.05)
                """
            ),
            str(StatePaths(home).warehouse),
            str(stop),
        ]
    )
    try:
        report = tmp_path / "report.json"
        done = _cl(home, *DEMO, "--report", str(report), env={LOCK_WAIT_ENV: "0.5"})
    finally:
        stop.touch()
        holder.wait(timeout=30)
    assert done.returncode == 1, (done.stdout, done.stderr)
    failed = json.loads(report.read_text())["failed_runs"]
    assert len(failed) >= 1
    run = {r.run_id: r for r in _runs(home)}[failed[0]["run_id"]]
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert "WarehouseBusy" in failed[0]["error"] and "stayed locked" in failed[0]["error"]
    expected = f"run {run.run_id} of {run.job_name}"
    assert expected in done.stderr and f"failed in step {failed[0]['step']}: WarehouseBusy" in done.stderr
    assert "batches," not in done.stdout  # no summary line as if the loop had run

    again = _cl(home, *DEMO, "--report", str(report))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming the replay" in again.stdout
    redone = [r for r in _runs(home) if r.tags.get("cl/resumes") == run.run_id]
    assert [r.status for r in redone] == [dg.DagsterRunStatus.SUCCESS]
    assert _whole_state(home) == _whole_state(alone)
    assert json.loads(report.read_text())["batches"] == json.loads((alone / "report.json").read_text())["batches"]


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> Path:
    """The demo played undisturbed: what every disturbed run must end up equal to."""
    home = tmp_path_factory.mktemp("alone")
    done = _cl(home, *DEMO, "--report", str(home / "report.json"))
    assert done.returncode == 0, done.stderr
    return home


def test_a_reader_hammering_the_folder_breaks_no_run(tmp_path, alone):
    """Readers wait for the writer and the writer for them: with a reader in and out of the
    warehouse all along, every run succeeds and the loop decides exactly what it decides alone."""
    home, stop, out = tmp_path / "state", tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen(
        [sys.executable, "-c", HAMMER, str(StatePaths(home).warehouse), str(stop), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        report = tmp_path / "report.json"
        done = _cl(home, *DEMO, "--report", str(report))
    finally:
        stop.touch()
        _, reader_stderr = reader.communicate(timeout=120)
    assert done.returncode == 0, done.stderr
    assert reader.returncode == 0, reader_stderr
    assert json.loads(report.read_text())["failed_runs"] == []
    # blocking checks stop some runs by design (a rejected candidate); none stopped otherwise
    assert _outcomes(home) == _outcomes(alone)
    seen = json.loads(out.read_text())
    assert seen["errors"] == [] and seen["reads"] >= 5, seen
    assert _final_state(home) == _final_state(alone)


@pytest.mark.parametrize("point", ["ingest", "tuning", "registration", "promotion", "drift"])
def test_a_replay_killed_at_any_point_resumes_to_the_state_of_an_undisturbed_one(tmp_path, alone, point):
    """kill -9 of the whole process group at a point of the loop (lib/failpoints.py), then the same
    command again: it resumes (orphaned runs marked failed and run again, MLflow runs ended, the
    champion alias set from DuckDB), and the loop's state and report equal the undisturbed run's."""
    home, report = tmp_path / "state", tmp_path / "report.json"
    command = [sys.executable, "-m", "cl_assets.cli", *DEMO, "--home", str(home), "--report", str(report)]
    killed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "CL_FAILPOINT": point},
        start_new_session=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming the replay" in again.stdout
    said = {
        "tuning": "MLflow run(s) left RUNNING as KILLED",  # the trial and its parent
        "registration": "tagged registered version(s) no candidate_models row records: v1",
        "promotion": "MLflow alias 'champion' set to what champion_history says (v- -> v2)",
    }
    assert "marked 1 orphaned Dagster run(s) failed" in again.stdout and said.get(point, "") in again.stdout
    assert [r for r in _runs(home) if r.status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING)] == []
    ours, theirs = _whole_state(home), _whole_state(alone)
    for table in theirs:
        assert ours[table] == theirs[table], table
    mine, undisturbed = json.loads(report.read_text()), json.loads((alone / "report.json").read_text())
    assert mine["batches"] == undisturbed["batches"] and mine["failed_runs"] == []
