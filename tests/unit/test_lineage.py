"""Rendering the chain behind a model version, for each way a candidate can end."""

from cl_assets.lib.lineage import render


def chain(gate, promotion) -> dict:
    return {
        "model_version": 7,
        "registered_model": "cl_model",
        "trigger": {
            "kind": "drift_check",
            "at": "t0",
            "reason": "drift_check failed on batch 'b9'",
            "evidence": {"drift_check@b9": {"age": {"method": "ks", "p_value": 1e-9}}},
            "approved_by": None,
            "approval_reason": None,
        },
        "training_set": {"version": 3, "batches": ["b5", "b6", "b7", "b8"], "rows_train": 700, "rows_holdout": 300},
        "candidate": {"mlflow_run_id": "abc123", "dagster_run_id": "run-1", "trained_at": "t1"},
        "gate": gate,
        "promotion": promotion,
    }


def test_a_rejected_candidate_names_the_gate_reasons_and_never_became_champion():
    gate = {"report_id": "report-1", "against_champion": 6, "passed": False, "reasons": ["ROC AUC 0.70 < 0.75"]}
    text = render(chain(gate, None))
    assert "against champion v6: FAILED: ROC AUC 0.70 < 0.75" in text
    assert "never champion" in text
    assert "drift_check@b9 age: method ks, p_value 1e-09" in text
    assert "b5 .. b8 (4 batches)" in text and "MLflow run abc123" in text


def test_a_window_restarted_on_decay_says_where():
    whole = chain(None, None)
    whole["training_set"] |= {"batches": ["b9"], "restarted_at": "b9"}
    assert "training set v3: b9 (1 batch), the window restarted at b9 on performance decay," in render(whole)
    assert "restarted" not in render(chain(None, None))


def test_a_window_cut_at_the_champions_restart_says_so():
    whole = chain(None, None)
    whole["training_set"] |= {"batches": ["b9", "b10"], "restarted_at": None, "window_floor": "b9"}
    assert "b9 .. b10 (2 batches), the window starting at b9, where the champion's restarted on performance decay" in (
        render(whole)
    )
    whole["training_set"] |= {"batches": ["b10", "b11"]}  # the recipe's window starts later anyway
    assert "restarted" not in render(whole)


def test_a_candidate_whose_run_stopped_before_the_report_was_not_judged():
    text = render(chain(None, None))
    assert "not judged" in text and "approved" not in text  # nobody approved an automatic retrain


def test_a_retrain_held_for_approval_names_who_approved_it_right_after_its_trigger():
    whole = chain(None, None)
    whole["trigger"] |= {"approved_by": "alice", "approval_reason": "read the drift evidence"}
    lines = render(whole).splitlines()
    assert lines[2] == "  approved  by alice: read the drift evidence (held for approval, then run)"
    assert lines[1].startswith("  trigger   drift_check at t0")


def test_a_replaced_champion_says_until_when():
    gate = {"report_id": "r", "against_champion": None, "passed": True, "reasons": ["first model"]}
    text = render(chain(gate, {"promoted_at": "t2", "replaced": None, "replaced_at": "t5"}))
    assert "against no champion: PASSED" in text and "champion from t2 (the first model) until t5" in text


def test_promotion_decisions_are_listed_with_who_and_why():
    gate = {"report_id": "r", "against_champion": 6, "passed": True, "reasons": ["fine"]}
    whole = chain(gate, {"promoted_at": "t3", "replaced": 6, "replaced_at": None})
    whole["decisions"] = [
        {"at": "t2", "action": "awaiting_approval", "mode": "manual", "by": None, "reason": "passed the gate"},
        {"at": "t3", "action": "approved", "mode": "manual", "by": "ann", "reason": "reviewed the report"},
    ]
    lines = render(whole).splitlines()
    decided = [line for line in lines if line.startswith("  decision")]
    assert decided == [
        "  decision  awaiting_approval at t2 (manual mode): passed the gate",
        "  decision  approved at t3 by ann (manual mode): reviewed the report",
    ]
    assert lines.index(decided[-1]) < next(i for i, line in enumerate(lines) if line.startswith("  outcome"))


def test_a_model_refitted_with_its_holdout_says_so_and_one_judged_as_registered_does_not():
    whole = chain(None, None)
    assert "refitted" not in render(whole)
    whole["candidate"] |= {"refit_with_holdout": True}
    assert "700 rows train, 300 holdout (judged on the holdout, then refitted with it)" in render(whole)
