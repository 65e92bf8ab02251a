"""The application's queries by name: one constant per file of `cl_assets/queries/`, whose first
line says what it returns. `schema.sql` and `views.sql` are not here: `warehouse.upgrade` applies them.

A query takes its parameters as a list (positional `?`) or a dict (named `$name`), or as keyword
arguments (named): `CURRENT_CHAMPION.one(con)`, `CANARY_ROWS.df(con, canary_id=promotion_id)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from cl_assets.lib import warehouse


@dataclass(frozen=True)
class Query:
    """The query in `cl_assets/queries/<name>.sql`."""

    name: str

    @property
    def sql(self) -> str:
        return warehouse.query(self.name)

    def _params(self, params: list | dict | None, named: dict) -> list | dict | None:
        if params is not None and named:
            raise TypeError(f"query {self.name}: give its parameters as a list or dict, or as keywords, not both")
        return named or params

    def one(self, con: duckdb.DuckDBPyConnection, params: list | dict | None = None, /, **named) -> dict | None:
        """The first row as a dict of plain Python values, or None when there is none."""
        return warehouse.fetch_one(con, self.sql, self._params(params, named))

    def all(self, con: duckdb.DuckDBPyConnection, params: list | dict | None = None, /, **named) -> list[dict]:
        """Every row as a dict of plain Python values (NULL is None)."""
        return warehouse.fetch_records(con, self.sql, self._params(params, named))

    def df(self, con: duckdb.DuckDBPyConnection, params: list | dict | None = None, /, **named) -> pd.DataFrame:
        """Every row, as a data frame."""
        return warehouse.fetch_df(con, self.sql, self._params(params, named))

    def run(self, con: duckdb.DuckDBPyConnection, params: list | dict | None = None, /, **named):
        """Execute it; the connection's result, for a statement or a caller that needs tuples (`.fetchall()`)."""
        return con.execute(self.sql, self._params(params, named) or [])


# Ingest and quality: deliveries, their validation and quarantine, the staged batches and labels
COLUMN_TYPE = Query("column_type")
IDS_SEEN_BEFORE = Query("ids_seen_before")
NEWEST_EVENT_TIME = Query("newest_event_time")
BATCH_ENTITY_IDS = Query("batch_entity_ids")
STORED_LABELS = Query("stored_labels")
RAW_BATCH_ROWS = Query("raw_batch_rows")
LATEST_DELIVERY = Query("latest_delivery")
SUITE_RECORDED = Query("suite_recorded")
DELETE_VALIDATION_RESULTS_OF_DELIVERY = Query("delete_validation_results_of_delivery")
DELETE_QUARANTINED_ROWS_OF_DELIVERY = Query("delete_quarantined_rows_of_delivery")

# Features, labels and the champion's scores (batch_features, labels, predictions)
BATCH_FEATURES_OF = Query("batch_features_of")
LABELED_FEATURES = Query("labeled_features")
LABELED_SCORES = Query("labeled_scores")
SCORED_FEATURES_OF_BATCH = Query("scored_features_of_batch")
SCORED_FEATURES_OF_BATCHES = Query("scored_features_of_batches")
SCORES_OF_BATCH = Query("scores_of_batch")
LABELED_PREDICTIONS_OF_BATCH = Query("labeled_predictions_of_batch")
SCORING_MODEL_OF_BATCH = Query("scoring_model_of_batch")
NEWEST_BATCHES_SCORED_BY = Query("newest_batches_scored_by")

# Triggers (retrain_triggers)
TRIGGER_OF_RUN = Query("trigger_of_run")
TRIGGER_RECORD_BY_ID = Query("trigger_record_by_id")
RETRAINS_OF_RUNS = Query("retrains_of_runs")
DELETE_RETRAIN_TRIGGER = Query("delete_retrain_trigger")
SET_TRIGGER_TRAINING_SET = Query("set_trigger_training_set")
SET_TRIGGER_MODEL = Query("set_trigger_model")
MARK_TRIGGER_PROMOTED = Query("mark_trigger_promoted")

# Training sets (training_sets, training_set_versions)
NEXT_TRAINING_SET_VERSION = Query("next_training_set_version")
NEWEST_TRAINING_SET_VERSION = Query("newest_training_set_version")
TRAINING_SET_VERSION_OF_TRIGGER = Query("training_set_version_of_trigger")
DELETE_TRAINING_SET_VERSION = Query("delete_training_set_version")
TRAINING_SET_ROWS = Query("training_set_rows")
TRAINING_SET_ROWS_IN_ORDER = Query("training_set_rows_in_order")
HOLDOUT_OF = Query("holdout_of")
OLDER_ROWS = Query("older_rows")
LEARNED_IDS = Query("learned_ids")
SHORT_SLICES_OF = Query("short_slices_of")
WINDOW_FLOOR_OF = Query("window_floor_of")
NEWEST_TRAINING_SET_OF_CHAMPION = Query("newest_training_set_of_champion")

# Candidates (candidate_models, holdout_scores)
LATEST_CANDIDATE = Query("latest_candidate")
CANDIDATE_OF_VERSION = Query("candidate_of_version")
CANDIDATE_OF_TRIGGER = Query("candidate_of_trigger")
CANDIDATE_VERSIONS = Query("candidate_versions")
RECENT_CANDIDATE_PARAMS = Query("recent_candidate_params")
CHAMPION_RECIPE = Query("champion_recipe")
HOLDOUT_SCORES_OF = Query("holdout_scores_of")

# Evaluation (evaluation_reports, gate_rules, gate_decisions)
LATEST_GATE_DECISION = Query("latest_gate_decision")
GATE_DECISION_OF_CANDIDATE = Query("gate_decision_of_candidate")
HOLDOUT_FIGURES_OF_REPORT = Query("holdout_figures_of_report")
DELETE_EVALUATION_REPORTS_OF_REPORT = Query("delete_evaluation_reports_of_report")
DELETE_GATE_RULES_OF_REPORT = Query("delete_gate_rules_of_report")
DELETE_GATE_DECISIONS_OF_REPORT = Query("delete_gate_decisions_of_report")

# The champion and its promotions (champion_history, promotions)
CURRENT_CHAMPION = Query("current_champion")
CHAMPION_OF_VERSION = Query("champion_of_version")
CHAMPION_REFERENCE = Query("champion_reference")
ROLLBACK_TARGET = Query("rollback_target")
PROMOTION_OF_TRIGGER = Query("promotion_of_trigger")
PROMOTION_OF_REPORT = Query("promotion_of_report")
CHAMPION_BEFORE_PROMOTION = Query("champion_before_promotion")
AWAITING_PROMOTION = Query("awaiting_promotion")
AWAITING_PROMOTION_OF_VERSION = Query("awaiting_promotion_of_version")
NEWEST_DECISION_OF_VERSION = Query("newest_decision_of_version")
PROMOTIONS_OF_VERSION = Query("promotions_of_version")
PROMOTIONS_OF_RUN = Query("promotions_of_run")

# Canaries (promotions, canary_scores, canary_results)
ACTIVE_CANARY = Query("active_canary")
CANARY_ROWS = Query("canary_rows")
DELETE_CANARY_RESULTS_OF_BATCH = Query("delete_canary_results_of_batch")

# The reference profile drift is measured against (reference_baselines, _profiles, _values, _samples)
NEWEST_REFERENCE_PROFILE = Query("newest_reference_profile")
REFERENCE_BASELINE = Query("reference_baseline")
REFERENCE_PROFILES_OF = Query("reference_profiles_of")
REFERENCE_VALUES_OF = Query("reference_values_of")
REFERENCE_SAMPLES_OF = Query("reference_samples_of")
INSERT_REFERENCE_VALUES = Query("insert_reference_values")

# Monitoring (drift_metrics, estimated_performance, batch_performance, decay_statistics, refit_candidates)
DRIFT_METRICS_OF_BATCH = Query("drift_metrics_of_batch")
DRIFT_METRICS_BY_EFFECT = Query("drift_metrics_by_effect")
OVERALL_DRIFT_OF_BATCH = Query("overall_drift_of_batch")
ESTIMATED_PERFORMANCE_OF_BATCH = Query("estimated_performance_of_batch")
ESTIMATED_PERFORMANCE_OF_MODEL = Query("estimated_performance_of_model")
BATCH_PERFORMANCE_OF_SLICE = Query("batch_performance_of_slice")
CHAMPION_BATCHES = Query("champion_batches")
DELETE_DECAY_STATISTICS_OF_BATCHES = Query("delete_decay_statistics_of_batches")
REFIT_CANDIDATES_OF_BATCH = Query("refit_candidates_of_batch")
CHOSEN_REFITS_OF_MODEL = Query("chosen_refits_of_model")
DELETE_REFIT_CANDIDATES_OF_BATCH = Query("delete_refit_candidates_of_batch")

# The monitoring checks' verdicts (check_results)
CHECK_RESULTS_OF_BATCH = Query("check_results_of_batch")
DELETE_CHECK_RESULT = Query("delete_check_result")

# Lineage: why a model version exists (cl why)
WHY_CANDIDATE = Query("why_candidate")
WHY_JUDGEMENT = Query("why_judgement")

# The connection itself
DATABASE_PATH = Query("database_path")
