"""A person's decisions, each recorded with who and why: `cl approve`, `cl approve-retrain`,
`cl rollback` and `cl accept-drift`."""

from __future__ import annotations

import argparse
import json
import sys

from cl_assets.cli.common import home_arg, reading, run_by_hand, state_of


def approve(args: argparse.Namespace) -> None:
    """Promote a challenger that passed the gate and waits for a person (PromotionPolicy 'manual')."""
    _promotion_decision(args, "approve", args.version)


def approve_retrain(args: argparse.Namespace) -> None:
    """Run a retrain held for a person (RetrainPolicy.approval), with its trigger's own tags and
    who approved it and why; prints the trigger record and what became of the candidate."""
    import getpass

    from cl_assets.defs.triggers.approvals import awaiting_approval, not_awaiting
    from cl_assets.lib import queries
    from cl_assets.replay import playback

    paths = state_of(args)
    if not args.reason.strip():
        sys.exit("--reason is required: it is recorded with who and when")
    pending = awaiting_approval(playback.instance_for(paths))
    if args.trigger_id not in pending:  # refused before a run starts
        sys.exit(not_awaiting(args.trigger_id, pending))
    who = args.by or getpass.getuser()
    # the run the UI launches: retrain_trigger's config names the held retrain; the asset records it
    config = {"approve": args.trigger_id, "reason": args.reason, "by": who}
    result = run_by_hand(
        paths,
        "retrain_job",
        None,
        {"ops": {"retrain_trigger": {"config": config}}},
        {"user": who},
        "retrain failed",
        gate_may_reject=True,
    )
    with reading(paths) as con:
        row = queries.TRIGGER_RECORD_BY_ID.one(con, trigger_id=args.trigger_id)
        decided = queries.NEWEST_DECISION_OF_VERSION.one(con, version=row["model_version"])
    version = row["model_version"]
    # passed: promoted, awaiting a person's approval or in canary, as the PromotionPolicy says
    verdict = f"passed the gate: {decided['action']}" if result.success and decided else "rejected by the gate"
    print(
        f"retrain {row['trigger_id']} ({row['kind']}) approved by {row['approved_by']} — {row['approval_reason']}: "
        f"candidate version {version} {verdict}, training set {row['training_set_version']} (run {result.run_id}); "
        f"`cl why {version}` tells the rest"
    )


def rollback(args: argparse.Namespace) -> None:
    """Restore an earlier champion (default: the newest earlier one not rolled back), recorded like a promotion."""
    _promotion_decision(args, "rollback", args.to or 0)


def accept_drift(args: argparse.Namespace) -> None:
    """Re-baseline the drift reference on the newest batches, without retraining; audited."""
    import getpass

    from cl_assets.lib import reference

    paths = state_of(args)
    if not args.reason.strip():
        sys.exit("--reason must say why the drift is accepted: it is recorded with who and when")
    who = args.by or getpass.getuser()
    config = {"accept_drift_reason": args.reason, "accepted_by": who, "batches": args.batches}
    result = run_by_hand(
        paths,
        None,
        ["reference_profile"],
        {"ops": {"reference_profile": {"config": config}}},
        {"cl/accepted_by": who, "cl/action": "accept_drift"},
        "drift not accepted",
    )
    with reading(paths) as con:
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

    from cl_assets.lib import queries

    paths = state_of(args)
    if not args.reason.strip():
        sys.exit("--reason is required: it is recorded with who and when")
    who = args.by or getpass.getuser()
    config = {"action": action.upper(), "version": version, "reason": args.reason, "by": who}
    result = run_by_hand(
        paths,
        "promotion_job",
        ["champion_model", "reference_profile"],
        {"ops": {"champion_model": {"config": config}}},
        {"user": who, "cl/action": action},
        f"not {'approved' if action == 'approve' else 'rolled back'}",
    )
    with reading(paths) as con:
        row = queries.PROMOTIONS_OF_RUN.one(con, run_id=result.run_id)
    print(
        f"{row['action']}: version {row['model_version']} is the champion (was {row['champion_version']}), "
        f"by {row['actor']} — {row['reason']} (run {result.run_id})"
    )


def add_commands(sub) -> None:
    """approve, approve-retrain, rollback and accept-drift."""
    p = sub.add_parser("approve", help="promote a challenger awaiting approval (promotion mode 'manual')")
    p.add_argument("version", type=int, help="model version (as in the MLflow registry)")
    p.add_argument("--reason", required=True, help="why it is approved (recorded)")
    p.add_argument("--by", help="who approves (default: the current user)")
    home_arg(p)
    p.set_defaults(func=approve)

    p = sub.add_parser("approve-retrain", help="run a retrain held for approval (RetrainPolicy.approval)")
    p.add_argument("trigger_id", help="the trigger id of an 'awaiting_approval' observation on retrain_trigger")
    p.add_argument("--reason", required=True, help="why it is approved (recorded)")
    p.add_argument("--by", help="who approves it (default: the current user)")
    home_arg(p)
    p.set_defaults(func=approve_retrain)

    p = sub.add_parser("rollback", help="restore an earlier champion (recorded like a promotion)")
    p.add_argument(
        "--to",
        type=int,
        help="model version to restore (default: the newest earlier champion that was not itself rolled back)",
    )
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.add_argument("--by", help="who rolls back (default: the current user)")
    home_arg(p)
    p.set_defaults(func=rollback)

    p = sub.add_parser("accept-drift", help="re-baseline the drift reference on the newest batches (audited)")
    p.add_argument("--reason", required=True, help="why the drift is accepted (recorded)")
    p.add_argument("--batches", type=int, default=3, help="how many of the newest scored batches (default 3)")
    p.add_argument("--by", help="who accepts it (default: the current user)")
    home_arg(p)
    p.set_defaults(func=accept_drift)
