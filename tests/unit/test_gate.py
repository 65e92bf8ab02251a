"""The promotion gate: minimum AUC, non-inferiority, log loss, per-slice drops."""

import pytest

from cl_assets.lib.gate import CHANGE, COVERAGE, HOLDOUT, NEWEST, OLDER, VALUE, GateRules, decide, judge
from cl_assets.lib.modeling import OVERALL

RULES = GateRules(
    min_roc_auc=0.6, max_auc_drop=0.005, max_log_loss_increase=0.01, max_slice_auc_drop=0.05, min_slice_rows=50
)


def m(roc_auc, log_loss=0.5, rows=1000) -> dict:
    return {"rows": rows, "accuracy": 0.7, "roc_auc": roc_auc, "log_loss": log_loss, "positive_rate": 0.5}


def report(overall: dict, **slices: dict) -> dict:
    return {OVERALL: overall, **slices}


def test_first_model_above_the_minimum_passes():
    passed, reasons = decide(report(m(0.75)), None, RULES)
    assert passed
    assert len(reasons) == 1 and "first model" in reasons[0]


@pytest.mark.parametrize("auc", [0.55, 0.5999])
def test_first_model_below_the_minimum_fails_naming_the_values(auc):
    passed, reasons = decide(report(m(auc)), None, RULES)
    assert not passed
    assert len(reasons) == 1
    assert f"{auc:.4f}" in reasons[0] and "0.6" in reasons[0]


def test_minimum_applies_with_a_champion_too():
    passed, reasons = decide(report(m(0.55)), report(m(0.54)), RULES)
    assert not passed
    assert any("0.5500" in r and "minimum" in r for r in reasons)


@pytest.mark.parametrize("cand_auc", [0.80, 0.85, 0.796])  # better, equal-ish, within the allowed 0.005 drop
def test_non_inferior_candidate_passes(cand_auc):
    passed, reasons = decide(report(m(cand_auc)), report(m(0.80)), RULES)
    assert passed, reasons
    assert len(reasons) == 1 and f"{cand_auc:.4f}" in reasons[0] and "0.8000" in reasons[0]


def test_candidate_more_than_the_allowed_drop_worse_fails_naming_both_aucs():
    passed, reasons = decide(report(m(0.79)), report(m(0.80)), RULES)
    assert not passed
    assert len(reasons) == 1
    assert "0.7900" in reasons[0] and "0.8000" in reasons[0]


@pytest.mark.parametrize(("cand_ll", "ok"), [(0.505, True), (0.509, True), (0.52, False), (0.7, False)])
def test_log_loss_increase_rule(cand_ll, ok):
    passed, reasons = decide(report(m(0.80, log_loss=cand_ll)), report(m(0.80, log_loss=0.5)), RULES)
    assert passed is ok, reasons
    if not ok:
        assert len(reasons) == 1
        assert "log loss" in reasons[0] and f"{cand_ll:.4f}" in reasons[0] and "0.5000" in reasons[0]


def test_a_slice_dropping_too_much_fails_and_is_named():
    champion = report(m(0.80), north=m(0.82, rows=300), south=m(0.78, rows=300))
    candidate = report(m(0.80), north=m(0.81, rows=300), south=m(0.70, rows=300))
    passed, reasons = decide(candidate, champion, RULES)
    assert not passed
    assert len(reasons) == 1
    assert "'south'" in reasons[0] and "0.7000" in reasons[0] and "0.7800" in reasons[0]
    assert "north" not in reasons[0]


def test_a_slice_within_the_allowed_drop_passes():
    champion = report(m(0.80), north=m(0.82, rows=300))
    candidate = report(m(0.80), north=m(0.78, rows=300))
    passed, reasons = decide(candidate, champion, RULES)
    assert passed, reasons


@pytest.mark.parametrize("rows", [50, 500])
def test_a_slice_with_enough_rows_is_judged(rows):
    champion = report(m(0.80), tiny=m(0.90, rows=rows))
    candidate = report(m(0.80), tiny=m(0.60, rows=rows))
    passed, reasons = decide(candidate, champion, RULES)
    assert not passed and "'tiny'" in reasons[0] and "0.6000" in reasons[0]


def test_the_gate_refuses_a_slice_it_cannot_see():
    champion = report(m(0.80), tiny=m(0.90, rows=49))
    candidate = report(m(0.80), tiny=m(0.95, rows=49))
    passed, reasons = decide(candidate, champion, RULES)
    assert not passed
    assert reasons == ["slice 'tiny' has 49 holdout rows, fewer than 50: the gate cannot judge it"]
    lenient = GateRules(**{**RULES.__dict__, "refuse_short_slices": False})
    assert decide(candidate, champion, lenient)[0]


def test_slices_the_training_set_reported_short_are_refused_too():
    verdict = judge({HOLDOUT: report(m(0.80))}, None, RULES, short_slices={"rare": 0})
    assert not verdict.passed and "'rare' has 0 holdout rows" in verdict.reasons[0]
    assert verdict.check(COVERAGE)[0] is False and verdict.check(VALUE)[0] is True


def test_a_new_slice_meets_the_slice_minimum_but_is_not_compared():
    assert decide(report(m(0.80), new=m(0.7, rows=500)), report(m(0.80)), RULES)[0]
    passed, reasons = decide(report(m(0.80), new=m(0.3, rows=500)), report(m(0.80)), RULES)
    assert not passed and reasons == ["slice 'new': candidate ROC AUC 0.3000 is below the slice minimum 0.5"]


def test_the_relative_threshold_binds_when_tighter_than_the_absolute():
    rules = GateRules(max_auc_drop=0.05, max_auc_drop_relative=0.01)  # 1% of 0.6 = 0.006
    passed, reasons = decide(report(m(0.59)), report(m(0.60)), GateRules(**{**rules.__dict__, "min_roc_auc": 0.5}))
    assert not passed and "more than 0.006 below" in reasons[0]
    assert decide(report(m(0.595)), report(m(0.60)), GateRules(**{**rules.__dict__, "min_roc_auc": 0.5}))[0]


def test_newest_and_older_rows_are_judged_with_their_own_allowed_drops():
    cand = {HOLDOUT: report(m(0.80)), NEWEST: report(m(0.85, rows=300)), OLDER: report(m(0.70, rows=2000))}
    champ = {HOLDOUT: report(m(0.80)), NEWEST: report(m(0.80, rows=300)), OLDER: report(m(0.78, rows=2000))}
    assert judge(cand, champ, RULES).passed  # forgetting is reported, not judged, unless configured
    verdict = judge(cand, champ, GateRules(**{**RULES.__dict__, "max_forgetting_auc_drop": 0.05}))
    assert not verdict.passed
    assert verdict.reasons == [
        "on older rows it did not train on (forgetting): candidate ROC AUC 0.7000 is more than 0.05 below "
        "the champion's 0.7800 (2000 rows)"
    ]
    ok, rules = verdict.check(CHANGE)
    assert not ok and {(r.eval_set, r.passed) for r in rules if r.metric == "roc_auc"} == {
        (HOLDOUT, True),
        (NEWEST, True),
        (OLDER, False),
    }
    champ[OLDER] = report(m(0.74, rows=2000))
    verdict = judge(cand, champ, GateRules(**{**RULES.__dict__, "max_forgetting_auc_drop": 0.05}))
    assert verdict.passed and "newest and older rows" in verdict.reasons[0]


@pytest.mark.parametrize("champion", [None, report(m(0.80))])
def test_single_class_holdout_fails(champion):
    cand = report(m(None))
    passed, reasons = decide(cand, champion, RULES)
    assert not passed
    assert len(reasons) == 1 and "single class" in reasons[0]


def test_several_failures_give_several_reasons():
    champion = report(m(0.80, log_loss=0.45), east=m(0.85, rows=100))
    candidate = report(m(0.70, log_loss=0.60), east=m(0.60, rows=100))
    passed, reasons = decide(candidate, champion, RULES)
    assert not passed
    assert len(reasons) == 3


def errors(auc=None, log_loss=None, **slices) -> dict:
    """Standard errors of the candidate's minus the champion's, on the holdout."""
    out = {OVERALL: {"roc_auc": auc, "log_loss": log_loss}}
    out.update({name: {"roc_auc": se, "log_loss": None} for name, se in slices.items()})
    return {HOLDOUT: out}


def test_a_shortfall_within_the_noise_of_a_small_holdout_passes():
    rules = GateRules(**{**RULES.__dict__, "change_confidence": 0.95})
    cand, champ = {HOLDOUT: report(m(0.82, rows=300))}, {HOLDOUT: report(m(0.83, rows=300))}
    assert not judge(cand, champ, rules).passed  # no errors given: the point estimates, 0.01 > 0.005
    verdict = judge(cand, champ, rules, errors=errors(auc=0.012))
    assert verdict.passed, verdict.reasons
    assert "unless shown at 95%" in verdict.reasons[0]
    (auc_rule,) = [r for r in verdict.rules if r.gate_check == CHANGE and r.metric == "roc_auc"]
    assert auc_rule.std_error == 0.012 and auc_rule.passed
    # 0.01 - 1.645 * 0.003 = 0.0051 > 0.005: the rows show the candidate worse
    verdict = judge(cand, champ, rules, errors=errors(auc=0.003))
    assert not verdict.passed
    assert verdict.reasons == [
        "candidate ROC AUC 0.8200 is more than 0.005 below the champion's 0.8300, shown at 95% "
        "(standard error of the difference 0.0030)"
    ]
    fixed = GateRules(**{**RULES.__dict__, "change_confidence": None})
    assert not judge(cand, champ, fixed, errors=errors(auc=0.012)).passed


def test_log_loss_and_slices_are_judged_with_their_errors_too():
    rules = GateRules(**{**RULES.__dict__, "change_confidence": 0.95})
    champion = {HOLDOUT: report(m(0.80, log_loss=0.50), south=m(0.78, rows=100))}
    candidate = {HOLDOUT: report(m(0.80, log_loss=0.53), south=m(0.70, rows=100))}
    assert not judge(candidate, champion, rules).passed
    loose = judge(candidate, champion, rules, errors=errors(log_loss=0.02, south=0.05))
    assert loose.passed, loose.reasons
    tight = judge(candidate, champion, rules, errors=errors(log_loss=0.005, south=0.01))
    assert not tight.passed and len(tight.reasons) == 2
    assert "log loss 0.5300" in tight.reasons[0] and "standard error of the difference 0.0050" in tight.reasons[0]
    assert "'south'" in tight.reasons[1] and "0.0100" in tight.reasons[1]
