"""`cl dev`: the state folder in the Dagster UI, its processes stopped together."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from cl_assets.cli.common import home_arg, writer
from cl_assets.settings import HOME_ENV, PROJECT_ROOT, StatePaths

DEV_GRACE_S = 30  # how long `cl dev` lets Dagster's processes stop before it kills them


def _run_until_signalled(command: list[str], **popen) -> int:
    """Run `command` in its own process group and forward SIGINT, SIGTERM and SIGHUP to the whole
    group: one signal to `cl dev` stops the webserver, the daemon and the code servers. Whatever
    is still alive DEV_GRACE_S seconds later is killed."""
    import signal

    child = subprocess.Popen(command, start_new_session=True, **popen)
    stopping: list[float] = []

    def forward(signum, _frame):
        if not stopping:
            stopping.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > DEV_GRACE_S:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):  # what the group left behind
            os.killpg(child.pid, signal.SIGKILL)
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def dev(args: argparse.Namespace) -> None:
    """Open the state folder in the Dagster UI (webserver and daemon), on 127.0.0.1 unless --host says otherwise."""
    paths = StatePaths.resolve(args.home).prepare()
    # dg runs the project's code servers with this interpreter's environment (the one `uv run` made)
    env = {
        **os.environ,
        HOME_ENV: str(paths.home),
        "DAGSTER_HOME": str(paths.dagster_home),
        "VIRTUAL_ENV": sys.prefix,
    }
    dg = str(Path(sys.executable).with_name("dg"))
    command = [dg, "dev", "--target-path", str(PROJECT_ROOT), "-h", args.host, "-p", str(args.port)]
    with writer(paths, "cl dev") as lock:
        from cl_assets.replay import recovery

        for line in recovery.recover(paths).lines():  # what a crashed replay left, before the daemon sees it
            print(f"recovered: {line}")
        print(f"DAGSTER_HOME={paths.dagster_home} {' '.join(command)}", flush=True)
        # dg dev inherits the lock: the folder stays locked while its processes live
        code = _run_until_signalled(command, env=env, cwd=PROJECT_ROOT, pass_fds=(lock,))
    sys.exit(code)


def add_commands(sub) -> None:
    """dev."""
    p = sub.add_parser("dev", help="open the state folder in the Dagster UI (dg dev)")
    p.add_argument("--port", type=int, default=3000, help="port of the Dagster UI (default 3000)")
    p.add_argument("--host", default="127.0.0.1", help="address the UI binds to (default 127.0.0.1: this machine only)")
    home_arg(p)
    p.set_defaults(func=dev)
