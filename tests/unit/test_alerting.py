"""Alert-fatigue controls: M of N, one trigger per incident, cooldown, budget."""

import json

import pytest

from cl_assets.lib.alerting import AlertPolicy, AlertState, Evaluation, observe

POLICY = AlertPolicy(
    m_of_n={"drift_check": (2, 3), "performance_check": (1, 1)}, cooldown_batches=2, budget=2, budget_window_batches=10
)


def run(outcomes: str, policy: AlertPolicy = POLICY, check: str = "drift_check", launch: bool = True) -> list[str]:
    """Feed a string of outcomes (F failed, . passed); return what each failure decided ('' for a pass)."""
    state = AlertState()
    out = []
    for i, o in enumerate(outcomes):
        verdict = observe(state, policy, Evaluation(i, check, f"b{i}", o == "F"))
        if verdict and verdict.fired and launch:
            state.retrain_launched()
        out.append(verdict.rule if verdict else "")
        state = AlertState.from_dict(json.loads(json.dumps(state.to_dict())))  # survives the sensor cursor
    return out


def test_a_single_noisy_batch_is_held_and_two_of_three_fire():
    assert run("F..") == ["m_of_n", "", ""]
    assert run("F.F") == ["m_of_n", "", "fired"]
    assert run("FF") == ["m_of_n", "fired"]


def test_a_persistent_drift_fires_once_per_incident():
    assert run("FFFFFF") == ["m_of_n", "fired", "same_incident", "same_incident", "same_incident", "same_incident"]


def test_a_new_incident_fires_again_but_not_within_the_cooldown():
    assert run("FF.FF") == ["m_of_n", "fired", "", "fired", "same_incident"]
    policy = AlertPolicy(m_of_n={"drift_check": (1, 1)}, cooldown_batches=3)
    assert run("F.F..F", policy) == ["fired", "", "cooldown", "", "", "fired"]


def test_the_budget_caps_retrains_in_a_window():
    policy = AlertPolicy(m_of_n={"drift_check": (1, 1)}, cooldown_batches=0, budget=2, budget_window_batches=10)
    assert run("F.F.F.F", policy) == ["fired", "", "fired", "", "budget", "", "budget"]
    later = run("F.F" + "." * 8 + "F", policy)
    assert later[-1] == "fired"  # the window moved on


def test_performance_decay_fires_at_once():
    assert run("F", check="performance_check") == ["fired"]


def test_checks_have_their_own_incidents():
    state = AlertState()
    policy = AlertPolicy(m_of_n={"drift_check": (1, 1), "performance_check": (1, 1)}, cooldown_batches=0)
    first = observe(state, policy, Evaluation(1, "drift_check", "b1", True))
    second = observe(state, policy, Evaluation(2, "performance_check", "b1", True))
    assert first.fired and second.fired and "b1" in second.reason


def test_impossible_windows_are_refused():
    with pytest.raises(ValueError, match="3 of 2"):
        AlertPolicy(m_of_n={"drift_check": (3, 2)})
