"""Settings read from the environment: refused with a message that names the variable."""

import pytest

from cl_assets import cli
from cl_assets.defs.resources import Compute
from cl_assets.settings import SEED_ENV, THREADS_ENV, available_cores, configured_seed, configured_threads


@pytest.mark.parametrize(("value", "threads"), [(None, 0), ("", 0), ("0", 0), ("3", 3), (" 12 ", 12)])
def test_configured_threads_reads_the_environment(monkeypatch, value, threads):
    if value is None:
        monkeypatch.delenv(THREADS_ENV, raising=False)
    else:
        monkeypatch.setenv(THREADS_ENV, value)
    assert configured_threads() == threads


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_thread_count_is_refused_by_name_before_any_command_runs(monkeypatch, tmp_path, value):
    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(ValueError, match=f"{THREADS_ENV} must be a whole number >= 0"):
        configured_threads()
    with pytest.raises(SystemExit, match=THREADS_ENV):
        cli.main(["why", "1", "--home", str(tmp_path)])
    assert not any(tmp_path.iterdir())  # refused before the state folder was touched


def test_compute_uses_every_core_unless_told():
    assert available_cores() >= 1
    assert Compute().fit_threads == available_cores()
    assert Compute(threads=1).fit_threads == 1


@pytest.mark.parametrize(("value", "seed"), [(None, 0), ("", 0), ("4", 4)])
def test_configured_seed_reads_the_environment(monkeypatch, value, seed):
    if value is None:
        monkeypatch.delenv(SEED_ENV, raising=False)
    else:
        monkeypatch.setenv(SEED_ENV, value)
    assert configured_seed() == seed


def test_a_bad_seed_is_refused_by_name_before_any_command_runs(monkeypatch, tmp_path):
    monkeypatch.setenv(SEED_ENV, "-3")
    with pytest.raises(SystemExit, match=f"{SEED_ENV} must be a whole number >= 0"):
        cli.main(["why", "1", "--home", str(tmp_path)])
    assert not any(tmp_path.iterdir())
