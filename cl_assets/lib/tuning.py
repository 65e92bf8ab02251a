"""Hyperparameter search for the XGBoost classifier: hyperopt's TPE, driven ask/tell-style.

The rows are split once into fit and validation rows; every trial fits on the first and stops
early on the second. The number of trees is therefore not searched: it is strongly coupled to the
learning rate, and early stopping finds it for each point in one fit, where TPE would need many
trials. A trial's `n_estimators` is its best iteration + 1.

Warm-start points (earlier runs' best params) are evaluated first and enter TPE's history like any
other trial. With `parallel=2` two points are asked at a time: the second is asked while the first
is pending, which TPE scores as a bad point, so the two differ. Both are fitted in threads (XGBoost
releases the GIL) and told back in trial order, so a seed gives the same trials whatever the timing.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hyperopt import STATUS_OK, Trials, hp, tpe
from hyperopt.base import JOB_STATE_DONE, Domain
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

# label: (low, high, log scale). max_depth is the one integer dimension.
_BOUNDS = {
    "max_depth": (2, 10, False),
    "learning_rate": (0.01, 0.3, True),
    "min_child_weight": (0.5, 20.0, True),
    "subsample": (0.5, 1.0, False),
    "colsample_bytree": (0.4, 1.0, False),
    "reg_alpha": (1e-4, 10.0, True),
    "reg_lambda": (1e-3, 20.0, True),
}
# What XGBoost used for a key a warm-start dict does not set (clipped into the space like the rest).
_XGB_DEFAULTS = {
    "max_depth": 6,
    "learning_rate": 0.3,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_alpha": 0.0,
    "reg_lambda": 1.0,
}
_SAMPLE_SECONDS = 0.01


def _dimension(label: str, low: float, high: float, log: bool):
    if label == "max_depth":
        return hp.uniformint(label, low, high)
    if log:
        return hp.loguniform(label, math.log(low), math.log(high))
    return hp.uniform(label, low, high)


SPACE = {label: _dimension(label, *bounds) for label, bounds in _BOUNDS.items()}


@dataclass(frozen=True)
class Budget:
    """How much search to do: at most `max_trials` trials (warm starts included) and about `max_seconds`."""

    max_trials: int = 12
    max_seconds: float = 120.0


@dataclass
class Trial:
    """One evaluated point: its params (n_estimators from early stopping), validation loss and cost."""

    number: int
    params: dict
    loss: float
    metrics: dict
    seconds: float
    peak_mb: float
    threads: int
    warm: bool


@dataclass
class TuningResult:
    """Every trial in order, the best one, and why the search stopped ("trials" or "seconds")."""

    best: Trial
    trials: list[Trial]
    stopped_by: str
    parallel: int
    seconds: float


class TrialError(RuntimeError):
    """A trial failed; the message names its number and params."""


def _point(values: dict) -> dict:
    """Values of the searched keys as plain Python numbers clipped into the space (missing: XGBoost's default)."""
    point = {}
    for label, (low, high, _) in _BOUNDS.items():
        value = values.get(label)
        value = _XGB_DEFAULTS[label] if value is None else float(value)
        value = min(max(value, low), high)
        point[label] = int(round(value)) if label == "max_depth" else float(value)
    return point


def _warm_points(warm_start: Sequence[dict]) -> list[dict]:
    points: list[dict] = []
    for values in warm_start:
        point = _point(values)
        if point not in points:
            points.append(point)
    return points


def _startup_trials(max_trials: int) -> int:
    # hyperopt's default of 20 random trials would use up a 12-trial budget before TPE models anything.
    return min(20, max(3, max_trials // 3))


def _unused(_config):
    raise AssertionError("tune() evaluates trials itself; the Domain only describes the space")


class _History:
    """hyperopt's Trials as an ask/tell history: pending points have no loss until told."""

    def __init__(self, seed: int, startup: int):
        self.trials = Trials()
        self.domain = Domain(_unused, SPACE)
        self.rng = np.random.default_rng(seed)
        self.startup = startup

    def ask(self, given: dict | None) -> tuple[int, dict]:
        """(tid, point): `given` recorded as is, or TPE's next suggestion when None."""
        (tid,) = self.trials.new_trial_ids(1)
        if given is None:
            seed = int(self.rng.integers(2**31 - 1))
            docs = tpe.suggest([tid], self.domain, self.trials, seed, n_startup_jobs=self.startup)
        else:
            misc = {
                "tid": tid,
                "cmd": self.domain.cmd,
                "workdir": self.domain.workdir,
                "idxs": {label: [tid] for label in given},
                "vals": {label: [value] for label, value in given.items()},
            }
            docs = self.trials.new_trial_docs([tid], [None], [self.domain.new_result()], [misc])
        self.trials.insert_trial_docs(docs)
        self.trials.refresh()
        return tid, _point({label: vals[0] for label, vals in docs[0]["misc"]["vals"].items()})

    def tell(self, tid: int, loss: float) -> None:
        (doc,) = (doc for doc in self.trials.trials if doc["tid"] == tid)
        doc["state"] = JOB_STATE_DONE
        doc["result"] = {"status": STATUS_OK, "loss": loss}
        self.trials.refresh()


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource  # not on Windows; only needed without /proc

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class _PeakMemory:
    """Peak resident memory of the process while the block runs: the kernel's high-water mark,
    reset when the block starts (Linux), else sampled in a background thread."""

    def __enter__(self) -> _PeakMemory:
        self.peak = _rss_bytes()
        self._kernel = _reset_peak() and _peak_bytes() is not None
        if not self._kernel:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(_SAMPLE_SECONDS):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc) -> None:
        if self._kernel:
            self.peak = max(self.peak, _peak_bytes() or 0)
            return
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def mb(self) -> float:
        return self.peak / 2**20


@dataclass(frozen=True)
class _Rows:
    X_fit: pd.DataFrame
    y_fit: np.ndarray
    w_fit: np.ndarray | None
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    w_valid: np.ndarray | None


def _split(X: pd.DataFrame, y, sample_weight, valid_fraction: float, seed: int) -> _Rows:
    y = np.asarray(y)
    arrays = [X, y] if sample_weight is None else [X, y, np.asarray(sample_weight, dtype=float)]
    parts = train_test_split(*arrays, test_size=valid_fraction, stratify=y, random_state=seed)
    X_fit, X_valid, y_fit, y_valid = parts[:4]
    w_fit, w_valid = (None, None) if sample_weight is None else parts[4:]
    return _Rows(X_fit, y_fit, w_fit, X_valid, y_valid, w_valid)


def _metrics(labels: np.ndarray, score: np.ndarray, weight: np.ndarray | None) -> dict:
    labels = np.asarray(labels, dtype=int)
    both = len(np.unique(labels)) == 2
    return {
        "log_loss": float(log_loss(labels, score, labels=[0, 1], sample_weight=weight)),
        "roc_auc": float(roc_auc_score(labels, score, sample_weight=weight)) if both else None,
        "accuracy": float(accuracy_score(labels, score >= 0.5, sample_weight=weight)),
    }


def _evaluate(
    number: int, point: dict, warm: bool, rows: _Rows, *, seed: int, threads: int, max_rounds: int, stop: int
):
    started = time.perf_counter()
    try:
        with _PeakMemory() as memory:
            model = XGBClassifier(
                **point,
                n_estimators=max_rounds,
                early_stopping_rounds=stop,
                tree_method="hist",
                eval_metric="logloss",
                random_state=seed,
                n_jobs=threads,
            )
            model.fit(
                rows.X_fit,
                rows.y_fit,
                sample_weight=rows.w_fit,
                eval_set=[(rows.X_valid, rows.y_valid)],
                sample_weight_eval_set=None if rows.w_valid is None else [rows.w_valid],
                verbose=False,
            )
            best_iteration = int(model.best_iteration)
            loss = float(model.evals_result()["validation_0"]["logloss"][best_iteration])
            # predict_proba stops at the best iteration once early stopping has run
            score = model.predict_proba(rows.X_valid)[:, 1]
            metrics = _metrics(rows.y_valid, score, rows.w_valid)
    except Exception as error:
        raise TrialError(f"tuning trial {number} failed with params {point}: {error!r}") from error
    params = {**point, "n_estimators": best_iteration + 1}
    return Trial(number, params, loss, metrics, time.perf_counter() - started, memory.mb, threads, warm)


def tune(
    X: pd.DataFrame,
    y,
    *,
    sample_weight=None,
    budget: Budget = Budget(),
    seed: int = 0,
    warm_start: Sequence[dict] = (),
    on_trial: Callable[[Trial, Trial], None] | None = None,
    cores: int = 2,
    parallel: int = 1,
    max_rounds: int = 1000,
    early_stopping_rounds: int = 30,
    valid_fraction: float = 0.2,
) -> TuningResult:
    """Search SPACE with TPE on one seeded fit/validation split; on_trial(trial, best_so_far) after each trial."""
    if budget.max_trials < 1:
        raise ValueError(f"Budget.max_trials must be at least 1, got {budget.max_trials}")
    if parallel not in (1, 2):
        raise ValueError(f"parallel must be 1 or 2, got {parallel}")
    started = time.perf_counter()
    threads = max(1, cores // parallel)
    rows = _split(X, y, sample_weight, valid_fraction, seed)
    history = _History(seed, _startup_trials(budget.max_trials))
    warm = _warm_points(warm_start)
    trials: list[Trial] = []
    best: Trial | None = None
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        while True:
            numbers = range(len(trials) + 1, min(len(trials) + parallel, budget.max_trials) + 1)
            asked = [(*history.ask(warm[n - 1] if n <= len(warm) else None), n <= len(warm)) for n in numbers]
            futures = [
                pool.submit(
                    _evaluate,
                    n,
                    point,
                    is_warm,
                    rows,
                    seed=seed,
                    threads=threads,
                    max_rounds=max_rounds,
                    stop=early_stopping_rounds,
                )
                for n, (_, point, is_warm) in zip(numbers, asked, strict=True)
            ]
            for (tid, _, _), future in zip(asked, futures, strict=True):
                trial = future.result()
                history.tell(tid, trial.loss)
                trials.append(trial)
                if best is None or trial.loss < best.loss:
                    best = trial
                if on_trial is not None:
                    on_trial(trial, best)
            if len(trials) >= budget.max_trials:
                stopped_by = "trials"
                break
            if time.perf_counter() - started >= budget.max_seconds:
                stopped_by = "seconds"
                break
    return TuningResult(best, trials, stopped_by, parallel, time.perf_counter() - started)


def final_params(result: TuningResult) -> dict:
    """The best trial's params, n_estimators included, ready for modeling.build(spec, params)."""
    return dict(result.best.params)
