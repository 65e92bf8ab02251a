"""Drift of each batch against the champion's reference: the metrics, the report and drift_check."""

import base64
from datetime import datetime

import dagster as dg
import pandas as pd

from cl_assets.defs.deployment.assets import predictions, reference_profile
from cl_assets.defs.monitoring.check_results import recorded, rounded
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.partitions import batches, run_batch
from cl_assets.defs.resources import Dataset, Warehouse
from cl_assets.lib import drift, failpoints, markdown, queries, reference
from cl_assets.lib import drift_report as drift_report_lib
from cl_assets.lib.warehouse import replace_rows


@dg.asset(
    partitions_def=batches,
    deps=["batch_features", predictions, reference_profile],
    group_name="monitoring",
    kinds={"duckdb", "scipy"},
    pool="duckdb",
)
def drift_metrics(
    context: dg.AssetExecutionContext, warehouse: Warehouse, dataset: Dataset, monitoring_policy: MonitoringPolicy
) -> dg.MaterializeResult:
    """Drift of a batch against the reference profile, a row per slice and column (features, scores,
    the low-confidence share, the whole table) with its effect, threshold and verdict. Details: docs/assets.md."""
    batch_id = context.partition_key
    spec = dataset.spec()
    with warehouse.connect(read_only=True) as con:
        profile_id = reference.current_id(con)
        if profile_id is None:
            raise dg.Failure(f"batch '{batch_id}': no reference profile yet (it is built when a champion is promoted)")
        base = reference.baseline(con, profile_id)
        profiles, sample = reference.load_once(con, base)
        version = int(base["model_version"])
        current = queries.SCORED_FEATURES_OF_BATCH.df(con, batch_id=batch_id)
    frame = drift.compare(
        profiles,
        current,
        monitoring_policy.drift_policy(),
        slice_column="slice",
        reference_sample=sample,
        numeric=spec.numeric,
        categorical=spec.categorical,
        score_column="score",
    ).assign(batch_id=batch_id, reference_version=version, profile_id=profile_id, computed_at=datetime.now())
    failpoints.reached("drift")
    with warehouse.connect() as con:
        replace_rows(con, "drift_metrics", frame, "batch_id", batch_id)
    overall = frame[frame["slice"] == drift.ALL].sort_values("effect", ascending=False)
    slices = frame[(frame["slice"] != drift.ALL) & frame["drifted"]]
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "reference_version": version,
            "profile_id": profile_id,
            "drifted_features": dg.MetadataValue.json(overall.loc[overall["drifted"], "feature"].tolist()),
            "drifted_in_slices": dg.MetadataValue.json({s: g["feature"].tolist() for s, g in slices.groupby("slice")}),
            "max_psi": float(overall["psi"].max()),
            "drift": dg.MetadataValue.md(markdown.table(overall[RANKED])),
        }
    )


RANKED = ["feature", "method", "statistic", "p_value", "psi", "wasserstein", "js", "effect", "threshold", "drifted"]


@dg.asset(
    partitions_def=batches,
    deps=[drift_metrics],
    group_name="monitoring",
    kinds={"duckdb", "matplotlib"},
    pool="duckdb",
)
def drift_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """A batch's drift for a person to read: every test ranked by how far it moved, where it moved, and
    a plot. Details: docs/assets.md."""
    batch_id = context.partition_key
    with warehouse.connect(read_only=True) as con:
        frame = queries.DRIFT_METRICS_OF_BATCH.df(con, batch_id=batch_id)
    if frame.empty:
        raise dg.Failure(f"batch '{batch_id}': no drift metrics to report")
    text = drift_report_lib.render_markdown(batch_id, frame)
    png = drift_report_lib.plot(batch_id, frame)
    drifted = bool(frame.loc[frame["slice"] == drift.ALL, "drifted"].any())
    row = pd.DataFrame(
        [
            {
                "batch_id": batch_id,
                "profile_id": int(frame["profile_id"].iloc[0]),
                "drifted": drifted,
                "markdown": text,
                "plot_png": png,
                "created_at": datetime.now(),
            }
        ]
    )
    with warehouse.connect() as con:
        replace_rows(con, "drift_reports", row, "batch_id", batch_id)
    image = base64.b64encode(png).decode()
    return dg.MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "drifted": drifted,
            "report": dg.MetadataValue.md(f"{text}\n\n![drift of {batch_id}](data:image/png;base64,{image})"),
        }
    )


@dg.asset_check(
    asset=drift_metrics,
    name="drift_check",
    description=(
        "Fails (WARN) when a feature, the scores, the low-confidence share or the whole table drifted in the "
        "batch (significant and large enough); the retrain sensor reads it. Details: docs/assets.md."
    ),
)
def drift_check(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, monitoring_policy: MonitoringPolicy
) -> dg.AssetCheckResult:
    batch_id = run_batch(context)
    with warehouse.connect(read_only=True) as con:
        rows = queries.DRIFT_METRICS_BY_EFFECT.df(con, batch_id=batch_id)
    overall = rows[rows["slice"] == drift.ALL]
    drifted = overall[overall["drifted"]]
    by_slice = rows[(rows["slice"] != drift.ALL) & rows["drifted"]]
    evidence = {
        r.feature: {
            "method": r.method,
            "statistic": rounded(r.statistic, 5),
            "p_value": rounded(r.p_value, 3, significant=True),
            "psi": rounded(r.psi, 4),
            "effect": rounded(r.effect, 4),
            "threshold": rounded(r.threshold, 4),
            "slices": sorted(by_slice.loc[by_slice["feature"] == r.feature, "slice"].tolist()),
        }
        for r in drifted.itertuples()
    }
    version = int(overall["reference_version"].iloc[0]) if len(overall) else 0
    return recorded(
        warehouse,
        "drift_check",
        batch_id,
        version,
        dg.AssetCheckResult(
            passed=drifted.empty,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"batch '{batch_id}': {len(drifted)} of {len(overall)} tests drifted: {', '.join(drifted['feature'])}"
                if len(drifted)
                else f"batch '{batch_id}': no drift in {len(overall)} tests"
            ),
            metadata={
                "batch_id": batch_id,
                "reference_version": version,
                "model_version": version,
                "profile_id": int(overall["profile_id"].iloc[0]) if len(overall) else 0,
                "drifted_features": dg.MetadataValue.json(drifted["feature"].tolist()),
                "evidence": dg.MetadataValue.json(evidence),
                "alpha": monitoring_policy.alpha,
                "psi_threshold": monitoring_policy.psi_threshold,
                "max_psi": float(overall["psi"].max()) if len(overall) else 0.0,
                "drifted": dg.MetadataValue.md(
                    markdown.table(drifted[["feature", "method", "statistic", "p_value", "psi", "effect", "threshold"]])
                ),
                "drifted_by_slice": dg.MetadataValue.md(
                    markdown.table(by_slice[["slice", "feature", "method", "p_value", "effect", "threshold"]])
                ),
            },
        ),
    )
