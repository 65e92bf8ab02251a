"""The TPE search: reproducibility, warm starts, budgets, early-stopped tree counts, parallel trials."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

from cl_assets.lib import modeling, tuning
from cl_assets.lib.dataset import DatasetSpec
from cl_assets.lib.tuning import Budget, TrialError, final_params, tune

ROUNDS = 300
SEARCHED = {
    "max_depth",
    "learning_rate",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "reg_alpha",
    "reg_lambda",
}
BAD = {"max_depth": 2, "learning_rate": 0.01, "n_estimators": 20}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(1500, 6)), columns=[f"x{i}" for i in range(6)])
    X.loc[rng.random(1500) < 0.05, "x5"] = np.nan
    logit = np.sin(2 * X.x0) + X.x1 * X.x2 - 0.5 * X.x3**2 + 0.5
    y = (rng.random(1500) < 1 / (1 + np.exp(-2 * logit))).astype(int)
    return X, y


def run(data, **kwargs) -> tuning.TuningResult:
    X, y = data
    kwargs = {"budget": Budget(max_trials=8), "max_rounds": ROUNDS, "early_stopping_rounds": 20, "cores": 1, **kwargs}
    return tune(X, y, **kwargs)


def sequence(result: tuning.TuningResult) -> list[tuple[dict, float]]:
    return [(t.params, t.loss) for t in result.trials]


@pytest.mark.parametrize("parallel", [1, 2])
def test_same_seed_same_trials_other_seed_other_params(data, parallel):
    first = run(data, seed=3, parallel=parallel, warm_start=[BAD])
    again = run(data, seed=3, parallel=parallel, warm_start=[BAD])
    other = run(data, seed=4, parallel=parallel, warm_start=[BAD])
    assert sequence(first) == sequence(again)
    searched = [t.params for t in first.trials[1:]]
    assert searched != [t.params for t in other.trials[1:]]


def test_params_are_plain_json_numbers_in_the_space(data):
    result = run(data, seed=1)
    for trial in result.trials:
        assert set(trial.params) == SEARCHED | {"n_estimators"}
        assert type(trial.params["max_depth"]) is int and 2 <= trial.params["max_depth"] <= 10
        assert type(trial.params["n_estimators"]) is int
        assert 0.01 <= trial.params["learning_rate"] <= 0.3
        assert 1e-4 <= trial.params["reg_alpha"] <= 10
        json.dumps(trial.params)
        json.dumps(trial.metrics)
        assert set(trial.metrics) == {"log_loss", "roc_auc", "accuracy"}


def test_warm_starts_are_the_first_trials_clipped_and_deduplicated(data):
    warm = [
        {"max_depth": 25, "learning_rate": 0.5, "subsample": 0.2, "n_estimators": 400, "objective": "binary:logistic"},
        {"max_depth": 4.0, "learning_rate": 0.05, "min_child_weight": 2.0, "subsample": 0.9, "colsample_bytree": 0.9,
         "reg_alpha": 0.0, "reg_lambda": 1.0},
        {"max_depth": 4, "learning_rate": 0.05, "min_child_weight": 2.0, "subsample": 0.9, "colsample_bytree": 0.9,
         "reg_alpha": 0.0, "reg_lambda": 1.0, "n_estimators": 123},
    ]  # fmt: skip
    result = run(data, seed=0, warm_start=warm)
    clipped_first = {"max_depth": 10, "learning_rate": 0.3, "subsample": 0.5}
    # missing keys take XGBoost's defaults, clipped into the space (reg_alpha 0 -> its 1e-4 floor)
    defaults = {"min_child_weight": 1.0, "colsample_bytree": 1.0, "reg_alpha": 1e-4, "reg_lambda": 1.0}
    second = {k: float(v) for k, v in warm[1].items()} | {"max_depth": 4, "reg_alpha": 1e-4}
    assert [t.warm for t in result.trials] == [True, True] + [False] * 6
    assert [t.number for t in result.trials] == list(range(1, 9))
    assert {k: v for k, v in result.trials[0].params.items() if k != "n_estimators"} == clipped_first | defaults
    assert {k: v for k, v in result.trials[1].params.items() if k != "n_estimators"} == second


def test_warm_starts_enter_the_tpe_history(data, monkeypatch):
    seen: list[list] = []
    suggest = tuning.tpe.suggest

    def spy(new_ids, domain, trials, seed, **kwargs):
        seen.append([doc["result"].get("loss") for doc in trials.trials])
        return suggest(new_ids, domain, trials, seed, **kwargs)

    monkeypatch.setattr(tuning.tpe, "suggest", spy)
    result = run(data, seed=0, warm_start=[BAD, {"max_depth": 6}])
    assert len(seen) == 6
    assert seen[0] == [result.trials[0].loss, result.trials[1].loss]
    assert seen[-1] == [t.loss for t in result.trials[:-1]]


def test_parallel_asks_while_a_point_is_pending(data, monkeypatch):
    pending: list[int] = []
    suggest = tuning.tpe.suggest

    def spy(new_ids, domain, trials, seed, **kwargs):
        pending.append(sum(doc["result"].get("loss") is None for doc in trials.trials))
        return suggest(new_ids, domain, trials, seed, **kwargs)

    monkeypatch.setattr(tuning.tpe, "suggest", spy)
    run(data, seed=0, parallel=1)
    assert pending == [0] * 8
    pending.clear()
    result = run(data, seed=0, parallel=2)
    assert pending == [0, 1] * 4
    assert len(result.trials) == 8 and result.stopped_by == "trials"
    assert all(t.threads == 1 for t in result.trials) and result.parallel == 2


def test_one_trial_uses_all_cores_when_not_parallel(data):
    result = run(data, seed=0, cores=2, budget=Budget(max_trials=2))
    assert [t.threads for t in result.trials] == [2, 2]


@pytest.mark.parametrize("max_trials", [1, 5])
def test_trial_budget_gives_exactly_that_many_trials(data, max_trials):
    result = run(data, seed=0, budget=Budget(max_trials=max_trials), warm_start=[BAD, {"max_depth": 3}])
    assert len(result.trials) == max_trials
    assert result.stopped_by == "trials"
    assert [t.warm for t in result.trials] == [True, True, False, False, False][:max_trials]


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_spent_time_budget_still_runs_one_round_of_trials(data, parallel):
    result = run(data, seed=0, budget=Budget(max_trials=50, max_seconds=1e-9), parallel=parallel)
    assert len(result.trials) == parallel
    assert result.stopped_by == "seconds"


def test_time_budget_stops_after_the_trial_that_crosses_it(data):
    result = run(data, seed=0, budget=Budget(max_trials=200, max_seconds=0.5))
    assert result.stopped_by == "seconds"
    assert 1 <= len(result.trials) < 200
    assert sum(t.seconds for t in result.trials[:-1]) < 0.5
    assert result.seconds >= 0.5


def test_tree_count_comes_from_early_stopping(data):
    X, y = data
    result = run(data, seed=5, max_rounds=ROUNDS)
    stopped = [t for t in result.trials if t.params["n_estimators"] < ROUNDS]
    assert stopped, "no trial stopped early"
    assert all(t.params["n_estimators"] <= ROUNDS for t in result.trials)
    X_fit, X_valid, y_fit, y_valid = train_test_split(X, y, test_size=0.2, stratify=y, random_state=5)
    for trial in stopped[:2]:
        searched = {k: v for k, v in trial.params.items() if k != "n_estimators"}
        common = {"tree_method": "hist", "eval_metric": "logloss", "random_state": 5, "n_jobs": 1}
        model = XGBClassifier(**searched, **common, n_estimators=ROUNDS, early_stopping_rounds=20)
        model.fit(X_fit, y_fit, eval_set=[(X_valid, y_valid)], verbose=False)
        assert trial.params["n_estimators"] == model.best_iteration + 1
        exact = XGBClassifier(**trial.params, **common).fit(X_fit, y_fit, eval_set=[(X_valid, y_valid)], verbose=False)
        assert exact.evals_result()["validation_0"]["logloss"][-1] == pytest.approx(trial.loss, abs=1e-6)
        assert trial.metrics["log_loss"] == pytest.approx(trial.loss, abs=1e-4)


def test_best_is_the_lowest_loss_and_on_trial_sees_the_running_best(data):
    calls: list[tuple[int, int]] = []
    result = run(data, seed=2, on_trial=lambda trial, best: calls.append((trial.number, best.number)))
    losses = [t.loss for t in result.trials]
    assert result.best.loss == min(losses)
    assert result.best is result.trials[int(np.argmin(losses))]
    assert [n for n, _ in calls] == list(range(1, len(result.trials) + 1))
    for n, best in calls:
        assert losses[best - 1] == min(losses[:n])
    assert calls[-1][1] == result.best.number


def test_search_beats_a_deliberately_bad_point(data):
    result = run(data, seed=0, warm_start=[BAD], max_rounds=150)
    bad = result.trials[0]
    assert bad.warm and bad.params["learning_rate"] == 0.01 and bad.params["max_depth"] == 2
    assert result.best.loss < bad.loss
    assert result.best.metrics["roc_auc"] > bad.metrics["roc_auc"]


def test_sample_weight_reaches_the_fit(data):
    X, y = data
    weight = np.where(y == 1, 5.0, 1.0)
    plain = run(data, seed=0, budget=Budget(max_trials=2))
    weighted = run(data, seed=0, budget=Budget(max_trials=2), sample_weight=weight)
    assert [t.params["max_depth"] for t in weighted.trials] == [t.params["max_depth"] for t in plain.trials]
    assert [t.loss for t in weighted.trials] != [t.loss for t in plain.trials]


def test_final_params_build_the_pipeline(data):
    X, y = data
    result = run(data, seed=0, budget=Budget(max_trials=2))
    params = final_params(result)
    assert params == result.best.params and params is not result.best.params
    spec = DatasetSpec(name="synthetic", target="label", id_column="id", numeric=list(X.columns))
    pipeline = modeling.fit(X.assign(label=y), spec, params)
    assert pipeline.named_steps["model"].n_estimators == params["n_estimators"]


def test_a_failing_trial_names_its_number_and_params(data, monkeypatch):
    calls = {"n": 0}

    class Failing(XGBClassifier):
        def fit(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 3:
                raise MemoryError("out of memory")
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(tuning, "XGBClassifier", Failing)
    with pytest.raises(TrialError, match=r"trial 3 failed with params \{'max_depth': \d+") as error:
        run(data, seed=0)
    assert isinstance(error.value.__cause__, MemoryError)


@pytest.mark.parametrize(
    ("budget", "parallel", "message"), [(Budget(max_trials=0), 1, "max_trials"), (Budget(), 3, "parallel")]
)
def test_invalid_settings_are_refused(data, budget, parallel, message):
    with pytest.raises(ValueError, match=message):
        run(data, budget=budget, parallel=parallel)
