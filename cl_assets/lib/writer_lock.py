"""One writer per state folder: an OS file lock that `cl demo`, `cl replay`, `cl backtest` and
`cl dev` hold while they write, and that `--reset` takes before it deletes anything.

The lock is `flock(2)` on `<home>/writer.lock`, so the kernel releases it when its holder dies,
even by `kill -9`: a crash never leaves a stale lock behind. The file also names the holder
(command, pid, since when), which is what a second writer is told.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = "writer.lock"


class FolderInUse(RuntimeError):
    """Another process holds the state folder's writer lock."""


def holder(home: Path) -> dict | None:
    """Who holds (or last held) the lock, as its file says; None when it says nothing."""
    try:
        return json.loads((home / LOCK_NAME).read_text() or "null")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def describe(who: dict | None) -> str:
    if not who:
        return "another process"
    return f"`{who.get('command', '?')}` (pid {who.get('pid', '?')}, since {who.get('since', '?')})"


@contextmanager
def writing(home: Path, command: str) -> Iterator[int]:
    """Hold the writer lock of `home` for the block, or raise FolderInUse naming the holder.

    Yields the lock's file descriptor: a child process given it (`pass_fds`) keeps the folder
    locked for as long as it lives, even if this process dies first.
    """
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUse(
                f"{home} is in use by {describe(holder(home))}: one command writes a state folder at a time. "
                "Wait for it to finish or stop it, or pass --home for another folder."
            ) from None
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps({"command": command, "pid": os.getpid(), "since": since}) + "\n").encode(), 0)
        try:
            yield fd
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def clear(home: Path) -> None:
    """Delete everything in `home` but the lock file (the caller holds the lock)."""
    import shutil

    for child in home.iterdir():
        if child.name == LOCK_NAME:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
