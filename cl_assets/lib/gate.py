"""The promotion gate: may a candidate replace the champion? Judged on the same rows.

Non-inferiority, not strict improvement: a candidate trained on fresher data that is as
good as the champion (within `max_auc_drop`) is promoted, so the champion's reference
window follows the data instead of alerting on the same shift forever.
"""

from __future__ import annotations

from dataclasses import dataclass

from cl_assets.lib.modeling import OVERALL


@dataclass(frozen=True)
class GateRules:
    min_roc_auc: float = 0.6
    max_auc_drop: float = 0.005
    max_log_loss_increase: float = 0.01
    max_slice_auc_drop: float = 0.05
    min_slice_rows: int = 50


def decide(candidate: dict[str, dict], champion: dict[str, dict] | None, rules: GateRules) -> tuple[bool, list[str]]:
    """(passed, reasons). Each reason is one sentence naming the metric, the values and the rule."""
    reasons: list[str] = []
    cand = candidate[OVERALL]
    if cand["roc_auc"] is None:
        return False, ["the holdout has a single class, so ROC AUC cannot be judged"]
    if cand["roc_auc"] < rules.min_roc_auc:
        reasons.append(f"candidate ROC AUC {cand['roc_auc']:.4f} is below the minimum {rules.min_roc_auc}")
    if champion is None:
        return not reasons, reasons or ["first model: no champion to compare with; minimum ROC AUC met"]
    champ = champion[OVERALL]
    if champ["roc_auc"] is not None and cand["roc_auc"] < champ["roc_auc"] - rules.max_auc_drop:
        reasons.append(
            f"candidate ROC AUC {cand['roc_auc']:.4f} is more than {rules.max_auc_drop} below "
            f"the champion's {champ['roc_auc']:.4f}"
        )
    if cand["log_loss"] > champ["log_loss"] + rules.max_log_loss_increase:
        reasons.append(
            f"candidate log loss {cand['log_loss']:.4f} is more than {rules.max_log_loss_increase} above "
            f"the champion's {champ['log_loss']:.4f}"
        )
    for name, metrics in candidate.items():
        other = champion.get(name)
        if name == OVERALL or other is None or metrics["rows"] < rules.min_slice_rows:
            continue
        if None in (metrics["roc_auc"], other["roc_auc"]):
            continue
        if metrics["roc_auc"] < other["roc_auc"] - rules.max_slice_auc_drop:
            reasons.append(
                f"slice '{name}': candidate ROC AUC {metrics['roc_auc']:.4f} is more than "
                f"{rules.max_slice_auc_drop} below the champion's {other['roc_auc']:.4f}"
            )
    passed = not reasons
    if passed:
        reasons = [
            f"candidate ROC AUC {cand['roc_auc']:.4f} vs champion {champ['roc_auc']:.4f} "
            f"(allowed drop {rules.max_auc_drop}), log loss {cand['log_loss']:.4f} vs {champ['log_loss']:.4f}; "
            f"no slice dropped more than {rules.max_slice_auc_drop}"
        ]
    return passed, reasons
