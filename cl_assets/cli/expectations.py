"""`cl expectations init`: propose a raw-batch suite of the data contract from a reference file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cl_assets.cli.common import dataset, dataset_args, home_arg
from cl_assets.lib.expectations import PLAUSIBLE_FACTOR
from cl_assets.settings import StatePaths


def expectations_init(args: argparse.Namespace) -> None:
    """Propose a raw-batch suite from a reference file, for a person to review and commit."""
    from cl_assets.lib import expectations

    frame, spec = dataset(Path(args.source), args)
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


def add_commands(sub) -> None:
    """expectations init."""
    p = sub.add_parser("expectations", help="Great Expectations suites of the data contract")
    ex = p.add_subparsers(dest="action", required=True)
    p = ex.add_parser("init", help="propose a raw-batch suite from a reference file, for review")
    p.add_argument("--from", dest="source", required=True, help="reference CSV or Parquet file (one good batch)")
    dataset_args(p)
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
    home_arg(p)
    p.set_defaults(func=expectations_init)
