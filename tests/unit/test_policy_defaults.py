"""One source for each default: a stage's policy resource, left at its defaults, configures
exactly the lib dataclass it wraps at that dataclass's defaults."""

import pytest

from cl_assets.defs.deployment.policy import PromotionPolicy
from cl_assets.defs.evaluation.policy import PromotionGate
from cl_assets.defs.monitoring.policy import MonitoringPolicy
from cl_assets.defs.triggers.policy import RetrainPolicy
from cl_assets.lib import alerting, decay, drift, gate, promotion


@pytest.mark.parametrize(
    ("configured", "lib_default"),
    [
        (lambda: PromotionGate().rules(), gate.GateRules),
        (lambda: MonitoringPolicy().drift_policy(), drift.Policy),
        (lambda: MonitoringPolicy().decay_settings(), decay.Settings),
        (lambda: PromotionPolicy().canary_rules(), promotion.CanaryRules),
        (lambda: RetrainPolicy().alert_policy(), alerting.AlertPolicy),
    ],
    ids=["gate", "drift", "decay", "canary", "alerting"],
)
def test_a_policy_at_its_defaults_is_the_lib_default(configured, lib_default):
    assert configured() == lib_default()


def test_the_canary_share_default_is_the_libs():
    assert PromotionPolicy().canary_share == promotion.CANARY_SHARE
    assert PromotionPolicy.parse("canary").canary_share == promotion.CANARY_SHARE


def test_a_changed_policy_reaches_the_lib_rules():
    assert PromotionGate(max_auc_drop=0.02).rules().max_auc_drop == 0.02
    assert MonitoringPolicy(psi_threshold=0.3).drift_policy().default.psi == 0.3
    assert PromotionPolicy(canary_min_rows=7).canary_rules().min_rows == 7
