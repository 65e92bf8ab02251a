"""The retrain sensor: the loop's trigger policy, reading check results from Dagster's event log.

It never opens DuckDB (the daemon would collide with a running materialization's lock); all
it needs is in the event log: failed monitoring checks with their evidence, and whether a
champion exists yet.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from cl_assets.defs.jobs import retrain_job, retrain_request
from cl_assets.defs.triggers import approvals
from cl_assets.defs.triggers.policy import RetrainMode, RetrainPolicy
from cl_assets.lib import alerting, triggers

SENSOR = "retrain_sensor"
PAGE = 50  # check execution records read at a time
HISTORY = 500  # label deliveries read when counting new labels

WATCHED_CHECKS = (
    dg.AssetCheckKey(dg.AssetKey("drift_metrics"), "drift_check"),
    dg.AssetCheckKey(dg.AssetKey("batch_performance"), "performance_check"),
    dg.AssetCheckKey(dg.AssetKey("refit_impact"), "refit_check"),
    dg.AssetCheckKey(dg.AssetKey("estimated_performance"), "estimated_performance_check"),
)
GATE = dg.AssetCheckKey(dg.AssetKey("evaluation_report"), "promotion_gate")
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _evaluations(instance: dg.DagsterInstance, after: int, seen: set[int]) -> tuple[list[alerting.Evaluation], int]:
    """Evaluations of the watched checks newer than event id `after` (minus those already
    `seen`), oldest first, and the id the cursor may advance to: the newest one, or just below
    the oldest check still waiting in an unfinished run, so that none is ever skipped."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    found, pending, newest = [], [], after
    for key in WATCHED_CHECKS:
        for record in _history_after(instance, key, after):
            newest = max(newest, record.id)
            if record.status == Status.PLANNED:
                run = instance.get_run_by_id(record.run_id)
                if run is not None and not run.is_finished:
                    pending.append(record.id)
                continue  # a planned check of a finished run never ran (its batch was rejected)
            if record.id in seen or record.status not in (Status.SUCCEEDED, Status.FAILED):
                continue
            evaluation = record.event.asset_check_evaluation if record.event else None
            meta = {k: v.value for k, v in (evaluation.metadata if evaluation else {}).items()}
            found.append(
                alerting.Evaluation(
                    id=record.id,
                    check=key.name,
                    batch_id=str(meta.get("batch_id", "")),
                    failed=record.status == Status.FAILED,
                    description=(evaluation.description or "") if evaluation else "",
                    evidence=meta.get("evidence", {}),
                    model_version=meta.get("model_version"),
                )
            )
    return sorted(found, key=lambda e: e.id), (min(pending) - 1 if pending else newest)


def _history_after(instance: dg.DagsterInstance, key: dg.AssetCheckKey, after: int):
    """A check's execution records with ids above `after`, newest first, a page at a time."""
    cursor = None
    while True:
        page = instance.event_log_storage.get_asset_check_execution_history(key, limit=PAGE, cursor=cursor)
        for record in page:
            if record.id <= after:
                return
            yield record
        if len(page) < PAGE:
            return
        cursor = page[-1].id


def _latest_check_id(instance: dg.DagsterInstance) -> int:
    ids = [
        r.id
        for key in WATCHED_CHECKS
        for r in instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    ]
    return max(ids, default=0)


def _other_retrains(instance: dg.DagsterInstance, after: float) -> tuple[int, float]:
    """Retrains launched since `after` by anything but this sensor (schedule, a person)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=retrain_job.name, created_after=datetime.fromtimestamp(after, UTC))
    )
    others = [r for r in records if r.dagster_run.tags.get("dagster/sensor_name") != SENSOR]
    return len(others), max([after, *(r.create_timestamp.timestamp() for r in records)])


def _new_labels(instance: dg.DagsterInstance) -> tuple[int, int]:
    """Labeled rows, and labeled batches, that arrived after the latest training set was composed."""
    latest = instance.fetch_materializations(dg.AssetKey("training_set"), limit=1).records
    since = latest[0].storage_id if latest else 0
    rows = batches = 0
    for record in instance.fetch_materializations(dg.AssetKey("batch_labels"), limit=HISTORY).records:
        if record.storage_id <= since:
            break
        materialization = record.asset_materialization
        if materialization and materialization.metadata.get("status", dg.TextMetadataValue("")).value != "quarantined":
            rows += int(materialization.metadata.get("dagster/row_count", dg.IntMetadataValue(0)).value or 0)
            batches += 1
    return rows, batches


def _held(verdicts: list[alerting.Verdict]) -> list[dg.AssetObservation]:
    """Failures that did not become a retrain, on the retrain_trigger asset: visible, with the rule."""
    return [
        dg.AssetObservation(
            asset_key="retrain_trigger",
            description=v.reason,
            metadata={
                "decision": "held",
                "rule": v.rule,
                "check": v.evaluation.check,
                "batch_id": v.evaluation.batch_id,
                "reason": v.reason,
            },
        )
        for v in verdicts
    ]


@dg.sensor(
    name=SENSOR,
    job=retrain_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "The trigger policy. Watches every evaluation of drift_check (an alert only, unless "
        "RetrainPolicy.drift_breaches > 0), performance_check and refit_check (a retrain pays: the accuracy "
        "lost to a refit since the champion's promotion reached RetrainPolicy.retrain_cost_points) and "
        "estimated_performance_check (an alert only, unless RetrainPolicy.estimated_breaches > 0), and "
        "launches retrain_job when one fires under the RetrainPolicy's alert-fatigue controls: "
        "M of the last N batches failed (per check), once per incident (a drift that persists "
        "triggers once; the next pass ends the incident), not within its check's cooldown after a "
        "retrain (longer for drift than for a performance decay), within the retrain budget, and not while a canary runs (its verdict decides first). "
        "A failure that does not fire is recorded as a "
        "'held' observation on retrain_trigger, naming the rule. Also retrains when enough new "
        "labels arrived (min_new_labels), and trains the first model ('bootstrap') once labels "
        "exist and no champion does. The run's tags carry the checks, batches and evidence. On "
        "its first tick it starts from the latest check result. Under the backtest policies "
        "(RetrainPolicy.mode periodic, volume, fixed or never) it retrains on a count of labeled batches "
        "or rows, or never, and ignores the monitors. With RetrainPolicy.approval, a retrain it would launch is "
        "held for a person instead: an 'awaiting_approval' observation on retrain_trigger, run by "
        "`cl approve-retrain TRIGGER_ID --reason ...` or by launching retrain_job with retrain_trigger's "
        "config `approve` set to the trigger id."
    ),
)
def retrain_sensor(context: dg.SensorEvaluationContext, retrain_policy: RetrainPolicy):
    instance = context.instance
    if context.cursor is None:
        cursor = {"after": _latest_check_id(instance), "runs_after": datetime.now(UTC).timestamp(), "state": None}
    else:
        cursor = json.loads(context.cursor)
    if retrain_policy.mode != RetrainMode.AUTO:
        return _fixed_policy(instance, retrain_policy, cursor)
    seen = set(cursor.get("seen", []))
    state = alerting.AlertState.from_dict(cursor["state"])
    policy = retrain_policy.alert_policy()
    others, runs_after = _other_retrains(instance, cursor["runs_after"])
    for _ in range(others):
        state.retrain_launched(triggered=False)
    evaluations, after = _evaluations(instance, cursor["after"], seen)
    verdicts = [v for e in evaluations if (v := alerting.observe(state, policy, e))]
    in_flight = bool(instance.get_runs(filters=dg.RunsFilter(job_name=retrain_job.name, statuses=IN_FLIGHT), limit=1))
    canary = _running_canary(instance)
    fired, held = alerting.hold_fired(state, [v for v in verdicts if v.fired], in_flight=in_flight, canary=canary)
    held = [v for v in verdicts if not v.fired] + held
    action = alerting.next_action(
        no_champion=_no_champion_yet(instance),
        in_flight=in_flight,
        fired=fired,
        volume=bool(retrain_policy.min_new_labels),
        canary=canary,
    )
    request, note = _request(instance, action, fired, state, policy, retrain_policy.min_new_labels)
    events = _held(held)
    if request is not None and retrain_policy.approval:
        trigger_id = request.tags[triggers.TRIGGER_ID]
        if (held_request := approvals.hold(instance, request.tags)) is not None:  # recorded once
            events.append(held_request)
        request, note = None, alerting.approval_hold(trigger_id)
    if request is not None and request.tags.get(triggers.KIND) != "bootstrap":
        state.retrain_launched()
    next_cursor = json.dumps(
        {
            "after": after,
            # observed already but above `after` (which waits below a pending check)
            "seen": sorted(i for i in seen | {e.id for e in evaluations} if i > after),
            "runs_after": runs_after,
            "state": state.to_dict(),
        }
    )
    if request is None:
        notes = [v.reason for v in held] + ([note] if note else [])
        reason = "; ".join(notes) or "no monitoring check failed since the last tick"
        return dg.SensorResult(skip_reason=reason[:1000], cursor=next_cursor, asset_events=events)
    return dg.SensorResult(run_requests=[request], cursor=next_cursor, asset_events=events)


def _request(instance, action, fired, state, policy, min_new_labels) -> tuple[dg.RunRequest | None, str | None]:
    """The retrain request of `action` (alerting.next_action), and a note when volume was held."""
    if action == alerting.BOOTSTRAP:
        return _bootstrap(instance), None
    if action == alerting.CHECKS:
        checks = sorted({v.evaluation.check for v in fired})
        request = retrain_request(
            f"checks:{fired[-1].evaluation.id}",
            kind="+".join(checks),
            reason="; ".join(f"{v.reason}. {v.evaluation.description}" for v in fired),
            check=",".join(checks),
            batch=fired[-1].evaluation.batch_id,
            evidence={f"{v.evaluation.check}@{v.evaluation.batch_id}": v.evaluation.evidence for v in fired},
        )
        return request, None
    if action == alerting.VOLUME:
        return _volume(instance, state, policy, min_new_labels)
    return None, None


def _fixed_policy(instance: dg.DagsterInstance, policy: RetrainPolicy, cursor: dict) -> dg.SensorResult:
    """The backtest policies: retrain on a count of labeled batches or rows, or never; the
    monitors are not consulted (and no retrain is held by them)."""
    in_flight = instance.get_runs(filters=dg.RunsFilter(job_name=retrain_job.name, statuses=IN_FLIGHT), limit=1)
    request = None
    if in_flight:
        reason = "a retrain is already running"
    elif _no_champion_yet(instance):
        request = _bootstrap(instance, policy.run_config())
        reason = "no labels yet for the first model"
    else:
        rows, batches = _new_labels(instance)
        due = {
            RetrainMode.PERIODIC: (batches, policy.every_batches),
            RetrainMode.FIXED: (batches, policy.every_batches),
            RetrainMode.VOLUME: (rows, policy.min_new_labels),
        }.get(policy.mode)
        reason = f"policy '{policy.label}': no retrain but the first model"
        if due is not None:
            count, threshold = due
            unit = "labeled rows" if policy.mode == RetrainMode.VOLUME else "labeled batches"
            reason = f"policy '{policy.label}': {count} {unit} since the last training set"
            if count >= threshold:
                request = _on_labels(
                    instance,
                    policy.mode.value,
                    f"{reason} (every {threshold})",
                    {"new_labeled_" + unit.split()[1]: count, "threshold": threshold},
                    policy.run_config(),
                )
    if request is None:
        return dg.SensorResult(skip_reason=reason, cursor=json.dumps(cursor))
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor))


def _running_canary(instance: dg.DagsterInstance) -> int | None:
    """The challenger version of a running canary: champion_model's newest event is the
    observation that started it (a promotion, rollback or verdict would come after it)."""
    observed = instance.fetch_observations(dg.AssetKey("champion_model"), limit=1).records
    if not observed:
        return None
    meta = observed[0].asset_observation.metadata
    if getattr(meta.get("decision"), "value", None) != "canary_started":
        return None
    promoted = instance.fetch_materializations(dg.AssetKey("champion_model"), limit=1).records
    if promoted and promoted[0].storage_id > observed[0].storage_id:
        return None
    return int(meta["model_version"].value)


def _no_champion_yet(instance: dg.DagsterInstance) -> bool:
    """No champion, and no candidate that passed the gate either (one awaiting approval, under
    PromotionPolicy mode 'manual', is not retrained again and again)."""
    if instance.get_latest_materialization_event(dg.AssetKey("champion_model")):
        return False
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    gate = instance.event_log_storage.get_asset_check_execution_history(GATE, limit=1)
    return not gate or gate[0].status != Status.SUCCEEDED


def _accepted_labels(instance: dg.DagsterInstance, limit: int = 50):
    """The newest labels delivery that was taken in (not quarantined), among the last `limit`."""
    for record in instance.fetch_materializations(dg.AssetKey("batch_labels"), limit=limit).records:
        status = record.asset_materialization.metadata.get("status")
        if getattr(status, "value", None) != "quarantined":
            return record
    return None


def _bootstrap(instance: dg.DagsterInstance, run_config: dict | None = None) -> dg.RunRequest | None:
    """The first model, once labels were taken in: quarantined labels (of a quarantined batch,
    say) are nothing to train on."""
    labels = _accepted_labels(instance)
    if labels is None:
        return None
    batch = labels.partition_key or ""
    return retrain_request(
        f"bootstrap:{labels.storage_id}",
        "bootstrap",
        f"no champion yet; labels of batch '{batch}' arrived",
        run_config=run_config,
        batch=batch,
    )


def _on_labels(
    instance: dg.DagsterInstance, kind: str, reason: str, evidence: dict, run_config: dict | None = None
) -> dg.RunRequest:
    """A retrain counted in labels (volume, periodic, fixed): keyed by the newest label delivery."""
    latest = instance.fetch_materializations(dg.AssetKey("batch_labels"), limit=1).records[0]
    return retrain_request(
        f"{kind}:{latest.storage_id}",
        kind,
        reason,
        run_config=run_config,
        batch=latest.partition_key or "",
        evidence=evidence,
    )


def _volume(instance, state, policy, threshold: int) -> tuple[dg.RunRequest | None, str | None]:
    """A retrain once `threshold` labeled rows arrived since the last training set, if the
    cooldown and budget allow; otherwise why not (said in the tick, not as an observation:
    it would repeat on every tick until the limit lifts)."""
    rows, _ = _new_labels(instance)
    if rows < threshold:
        return None, None
    limit = alerting.limited(state, policy)
    if limit:
        return None, f"{rows} new labeled rows (threshold {threshold}), held: {limit[1]}"
    request = _on_labels(
        instance,
        "volume",
        f"{rows} labeled rows arrived since the last training set (threshold {threshold})",
        {"new_labeled_rows": rows, "threshold": threshold},
    )
    return request, None


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=(
        "Evaluates the assets' automation conditions (on by default): batch_performance and "
        "refit_impact are computed as soon as a scored batch's labels arrive."
    ),
)
