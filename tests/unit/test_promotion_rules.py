"""Canary membership and verdicts, and the promotion modes as `cl replay --promotion` takes them."""

import numpy as np
import pandas as pd
import pytest

from cl_assets.defs.deployment.policy import PromotionMode, PromotionPolicy
from cl_assets.lib import modeling, promotion

RULES = promotion.CanaryRules(batches=2, min_rows=100, max_accuracy_drop=0.01, max_log_loss_increase=0.01)


def test_canary_members_are_a_stable_share_of_entities():
    ids = pd.Series([f"e{i}" for i in range(20000)])
    chosen = promotion.members(ids, 0.2, "c1")
    assert abs(chosen.mean() - 0.2) < 0.015
    # the same entity is in or out whatever batch it comes in, and order does not matter
    assert np.array_equal(promotion.members(ids[::-1], 0.2, "c1"), chosen[::-1])
    # another canary draws other entities
    other = promotion.members(ids, 0.2, "c2")
    assert 0.02 < (chosen & other).mean() < 0.06


def metrics(rng, labels, noise):
    score = np.clip(labels * 0.6 + 0.2 + rng.normal(0, noise, len(labels)), 0.01, 0.99)
    return modeling.metrics(labels, score)


def test_a_canary_waits_for_enough_labeled_batches_and_rows():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    good = metrics(rng, labels, 0.1)
    verdict, (reason,) = promotion.verdict(good, good, 1, RULES)
    assert verdict == promotion.WAITING and "1 of 2 labeled canary batches" in reason
    few = modeling.metrics(labels[:50], np.full(50, 0.5))
    assert promotion.verdict(few, few, 3, RULES)[0] == promotion.WAITING


def test_a_worse_challenger_is_rolled_back_and_a_good_one_promoted():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 2000)
    champion, worse = metrics(rng, labels, 0.15), metrics(rng, labels, 0.45)
    assert worse["accuracy"] < champion["accuracy"] - RULES.max_accuracy_drop
    verdict, reasons = promotion.verdict(champion, worse, 2, RULES)
    assert verdict == promotion.ROLL_BACK
    assert any("accuracy" in r and f"{worse['accuracy']:.4f}" in r for r in reasons)
    assert promotion.verdict(champion, champion, 2, RULES)[0] == promotion.PROMOTE
    assert promotion.verdict(worse, champion, 2, RULES)[0] == promotion.PROMOTE


@pytest.mark.parametrize(
    ("text", "mode", "share", "batches"),
    [
        ("auto", "auto", 0.2, 2),
        ("manual", "manual", 0.2, 2),
        ("canary", "canary", 0.2, 2),
        ("canary:0.5:3", "canary", 0.5, 3),
    ],
)
def test_promotion_modes_parse(text, mode, share, batches):
    policy = PromotionPolicy.parse(text)
    assert policy.mode == PromotionMode(mode) and policy.canary_share == share and policy.canary_batches == batches


@pytest.mark.parametrize("text", ["canry", "manual:0.3", "canary:1.5", "canary:0.2:0", "canary:x"])
def test_bad_promotion_modes_are_refused_by_name(text):
    with pytest.raises(ValueError, match=text.split(":")[0] if text == "canry" else "canary|promotion"):
        PromotionPolicy.parse(text)
