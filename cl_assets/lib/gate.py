"""The promotion gate: may a candidate replace the champion? Judged on the same rows.

Non-inferiority, not strict improvement: a candidate trained on fresher data that is as
good as the champion (within `max_auc_drop`) is promoted, so the champion's reference
window follows the data instead of alerting on the same shift forever. A change threshold
fails only when the rows show it broken: with `change_confidence` set, the candidate's
shortfall must exceed the allowed drop by z standard errors of the paired difference
(`cl_assets.lib.paired`), so a few hundred holdout rows do not reject a candidate on noise
and many rows judge as tightly as the fixed rule.

Rules come in three kinds, as TFX's evaluator has them, each its own blocking check:
- value thresholds: the candidate's ROC AUC on the holdout, overall and in every slice;
- change thresholds against the champion, absolute and relative, overall and per slice, on the
  holdout, on the newest batch's holdout rows, and on older rows it did not train on (forgetting);
- slice coverage: a slice with too few holdout rows cannot be judged, so the gate refuses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from scipy.stats import norm

from cl_assets.lib.modeling import OVERALL

HOLDOUT, NEWEST, OLDER = "holdout", "newest", "older"
VALUE, CHANGE, COVERAGE = "value_thresholds", "change_thresholds", "slice_coverage"
CHECKS = (VALUE, CHANGE, COVERAGE)


@dataclass(frozen=True)
class GateRules:
    min_roc_auc: float = 0.6
    min_slice_roc_auc: float = 0.5
    max_auc_drop: float = 0.005
    max_auc_drop_relative: float = 0.01
    max_log_loss_increase: float = 0.01
    max_slice_auc_drop: float = 0.05
    max_slice_auc_drop_relative: float = 0.07
    max_newest_auc_drop: float = 0.02
    max_forgetting_auc_drop: float | None = None  # off: forgetting an old concept is often the point
    min_slice_rows: int = 50
    refuse_short_slices: bool = True
    change_confidence: float | None = 0.95

    def z(self) -> float:
        """Standard errors a shortfall must exceed its allowed drop by (0: the point estimates)."""
        return 0.0 if self.change_confidence is None else float(norm.ppf(self.change_confidence))


@dataclass
class Rule:
    gate_check: str
    eval_set: str
    slice: str
    metric: str
    candidate: float | None
    champion: float | None
    threshold: float | None
    passed: bool
    message: str
    std_error: float | None = None  # of the candidate's minus the champion's, on the same rows

    def as_row(self) -> dict:
        return asdict(self)


@dataclass
class Verdict:
    passed: bool
    reasons: list[str]
    rules: list[Rule] = field(default_factory=list)

    def check(self, name: str) -> tuple[bool, list[Rule]]:
        """Passed, and the rules, of one of CHECKS."""
        mine = [r for r in self.rules if r.gate_check == name]
        return all(r.passed for r in mine), mine


def _drop(
    candidate: float, champion: float, absolute: float, relative: float, margin: float = 0.0
) -> tuple[bool, float]:
    """Not shown more than the allowed drop below (absolute and relative; the tighter binds)?
    `margin` is z standard errors of the difference. And the binding threshold."""
    allowed = min(absolute, relative * champion) if relative > 0 else absolute
    return candidate + margin >= champion - allowed, allowed


def _shown(rules: GateRules, se: float | None) -> tuple[float, str]:
    """The margin a difference gets, and how a failing rule's message says it was shown."""
    z = rules.z()
    if not z or se is None:
        return 0.0, ""
    return z * se, f", shown at {rules.change_confidence:.0%} (standard error of the difference {se:.4f})"


def judge(
    candidate: dict[str, dict[str, dict]],
    champion: dict[str, dict[str, dict]] | None,
    rules: GateRules,
    short_slices: dict[str, int] | None = None,
    errors: dict[str, dict[str, dict[str, float | None]]] | None = None,
) -> Verdict:
    """Candidate and champion metrics by eval set (holdout, newest, older) and slice. `errors`,
    by eval set, slice and metric: the standard error of the candidate's minus the champion's
    on the same rows (none: the point estimates are compared)."""
    hold = candidate[HOLDOUT]
    cand = hold[OVERALL]
    if cand["roc_auc"] is None:
        reason = "the holdout has a single class, so ROC AUC cannot be judged"
        return Verdict(False, [reason], [Rule(VALUE, HOLDOUT, OVERALL, "roc_auc", None, None, None, False, reason)])
    out = _values(hold, rules) + _coverage(hold, rules, short_slices)
    if champion is not None:
        out += _changes(candidate, champion, rules, errors or {})
    failed = [r.message for r in out if not r.passed]
    if failed:
        return Verdict(False, failed, out)
    if champion is None:
        return Verdict(True, ["first model: no champion to compare with; minimum ROC AUC met"], out)
    champ = champion[HOLDOUT][OVERALL]
    summary = (
        f"candidate ROC AUC {cand['roc_auc']:.4f} vs champion {champ['roc_auc']:.4f} "
        f"(allowed drop {rules.max_auc_drop}{_unless(rules)}), log loss {cand['log_loss']:.4f} vs {champ['log_loss']:.4f}; "
        f"no slice dropped more than {rules.max_slice_auc_drop}"
    )
    judged = sorted({r.eval_set for r in out if r.gate_check == CHANGE} - {HOLDOUT})
    if judged:
        summary += f"; also judged on the {' and '.join(judged)} rows"
    return Verdict(True, [summary], out)


def _values(hold: dict[str, dict], rules: GateRules) -> list[Rule]:
    """The value thresholds: the candidate's holdout ROC AUC overall and in every slice with enough rows."""
    cand = hold[OVERALL]
    out = [
        Rule(
            VALUE,
            HOLDOUT,
            OVERALL,
            "roc_auc",
            cand["roc_auc"],
            None,
            rules.min_roc_auc,
            cand["roc_auc"] >= rules.min_roc_auc,
            f"candidate ROC AUC {cand['roc_auc']:.4f} is below the minimum {rules.min_roc_auc}",
        )
    ]
    for name, metrics in hold.items():
        if name == OVERALL or metrics["roc_auc"] is None or metrics["rows"] < rules.min_slice_rows:
            continue
        out.append(
            Rule(
                VALUE,
                HOLDOUT,
                name,
                "roc_auc",
                metrics["roc_auc"],
                None,
                rules.min_slice_roc_auc,
                metrics["roc_auc"] >= rules.min_slice_roc_auc,
                f"slice '{name}': candidate ROC AUC {metrics['roc_auc']:.4f} is below the slice minimum "
                f"{rules.min_slice_roc_auc}",
            )
        )
    return out


def _coverage(hold: dict[str, dict], rules: GateRules, short_slices: dict[str, int] | None) -> list[Rule]:
    """Slice coverage: a slice with too few holdout rows (in the training set or here) cannot be judged."""
    short = dict(short_slices or {})
    short.update({n: m["rows"] for n, m in hold.items() if n != OVERALL and m["rows"] < rules.min_slice_rows})
    return [
        Rule(
            COVERAGE,
            HOLDOUT,
            name,
            "rows",
            rows,
            None,
            rules.min_slice_rows,
            not rules.refuse_short_slices,
            f"slice '{name}' has {rows} holdout rows, fewer than {rules.min_slice_rows}: the gate cannot judge it",
        )
        for name, rows in sorted(short.items())
    ]


def _unless(rules: GateRules) -> str:
    return "" if rules.change_confidence is None else f", unless shown at {rules.change_confidence:.0%}"


def _changes(candidate: dict, champion: dict, rules: GateRules, errors: dict) -> list[Rule]:
    """The change thresholds against the champion, on the same rows: overall, per slice, and on the
    newest batch and older rows. `errors`: the paired standard errors, by eval set, slice and metric."""

    def se(eval_set: str, name: str, metric: str) -> float | None:
        return errors.get(eval_set, {}).get(name, {}).get(metric)

    return (
        _overall_changes(candidate[HOLDOUT][OVERALL], champion[HOLDOUT][OVERALL], rules, se)
        + _slice_changes(candidate[HOLDOUT], champion[HOLDOUT], rules, se)
        + _other_set_changes(candidate, champion, rules, se)
    )


def _overall_changes(cand: dict, champ: dict, rules: GateRules, se) -> list[Rule]:
    out = []
    if champ["roc_auc"] is not None:
        error = se(HOLDOUT, OVERALL, "roc_auc")
        margin, shown = _shown(rules, error)
        ok, allowed = _drop(cand["roc_auc"], champ["roc_auc"], rules.max_auc_drop, rules.max_auc_drop_relative, margin)
        out.append(
            Rule(
                CHANGE,
                HOLDOUT,
                OVERALL,
                "roc_auc",
                cand["roc_auc"],
                champ["roc_auc"],
                allowed,
                ok,
                f"candidate ROC AUC {cand['roc_auc']:.4f} is more than {allowed:.4g} below "
                f"the champion's {champ['roc_auc']:.4f}{shown}",
                error,
            )
        )
    error = se(HOLDOUT, OVERALL, "log_loss")
    margin, shown = _shown(rules, error)
    out.append(
        Rule(
            CHANGE,
            HOLDOUT,
            OVERALL,
            "log_loss",
            cand["log_loss"],
            champ["log_loss"],
            rules.max_log_loss_increase,
            cand["log_loss"] - margin <= champ["log_loss"] + rules.max_log_loss_increase,
            f"candidate log loss {cand['log_loss']:.4f} is more than {rules.max_log_loss_increase} above "
            f"the champion's {champ['log_loss']:.4f}{shown}",
            error,
        )
    )
    return out


def _slice_changes(mine: dict[str, dict], theirs: dict[str, dict], rules: GateRules, se) -> list[Rule]:
    out = []
    for name, metrics in mine.items():
        other = theirs.get(name)
        if name == OVERALL or other is None or metrics["rows"] < rules.min_slice_rows:
            continue
        if None in (metrics["roc_auc"], other["roc_auc"]):
            continue
        error = se(HOLDOUT, name, "roc_auc")
        margin, shown = _shown(rules, error)
        ok, allowed = _drop(
            metrics["roc_auc"], other["roc_auc"], rules.max_slice_auc_drop, rules.max_slice_auc_drop_relative, margin
        )
        out.append(
            Rule(
                CHANGE,
                HOLDOUT,
                name,
                "roc_auc",
                metrics["roc_auc"],
                other["roc_auc"],
                allowed,
                ok,
                f"slice '{name}': candidate ROC AUC {metrics['roc_auc']:.4f} is more than "
                f"{allowed:.4g} below the champion's {other['roc_auc']:.4f}{shown}",
                error,
            )
        )
    return out


def _other_set_changes(candidate: dict, champion: dict, rules: GateRules, se) -> list[Rule]:
    """The newest batch's holdout rows, and older rows neither model trained on (forgetting)."""
    out = []
    for eval_set, allowed, what in (
        (NEWEST, rules.max_newest_auc_drop, "the newest batch"),
        (OLDER, rules.max_forgetting_auc_drop, "older rows it did not train on (forgetting)"),
    ):
        mine, theirs = candidate.get(eval_set, {}).get(OVERALL), champion.get(eval_set, {}).get(OVERALL)
        if allowed is None or mine is None or theirs is None or None in (mine["roc_auc"], theirs["roc_auc"]):
            continue
        if mine["rows"] < rules.min_slice_rows:
            continue
        error = se(eval_set, OVERALL, "roc_auc")
        margin, shown = _shown(rules, error)
        out.append(
            Rule(
                CHANGE,
                eval_set,
                OVERALL,
                "roc_auc",
                mine["roc_auc"],
                theirs["roc_auc"],
                allowed,
                mine["roc_auc"] + margin >= theirs["roc_auc"] - allowed,
                f"on {what}: candidate ROC AUC {mine['roc_auc']:.4f} is more than {allowed} below "
                f"the champion's {theirs['roc_auc']:.4f} ({mine['rows']} rows){shown}",
                error,
            )
        )
    return out


def decide(candidate: dict[str, dict], champion: dict[str, dict] | None, rules: GateRules) -> tuple[bool, list[str]]:
    """(passed, reasons) on the holdout alone. Each reason is one sentence naming the metric, the values and the rule."""
    verdict = judge({HOLDOUT: candidate}, None if champion is None else {HOLDOUT: champion}, rules)
    return verdict.passed, verdict.reasons
