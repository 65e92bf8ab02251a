"""Reading landed files, and naming batches after them."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def batch_id_for(path: Path) -> str | None:
    """The batch id a landed file stands for (its stem), or None when the name is not usable."""
    return path.stem if BATCH_ID.match(path.stem) else None


def signature(path: Path) -> str:
    """Changes when the file is delivered again with other contents."""
    stat = path.lstat()  # a symlink is signed as itself: the ingest asset refuses it
    return f"{stat.st_mtime_ns}-{stat.st_size}"


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write atomically (temp file, then rename) so the sensor never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path
