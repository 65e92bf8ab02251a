"""Stopping a replay: Ctrl-C during a Dagster run stops `cl demo` (Dagster would fail the run and
return), and SIGTERM to `cl backtest` (as `kill` or a CI timeout sends it) stops its workers too."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NOAA = Path(__file__).parent / "data" / "noaa_weather_days_9000_15999.csv"


def _children(pid: int) -> set[int]:
    """Every descendant of a process, from /proc (Linux)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        for child in map(int, text.split()):
            found |= {child, *_children(child)}
    return found


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"  # a zombie has exited; only its parent's wait is missing


def test_sigterm_stops_the_replay_workers(tmp_path):
    command = [sys.executable, "-m", "cl_assets.cli", "backtest", str(NOAA), "--target", "rain", "--time", "day"]
    command += ["--batch-rows", "500", "--policies", "periodic:1,never", "--jobs", "2", "--home", str(tmp_path)]
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        # both replays have started writing their state folders: the workers are busy
        while time.monotonic() < deadline and len(list(tmp_path.glob("backtest/*/warehouse.duckdb"))) < 2:
            workers |= _children(parent.pid)
            assert parent.poll() is None, "the backtest ended before it could be stopped"
            time.sleep(0.5)
        workers |= _children(parent.pid)
        assert len(workers) >= 2, workers
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 143
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(map(_alive, workers)):
            time.sleep(0.5)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_ctrl_c_during_a_run_stops_the_demo(tmp_path):
    command = [sys.executable, "-m", "cl_assets.cli", "demo", "--home", str(tmp_path), "--batches", "8"]
    demo = subprocess.Popen(command + ["--rows", "1000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in demo.stderr:  # the first model's search has begun: its retrain run is in progress
            seen.append(line)
            if "tuning: trial 1 of" in line:
                break
        assert demo.poll() is None, seen
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130, (out, err)
    assert "stopped: interrupted during run" in err and "retrain_job" in err
    assert sum(line.startswith("batch_") for line in out.splitlines()) < 8


def _dagster_processes(dagster_home: Path) -> set[int]:
    """Live processes started for this state folder: their environment names its DAGSTER_HOME."""
    marker = f"DAGSTER_HOME={dagster_home}".encode()
    found = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.add(int(environ.parent.name))
        except (PermissionError, FileNotFoundError, ProcessLookupError):
            continue
    return {pid for pid in found if _alive(pid)}


def test_one_sigterm_stops_cl_dev_with_its_webserver_daemon_and_code_server(tmp_path):
    import socket
    import urllib.request

    from cl_assets.lib import writer_lock
    from cl_assets.settings import StatePaths

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    paths = StatePaths.resolve(tmp_path / "state")
    command = [sys.executable, "-m", "cl_assets.cli", "dev", "--home", str(paths.home), "--port", str(port)]
    dev = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, up = time.monotonic() + 240, False
        while time.monotonic() < deadline and not up:
            assert dev.poll() is None, "cl dev ended before it served"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as answer:
                    up = answer.status == 200
            except OSError:
                time.sleep(1)
        assert up, "the webserver did not answer on 127.0.0.1"
        deadline = time.monotonic() + 120  # the daemon and the code server start beside it
        while time.monotonic() < deadline and len(_dagster_processes(paths.dagster_home)) < 3:
            time.sleep(1)
        started = _dagster_processes(paths.dagster_home)
        assert len(started) >= 3, started  # dagster dev, webserver, daemon (and code servers)

        dev.send_signal(signal.SIGTERM)
        dev.wait(timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _dagster_processes(paths.dagster_home):
            time.sleep(0.5)
        assert not _dagster_processes(paths.dagster_home)
        with writer_lock.writing(paths.home, "test"):  # the folder is free again
            pass
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
        for pid in _dagster_processes(paths.dagster_home):
            os.kill(pid, signal.SIGKILL)
