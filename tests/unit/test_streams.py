"""The generated streams: deterministic, and each changes what its kind says at its change point."""

import numpy as np
import pytest

from cl_assets.lib import streams
from cl_assets.lib.streams import Stream


def means(stream: Stream, batches) -> np.ndarray:
    return np.mean([stream.batch(b)[streams.NUMERIC].mean().to_numpy() for b in batches], axis=0)


def rate(stream: Stream, batches) -> float:
    return float(np.mean([stream.batch(b)["y"].mean() for b in batches]))


def test_a_batch_depends_only_on_the_seed_and_its_number():
    a, b = Stream("abrupt_concept", seed=3), Stream("abrupt_concept", seed=3, batches=40)
    assert a.batch(12).equals(b.batch(12))
    assert not a.batch(12).equals(Stream("abrupt_concept", seed=4).batch(12))


@pytest.mark.parametrize("kind", ["abrupt_concept", "gradual_concept", "recurring", "label_prior", "stationary"])
def test_only_covariate_shift_moves_the_features(kind):
    stream = Stream(kind, rows=3000)
    assert np.abs(means(stream, range(10, 14)) - means(stream, range(0, 4))).max() < 0.05
    shifted = Stream("covariate_shift", rows=3000)
    assert np.abs(means(shifted, range(10, 14)) - means(shifted, range(0, 4))).max() > 0.5


def test_concepts_move_as_their_kind_says():
    assert [Stream("abrupt_concept").mix(b) for b in (9, 10, 29)] == [0, 1, 1]
    gradual = [Stream("gradual_concept", span=4).mix(b) for b in (9, 10, 11, 13, 20)]
    assert gradual == [0, 0.25, 0.5, 1, 1]
    recurring = Stream("recurring", period=8)
    assert [recurring.mix(b) for b in (9, 10, 17, 18, 25, 26)] == [0, 1, 1, 0, 0, 1]
    assert all(Stream(k).mix(20) == 0 for k in ("stationary", "covariate_shift", "label_prior"))


def test_a_label_prior_shift_raises_the_base_rate():
    stream = Stream("label_prior", rows=3000)
    assert rate(stream, range(10, 14)) - rate(stream, range(0, 4)) > 0.1


def test_the_frame_has_the_columns_its_spec_names_and_ids_are_unique():
    stream = Stream("stationary", batches=3, rows=50, change=1)
    frame, spec = stream.frame(), stream.spec()
    assert set([spec.target, spec.id_column, spec.time_column, *spec.numeric, *spec.categorical]) <= set(frame)
    assert frame[spec.id_column].is_unique and len(frame) == 150
    assert frame[spec.time_column].is_monotonic_increasing


@pytest.mark.parametrize(
    "bad", [{"kind": "sudden"}, {"kind": "stationary", "change": 0}, {"kind": "recurring", "period": 0}]
)
def test_bad_streams_are_refused(bad):
    with pytest.raises(ValueError):
        Stream(**bad)
