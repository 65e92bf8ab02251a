"""Safe promotion: which rows a canary scores, and its verdict from their realized metrics."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

PROMOTE, ROLL_BACK, WAITING = "promote", "roll_back", "waiting"
CANARY_SHARE = 0.2  # the share of each batch's rows a canary's challenger scores, by default


@dataclass(frozen=True)
class CanaryRules:
    batches: int = 2
    min_rows: int = 100
    max_accuracy_drop: float = 0.01
    max_log_loss_increase: float = 0.01


def members(entity_ids: pd.Series, share: float, canary_id: str) -> np.ndarray:
    """Which rows the challenger scores: a stable hash of (canary, entity id) below `share`.
    The same entity is always in or out of one canary, whatever batch it arrives in."""

    def bucket(entity) -> float:
        digest = hashlib.blake2b(f"{canary_id}:{entity}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    return np.fromiter((bucket(e) < share for e in entity_ids), dtype=bool, count=len(entity_ids))


def verdict(champion: dict, challenger: dict, labeled_batches: int, rules: CanaryRules) -> tuple[str, list[str]]:
    """(promote | roll_back | waiting, reasons) from both models' metrics on the same labeled
    canary rows (`modeling.metrics` dicts), once `rules.batches` batches and `rules.min_rows` rows are in."""
    rows = challenger["rows"]
    if labeled_batches < rules.batches or rows < rules.min_rows:
        return WAITING, [
            f"{labeled_batches} of {rules.batches} labeled canary batches, {rows} of {rules.min_rows} rows"
        ]
    reasons, passed = [], True
    drop = champion["accuracy"] - challenger["accuracy"]
    if drop > rules.max_accuracy_drop:
        passed = False
        reasons.append(
            f"challenger accuracy {challenger['accuracy']:.4f} is more than {rules.max_accuracy_drop} below "
            f"the champion's {champion['accuracy']:.4f} on {rows} canary rows"
        )
    rise = challenger["log_loss"] - champion["log_loss"]
    if rise > rules.max_log_loss_increase:
        passed = False
        reasons.append(
            f"challenger log loss {challenger['log_loss']:.4f} is more than {rules.max_log_loss_increase} above "
            f"the champion's {champion['log_loss']:.4f} on {rows} canary rows"
        )
    if passed:
        reasons.append(
            f"on {rows} labeled canary rows of {labeled_batches} batches: challenger accuracy "
            f"{challenger['accuracy']:.4f} vs champion {champion['accuracy']:.4f}, log loss "
            f"{challenger['log_loss']:.4f} vs {champion['log_loss']:.4f}"
        )
    return (PROMOTE if passed else ROLL_BACK), reasons
