"""Running the loop: `cl demo` (the built-in drifting stream) and `cl replay` (a user's file)."""

from __future__ import annotations

import argparse

from cl_assets.cli.common import (
    dataset_args,
    home_arg,
    keep_suite,
    parse_policy,
    parse_promotion,
    policy_arg,
    print_summary,
    progress,
    replay_batches,
    reset,
    writer,
)
from cl_assets.lib import scenario
from cl_assets.settings import StatePaths


def demo(args: argparse.Namespace) -> None:
    from cl_assets.lib import scenario
    from cl_assets.replay import playback

    policy = parse_policy(args.policy)
    paths = StatePaths.resolve(args.home)
    with writer(paths, "cl demo"):
        batches = list(playback.scenario_batches(args.batches, args.rows, args.seed))
        settings = {"policy": policy.model_dump(mode="json")}
        resume = reset(paths, args.reset, playback.fingerprint(scenario.spec(), batches, **settings))
        print(f"state folder: {paths.home}" + ("" if policy.label == "auto" else f"; policy {policy.label}") + "\n")
        with progress():
            result = playback.play(paths, scenario.spec(), batches, report=args.report, resume=resume, **settings)
    print_summary(result["summary"], args.report)
    print(f"\nexplore it: uv run cl dev --home {paths.home}")


def replay(args: argparse.Namespace) -> None:
    from cl_assets.replay import playback

    policy = parse_policy(args.policy)
    promotion = parse_promotion(args.promotion)
    paths = StatePaths.resolve(args.home)
    with writer(paths, "cl replay"):
        spec, batches, suite = replay_batches(args, args.batch_rows)
        settings = {"policy": policy.model_dump(mode="json"), "promotion": promotion.model_dump(mode="json")}
        resume = reset(paths, args.reset, playback.fingerprint(spec, batches, **settings))
        keep_suite(paths, suite)
        print(
            f"state folder: {paths.home}; {len(batches)} batches of up to {args.batch_rows} rows; "
            f"policy {policy.label}; promotion {promotion.mode.value}"
        )
        print(f"features: {len(spec.numeric)} numeric, {len(spec.categorical)} categorical; target '{spec.target}'\n")
        with progress():
            result = playback.play(paths, spec, batches, report=args.report, resume=resume, **settings)
    print_summary(result["summary"], args.report)


def add_commands(sub) -> None:
    """demo and replay."""
    p = sub.add_parser("demo", help="run the loop over the built-in drifting stream")
    p.add_argument(
        "--batches",
        type=int,
        default=scenario.DEFAULT_BATCHES,
        help="number of batches (default 20; the story needs 18+)",
    )
    p.add_argument(
        "--rows", type=int, default=scenario.DEFAULT_ROWS, help=f"rows per batch (default {scenario.DEFAULT_ROWS})"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=scenario.DEFAULT_STREAM_SEED,
        help=f"seed of the stream (default {scenario.DEFAULT_STREAM_SEED})",
    )
    policy_arg(p)
    p.add_argument("--report", help="write the per-batch report as JSON to this file")
    p.add_argument("--reset", action="store_true", help="delete the state folder first")
    home_arg(p)
    p.set_defaults(func=demo)

    p = sub.add_parser("replay", help="run the loop over your own CSV or Parquet file, cut into batches")
    p.add_argument("file", help="CSV or Parquet file, one row per example")
    dataset_args(p)
    p.add_argument("--batch-rows", type=int, default=1000, help="rows per batch (default 1000)")
    policy_arg(p)
    p.add_argument(
        "--promotion",
        default="auto",
        help="promotion mode: auto (default), manual (wait for `cl approve`), canary[:SHARE[:BATCHES]]",
    )
    p.add_argument("--report", help="write the per-batch report as JSON to this file")
    p.add_argument("--reset", action="store_true", help="delete the state folder first")
    home_arg(p)
    p.set_defaults(func=replay)
