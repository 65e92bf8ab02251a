"""PromotionGate: the rules a candidate must pass against the champion to be promoted.

Its defaults are `lib.gate.GateRules`': one source each."""

import dagster as dg
from pydantic import Field

from cl_assets.lib.gate import GateRules

_RULES = GateRules()  # the gate's defaults


class PromotionGate(dg.ConfigurableResource):
    """Rules a candidate must pass, on the same rows as the champion, to be promoted: value
    thresholds, change thresholds (absolute and relative, overall and per slice, on the holdout,
    the newest batch and older rows), and slice coverage. Each kind is a blocking check."""

    min_roc_auc: float = Field(default=_RULES.min_roc_auc, description="Minimum holdout ROC AUC for any model.")
    min_slice_roc_auc: float = Field(
        default=_RULES.min_slice_roc_auc, description="Minimum holdout ROC AUC in every judged slice."
    )
    max_auc_drop: float = Field(
        default=_RULES.max_auc_drop, description="Allowed overall ROC AUC drop against the champion."
    )
    max_auc_drop_relative: float = Field(
        default=_RULES.max_auc_drop_relative,
        description="Allowed overall ROC AUC drop as a share of the champion's (the tighter binds).",
    )
    max_log_loss_increase: float = Field(
        default=_RULES.max_log_loss_increase, description="Allowed overall log loss increase against the champion."
    )
    max_slice_auc_drop: float = Field(
        default=_RULES.max_slice_auc_drop, description="Allowed ROC AUC drop in any one slice."
    )
    max_slice_auc_drop_relative: float = Field(
        default=_RULES.max_slice_auc_drop_relative,
        description="Allowed ROC AUC drop in a slice as a share of the champion's there.",
    )
    max_newest_auc_drop: float = Field(
        default=_RULES.max_newest_auc_drop, description="Allowed ROC AUC drop on the newest batch's holdout rows."
    )
    max_forgetting_auc_drop: float | None = Field(
        default=_RULES.max_forgetting_auc_drop,
        description="Allowed ROC AUC drop on older rows neither model trained on (forgetting). Off by default: "
        "after a concept drift the old rows' labels follow the old concept, and forgetting it is the point; "
        "set it when old regimes come back (seasons). The older rows' metrics are reported either way.",
    )
    forgetting_rows: int = Field(default=2000, description="Older labeled rows sampled for the forgetting check.")
    min_slice_rows: int = Field(
        default=_RULES.min_slice_rows, description="Slices with fewer holdout rows cannot be judged."
    )
    refuse_short_slices: bool = Field(
        default=_RULES.refuse_short_slices,
        description="Fail the gate when a slice cannot be judged (else it is only reported).",
    )
    change_confidence: float | None = Field(
        default=_RULES.change_confidence,
        gt=0.5,
        lt=1.0,
        description="One-sided confidence at which a change threshold must be shown broken to fail: the candidate "
        "fails only when its shortfall against the champion exceeds the allowed drop by z standard errors of the "
        "paired difference on the same rows (DeLong for ROC AUC, paired rows for log loss). A 0.01 ROC AUC gap "
        "on 300 rows is noise; on 30,000 it is not. None: compare the point estimates (the fixed rule).",
    )
    enforce: bool = Field(
        default=True,
        description="False: every candidate passes; each rule's verdict is still computed, recorded and shown as "
        "what it would have decided. Off only under the backtest's fixed:K:ROWS policies (a cron job has no gate).",
    )

    def rules(self) -> GateRules:
        return GateRules(**self.model_dump(exclude={"forgetting_rows", "enforce"}))
