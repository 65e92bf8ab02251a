"""When does a failed monitoring check become a retrain? Alert-fatigue controls, as a state machine.

The retrain sensor feeds every evaluation of a watched check (passed or failed) to `observe`,
in order. A check *fires* only when

- at least M of its last N evaluations failed (`m_of_n`, per check; M = 0 makes a check an
  alert that never triggers: its failures are held, with the rule `not_a_trigger`),
- it has not fired already in the same incident: an incident opens with a failure and closes
  with the next pass or when another model takes over, so a drift that persists triggers
  once per model (failures against an earlier model do not count towards M of N either);
  if the same model is still failing `retry_batches` after its incident fired (the retrain's
  candidate was not promoted), the incident fires again,
- no retrain was launched within the last `cooldown_batches` monitored batches (a check may
  have its own cooldown in `cooldowns`: a performance decay, direct evidence that the model
  is losing, waits less than a drift, which may not matter to the model), and
- fewer than `budget` retrains were *triggered* within the last `budget_window_batches`
  (scheduled or manual retrains count for the cooldown, not for the budget: they are planned).

Every failure that does not fire is *held*, with the rule that held it, so the decision is
visible. The clock counts monitored batches (drift check evaluations), so a replayed history
behaves as it did live. The state is plain JSON: the sensor keeps it in its cursor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class AlertPolicy:
    # drift alerts and never triggers by itself (a moved input need not cost accuracy: the refit
    # check prices that); a performance decay and a retrain that pays act at once
    m_of_n: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {
            "drift_check": (0, 3),
            "performance_check": (1, 1),
            "refit_check": (1, 1),
            "estimated_performance_check": (0, 1),
        }
    )
    # a performance decay is direct evidence that the model is losing, so it waits less after a
    # retrain than a drift, which may not matter to the model (the defaults of RetrainPolicy, which reads them from here)
    cooldown_batches: int = 3
    cooldowns: dict[str, int] = field(
        default_factory=lambda: {"performance_check": 1, "refit_check": 0}
    )  # check -> its own
    retry_batches: int = 3  # 0: never retry an unanswered incident
    # refit_check prices its failures since the last retrain tried: failing again one batch after a
    # rejected retrain means the loss since that attempt already reached the cost of another
    retries: dict[str, int] = field(default_factory=lambda: {"refit_check": 1})  # check -> its own
    # a safety valve, not a decision: every retrain refit_check launches has paid for itself, and
    # 6 in 12 held back retrains worth 4 to 8 points a batch on NOAA weather (docs/retrain-decisions.md)
    budget: int = 12
    budget_window_batches: int = 12

    def __post_init__(self):
        for check, (m, n) in self.m_of_n.items():
            if not 0 <= m <= n or n < 1:
                raise ValueError(f"{check}: M of N needs 0 <= M <= N and N >= 1, got {m} of {n}")
        controls = [self.cooldown_batches, *self.cooldowns.values(), self.retry_batches, *self.retries.values()]
        controls.append(self.budget)
        if min(controls + [self.budget_window_batches]) < 0:
            raise ValueError("cooldown, budget and budget window cannot be negative")

    def window(self, check: str) -> tuple[int, int]:
        return tuple(self.m_of_n.get(check, (1, 1)))

    def cooldown(self, check: str | None = None) -> int:
        """Monitored batches after a retrain in which `check` (None: any other trigger) cannot fire."""
        return self.cooldowns.get(check, self.cooldown_batches) if check else self.cooldown_batches


@dataclass(frozen=True)
class Evaluation:
    id: int  # the event log's id: evaluations are observed in this order
    check: str
    batch_id: str
    failed: bool
    description: str = ""
    evidence: dict = field(default_factory=dict)
    model_version: int | None = None  # the model (or its reference) the check judged


@dataclass(frozen=True)
class Verdict:
    evaluation: Evaluation
    fired: bool
    rule: str  # what decided: fired, same_incident, m_of_n, cooldown, budget
    reason: str


@dataclass
class AlertState:
    clock: int = 0
    recent: dict[str, list[bool]] = field(default_factory=dict)
    versions: dict[str, int | None] = field(default_factory=dict)  # check -> model its recent outcomes judged
    open_incidents: dict[str, list] = field(default_factory=dict)  # check -> [batch that fired it, clock]
    retrain_clocks: list[int] = field(default_factory=list)  # every retrain: the cooldown
    triggered_clocks: list[int] = field(default_factory=list)  # triggered ones: the budget

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> AlertState:
        return cls(**data) if data else cls()

    def retrain_launched(self, triggered: bool = True) -> None:
        """A retrain started: the cooldown counts from here, and the budget if it was triggered."""
        self.retrain_clocks.append(self.clock)
        if triggered:
            self.triggered_clocks.append(self.clock)


CLOCK_CHECK = "drift_check"  # one evaluation per monitored batch


def observe(state: AlertState, policy: AlertPolicy, evaluation: Evaluation) -> Verdict | None:
    """Update the state with one evaluation; a verdict for every failure, None for a pass."""
    if evaluation.check == CLOCK_CHECK:
        state.clock += 1
    needed, window = policy.window(evaluation.check)
    if state.versions.get(evaluation.check) != evaluation.model_version:  # another model took over
        state.recent.pop(evaluation.check, None)
        state.open_incidents.pop(evaluation.check, None)
        state.versions[evaluation.check] = evaluation.model_version
    recent = (state.recent.get(evaluation.check, []) + [evaluation.failed])[-window:]
    state.recent[evaluation.check] = recent
    if not evaluation.failed:
        state.open_incidents.pop(evaluation.check, None)  # the incident is over
        return None

    def held(rule: str, reason: str) -> Verdict:
        return Verdict(evaluation, False, rule, f"{evaluation.check} failed on batch '{evaluation.batch_id}'; {reason}")

    if needed == 0:
        return held("not_a_trigger", "this check alerts but does not trigger retrains (0 breaches needed: off)")
    retry = False
    if evaluation.check in state.open_incidents:
        first, fired_at = state.open_incidents[evaluation.check]
        waited = state.clock - fired_at
        retry_after = policy.retries.get(evaluation.check, policy.retry_batches)
        if not retry_after or waited < retry_after:
            return held("same_incident", f"same incident as batch '{first}', which already triggered a retrain")
        retry = True  # the same model still fails: that retrain did not replace it
    failures = sum(recent)
    if failures < needed:
        return held("m_of_n", f"{failures} of the last {len(recent)} evaluations failed; {needed} of {window} needed")
    limit = limited(state, policy, evaluation.check)
    if limit:
        return held(*limit)
    again = ""
    if retry:
        first = state.open_incidents[evaluation.check][0]
        again = f"; retrying the incident opened at batch '{first}', whose retrain left this model in place"
    state.open_incidents[evaluation.check] = [evaluation.batch_id if not retry else first, state.clock]
    return Verdict(
        evaluation,
        True,
        "fired",
        f"{evaluation.check} failed on batch '{evaluation.batch_id}': {failures} of the last {len(recent)} "
        f"evaluations failed ({needed} of {window} needed){again}",
    )


def limited(state: AlertState, policy: AlertPolicy, check: str | None = None) -> tuple[str, str] | None:
    """(rule, reason) when cooldown or budget forbid a retrain by `check` (None: another
    trigger, such as new-label volume) now; None when one may start."""
    since = state.clock - state.retrain_clocks[-1] if state.retrain_clocks else None
    cooldown = policy.cooldown(check)
    if since is not None and since < cooldown:
        whose = f"{check}'s cooldown" if check in policy.cooldowns else "cooldown"
        return "cooldown", f"a retrain started {since} batch(es) ago; {whose} is {cooldown} batches"
    spent = sum(1 for c in state.triggered_clocks if state.clock - c < policy.budget_window_batches)
    if spent >= policy.budget:
        return (
            "budget",
            f"{spent} retrains in the last {policy.budget_window_batches} batches; the budget is {policy.budget}",
        )
    return None


# What the retrain sensor does on a tick, after `observe`: the holds that apply to checks that
# fired (a retrain already running; a canary, whose verdict answers the incident first), and the
# one action it takes. The first model is trained before anything else, once no retrain runs.
BOOTSTRAP, CHECKS, VOLUME = "bootstrap", "checks", "volume"


def hold_fired(
    state: AlertState, fired: list[Verdict], *, in_flight: bool, canary: int | None
) -> tuple[list[Verdict], list[Verdict]]:
    """(fired, held) once the holds of this tick apply. A held check's incident is reopened, so it
    may fire again: it was not answered (in flight) or the canary answers it for now."""
    if in_flight:
        rule, why = "in_flight", "a retrain is already running"
    elif canary is not None:
        rule, why = "canary", f"a canary of version {canary} is running, and its verdict decides first"
    else:
        return fired, []
    for verdict in fired:
        state.open_incidents.pop(verdict.evaluation.check, None)
    return [], [Verdict(v.evaluation, False, rule, f"{v.reason}; {why}") for v in fired]


def next_action(
    *, no_champion: bool, in_flight: bool, fired: list[Verdict], volume: bool, canary: int | None
) -> str | None:
    """BOOTSTRAP (no champion yet, nothing running), CHECKS (a check fired), VOLUME (new-label
    volume may be due: it has its own threshold and limits), or None."""
    if no_champion and not in_flight:
        return BOOTSTRAP
    if fired:
        return CHECKS
    if volume and not in_flight and canary is None:
        return VOLUME
    return None


def approval_hold(trigger_id: str) -> str:
    """What the sensor says of a retrain held for a person (RetrainPolicy.approval). No retrain
    starts, so neither the cooldown nor the budget counts it; a check's incident stays answered
    (it asks again after retry_batches, as if rejected)."""
    return f"retrain {trigger_id} held for a person's approval: cl approve-retrain {trigger_id} --reason ..."
