"""The champion's reference profile for drift, and its scores (with a canary's) on every new batch."""

import json
from datetime import datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from cl_assets.defs.deployment.policy import PromotionPolicy
from cl_assets.defs.deployment.promotion import champion_model
from cl_assets.defs.partitions import batches
from cl_assets.defs.resources import Dataset, ModelRegistry, Warehouse
from cl_assets.lib import drift, modeling, promotion, queries, reference
from cl_assets.lib.champion import current
from cl_assets.lib.warehouse import replace_rows


class ReferenceConfig(dg.Config):
    """Leave empty to profile the champion's training window; fill `accept_drift_reason` to
    accept the drift of the newest batches instead: they become the reference, without retraining."""

    accept_drift_reason: str = Field(
        default="", description="Why the drift is accepted (required to re-baseline; recorded with who and when)."
    )
    accepted_by: str = Field(default="", description="Who accepts it (defaults to the run's user tag).")
    batches: int = Field(default=3, description="With accept_drift_reason: how many of the newest scored batches.")


@dg.asset(deps=[champion_model], group_name="deployment", kinds={"duckdb"}, pool="duckdb")
def reference_profile(
    context: dg.AssetExecutionContext,
    config: ReferenceConfig,
    warehouse: Warehouse,
    dataset: Dataset,
    model_registry: ModelRegistry,
) -> dg.MaterializeResult:
    """What each batch's drift is measured against: per column and slice, the champion's training window
    (or, after an accepted drift, the newest batches). Details: docs/assets.md."""
    spec = dataset.spec()
    accepting = bool(config.accept_drift_reason.strip())
    with warehouse.connect(read_only=True) as con:
        champion = current(con)
        if champion is None:
            raise dg.Failure("no champion yet: the reference profile is the champion's; train one first")
        version = int(champion["model_version"])
        if accepting:
            scored = queries.NEWEST_BATCHES_SCORED_BY.run(con, model_version=version, count=config.batches)
            newest = [r[0] for r in scored.fetchall()]
            if not newest:
                raise dg.Failure(f"no batch scored by champion version {version} yet: there is no drift to accept")
            rows = queries.SCORED_FEATURES_OF_BATCHES.df(con, batch_ids=newest)
        else:
            rows = queries.TRAINING_SET_ROWS_IN_ORDER.df(con, version=int(champion["training_set_version"]))
        previous = reference.current_id(con)
    profile_id = (previous or 0) + 1
    if not accepting:
        rows = rows.assign(score=modeling.scores(model_registry.load(version), rows, spec))
    profiles = reference.build(rows, spec.numeric, spec.categorical, "score", "slice")
    batch_ids = sorted(rows["batch_id"].unique().tolist())
    who = config.accepted_by or context.run.tags.get("cl/accepted_by") or context.run.tags.get("user", "")
    baseline = {
        "model_version": version,
        "source": "accepted_drift" if accepting else "champion",
        "reason": config.accept_drift_reason.strip() if accepting else f"champion version {version} promoted",
        "accepted_by": who if accepting else None,
        "batches": batch_ids,
        "rows": len(rows),
        "dagster_run_id": context.run.run_id,
    }
    with warehouse.connect() as con:
        reference.store(con, profile_id, baseline, profiles, reference.sample_rows(rows[spec.features]))
    return dg.MaterializeResult(
        metadata={
            "profile_id": profile_id,
            "previous_profile_id": previous or 0,
            "model_version": version,
            "source": baseline["source"],
            "reason": baseline["reason"],
            "accepted_by": baseline["accepted_by"] or "",
            "dagster/row_count": len(rows),
            "batches": dg.MetadataValue.json(batch_ids),
            "columns_profiled": len({p.feature for p in profiles}),
            "slices": dg.MetadataValue.json(sorted({p.slice for p in profiles} - {drift.ALL})),
        }
    )


@dg.asset(
    partitions_def=batches,
    deps=["batch_features", champion_model],
    group_name="deployment",
    kinds={"duckdb", "xgboost"},
    pool="duckdb",
    output_required=False,
)
def predictions(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    dataset: Dataset,
    model_registry: ModelRegistry,
    promotion_policy: PromotionPolicy,
):
    """The champion's scores for each row of a batch, made when it lands; during a canary the
    challenger's too, on its share of the rows. Details: docs/assets.md."""
    batch_id = context.partition_key
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        champion = current(con)
        if champion is None:
            context.log.info(
                f"batch '{batch_id}' is not scored: no champion yet (the first model trains once labels arrive)"
            )
            return
        features = queries.BATCH_FEATURES_OF.df(con, batch_id=batch_id)
        canary = queries.ACTIVE_CANARY.one(con)
    version = int(champion["model_version"])
    score = modeling.scores(model_registry.load(version), features, spec)
    now = datetime.now()
    frame = pd.DataFrame(
        {
            "batch_id": batch_id,
            "entity_id": features["entity_id"],
            "slice": features["slice"],
            "score": score,
            "predicted": (score >= 0.5).astype(int),
            "model_version": version,
            "scored_at": now,
        }
    )
    shadow = None
    if canary is not None:
        share = json.loads(canary["evidence"])["share"]
        chosen = promotion.members(features["entity_id"], share, canary["promotion_id"])
        part = features[chosen]
        challenger = int(canary["model_version"])
        shadow = pd.DataFrame(
            {
                "canary_id": canary["promotion_id"],
                "batch_id": batch_id,
                "entity_id": part["entity_id"],
                "slice": part["slice"],
                "champion_version": version,
                "challenger_version": challenger,
                "champion_score": score[chosen],
                "challenger_score": modeling.scores(model_registry.load(challenger), part, spec),
                "scored_at": now,
            }
        )
    with warehouse.connect() as con:
        replace_rows(con, "predictions", frame, "batch_id", batch_id)
        if shadow is not None:
            replace_rows(con, "canary_scores", shadow, "batch_id", batch_id)
    yield dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "model_version": version,
            "dagster/row_count": len(frame),
            "mean_score": float(score.mean()) if len(score) else 0.0,
            **(
                {"canary_id": canary["promotion_id"], "canary_version": challenger, "canary_rows": len(shadow)}
                if shadow is not None
                else {}
            ),
        }
    )
