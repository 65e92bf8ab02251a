"""Reading the loop's history: `cl why` (the chain behind a model version) and `cl pending`
(what waits for a person)."""

from __future__ import annotations

import argparse
import json
import sys

from cl_assets.cli.common import home_arg, reading, state_of


def why(args: argparse.Namespace) -> None:
    """The chain behind a model version: trigger, evidence, training set, MLflow run, gate, promotion."""
    from cl_assets.lib import lineage

    paths = state_of(args)
    with reading(paths) as con:
        try:
            chain = lineage.why(con, args.version)
        except lineage.UnknownVersion as exc:
            sys.exit(str(exc))
    print(json.dumps(chain, indent=2, default=str) if args.json else lineage.render(chain))


def pending(args: argparse.Namespace) -> None:
    """What waits for a person: retrains held for approval (RetrainPolicy.approval) and challengers
    held for promotion (PromotionPolicy 'manual'), oldest first, each with the command that acts on it."""
    from cl_assets.defs.triggers.approvals import awaiting_approval
    from cl_assets.lib import queries, triggers
    from cl_assets.replay import playback

    paths = state_of(args)
    held = awaiting_approval(playback.instance_for(paths))
    with reading(paths) as con:
        challengers = queries.AWAITING_PROMOTION.all(con)
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


def add_commands(sub) -> None:
    """why and pending."""
    p = sub.add_parser("why", help="why does a model version exist? trigger to promotion")
    p.add_argument("version", type=int, help="model version (as in the MLflow registry)")
    p.add_argument("--json", action="store_true", help="print the chain as JSON")
    home_arg(p)
    p.set_defaults(func=why)

    p = sub.add_parser("pending", help="what waits for a person: held retrains and challengers awaiting approval")
    p.add_argument("--json", action="store_true", help="print both queues as JSON")
    home_arg(p)
    p.set_defaults(func=pending)
