"""PromotionPolicy: what happens to a candidate that passed the gate (auto, canary, manual).

The canary's defaults are `lib.promotion`'s: one source each."""

from enum import StrEnum

import dagster as dg
from pydantic import Field

from cl_assets.lib import promotion

_CANARY = promotion.CanaryRules()  # the canary verdict's defaults


class PromotionMode(StrEnum):
    AUTO = "auto"
    CANARY = "canary"
    MANUAL = "manual"


class PromotionPolicy(dg.ConfigurableResource):
    """What happens to a candidate that passed the gate.

    `auto` promotes it at once. `canary` makes it the challenger: it scores `canary_share` of
    each new batch beside the champion, and once `canary_batches` of those batches have labels
    it is promoted, or rolled back, by their realized metrics (the promotion_sensor acts on the
    verdict). `manual` holds it for a person: `cl approve VERSION --reason ...`, or launch
    promotion_job from the UI with champion_model's `action: APPROVE`, `version` and `reason`.
    """

    mode: PromotionMode = Field(default=PromotionMode.AUTO, description="auto | canary | manual.")
    canary_share: float = Field(
        default=promotion.CANARY_SHARE, description="canary: share of each batch's rows the challenger scores."
    )
    canary_batches: int = Field(default=_CANARY.batches, description="canary: labeled batches before the verdict.")
    canary_min_rows: int = Field(
        default=_CANARY.min_rows, description="canary: labeled canary rows needed for a verdict."
    )
    canary_max_accuracy_drop: float = Field(
        default=_CANARY.max_accuracy_drop,
        description="canary: the challenger's realized accuracy may be this far below the champion's.",
    )
    canary_max_log_loss_increase: float = Field(
        default=_CANARY.max_log_loss_increase,
        description="canary: the challenger's realized log loss may be this far above the champion's.",
    )

    @classmethod
    def parse(cls, text: str) -> "PromotionPolicy":
        """`auto`, `manual`, or `canary[:SHARE[:BATCHES]]`, as `cl replay --promotion` takes it."""
        name, *args = text.strip().split(":")
        try:
            mode = PromotionMode(name)
            if mode != PromotionMode.CANARY and args or len(args) > 2:
                raise ValueError
            share = float(args[0]) if args else promotion.CANARY_SHARE
            count = int(args[1]) if len(args) > 1 else _CANARY.batches
        except ValueError:
            raise ValueError(
                f"unknown promotion mode '{text}': use auto, manual or canary[:SHARE[:BATCHES]] "
                "(0 < SHARE < 1, BATCHES > 0)"
            ) from None
        if not 0 < share < 1 or count < 1:
            raise ValueError(f"canary share must lie in (0, 1) and batches be positive: '{text}'")
        return cls(mode=mode, canary_share=share, canary_batches=count)

    def canary_rules(self) -> promotion.CanaryRules:
        return promotion.CanaryRules(
            batches=self.canary_batches,
            min_rows=self.canary_min_rows,
            max_accuracy_drop=self.canary_max_accuracy_drop,
            max_log_loss_increase=self.canary_max_log_loss_increase,
        )
