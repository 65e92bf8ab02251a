"""`cl backtest`: one real history (NOAA weather) replayed under several retrain policies.

14 batches of 500 days, the concept drift (about day 12000) arriving at batch 6. The policies
run two at a time, each in its own process and state folder, as `cl backtest` runs them.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cl_assets import cli
from cl_assets.cli.backtest import REPLAY_REPORT
from cl_assets.lib import warehouse
from cl_assets.settings import THREADS_ENV

NOAA = Path(__file__).parent / "data" / "noaa_weather_days_9000_15999.csv"
ROWS, BATCH_ROWS = 7000, 500
DRIFT_DAY = 12000
POLICIES = ["auto", "periodic:1", "fixed:2:2000"]  # volume:N is tested on `cl replay` (tests/test_replay.py)


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    home = tmp_path_factory.mktemp("backtest")
    assert len(pd.read_csv(NOAA)) == ROWS
    report, plot = home / "report.json", home / "policies.png"
    with pytest.MonkeyPatch.context() as env:
        # one thread per replay on any machine: the searches, and so the figures, do not depend on its cores
        env.setenv(THREADS_ENV, "2")
        cli.main(
            ["backtest", str(NOAA), "--target", "rain", "--time", "day", "--batch-rows", str(BATCH_ROWS)]
            + ["--policies", ",".join(POLICIES), "--home", str(home), "--report", str(report), "--plot", str(plot)]
            + ["--jobs", "2"]
        )
    return home, json.loads(report.read_text()), plot


def _triggers(home: Path, policy: str) -> list[dict]:
    db = home / "backtest" / policy.replace(":", "-") / "warehouse.duckdb"
    with warehouse.connect(db, read_only=True) as con:
        return warehouse.fetch_records(con, "select kind, evidence from retrain_triggers order by triggered_at")


def test_the_report_compares_every_policy(backtest):
    _, report, _ = backtest
    assert list(report["policies"]) == POLICIES
    for result in report["policies"].values():
        assert {"mean_accuracy", "mean_roc_auc", "retrains"} <= set(result)
        assert 0 < result["mean_accuracy"] <= 1
        assert len(result["accuracy"]) == ROWS // BATCH_ROWS


def test_auto_beats_the_cron_job_and_keeps_up_with_retraining_every_batch(backtest):
    """On real drift, with the default RetrainPolicy: batch by batch, auto with fewer retrains is
    not shown (at 95%) to be more than half a point below retraining every batch, nor below the
    cron job. Measured (seed 0), since candidates are refitted with their holdout: auto 0.7665 at
    6 retrains, periodic:1 0.7575 at 13, fixed:2:2000 0.7388 at 7 (before the refit: 0.7373 at
    8, 0.7525, 0.7388). On 12 scored batches of 500 rows this cut cannot show issue 21's aim met
    or missed; the full NOAA file is in docs/retrain-decisions.md."""
    home, report, _ = backtest
    auto, every = report["policies"]["auto"], report["policies"]["periodic:1"]
    assert every["retrains"] == ROWS // BATCH_ROWS - 1  # the last batch's labels come after the replay
    gap = auto["vs_baseline"]
    assert gap["ci95_points"][1] >= -0.5, (gap, auto, every)
    assert auto["retrains"] < every["retrains"], (auto, every)
    cron = report["policies"]["fixed:2:2000"]
    rival = auto["vs_best_fixed"]
    if auto["retrains"] >= cron["retrains"]:  # the backtest judges auto against it
        assert rival["baseline"] == "fixed:2:2000" and rival["ci95_points"][1] >= 0, rival
    else:  # auto retrained less often than any cron job: none is its rival, and it is not worse than this one
        assert rival is None
        diffs = np.array([a - c for a, c in zip(auto["accuracy"], cron["accuracy"], strict=True) if None not in (a, c)])
        upper = diffs.mean() + 1.96 * diffs.std(ddof=1) / np.sqrt(len(diffs))
        assert upper >= 0, (auto["mean_accuracy"], cron["mean_accuracy"], diffs)
    kinds = [t["kind"] for t in _triggers(home, "auto")]
    assert kinds[0] == "bootstrap" and any("refit_check" in k for k in kinds[1:]), kinds


def test_every_policy_is_compared_with_periodic_1_batch_by_batch(backtest):
    _, report, _ = backtest
    every = report["policies"]["periodic:1"]
    for name, result in report["policies"].items():
        v = result["vs_baseline"]
        scored = [a for a in every["accuracy"] if a is not None]
        # batches 0 and 1 land before the first model (trained on batch 0's labels, at batch 1)
        assert v["baseline"] == "periodic:1" and v["batches"] == len(scored) == ROWS // BATCH_ROWS - 2
        gaps = [a - b for a, b in zip(result["accuracy"], every["accuracy"], strict=True) if a is not None]
        assert v["accuracy_gap_points"] == pytest.approx(100 * sum(gaps) / len(gaps))
        low, high = v["ci95_points"]
        assert low <= v["accuracy_gap_points"] <= high
        assert v["retrain_share"] == pytest.approx(result["retrains"] / every["retrains"])
        if name != "periodic:1":
            assert high - low > 0


def test_periodic_retrains_on_its_count_only(backtest):
    home, report, _ = backtest
    triggers = _triggers(home, "periodic:1")
    assert triggers[0]["kind"] == "bootstrap"
    later = triggers[1:]
    assert later and {t["kind"] for t in later} == {"periodic"}
    assert all(json.loads(t["evidence"])["new_labeled_batches"] >= 1 for t in later)
    assert report["policies"]["periodic:1"]["retrains"] >= 2


def test_the_plot_is_a_png(backtest):
    _, _, plot = backtest
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_retraining_every_batch_never_judges_the_champion_on_rows_it_learned(backtest):
    """Consecutive training sets share batches: without care, a third of a candidate's holdout was
    the champion's training rows, which flattered the champion at the gate."""
    home, _, _ = backtest
    db = home / "backtest" / "periodic-1" / "warehouse.duckdb"
    with warehouse.connect(db, read_only=True) as con:
        judged = warehouse.fetch_records(
            con,
            "select d.report_id, d.champion_version as judged_by, s.version, s.champion_version, s.kept_from_holdout, s.rows_holdout, r.rows, "
            "  (select count(*) from training_sets h where h.version = s.version and h.split = 'holdout' "
            "   and h.entity_id in (select t.entity_id from training_sets t where t.split = 'train' "
            "     and t.version = c.training_set_version)) as leaked "
            "from gate_decisions d "
            "join candidate_models m on m.model_version = d.candidate_version "
            "join training_set_versions s on s.version = m.training_set_version "
            "join candidate_models c on c.model_version = d.champion_version "
            "join evaluation_reports r on r.report_id = d.report_id and r.model_role = 'champion' "
            "  and r.eval_set = 'holdout' and r.slice = '__overall__'",
        )
    assert len(judged) >= ROWS // BATCH_ROWS - 3
    for j in judged:
        assert j["leaked"] == 0 and j["champion_version"] == j["judged_by"], j
        assert j["rows"] == j["rows_holdout"], j  # composed against this champion: nothing left to drop
    assert sum(j["kept_from_holdout"] > 0 for j in judged) >= len(judged) // 2  # the rule had work to do


def test_replays_side_by_side_share_the_cores(backtest):
    """Two replays at once, each fitting on half of CL_THREADS (2): neither tuning nor the final
    fit asks for more threads than its share."""
    home, _, _ = backtest
    share = 1
    for policy in POLICIES:
        db = home / "backtest" / policy.replace(":", "-") / "warehouse.duckdb"
        with warehouse.connect(db, read_only=True) as con:
            tunings = [json.loads(t) for (t,) in con.execute("select tuning from candidate_models").fetchall()]
            trial_threads = {t for (t,) in con.execute("select distinct threads from tuning_trials").fetchall()}
        assert tunings and {t["threads"] for t in tunings} == {share}, (policy, tunings)
        if policy.startswith("fixed:"):  # no search: fixed parameters, no trials
            assert not trial_threads and all(t["trials"] == 0 for t in tunings), (policy, tunings)
            continue
        assert all(t["parallel"] <= share for t in tunings), (policy, tunings)
        assert trial_threads == {max(1, share // t["parallel"]) for t in tunings}, (policy, trial_threads)


def test_auto_retrains_on_a_monitor_after_the_documented_drift(backtest):
    """NOAA's concept drift starts about day 12000: auto's own replay report (`replay.json`, the
    figures the backtest compared) shows a drift or performance check launching a retrain after
    it, and that candidate's model became the champion."""
    home, report, _ = backtest
    days = pd.read_csv(NOAA, usecols=["day"])["day"].sort_values(ignore_index=True)
    start = int((days < DRIFT_DAY).sum() // BATCH_ROWS)
    assert start >= 3
    state = home / "backtest" / "auto"
    replayed = json.loads((state / REPLAY_REPORT).read_text())
    accuracy = [b["metrics"]["accuracy"] if b["metrics"] else None for b in replayed["batches"]]
    assert accuracy == report["policies"]["auto"]["accuracy"]
    monitors = ("drift_check", "performance_check")
    after = [b for b in replayed["batches"][start:] if b["retrain_triggered"]]
    assert any(any(m in b["trigger_reason"].split(":")[0] for m in monitors) for b in after), replayed["batches"]
    with warehouse.connect(state / "warehouse.duckdb", read_only=True) as con:
        promoted = warehouse.fetch_records(
            con,
            "select c.model_version, t.kind, t.batch_id from champion_history c "
            "join retrain_triggers t using (trigger_id) where t.kind <> 'bootstrap' order by c.promoted_at",
        )
    assert any(p["batch_id"] >= f"batch_{start:04d}" for p in promoted), promoted


def test_the_cron_job_is_a_fixed_model_on_the_newest_rows_with_no_gate(backtest):
    """fixed:2:2000 retrains every 2 labeled batches on the newest 2000 rows, XGBoost's fixed
    parameters, no search, every candidate promoted (the gate's verdict only recorded), and the
    report sets every other policy against it when it retrained no more often."""
    home, report, _ = backtest
    db = home / "backtest" / "fixed-2-2000" / "warehouse.duckdb"
    with warehouse.connect(db, read_only=True) as con:
        sets = warehouse.fetch_records(con, "select rows_train, rows_holdout, recipe from training_set_versions")
        params = {p for (p,) in con.execute("select params from candidate_models").fetchall()}
        gates = warehouse.fetch_records(con, "select passed, reasons from gate_decisions")
        promoted = con.execute("select count(*) from champion_history").fetchall()[0][0]
    assert sets and all(json.loads(s["recipe"])["window"] == "rows" for s in sets)
    assert all(s["rows_train"] + s["rows_holdout"] == min(2000, s["rows_train"] + s["rows_holdout"]) for s in sets)
    assert max(s["rows_train"] + s["rows_holdout"] for s in sets) == 2000
    assert {json.loads(p) == {"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1} for p in params} == {True}
    assert all(g["passed"] and "not enforced" in g["reasons"] for g in gates) and promoted == len(gates)
    fixed = report["policies"]["fixed:2:2000"]
    for name, result in report["policies"].items():
        if name.startswith("fixed:"):
            continue
        rival = result["vs_best_fixed"]
        if result["retrains"] >= fixed["retrains"]:
            assert rival["baseline"] == "fixed:2:2000" and rival["mean_accuracy"] == fixed["mean_accuracy"]
        else:
            assert rival is None
