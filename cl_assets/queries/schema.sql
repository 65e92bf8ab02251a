-- Today's tables of the loop's history whose columns do not depend on the dataset, as a new
-- state folder gets them. (Tables holding dataset columns -- raw_batches, staging, features,
-- training sets, the reference profile -- are created from their first rows.) A folder made by
-- an earlier version is brought here by the migrations in migrations/, in order; the version
-- it is at is recorded in schema_version (lib/warehouse.py). The views over these tables are
-- in views.sql, created once the tables have every column.
-- Every expectation's result on every delivery, appended (a re-delivery adds rows).
create table if not exists validation_results (
    batch_id varchar,
    delivery_id varchar,
    asset varchar,
    suite varchar,
    suite_sha varchar,
    check_name varchar,
    expectation varchar,
    column_name varchar,
    severity varchar,
    success boolean,
    observed varchar,
    threshold varchar,
    unexpected_count bigint,
    unexpected_percent double,
    sample varchar,
    validated_at timestamp,
    dagster_run_id varchar
);

-- Each landed file taken in (a delivery), accepted or quarantined, and why.
create table if not exists batch_deliveries (
    delivery_id varchar,
    batch_id varchar,
    asset varchar,
    source_file varchar,
    file_signature varchar,
    rows bigint,
    status varchar,  -- accepted | accepted_with_warnings | quarantined
    reason varchar,
    arrived_at timestamp,
    validated_at timestamp,
    dagster_run_id varchar
);

-- Why a delivery was quarantined: one row per broken rule.
create table if not exists quarantine (
    delivery_id varchar,
    batch_id varchar,
    asset varchar,
    source_file varchar,
    rule varchar,
    column_name varchar,
    reason varchar,
    quarantined_at timestamp,
    dagster_run_id varchar
);

-- The rows of quarantined deliveries, kept as received (one JSON object per row).
create table if not exists quarantined_rows (
    delivery_id varchar,
    batch_id varchar,
    asset varchar,
    row_number bigint,
    row_json varchar
);

create table if not exists expectation_suites (
    suite varchar,
    suite_sha varchar,
    expectations integer,
    body json,
    first_seen_at timestamp
);

create table if not exists labels (
    batch_id varchar,
    entity_id varchar,
    label integer,
    arrived_at timestamp,
    source_file varchar
);

create table if not exists predictions (
    batch_id varchar,
    entity_id varchar,
    slice varchar,
    score double,
    predicted integer,
    model_version integer,
    scored_at timestamp
);

create table if not exists batch_performance (
    batch_id varchar,
    model_version integer,
    slice varchar,
    rows bigint,
    accuracy double,
    roc_auc double,
    log_loss double,
    calibration_error double,
    positive_rate double,
    computed_at timestamp,
    reference_accuracy double,
    accuracy_band_low double,
    reference_roc_auc double,
    roc_auc_band_low double,
    reference_positive_rate double,
    target_drift_p_value double,
    -- The estimate beside the realized figures, once labels land: the estimation error is one query.
    estimated_accuracy double,
    estimated_roc_auc double
);

create table if not exists drift_metrics (
    batch_id varchar,
    reference_version integer,
    profile_id integer,
    slice varchar,
    feature varchar,
    kind varchar,
    method varchar,
    rows integer,
    statistic double,
    p_value double,
    psi double,
    wasserstein double,
    js double,
    linf double,
    unseen_share double,
    effect double,
    threshold double,
    alpha_corrected double,
    drifted boolean,
    computed_at timestamp
);

create table if not exists reference_baselines (
    profile_id integer,
    model_version integer,
    source varchar,              -- 'champion' (its training window) or 'accepted_drift'
    reason varchar,
    accepted_by varchar,
    batches json,                -- the batches whose rows make the reference
    rows integer,
    dagster_run_id varchar,
    created_at timestamp
);

create table if not exists reference_profiles (
    profile_id integer,
    slice varchar,
    feature varchar,
    kind varchar,
    rows integer,
    std double,
    band_mean double,
    band_sd double,
    edges double[],
    shares double[],
    categories varchar[],
    counts bigint[]
);

create table if not exists reference_values (
    profile_id integer,
    slice varchar,
    feature varchar,
    value double
);

create table if not exists drift_reports (
    batch_id varchar,
    profile_id integer,
    drifted boolean,
    markdown varchar,
    plot_png blob,
    created_at timestamp
);

create table if not exists retrain_triggers (
    trigger_id varchar,
    triggered_at timestamp,
    kind varchar,
    reason varchar,
    check_name varchar,
    batch_id varchar,
    evidence json,
    dagster_run_id varchar,
    training_set_version integer,
    model_version integer,
    promoted boolean,
    -- A retrain held for a person's approval (RetrainPolicy.approval): who approved it, and why.
    approved_by varchar,
    approval_reason varchar
);

create table if not exists training_set_versions (
    version integer,
    created_at timestamp,
    trigger_id varchar,
    dagster_run_id varchar,
    batches json,
    rows_train bigint,
    rows_holdout bigint,
    recipe json,
    duplicates_removed bigint,
    short_slices json,
    class_balance json,
    -- The champion when the set was composed, and how many of its training rows were kept out of the holdout.
    champion_version integer,
    kept_from_holdout bigint,
    -- The batch a retrain for performance decay restarted the window at (null: the recipe's window).
    restarted_at varchar,
    -- The batch the window may not reach behind: a restart on decay, this set's or the champion's (null: none).
    window_floor varchar,
    -- The candidate windows a training set's window was chosen from (lib/windows.py): scores on the
    -- newest labeled batch, and the choice.
    window_choice json
);

create table if not exists candidate_models (
    model_version integer,
    registered_model varchar,
    mlflow_run_id varchar,
    trigger_id varchar,
    training_set_version integer,
    params json,
    metrics json,
    trained_at timestamp,
    dagster_run_id varchar,
    tuning json,
    -- The isotonic map from a candidate's scores to probabilities, fitted on its holdout, with the
    -- calibration error before and (out of fold) after: what estimated_performance reads (CBPE).
    calibrator json,
    -- refit on train and holdout after the holdout judged it: it learned its holdout's rows too
    refit_with_holdout boolean default false
);

create table if not exists evaluation_reports (
    report_id varchar,
    candidate_version integer,
    champion_version integer,
    model_role varchar,
    slice varchar,
    rows bigint,
    accuracy double,
    roc_auc double,
    log_loss double,
    calibration_error double,
    evaluated_at timestamp,
    positive_rate double,
    eval_set varchar default 'holdout'
);

create table if not exists gate_decisions (
    report_id varchar,
    candidate_version integer,
    champion_version integer,
    passed boolean,
    reasons json,
    decided_at timestamp,
    dagster_run_id varchar,
    markdown varchar,
    plot_png blob
);

create table if not exists champion_history (
    model_version integer,
    promoted_at timestamp,
    previous_version integer,
    reason varchar,
    report_id varchar,
    trigger_id varchar,
    training_set_version integer,
    holdout_accuracy double,
    holdout_roc_auc double,
    dagster_run_id varchar
);

-- Every promotion decision, automatic or a person's: promoted, awaiting_approval, approved,
-- canary_started, canary_promoted, canary_rolled_back, rolled_back. champion_history keeps
-- only the changes of champion; this keeps why, by whom and on what evidence.
create table if not exists promotions (
    promotion_id varchar,
    decided_at timestamp,
    action varchar,
    mode varchar,
    model_version integer,
    champion_version integer,
    reason varchar,
    actor varchar,
    evidence json,
    report_id varchar,
    trigger_id varchar,
    dagster_run_id varchar
);

-- The challenger's scores on the canary share of each batch, beside the champion's.
create table if not exists canary_scores (
    canary_id varchar,
    batch_id varchar,
    entity_id varchar,
    slice varchar,
    champion_version integer,
    challenger_version integer,
    champion_score double,
    challenger_score double,
    scored_at timestamp
);

-- Realized metrics of both models on a canary's labeled rows, one row per batch and model.
create table if not exists canary_results (
    canary_id varchar,
    batch_id varchar,
    model_role varchar,
    model_version integer,
    rows bigint,
    accuracy double,
    roc_auc double,
    log_loss double,
    computed_at timestamp
);

-- Every hyperparameter trial of every candidate (also a nested MLflow run each).
create table if not exists tuning_trials (
    model_version integer,
    trial integer,
    params json,
    validation_log_loss double,
    validation_roc_auc double,
    validation_accuracy double,
    seconds double,
    peak_mb double,
    threads integer,
    warm_start boolean,
    best_so_far boolean,
    mlflow_run_id varchar
);

-- Each rule of each gate decision: which check, on which rows and slice, the values and the threshold.
create table if not exists gate_rules (
    report_id varchar,
    gate_check varchar,
    eval_set varchar,
    slice varchar,
    metric varchar,
    candidate double,
    champion double,
    threshold double,
    passed boolean,
    message varchar,
    decided_at timestamp,
    -- The standard error of the candidate's minus the champion's on the same rows (PromotionGate.change_confidence).
    std_error double
);

-- Would a retrain now change anything? The champion's recipe refitted on the newest labels,
-- against the champion on a newly scored batch: decision flips and score change, per slice.
create table if not exists refit_impact (
    batch_id varchar,
    model_version integer,
    slice varchar,
    rows bigint,
    disagreement double,
    expected_gain double,
    mean_abs_change double,
    champion_positive_rate double,
    refit_positive_rate double,
    refit_rows bigint,
    refit_batches json,
    seconds double,
    computed_at timestamp
);

-- Does a retrain pay? On each labeled batch, every candidate window fitted with the champion's
-- parameters on the batches before it and scored on it (lib/windows.py), against the champion on
-- the same rows; the chosen one's gain is what refit_check sums since the promotion (lib/refit.py).
-- It replaces refit_impact's look-ahead flips (table refit_impact, kept for the history it holds).
create table if not exists refit_candidates (
    batch_id varchar,
    model_version integer,
    window_name varchar,
    window_batches integer,
    train_rows bigint,
    accuracy double,
    log_loss double,
    champion_accuracy double,
    gain double,
    gain_se double,
    chosen boolean,
    learned_batches json,
    computed_at timestamp,
    -- The gain refit_check sums, on the chosen row: the window chosen on each half of the batch and
    -- counted on the other (lib/refit.py priced: no winner's curse), with its standard error.
    priced_gain double,
    priced_gain_se double,
    priced_windows json
);
-- The decay detector's path (lib/decay.py): per champion and labeled batch, its accuracy, the
-- baseline it was compared with (holdout or realized), the standardized drop, the CUSUM and its threshold.
create table if not exists decay_statistics (
    batch_id varchar,
    model_version integer,
    rows bigint,
    accuracy double,
    baseline_accuracy double,
    baseline_rows bigint,
    baseline varchar,
    z double,
    statistic double,
    threshold double,
    alarm boolean,
    computed_at timestamp
);

-- Each candidate's scores on its holdout, from the model fitted before the holdout was added
-- (what the gate judges when the registered model was refitted with the holdout).
create table if not exists holdout_scores (
    model_version integer,
    entity_id varchar,
    score double
);

-- Label-free estimates of the champion's accuracy and ROC AUC on a scored batch (CBPE,
-- lib/estimation.py), each with the band its realized figure should fall in.
create table if not exists estimated_performance (
    batch_id varchar,
    model_version integer,
    rows bigint,
    accuracy double,
    accuracy_low double,
    accuracy_high double,
    roc_auc double,
    roc_auc_low double,
    roc_auc_high double,
    reference_accuracy double,
    reference_roc_auc double,
    computed_at timestamp
);

-- Every monitoring check's verdict per batch (drift, performance, refit, estimated performance),
-- as the retrain sensor read it: the run report and `cl why` read them from here.
create table if not exists check_results (
    check_name varchar,
    batch_id varchar,
    model_version integer,
    passed boolean,
    description varchar,
    evidence json,
    evaluated_at timestamp
);

-- The schema version of this state folder: one row per migration applied (a new folder starts
-- at the newest version), so an upgrade runs only the migrations it lacks.
create table if not exists schema_version (
    version integer,
    applied_at timestamp
);
