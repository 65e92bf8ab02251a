"""Named points where a test can kill the loop as a crash would: `CL_FAILPOINT=name[:N]` makes
the Nth time (default 1st) the process passes `reached(name)` send SIGKILL to its whole process
group, with no cleanup, like `kill -9` of the command. Unset, `reached` does nothing.

The points: `tick` (a replay's files landed, before its tick), `ingest` (a batch's rows stored,
its fate not yet written), `tuning` (a tuning trial finished), `registration` (a candidate
registered in MLflow, not yet recorded in DuckDB), `promotion` (the champion recorded in DuckDB,
the MLflow alias not yet moved), `drift` (a batch's drift measured, not yet stored).
"""

from __future__ import annotations

import os
import signal

ENV = "CL_FAILPOINT"
_passed: dict[str, int] = {}


def reached(name: str) -> None:
    wanted = os.environ.get(ENV, "")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] == int(nth or 1):
        os.killpg(os.getpgrp(), signal.SIGKILL)
