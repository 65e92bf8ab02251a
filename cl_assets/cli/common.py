"""What the commands share: the arguments they take alike, the state folder, its writer lock and
read-only connections, a user's file read as a dataset, and a run executed as a person's would be."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from cl_assets.settings import HOME_ENV, StatePaths


def policy_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        default="auto",
        help="retrain policy: auto (default; auto:NAME=VALUE... changes its controls), periodic:K, volume:N, "
        "fixed:K:ROWS (every K labeled batches on the newest ROWS rows, fixed parameters, no search, no gate), never",
    )


def home_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help=f"state folder (default: ${HOME_ENV} or .cl/)")


def dataset_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """The column roles of a user's file, shared by `replay`, `backtest` and `expectations init`."""
    parser.add_argument("--target", required=required, help="0/1 label column")
    parser.add_argument("--time", help="time column: batches follow its order")
    parser.add_argument("--id", help="id column (default: the row number)")
    parser.add_argument("--categorical", nargs="*", default=[], help="columns to treat as categorical")
    parser.add_argument("--slice", help="column whose values are the slices of the evaluation")


@contextmanager
def writer(paths: StatePaths, command: str):
    """Hold the state folder's writer lock for the block (yields its descriptor), or exit naming
    the command that holds it."""
    from cl_assets.lib import writer_lock

    try:
        with writer_lock.writing(paths.home, command) as fd:
            yield fd
    except writer_lock.FolderInUse as busy:
        sys.exit(str(busy))


def reset(paths: StatePaths, reset: bool, replay: str | None = None) -> bool:
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


def print_summary(summary: dict, report: str | None) -> None:
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
def progress():
    logger = logging.getLogger("cl_assets.progress")
    handler = _Progress()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


class BadInputFile(Exception):
    """The file a command was given cannot be read as a dataset: said in one line, exit 2."""


def dataset(path: Path, args: argparse.Namespace):
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


def replay_batches(args: argparse.Namespace, batch_rows: int):
    """A user's file cut into batches, and the raw-batch suite proposed from the first."""
    from cl_assets.lib import expectations
    from cl_assets.replay import playback

    frame, spec = dataset(Path(args.file), args)
    batches = playback.file_batches(frame, spec, batch_rows, datetime(2026, 1, 1, 12))
    return spec, batches, expectations.infer_suite(batches[0].rows.drop(columns=[spec.target]), spec)


def keep_suite(paths: StatePaths, suite: dict) -> None:
    """Write the proposed suite into the state folder unless one is there already."""
    suite_path = paths.suites / "raw_batches.json"
    if not suite_path.exists():
        suite_path.parent.mkdir(parents=True, exist_ok=True)
        suite_path.write_text(json.dumps(suite, indent=2) + "\n")
        print(f"proposed a suite from the first batch: {suite_path} (review it, then keep it)")


def parse_policy(text: str):
    from cl_assets.defs.triggers.policy import RetrainPolicy

    try:
        return RetrainPolicy.parse(text)
    except ValueError as exc:
        sys.exit(str(exc))


def parse_promotion(text: str):
    from cl_assets.defs.deployment.policy import PromotionPolicy

    try:
        return PromotionPolicy.parse(text)
    except ValueError as exc:
        sys.exit(str(exc))


def state_of(args: argparse.Namespace) -> StatePaths:
    paths = StatePaths.resolve(args.home)
    if not paths.warehouse.exists():
        sys.exit(f"no loop state in {paths.home}: run `cl demo` or `cl replay` first, or pass --home")
    return paths


def reading(paths: StatePaths):
    """A read-only connection to the warehouse that waits, saying so, while the loop writes it."""
    from cl_assets.lib import warehouse

    def waiting() -> None:
        print(f"waiting for the loop to finish writing {paths.warehouse} ...", file=sys.stderr, flush=True)

    return warehouse.connect(paths.warehouse, read_only=True, on_wait=waiting)


def run_by_hand(
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
