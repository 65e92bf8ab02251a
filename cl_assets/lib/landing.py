"""Reading landed files, and naming batches after them."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pandas as pd

BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def batch_id_for(path: Path) -> str | None:
    """The batch id a landed file stands for (its stem), or None when the name is not usable."""
    return path.stem if BATCH_ID.match(path.stem) else None


def batch_id_for_key(key: str) -> str | None:
    """The batch id of a landed file's key (`batches/<name>` or `labels/<name>`)."""
    return batch_id_for(Path(key.partition("/")[2]))


def signature(path: Path) -> str:
    """A hash of the file's contents: the same delivery written again (a copy, a touch, a
    re-sync) keeps its signature, other contents change it. A symlink is signed as its link
    text, not followed: the ingest asset refuses it."""
    digest = hashlib.blake2b(digest_size=12)
    if path.is_symlink():
        digest.update(os.readlink(path).encode())
        return "link-" + digest.hexdigest()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stat_key(path: Path) -> str:
    """What the sensor compares before it hashes a file: modification time and size."""
    stat = path.lstat()
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
