"""The `cl` command: run the loop on the built-in stream or a file, and open it in Dagster."""

from __future__ import annotations

import argparse
import sys

from cl_assets.cli import backtest, decide, dev, expectations, inspection, run
from cl_assets.cli.common import BadInputFile
from cl_assets.settings import StatePaths, configured_seed, configured_threads, lock_wait_s, quiet_third_party_env

GROUPS = (run, backtest, decide, inspection, expectations, dev)  # the order of `cl --help`


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    args = parser.parse_args(argv)
    quiet_third_party_env()  # every command: no telemetry, no third-party beta notices
    try:
        configured_threads()  # refused now, not inside the first run that fits a model
        configured_seed()
        lock_wait_s()
    except ValueError as bad:
        sys.exit(str(bad))
    from cl_assets.replay.driver import RunFailed

    try:
        args.func(args)
    except BadInputFile as bad:
        print(f"cl {args.command}: {bad}", file=sys.stderr)
        sys.exit(2)
    except RunFailed as failed:
        home = StatePaths.resolve(getattr(args, "home", None)).home
        sys.exit(f"\ncl {args.command}: {failed}\nits logs are in the Dagster UI: uv run cl dev --home {home}")
    except KeyboardInterrupt as interrupted:
        print(f"\nstopped: {interrupted or 'interrupted'}", file=sys.stderr)
        sys.exit(130)
