"""`cl expectations init`: a suite proposed from a reference file, for review, that its data passes."""

import json
from pathlib import Path

import pandas as pd
import pytest

from cl_assets import cli
from cl_assets.lib import contracts, expectations

NOAA = Path(__file__).parent / "data" / "noaa_weather_days_9000_15999.csv"


def test_init_proposes_a_suite_the_reference_passes_and_a_shifted_batch_does_not(tmp_path, capsys):
    reference = tmp_path / "reference.csv"
    frame = pd.read_csv(NOAA)
    frame.head(700).to_csv(reference, index=False)
    out = tmp_path / "suites" / "raw_batches.json"
    cli.main(["expectations", "init", "--from", str(reference), "--target", "rain", "--time", "day", "--out", str(out)])
    assert str(out) in capsys.readouterr().out
    suite = json.loads(out.read_text())
    names = {c.name for c in contracts.expectation_checks(suite)}
    assert {"columns_match_contract", "row_id_unique", "row_id_not_seen_before", "temperature_in_range"} <= names
    assert "day_not_future_or_far_past" not in names  # an ordinal day is no timestamp

    params = {"ids_seen_before": []}
    batch = frame.head(700).drop(columns=["rain"]).assign(row_id=range(700))
    assert all(o.success for o in expectations.validate(contracts.raw_view(batch, "row_id", "day"), suite, params))
    broken = batch.assign(temperature=batch["temperature"] * 100)
    failed = [
        o for o in expectations.validate(contracts.raw_view(broken, "row_id", "day"), suite, params) if not o.success
    ]
    assert [o.column for o in failed] == ["temperature"]


def test_init_does_not_overwrite_a_reviewed_suite(tmp_path):
    out = tmp_path / "raw_batches.json"
    out.write_text("{}")
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["expectations", "init", "--from", str(NOAA), "--target", "rain", "--out", str(out)])
    assert out.read_text() == "{}"


def test_init_names_a_wrong_target(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["expectations", "init", "--from", str(NOAA), "--target", "nope", "--out", str(tmp_path / "s.json")])
    assert stopped.value.code == 2 and "'nope'" in capsys.readouterr().err
