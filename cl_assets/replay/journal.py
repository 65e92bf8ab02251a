"""A replay's journal: how far `cl replay` / `cl demo` got, so the same command resumes there.

The journal is `<home>/replay_journal.json`, written atomically after every tick. It names the
stream it belongs to by a fingerprint (each batch's contents and time, the dataset spec, the
policies), and holds the report rows so far, the batch whose line is not printed yet, and the
driver's cursors. The same command after a crash finds the same fingerprint and goes on from
the last completed tick; another stream or policy gets the fingerprint of something else.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd

JOURNAL_NAME = "replay_journal.json"


def fingerprint(spec, batches, **settings) -> str:
    """What identifies a replay: the batches (ids, times, contents), the spec and the settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"spec": asdict(spec), **settings}, sort_keys=True, default=str).encode())
    for batch in batches:
        digest.update(f"{batch.batch_id}@{batch.time.isoformat()}:".encode())
        digest.update(pd.util.hash_pandas_object(batch.rows, index=False).to_numpy().tobytes())
        digest.update(",".join(map(str, batch.rows.columns)).encode())
    return digest.hexdigest()[:24]


def path_in(home: Path) -> Path:
    return Path(home) / JOURNAL_NAME


def read(home: Path) -> dict | None:
    try:
        return json.loads(path_in(home).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write(home: Path, entry: dict) -> None:
    """Replace the journal atomically: a crash leaves the previous entry or this one, never half."""
    target = path_in(home)
    tmp = target.with_name(f".{target.name}.tmp")
    with tmp.open("w") as f:
        f.write(json.dumps(entry, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(target)


def describe(entry: dict) -> str:
    return f"{entry.get('ticks_done', 0)} of {entry.get('ticks', '?')} ticks done"
