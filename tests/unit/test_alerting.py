"""Alert-fatigue controls: M of N, one trigger per incident, cooldown, budget."""

import json

import pytest

from cl_assets.lib.alerting import (
    BOOTSTRAP,
    CHECKS,
    VOLUME,
    AlertPolicy,
    AlertState,
    Evaluation,
    hold_fired,
    next_action,
    observe,
)

POLICY = AlertPolicy(
    m_of_n={"drift_check": (2, 3), "performance_check": (1, 1)},
    cooldown_batches=2,
    retry_batches=0,
    budget=2,
    budget_window_batches=10,
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


def test_a_new_model_opens_a_new_incident_and_restarts_the_count():
    state = AlertState()
    policy = AlertPolicy(m_of_n={"performance_check": (1, 1), "drift_check": (2, 3)}, cooldown_batches=0)

    def decide(i, check, version):
        return observe(state, policy, Evaluation(i, check, f"b{i}", True, model_version=version))  # noqa: E731

    assert decide(1, "performance_check", 1).fired
    assert decide(2, "performance_check", 1).rule == "same_incident"
    assert decide(3, "performance_check", 2).fired  # the retrained model decays too: act again
    assert decide(4, "drift_check", 2).rule == "m_of_n"
    assert decide(5, "drift_check", 3).rule == "m_of_n"  # the failure against model 2 no longer counts


def test_planned_retrains_count_for_the_cooldown_not_the_budget():
    state = AlertState()
    policy = AlertPolicy(m_of_n={"drift_check": (1, 1)}, cooldown_batches=1, budget=1, budget_window_batches=10)
    state.retrain_launched(triggered=False)  # the schedule, at clock 0
    first = observe(state, policy, Evaluation(1, "drift_check", "b1", True))
    assert first.fired  # one batch later: cooled down, and the budget is untouched
    state.retrain_launched()
    observe(state, policy, Evaluation(2, "drift_check", "b2", False))
    assert observe(state, policy, Evaluation(3, "drift_check", "b3", True)).rule == "budget"


def test_an_unanswered_incident_is_retried_after_retry_batches():
    policy = AlertPolicy(m_of_n={"drift_check": (1, 1)}, cooldown_batches=1, retry_batches=3, budget=9)
    assert run("FFFFFFF", policy) == [
        "fired",
        "same_incident",
        "same_incident",
        "fired",
        "same_incident",
        "same_incident",
        "fired",
    ]


def test_a_check_may_have_its_own_shorter_cooldown():
    state = AlertState()
    policy = AlertPolicy(
        m_of_n={"drift_check": (1, 1), "performance_check": (1, 1)},
        cooldown_batches=3,
        cooldowns={"performance_check": 1},
    )
    ids = iter(range(100))

    def batch(b: int, version: int) -> list[str]:
        """Both checks fail on batch b against model `version`; a fired one launches a retrain."""
        rules = []
        for check in ("drift_check", "performance_check"):
            verdict = observe(state, policy, Evaluation(next(ids), check, f"b{b}", True, model_version=version))
            if verdict.fired:
                state.retrain_launched()
            rules.append(verdict.rule if not verdict.fired else "fired")
        return rules

    assert batch(0, 1) == ["fired", "cooldown"]  # nothing fires twice in the batch of a retrain
    held = observe(state, policy, Evaluation(next(ids), "drift_check", "b1", True, model_version=2))
    assert held.rule == "cooldown" and "cooldown is 3 batches" in held.reason
    decay = observe(state, policy, Evaluation(next(ids), "performance_check", "b1", True, model_version=2))
    assert decay.fired  # the new model decays too: its cooldown of 1 batch is over
    state.retrain_launched()
    assert batch(2, 3) == ["cooldown", "fired"]  # and its successor: drift still waits its 3 batches


def test_without_its_own_cooldown_a_check_waits_the_common_one():
    policy = AlertPolicy(cooldown_batches=3, cooldowns={})
    assert policy.cooldown("performance_check") == policy.cooldown("drift_check") == policy.cooldown() == 3
    defaults = AlertPolicy()  # as RetrainPolicy's: a decay waits 1 batch, a drift longer
    assert defaults.cooldown("performance_check") == 1 < defaults.cooldown("drift_check") == defaults.cooldown()
    with pytest.raises(ValueError, match="negative"):
        AlertPolicy(cooldowns={"performance_check": -1})


def test_a_check_that_needs_zero_breaches_alerts_but_never_triggers():
    policy = AlertPolicy(m_of_n={"drift_check": (0, 1)}, cooldown_batches=0)
    assert run("F.FF", policy) == ["not_a_trigger", "", "not_a_trigger", "not_a_trigger"]
    with pytest.raises(ValueError, match="N >= 1"):
        AlertPolicy(m_of_n={"drift_check": (0, 0)})


def _fired_once(check: str = "performance_check") -> tuple[AlertState, list]:
    state = AlertState()
    verdict = observe(state, POLICY, Evaluation(1, check, "b1", True))
    assert verdict.fired
    return state, [verdict]


def test_a_fired_check_is_held_while_a_retrain_runs_and_its_incident_reopens():
    state, fired = _fired_once()
    kept, held = hold_fired(state, fired, in_flight=True, canary=7)
    assert kept == [] and [v.rule for v in held] == ["in_flight"]  # in flight decides before the canary
    assert "already running" in held[0].reason and "performance_check" not in state.open_incidents
    again = observe(state, POLICY, Evaluation(2, "performance_check", "b2", True))
    assert again.fired  # not answered: it fires again on the next failure


def test_a_fired_check_waits_for_a_running_canary():
    state, fired = _fired_once()
    kept, held = hold_fired(state, fired, in_flight=False, canary=7)
    assert kept == [] and held[0].rule == "canary" and "version 7" in held[0].reason


def test_nothing_holds_a_fired_check_when_nothing_runs():
    state, fired = _fired_once()
    assert hold_fired(state, fired, in_flight=False, canary=None) == (fired, [])
    assert "performance_check" in state.open_incidents


@pytest.mark.parametrize(
    ("no_champion", "in_flight", "fired", "volume", "canary", "action"),
    [
        (True, False, False, False, None, BOOTSTRAP),
        (True, True, False, True, None, None),  # the first model is training already
        (False, False, True, True, None, CHECKS),  # a check outranks new-label volume
        (False, False, False, True, None, VOLUME),
        (False, True, False, True, None, None),
        (False, False, False, True, 3, None),  # a canary's verdict comes first
        (False, False, False, False, None, None),
    ],
)
def test_the_sensor_takes_one_action_a_tick(no_champion, in_flight, fired, volume, canary, action):
    verdicts = _fired_once()[1] if fired else []
    got = next_action(no_champion=no_champion, in_flight=in_flight, fired=verdicts, volume=volume, canary=canary)
    assert got == action
