-- Migration 1: the columns added before the schema had a version. A state folder made
-- before them gains each it lacks (every statement is a no-op where the column exists).
-- Old drift rows count as whole-batch rows; earlier training-set rows weighed 1 and were
-- originals; earlier candidates were not refitted with their holdout.
alter table retrain_triggers add column if not exists approved_by varchar;
alter table retrain_triggers add column if not exists approval_reason varchar;
alter table evaluation_reports add column if not exists positive_rate double;
alter table batch_performance add column if not exists reference_accuracy double;
alter table batch_performance add column if not exists accuracy_band_low double;
alter table batch_performance add column if not exists reference_roc_auc double;
alter table batch_performance add column if not exists roc_auc_band_low double;
alter table batch_performance add column if not exists reference_positive_rate double;
alter table batch_performance add column if not exists target_drift_p_value double;
alter table drift_metrics add column if not exists profile_id integer;
alter table drift_metrics add column if not exists slice varchar default '*';
alter table drift_metrics add column if not exists rows integer;
alter table drift_metrics add column if not exists wasserstein double;
alter table drift_metrics add column if not exists js double;
alter table drift_metrics add column if not exists linf double;
alter table drift_metrics add column if not exists unseen_share double;
alter table drift_metrics add column if not exists effect double;
alter table drift_metrics add column if not exists threshold double;
alter table drift_metrics add column if not exists alpha_corrected double;
alter table training_set_versions add column if not exists duplicates_removed bigint;
alter table training_set_versions add column if not exists short_slices json;
alter table training_set_versions add column if not exists class_balance json;
alter table training_set_versions add column if not exists champion_version integer;
alter table training_set_versions add column if not exists kept_from_holdout bigint;
alter table training_set_versions add column if not exists restarted_at varchar;
alter table training_set_versions add column if not exists window_floor varchar;
alter table candidate_models add column if not exists tuning json;
alter table gate_rules add column if not exists std_error double;
alter table evaluation_reports add column if not exists eval_set varchar default 'holdout';
alter table gate_decisions add column if not exists markdown varchar;
alter table gate_decisions add column if not exists plot_png blob;
alter table if exists training_sets add column if not exists weight double default 1.0;
alter table if exists training_sets add column if not exists copy bigint default 0;
alter table refit_candidates add column if not exists priced_gain double;
alter table refit_candidates add column if not exists priced_gain_se double;
alter table refit_candidates add column if not exists priced_windows json;
alter table training_set_versions add column if not exists window_choice json;
alter table candidate_models add column if not exists calibrator json;
alter table candidate_models add column if not exists refit_with_holdout boolean default false;
alter table batch_performance add column if not exists estimated_accuracy double;
alter table batch_performance add column if not exists estimated_roc_auc double;
