"""The `cl` command: run the loop on the built-in stream or a file, and open it in Dagster."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from cl_assets.lib import scenario
from cl_assets.lib.expectations import PLAUSIBLE_FACTOR
from cl_assets.settings import (
    HOME_ENV,
    PROJECT_ROOT,
    SEED_ENV,
    THREADS_ENV,
    StatePaths,
    configured_seed,
    configured_threads,
    lock_wait_s,
    quiet_third_party_env,
    resolved_threads,
)


def _policy_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        default="auto",
        help="retrain policy: auto (default; auto:NAME=VALUE... changes its controls), periodic:K, volume:N, "
        "fixed:K:ROWS (every K labeled batches on the newest ROWS rows, fixed parameters, no search, no gate), never",
    )


def _home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help=f"state folder (default: ${HOME_ENV} or .cl/)")


@contextmanager
def _writer(paths: StatePaths, command: str):
    """Hold the state folder's writer lock for the block (yields its descriptor), or exit naming
    the command that holds it."""
    from cl_assets.lib import writer_lock

    try:
        with writer_lock.writing(paths.home, command) as fd:
            yield fd
    except writer_lock.FolderInUse as busy:
        sys.exit(str(busy))


def _reset(paths: StatePaths, reset: bool, replay: str | None = None) -> bool:
    """Refuse a folder that holds a loop's state, or with `reset` empty it; the caller holds the
    writer lock, whose file stays. A folder whose journal (replay/journal.py) names the same
    `replay` (its fingerprint) and is not finished is resumed instead: returns True then."""
    from cl_assets.lib import writer_lock
    from cl_assets.replay import journal

    if reset and paths.home.exists():
        writer_lock.clear(paths.home)
        return False
    if not paths.warehouse.exists():
        return False
    entry = journal.read(paths.home)
    if replay is not None and entry is not None and entry.get("fingerprint") == replay:
        if not entry.get("finished"):
            return True
        sys.exit(
            f"{paths.home} holds this replay, finished ({journal.describe(entry)}). "
            "Use --reset to play it again, or --home for another folder."
        )
    other = " (of another stream or other settings)" if entry is not None and replay is not None else ""
    sys.exit(
        f"{paths.home} already holds a loop's state{other}. Use --reset to start over there, or --home for another folder."
    )


def _print_summary(summary: dict, report: str | None) -> None:
    acc, auc = summary["mean_accuracy"], summary["mean_roc_auc"]
    print(
        f"\n{summary['batches']} batches, {summary['retrains']} retrains, "
        f"mean prequential accuracy {acc:.3f}, ROC AUC {auc:.3f}, elapsed {summary['elapsed_s']:.1f} s"
        if acc is not None
        else f"\n{summary['batches']} batches, {summary['retrains']} retrains, elapsed {summary['elapsed_s']:.1f} s"
    )
    if report:
        print(f"report: {report}")


class _Progress(logging.Handler):
    """Tuning progress (`trial n of N ..., best so far ...`) on stderr while a candidate trains:
    one line rewritten in place on a terminal, a line per trial otherwise."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.tty = sys.stderr.isatty()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"  tuning: {record.getMessage()}"
        sys.stderr.write(f"\r\033[K{text}" if self.tty else f"{text}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        super().close()


@contextmanager
def _progress():
    logger = logging.getLogger("cl_assets.progress")
    handler = _Progress()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


def _dataset_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """The column roles of a user's file, shared by `replay`, `backtest` and `expectations init`."""
    parser.add_argument("--target", required=required, help="0/1 label column")
    parser.add_argument("--time", help="time column: batches follow its order")
    parser.add_argument("--id", help="id column (default: the row number)")
    parser.add_argument("--categorical", nargs="*", default=[], help="columns to treat as categorical")
    parser.add_argument("--slice", help="column whose values are the slices of the evaluation")


class BadInputFile(Exception):
    """The file a command was given cannot be read as a dataset: said in one line, exit 2."""


def _dataset(path: Path, args: argparse.Namespace):
    """Read a user's file and give its columns their roles, or stop naming what is wrong (exit 2).

    The file is read by the landing folder's rules (UTF-8, well-formed, one name per column), so
    an empty, header-only or mis-encoded file gets the sentence a landed batch would."""
    from cl_assets.lib import contracts
    from cl_assets.lib.dataset import DatasetError, infer_spec

    if not path.is_file():
        raise BadInputFile(f"no such file: {path}")
    real = path.resolve()  # a link to the file is fine here: the landing folder's rule against links is not
    try:
        frame = contracts.read_landed(real, real.parent, max_bytes=real.stat().st_size)
    except contracts.BadFile as bad:
        raise BadInputFile(f"{path}: {bad.reason} ({bad.rule})") from None
    if frame.empty:
        raise BadInputFile(f"{path}: holds a header and no rows (columns {list(frame.columns)})")
    try:
        spec = infer_spec(
            frame,
            name=path.stem,
            target=args.target,
            id_column=args.id,
            time_column=args.time,
            slice_column=args.slice,
            categorical=args.categorical,
        )
    except DatasetError as exc:
        raise BadInputFile(f"{path}: {exc}") from None
    return frame, spec


def demo(args: argparse.Namespace) -> None:
    from cl_assets.lib import scenario
    from cl_assets.replay import playback

    policy = _policy(args.policy)
    paths = StatePaths.resolve(args.home)
    with _writer(paths, "cl demo"):
        batches = list(playback.scenario_batches(args.batches, args.rows, args.seed))
        settings = {"policy": policy.model_dump(mode="json")}
        resume = _reset(paths, args.reset, playback.fingerprint(scenario.spec(), batches, **settings))
        print(f"state folder: {paths.home}" + ("" if policy.label == "auto" else f"; policy {policy.label}") + "\n")
        with _progress():
            result = playback.play(paths, scenario.spec(), batches, report=args.report, resume=resume, **settings)
    _print_summary(result["summary"], args.report)
    print(f"\nexplore it: uv run cl dev --home {paths.home}")


def _replay_batches(args: argparse.Namespace, batch_rows: int):
    """A user's file cut into batches, and the raw-batch suite proposed from the first."""
    from cl_assets.lib import expectations
    from cl_assets.replay import playback

    frame, spec = _dataset(Path(args.file), args)
    batches = playback.file_batches(frame, spec, batch_rows, datetime(2026, 1, 1, 12))
    return spec, batches, expectations.infer_suite(batches[0].rows.drop(columns=[spec.target]), spec)


def _keep_suite(paths: StatePaths, suite: dict) -> None:
    """Write the proposed suite into the state folder unless one is there already."""
    suite_path = paths.suites / "raw_batches.json"
    if not suite_path.exists():
        suite_path.parent.mkdir(parents=True, exist_ok=True)
        suite_path.write_text(json.dumps(suite, indent=2) + "\n")
        print(f"proposed a suite from the first batch: {suite_path} (review it, then keep it)")


def _policy(text: str):
    from cl_assets.defs.triggers.policy import RetrainPolicy

    try:
        return RetrainPolicy.parse(text)
    except ValueError as exc:
        sys.exit(str(exc))


def _promotion(text: str):
    from cl_assets.defs.deployment.policy import PromotionPolicy

    try:
        return PromotionPolicy.parse(text)
    except ValueError as exc:
        sys.exit(str(exc))


def replay(args: argparse.Namespace) -> None:
    from cl_assets.replay import playback

    policy = _policy(args.policy)
    promotion = _promotion(args.promotion)
    paths = StatePaths.resolve(args.home)
    with _writer(paths, "cl replay"):
        spec, batches, suite = _replay_batches(args, args.batch_rows)
        settings = {"policy": policy.model_dump(mode="json"), "promotion": promotion.model_dump(mode="json")}
        resume = _reset(paths, args.reset, playback.fingerprint(spec, batches, **settings))
        _keep_suite(paths, suite)
        print(
            f"state folder: {paths.home}; {len(batches)} batches of up to {args.batch_rows} rows; "
            f"policy {policy.label}; promotion {promotion.mode.value}"
        )
        print(f"features: {len(spec.numeric)} numeric, {len(spec.categorical)} categorical; target '{spec.target}'\n")
        with _progress():
            result = playback.play(paths, spec, batches, report=args.report, resume=resume, **settings)
    _print_summary(result["summary"], args.report)


def _play_job(job: tuple[tuple[str, int], tuple]) -> tuple[tuple[str, int], dict]:
    """A worker's task: ((label, seed), _play_policy's arguments) -> ((label, seed), summary)."""
    from cl_assets.replay.driver import RunFailed

    key, args = job
    try:
        return key, _play_policy(*args)
    except RunFailed as failed:
        label, seed = key
        raise RunFailed(failed.run, f"policy {label} (seed {seed}) in {args[0]}") from None


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


REPLAY_REPORT = "replay.json"  # in each backtest policy's state folder


def _play_policy(home: Path, spec, batches, suite: dict, policy: dict, threads: int, seed: int) -> dict:
    """One policy's replay in its own state folder (a worker process when policies run side by
    side), its model fits on `threads` threads from base seed `seed`; the folder keeps the replay's
    own report (`replay.json`, as `cl replay --report` writes it: every batch, why each retrain ran)."""
    from cl_assets.lib import backtest as lib
    from cl_assets.replay import playback

    paths = StatePaths(home)
    _reset(paths, True)
    if suite is not None:  # None: the built-in stream, checked by the suites in `expectations/`
        _keep_suite(paths, suite)
    # read by build_defs into the `compute` resource
    with _environment(**{THREADS_ENV: str(threads), SEED_ENV: str(seed)}):
        played = playback.play(paths, spec, batches, home / REPLAY_REPORT, echo=lambda _line: None, policy=policy)
    return lib.summarize(played)


def _seeds(text: str) -> list[int]:
    """`--seeds 0,1,2`: distinct whole numbers >= 0, or exit saying what is wrong."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        sys.exit(f"--seeds takes whole numbers >= 0 separated by commas, e.g. 0,1,2; got '{text}'")
    seeds = [int(p) for p in parts]
    if len(set(seeds)) < len(seeds):
        sys.exit(f"--seeds names a seed twice: {text}")
    return seeds


def backtest(args: argparse.Namespace) -> None:
    """Replay one history under several retrain policies and compare them side by side."""
    with _writer(StatePaths.resolve(args.home), "cl backtest"):
        _backtest(args)


def _backtest(args: argparse.Namespace) -> None:
    import multiprocessing

    from cl_assets.lib import backtest as lib

    spec, batches, suite, title = _backtest_batches(args)
    rows = len(batches[0].rows) if batches else 1
    names = (
        args.policies if args.policies is not None else f"auto,periodic:1,never,fixed:2:{4 * rows},fixed:4:{8 * rows}"
    )
    policies = [_policy(p) for p in names.split(",") if p.strip()]
    labels = [policy.label for policy in policies]
    if len(set(labels)) < len(labels):
        sys.exit(f"a policy is named twice: {', '.join(labels)}")
    if args.jobs < 1:
        sys.exit("--jobs must be at least 1")
    baseline = args.baseline if args.baseline is not None else ("periodic:1" if "periodic:1" in labels else "")
    if baseline and baseline not in labels:
        sys.exit(f"--baseline {baseline} is not among the policies: {', '.join(labels)}")
    seeds = _seeds(args.seeds) if args.seeds is not None else [configured_seed()]
    root = StatePaths.resolve(args.home).home / "backtest"
    jobs = min(args.jobs, len(policies) * len(seeds))
    # the replays share the cores, so that side by side they do not slow each other down
    threads = max(1, resolved_threads(configured_threads()) // jobs)

    def folder_of(policy, seed: int) -> Path:  # one state folder per replay; under several seeds, one per seed
        folder = root / policy.label.replace(":", "-")
        return folder / f"seed-{seed}" if len(seeds) > 1 else folder

    work = {
        (policy.label, seed): (
            folder_of(policy, seed),
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
    done: dict[tuple[str, int], dict] = {}
    if jobs == 1:
        for key, result in map(_play_job, work.items()):
            done[key] = result
            _print_done(_replay_name(key, seeds), result)
    else:  # separate state folders, so separate DuckDB files: the replays share no lock
        # leaving the pool's block terminates its workers, also on an error, Ctrl-C or SIGTERM
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


def _backtest_batches(args: argparse.Namespace):
    """What `backtest` replays: (spec, batches, raw-batch suite or None, title). A user's file,
    or with --demo the built-in stream as `cl demo` plays it (suites from `expectations/`)."""
    if args.demo == bool(args.file):
        sys.exit("backtest replays a FILE or, with --demo, the built-in stream: give one of them")
    if not args.demo:
        if not args.target:
            sys.exit("backtest FILE needs --target, the 0/1 label column")
        return (*_replay_batches(args, args.batch_rows or 1000), Path(args.file).name)
    from cl_assets.replay import playback

    given = [f"--{name}" for name in ("target", "time", "id", "slice") if getattr(args, name)]
    if given or args.categorical:
        sys.exit(
            f"--demo replays the built-in stream, whose columns have their roles: drop {', '.join(given) or '--categorical'}"
        )
    rows = args.batch_rows or scenario.DEFAULT_ROWS
    batches = list(playback.scenario_batches(scenario.DEFAULT_BATCHES, rows, scenario.DEFAULT_STREAM_SEED))
    return scenario.spec(), batches, None, "built-in stream"


def _replay_name(key: tuple[str, int], seeds: list[int]) -> str:
    label, seed = key
    return f"{label} (seed {seed})" if len(seeds) > 1 else label


def _print_done(label: str, result: dict) -> None:
    acc = "—" if result["mean_accuracy"] is None else f"{result['mean_accuracy']:.4f}"
    print(f"policy {label}: done, mean accuracy {acc}, {result['retrains']} retrains, {result['elapsed_s']:.0f} s")


def _state(args: argparse.Namespace) -> StatePaths:
    paths = StatePaths.resolve(args.home)
    if not paths.warehouse.exists():
        sys.exit(f"no loop state in {paths.home}: run `cl demo` or `cl replay` first, or pass --home")
    return paths


def _reading(paths: StatePaths):
    """A read-only connection to the warehouse that waits, saying so, while the loop writes it."""
    from cl_assets.lib import warehouse

    def waiting() -> None:
        print(f"waiting for the loop to finish writing {paths.warehouse} ...", file=sys.stderr, flush=True)

    return warehouse.connect(paths.warehouse, read_only=True, on_wait=waiting)


def _run_by_hand(
    paths: StatePaths,
    job_name: str | None,
    assets: list[str] | None,
    run_config: dict,
    tags: dict,
    what: str,
    gate_may_reject: bool = False,
):
    """Execute a job of the state folder's definitions in-process (job None: the assets alone;
    assets None: the whole job), as a person's run in the UI would; exit naming the cause when it
    fails, unless `gate_may_reject` and a blocking check stopped it (a rejected candidate is an outcome)."""
    import dagster as dg

    from cl_assets.defs import build_defs
    from cl_assets.replay import playback

    defs = build_defs(paths)
    job = defs.resolve_job_def(job_name) if job_name else defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=playback.instance_for(paths),
        asset_selection=[dg.AssetKey(a) for a in assets] if assets is not None else None,
        run_config={**run_config, "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        tags=tags,
        raise_on_error=False,
    )
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        cause = failure.step_failure_data.error if failure else None
        error = cause.cause if cause and cause.cause else cause
        if gate_may_reject and error and error.cls_name == "DagsterAssetCheckFailedError":
            return result
        message = (error.message if error else "").strip()
        if error and error.cls_name == "Failure":  # a Failure's text is the reason; its class path is noise
            message = message.partition(": ")[2] or message
        sys.exit(f"{what}: {message or 'the run failed'} (run {result.run_id})")
    return result


def accept_drift(args: argparse.Namespace) -> None:
    """Re-baseline the drift reference on the newest batches, without retraining; audited."""
    import getpass

    from cl_assets.lib import reference

    paths = _state(args)
    if not args.reason.strip():
        sys.exit("--reason must say why the drift is accepted: it is recorded with who and when")
    who = args.by or getpass.getuser()
    config = {"accept_drift_reason": args.reason, "accepted_by": who, "batches": args.batches}
    result = _run_by_hand(
        paths,
        None,
        ["reference_profile"],
        {"ops": {"reference_profile": {"config": config}}},
        {"cl/accepted_by": who, "cl/action": "accept_drift"},
        "drift not accepted",
    )
    with _reading(paths) as con:
        row = reference.baseline(con, reference.current_id(con))
    print(
        f"reference profile {row['profile_id']} (model version {row['model_version']}) now stands on batches "
        f"{', '.join(json.loads(row['batches']))}: accepted by {row['accepted_by']} — {row['reason']} "
        f"(run {result.run_id})"
    )


def _promotion_decision(args: argparse.Namespace, action: str, version: int) -> None:
    """approve / rollback: a promotion_job run with champion_model's action set, recorded as the
    person's decision; prints the promotions row it wrote."""
    import getpass

    from cl_assets.lib import warehouse

    paths = _state(args)
    if not args.reason.strip():
        sys.exit("--reason is required: it is recorded with who and when")
    who = args.by or getpass.getuser()
    config = {"action": action.upper(), "version": version, "reason": args.reason, "by": who}
    result = _run_by_hand(
        paths,
        "promotion_job",
        ["champion_model", "reference_profile"],
        {"ops": {"champion_model": {"config": config}}},
        {"user": who, "cl/action": action},
        f"not {'approved' if action == 'approve' else 'rolled back'}",
    )
    with _reading(paths) as con:
        row = warehouse.fetch_one(
            con, "select * from promotions where dagster_run_id = ? order by decided_at desc", [result.run_id]
        )
    print(
        f"{row['action']}: version {row['model_version']} is the champion (was {row['champion_version']}), "
        f"by {row['actor']} — {row['reason']} (run {result.run_id})"
    )


def approve_retrain(args: argparse.Namespace) -> None:
    """Run a retrain held for a person (RetrainPolicy.approval), with its trigger's own tags and
    who approved it and why; prints the trigger record and what became of the candidate."""
    import getpass

    from cl_assets.defs.triggers.approvals import awaiting_approval, not_awaiting
    from cl_assets.lib import warehouse
    from cl_assets.replay import playback

    paths = _state(args)
    if not args.reason.strip():
        sys.exit("--reason is required: it is recorded with who and when")
    pending = awaiting_approval(playback.instance_for(paths))
    if args.trigger_id not in pending:  # refused before a run starts
        sys.exit(not_awaiting(args.trigger_id, pending))
    who = args.by or getpass.getuser()
    # the run the UI launches: retrain_trigger's config names the held retrain; the asset records it
    config = {"approve": args.trigger_id, "reason": args.reason, "by": who}
    result = _run_by_hand(
        paths,
        "retrain_job",
        None,
        {"ops": {"retrain_trigger": {"config": config}}},
        {"user": who},
        "retrain failed",
        gate_may_reject=True,
    )
    with _reading(paths) as con:
        row = warehouse.fetch_one(con, "select * from retrain_triggers where trigger_id = ?", [args.trigger_id])
        decided = warehouse.fetch_one(
            con,
            "select action from promotions where model_version = ? order by decided_at desc",
            [row["model_version"]],
        )
    version = row["model_version"]
    # passed: promoted, awaiting a person's approval or in canary, as the PromotionPolicy says
    verdict = f"passed the gate: {decided['action']}" if result.success and decided else "rejected by the gate"
    print(
        f"retrain {row['trigger_id']} ({row['kind']}) approved by {row['approved_by']} — {row['approval_reason']}: "
        f"candidate version {version} {verdict}, training set {row['training_set_version']} (run {result.run_id}); "
        f"`cl why {version}` tells the rest"
    )


def pending(args: argparse.Namespace) -> None:
    """What waits for a person: retrains held for approval (RetrainPolicy.approval) and challengers
    held for promotion (PromotionPolicy 'manual'), oldest first, each with the command that acts on it."""
    from cl_assets.defs.triggers.approvals import awaiting_approval
    from cl_assets.lib import triggers, warehouse
    from cl_assets.replay import playback

    paths = _state(args)
    held = awaiting_approval(playback.instance_for(paths))
    with _reading(paths) as con:
        challengers = warehouse.fetch_records(con, warehouse.query("awaiting_promotion"))
    retrains = [
        {
            "trigger_id": trigger_id,
            "kind": tags[triggers.KIND],
            "batch_id": tags[triggers.BATCH],
            "reason": tags[triggers.REASON],
        }
        for trigger_id, tags in held.items()
    ]
    if args.json:
        print(json.dumps({"retrains": retrains, "promotions": challengers}, indent=2, default=str))
        return
    print(
        f"retrains awaiting approval ({len(retrains)}): `cl approve-retrain TRIGGER_ID --reason ...`"
        if retrains
        else "no retrain awaits approval"
    )
    for r in retrains:
        print(f"  {r['trigger_id']}  {r['kind']}, batch {r['batch_id']}: {r['reason']}")
    print(
        f"challengers awaiting approval ({len(challengers)}): `cl approve VERSION --reason ...`"
        if challengers
        else "no challenger awaits approval"
    )
    for c in challengers:
        print(f"  version {c['model_version']}  since {c['decided_at']:%Y-%m-%d %H:%M:%S}: {c['reason']}")


def approve(args: argparse.Namespace) -> None:
    """Promote a challenger that passed the gate and waits for a person (PromotionPolicy 'manual')."""
    _promotion_decision(args, "approve", args.version)


def rollback(args: argparse.Namespace) -> None:
    """Restore an earlier champion (default: the newest earlier one not rolled back), recorded like a promotion."""
    _promotion_decision(args, "rollback", args.to or 0)


def expectations_init(args: argparse.Namespace) -> None:
    """Propose a raw-batch suite from a reference file, for a person to review and commit."""
    from cl_assets.lib import expectations

    frame, spec = _dataset(Path(args.source), args)
    reference = frame.drop(columns=[spec.target])
    if spec.id_column not in reference.columns:  # `cl replay` numbers the rows when there is no id
        reference[spec.id_column] = range(len(reference))
    suite = expectations.infer_suite(reference, spec, margin=args.margin, plausible_factor=args.plausible_factor)
    out = Path(args.out) if args.out else StatePaths.resolve(args.home).suites / "raw_batches.json"
    if out.exists() and not args.force:
        sys.exit(f"{out} exists: review it, or pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(suite, indent=2) + "\n")
    errors = sum(e["meta"]["severity"] == "error" for e in suite["expectations"])
    print(
        f"proposed {len(suite['expectations'])} expectations ({errors} errors, the rest warnings) from {len(frame)} rows"
    )
    print(f"wrote {out}: review the ranges and sets, set each expectation's meta.severity, then commit it")


def why(args: argparse.Namespace) -> None:
    """The chain behind a model version: trigger, evidence, training set, MLflow run, gate, promotion."""
    from cl_assets.lib import lineage

    paths = _state(args)
    with _reading(paths) as con:
        try:
            chain = lineage.why(con, args.version)
        except lineage.UnknownVersion as exc:
            sys.exit(str(exc))
    print(json.dumps(chain, indent=2, default=str) if args.json else lineage.render(chain))


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
    env = {**os.environ, HOME_ENV: str(paths.home), "DAGSTER_HOME": str(paths.dagster_home)}
    command = ["dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    with _writer(paths, "cl dev") as lock:
        from cl_assets.replay import recovery

        for line in recovery.recover(paths).lines():  # what a crashed replay left, before the daemon sees it
            print(f"recovered: {line}")
        print(f"DAGSTER_HOME={paths.dagster_home} {' '.join(command)}", flush=True)
        # dagster dev inherits the lock: the folder stays locked while its processes live
        code = _run_until_signalled(command, env=env, cwd=PROJECT_ROOT, pass_fds=(lock,))
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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
    _policy_arg(p)
    p.add_argument("--report", help="write the per-batch report as JSON to this file")
    p.add_argument("--reset", action="store_true", help="delete the state folder first")
    _home(p)
    p.set_defaults(func=demo)

    p = sub.add_parser("replay", help="run the loop over your own CSV or Parquet file, cut into batches")
    p.add_argument("file", help="CSV or Parquet file, one row per example")
    _dataset_args(p)
    p.add_argument("--batch-rows", type=int, default=1000, help="rows per batch (default 1000)")
    _policy_arg(p)
    p.add_argument(
        "--promotion",
        default="auto",
        help="promotion mode: auto (default), manual (wait for `cl approve`), canary[:SHARE[:BATCHES]]",
    )
    p.add_argument("--report", help="write the per-batch report as JSON to this file")
    p.add_argument("--reset", action="store_true", help="delete the state folder first")
    _home(p)
    p.set_defaults(func=replay)

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
    _dataset_args(p, required=False)
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
    _home(p)
    p.set_defaults(func=backtest)

    p = sub.add_parser("accept-drift", help="re-baseline the drift reference on the newest batches (audited)")
    p.add_argument("--reason", required=True, help="why the drift is accepted (recorded)")
    p.add_argument("--batches", type=int, default=3, help="how many of the newest scored batches (default 3)")
    p.add_argument("--by", help="who accepts it (default: the current user)")
    _home(p)
    p.set_defaults(func=accept_drift)

    p = sub.add_parser("pending", help="what waits for a person: held retrains and challengers awaiting approval")
    p.add_argument("--json", action="store_true", help="print both queues as JSON")
    _home(p)
    p.set_defaults(func=pending)

    p = sub.add_parser("approve", help="promote a challenger awaiting approval (promotion mode 'manual')")
    p.add_argument("version", type=int, help="model version (as in the MLflow registry)")
    p.add_argument("--reason", required=True, help="why it is approved (recorded)")
    p.add_argument("--by", help="who approves (default: the current user)")
    _home(p)
    p.set_defaults(func=approve)

    p = sub.add_parser("approve-retrain", help="run a retrain held for approval (RetrainPolicy.approval)")
    p.add_argument("trigger_id", help="the trigger id of an 'awaiting_approval' observation on retrain_trigger")
    p.add_argument("--reason", required=True, help="why it is approved (recorded)")
    p.add_argument("--by", help="who approves it (default: the current user)")
    _home(p)
    p.set_defaults(func=approve_retrain)

    p = sub.add_parser("rollback", help="restore an earlier champion (recorded like a promotion)")
    p.add_argument(
        "--to",
        type=int,
        help="model version to restore (default: the newest earlier champion that was not itself rolled back)",
    )
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.add_argument("--by", help="who rolls back (default: the current user)")
    _home(p)
    p.set_defaults(func=rollback)

    p = sub.add_parser("expectations", help="Great Expectations suites of the data contract")
    ex = p.add_subparsers(dest="action", required=True)
    p = ex.add_parser("init", help="propose a raw-batch suite from a reference file, for review")
    p.add_argument("--from", dest="source", required=True, help="reference CSV or Parquet file (one good batch)")
    _dataset_args(p)
    p.add_argument("--margin", type=float, default=0.5, help="widen observed ranges by this share of their span")
    p.add_argument(
        "--plausible-factor",
        type=float,
        default=PLAUSIBLE_FACTOR,
        help="a numeric value beyond this many times the reference's largest magnitude (or infinite) rejects "
        "the batch (an error expectation per numeric feature)",
    )
    p.add_argument("--out", help="suite file to write (default: <home>/expectations/raw_batches.json)")
    p.add_argument("--force", action="store_true", help="replace an existing suite file")
    _home(p)
    p.set_defaults(func=expectations_init)

    p = sub.add_parser("why", help="why does a model version exist? trigger to promotion")
    p.add_argument("version", type=int, help="model version (as in the MLflow registry)")
    p.add_argument("--json", action="store_true", help="print the chain as JSON")
    _home(p)
    p.set_defaults(func=why)

    p = sub.add_parser("dev", help="open the state folder in the Dagster UI (dagster dev)")
    p.add_argument("--port", type=int, default=3000, help="port of the Dagster UI (default 3000)")
    p.add_argument("--host", default="127.0.0.1", help="address the UI binds to (default 127.0.0.1: this machine only)")
    _home(p)
    p.set_defaults(func=dev)

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


if __name__ == "__main__":
    main()
