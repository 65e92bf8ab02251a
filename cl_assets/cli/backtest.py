"""`cl backtest`: replay one history under several retrain policies, side by side, and compare them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from cl_assets.cli.common import dataset_args, home_arg, keep_suite, parse_policy, replay_batches, reset, writer
from cl_assets.lib import scenario
from cl_assets.settings import (
    SEED_ENV,
    THREADS_ENV,
    StatePaths,
    configured_seed,
    configured_threads,
    resolved_threads,
)

REPLAY_REPORT = "replay.json"  # in each backtest policy's state folder


def backtest(args: argparse.Namespace) -> None:
    """Replay one history under several retrain policies and compare them side by side."""
    with writer(StatePaths.resolve(args.home), "cl backtest"):
        _backtest(args)


def _backtest(args: argparse.Namespace) -> None:
    from cl_assets.lib import backtest as lib

    spec, batches, suite, title = _backtest_batches(args)
    policies, baseline = _policies(args, len(batches[0].rows) if batches else 1)
    seeds = _seeds(args.seeds) if args.seeds is not None else [configured_seed()]
    root = StatePaths.resolve(args.home).home / "backtest"
    jobs = min(args.jobs, len(policies) * len(seeds))
    # the replays share the cores, so that side by side they do not slow each other down
    threads = max(1, resolved_threads(configured_threads()) // jobs)
    work = {
        (policy.label, seed): (
            _folder(root, policy.label, seed, seeds),
            spec,
            batches,
            suite,
            policy.model_dump(mode="json"),
            threads,
            seed,
        )
        for policy in policies
        for seed in seeds
    }
    for key, (folder, *_rest) in work.items():
        print(f"policy {_replay_name(key, seeds)}: {len(batches)} batches in {folder}", flush=True)
    print(f"{jobs} replay(s) at a time, each fitting models on {threads} thread(s)", flush=True)
    done = _play_all(work, jobs, seeds)
    labels = [policy.label for policy in policies]
    results = {label: lib.combine({seed: done[label, seed] for seed in seeds}) for label in labels}
    if baseline:
        results = lib.compare(results, baseline)
    results = lib.best_fixed(results)
    print()
    print(lib.table(results))
    plot = Path(args.plot) if args.plot else root / "backtest.png"
    plot.write_bytes(lib.plot(results, title=title))
    print(f"\nplot: {plot}")
    if args.report:
        Path(args.report).write_text(json.dumps({"policies": results, "seeds": seeds}, indent=2) + "\n")
        print(f"report: {args.report}")


def _policies(args: argparse.Namespace, rows: int) -> tuple[list, str]:
    """The policies to replay (by default auto, periodic:1, never and two cron jobs on `rows`-row
    batches) and the baseline to compare them with; exits naming what is inconsistent."""
    names = (
        args.policies if args.policies is not None else f"auto,periodic:1,never,fixed:2:{4 * rows},fixed:4:{8 * rows}"
    )
    policies = [parse_policy(p) for p in names.split(",") if p.strip()]
    labels = [policy.label for policy in policies]
    if len(set(labels)) < len(labels):
        sys.exit(f"a policy is named twice: {', '.join(labels)}")
    if args.jobs < 1:
        sys.exit("--jobs must be at least 1")
    baseline = args.baseline if args.baseline is not None else ("periodic:1" if "periodic:1" in labels else "")
    if baseline and baseline not in labels:
        sys.exit(f"--baseline {baseline} is not among the policies: {', '.join(labels)}")
    return policies, baseline


def _folder(root: Path, label: str, seed: int, seeds: list[int]) -> Path:
    """One state folder per replay; under several seeds, one per seed."""
    folder = root / label.replace(":", "-")
    return folder / f"seed-{seed}" if len(seeds) > 1 else folder


def _play_all(work: dict, jobs: int, seeds: list[int]) -> dict[tuple[str, int], dict]:
    """Every replay of `work`, `jobs` at a time: (label, seed) -> its summary, printed as each ends."""
    import multiprocessing

    done: dict[tuple[str, int], dict] = {}
    if jobs == 1:
        for key, result in map(_play_job, work.items()):
            done[key] = result
            _print_done(_replay_name(key, seeds), result)
        return done
    # separate state folders, so separate DuckDB files: the replays share no lock; leaving the
    # pool's block terminates its workers, also on an error, Ctrl-C or SIGTERM
    with _terminated_as_exit(), multiprocessing.get_context("spawn").Pool(jobs, maxtasksperchild=1) as pool:
        results = pool.imap_unordered(_play_job, list(work.items()))
        try:
            while len(done) < len(work):
                try:  # a bounded wait: a signal may land on one of the pool's threads, and
                    # the main thread runs its handler only once it wakes
                    key, result = results.next(timeout=1.0)
                except multiprocessing.TimeoutError:
                    continue
                done[key] = result
                _print_done(_replay_name(key, seeds), result)
            # let the idle workers exit by themselves: terminating them (the block's exit) can
            # interrupt one in its atexit cleanup, which prints a stray KeyboardInterrupt; a
            # worker still there after a minute is terminated all the same
            pool.close()
            for worker in multiprocessing.active_children():
                worker.join(timeout=60)
        except BaseException:
            # SIGKILL: inside a Dagster run a worker defers SIGTERM and SIGINT to the run's
            # end (the run fails, and the replay would go on with the next batch)
            for worker in multiprocessing.active_children():
                worker.kill()
            raise
    return done


def _backtest_batches(args: argparse.Namespace):
    """What `backtest` replays: (spec, batches, raw-batch suite or None, title). A user's file,
    or with --demo the built-in stream as `cl demo` plays it (suites from `expectations/`)."""
    if args.demo == bool(args.file):
        sys.exit("backtest replays a FILE or, with --demo, the built-in stream: give one of them")
    if not args.demo:
        if not args.target:
            sys.exit("backtest FILE needs --target, the 0/1 label column")
        return (*replay_batches(args, args.batch_rows or 1000), Path(args.file).name)
    from cl_assets.replay import playback

    given = [f"--{name}" for name in ("target", "time", "id", "slice") if getattr(args, name)]
    if given or args.categorical:
        sys.exit(
            f"--demo replays the built-in stream, whose columns have their roles: drop {', '.join(given) or '--categorical'}"
        )
    rows = args.batch_rows or scenario.DEFAULT_ROWS
    batches = list(playback.scenario_batches(scenario.DEFAULT_BATCHES, rows, scenario.DEFAULT_STREAM_SEED))
    return scenario.spec(), batches, None, "built-in stream"


def _play_job(job: tuple[tuple[str, int], tuple]) -> tuple[tuple[str, int], dict]:
    """A worker's task: ((label, seed), _play_policy's arguments) -> ((label, seed), summary)."""
    from cl_assets.replay.driver import RunFailed

    key, args = job
    try:
        return key, _play_policy(*args)
    except RunFailed as failed:
        label, seed = key
        raise RunFailed(failed.run, f"policy {label} (seed {seed}) in {args[0]}") from None


def _play_policy(home: Path, spec, batches, suite: dict, policy: dict, threads: int, seed: int) -> dict:
    """One policy's replay in its own state folder (a worker process when policies run side by
    side), its model fits on `threads` threads from base seed `seed`; the folder keeps the replay's
    own report (`replay.json`, as `cl replay --report` writes it: every batch, why each retrain ran)."""
    from cl_assets.lib import backtest as lib
    from cl_assets.replay import playback

    paths = StatePaths(home)
    reset(paths, True)
    if suite is not None:  # None: the built-in stream, checked by the suites in `expectations/`
        keep_suite(paths, suite)
    # read by build_defs into the `compute` resource
    with _environment(**{THREADS_ENV: str(threads), SEED_ENV: str(seed)}):
        played = playback.play(paths, spec, batches, home / REPLAY_REPORT, echo=lambda _line: None, policy=policy)
    return lib.summarize(played)


@contextmanager
def _environment(**values: str):
    """Environment variables set for the block, and put back as they were after it."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value


@contextmanager
def _terminated_as_exit():
    """SIGTERM ends this process with SystemExit (143), so `finally` and `with` blocks run: a
    pool of replay workers is terminated with it instead of running on as orphans."""
    import signal

    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _seeds(text: str) -> list[int]:
    """`--seeds 0,1,2`: distinct whole numbers >= 0, or exit saying what is wrong."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        sys.exit(f"--seeds takes whole numbers >= 0 separated by commas, e.g. 0,1,2; got '{text}'")
    seeds = [int(p) for p in parts]
    if len(set(seeds)) < len(seeds):
        sys.exit(f"--seeds names a seed twice: {text}")
    return seeds


def _replay_name(key: tuple[str, int], seeds: list[int]) -> str:
    label, seed = key
    return f"{label} (seed {seed})" if len(seeds) > 1 else label


def _print_done(label: str, result: dict) -> None:
    acc = "—" if result["mean_accuracy"] is None else f"{result['mean_accuracy']:.4f}"
    print(f"policy {label}: done, mean accuracy {acc}, {result['retrains']} retrains, {result['elapsed_s']:.0f} s")


def add_commands(sub) -> None:
    """backtest."""
    p = sub.add_parser(
        "backtest", help="replay your file (or, with --demo, the built-in stream) under several retrain policies"
    )
    p.add_argument("file", nargs="?", help="CSV or Parquet file, one row per example")
    p.add_argument(
        "--demo",
        action="store_true",
        help=f"replay the built-in stream instead of a file, as `cl demo` plays it ({scenario.DEFAULT_BATCHES} "
        f"batches of {scenario.DEFAULT_ROWS} rows, stream seed {scenario.DEFAULT_STREAM_SEED})",
    )
    dataset_args(p, required=False)
    p.add_argument("--batch-rows", type=int, help=f"rows per batch (default 1000; with --demo {scenario.DEFAULT_ROWS})")
    p.add_argument(
        "--policies",
        help="comma-separated: auto[:NAME=VALUE...] (the auto policy with some controls changed, e.g. "
        "auto:cooldown_batches=4), periodic:K, volume:N, fixed:K:ROWS (the cron job: every K labeled batches on "
        "the newest ROWS rows, fixed XGBoost parameters, no search, no gate), never (default: auto, periodic:1, "
        "never and two cron jobs, fixed:2 on 4 batches' rows and fixed:4 on 8 batches'; auto is shown against "
        "the best fixed policy that retrained no more often)",
    )
    p.add_argument("--report", help="write {'policies': {...}} as JSON to this file")
    p.add_argument("--plot", help="PNG of accuracy over batches per policy (default <home>/backtest/backtest.png)")
    p.add_argument(
        "--baseline",
        help="compare every policy with this one, batch by batch: the accuracy gap in points with its 95%% "
        "interval, and the share of its retrains (default: periodic:1 when it runs; '' for none)",
    )
    p.add_argument(
        "--seeds",
        help="base seeds of the model fits (holdout draws, searches, XGBoost; the `compute` resource's seed), "
        "comma-separated: each policy is replayed once per seed and compared by its mean over them, so a gap "
        "is not one draw's luck (default: CL_SEED, or 0)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="replays run at once, each in its own process and fitting on its share of the cores "
        "(default: 2, or 1 on one core)",
    )
    home_arg(p)
    p.set_defaults(func=backtest)
