"""Settings read from the environment: refused with a message that names the variable."""

import pytest

from cl_assets import cli
from cl_assets.defs.resources import Compute
from cl_assets.settings import SEED_ENV, THREADS_ENV, available_cores, configured_seed, configured_threads

READERS = {THREADS_ENV: configured_threads, SEED_ENV: configured_seed}


@pytest.mark.parametrize("name", READERS)
@pytest.mark.parametrize(("value", "number"), [(None, 0), ("", 0), ("0", 0), ("3", 3), (" 12 ", 12)])
def test_whole_numbers_are_read_from_the_environment(monkeypatch, name, value, number):
    if value is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, value)
    assert READERS[name]() == number


@pytest.mark.parametrize("name", READERS)
@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_number_is_refused_by_name_before_any_command_runs(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} must be a whole number >= 0"):
        READERS[name]()
    with pytest.raises(SystemExit, match=name):
        cli.main(["why", "1", "--home", str(tmp_path)])
    assert not any(tmp_path.iterdir())  # refused before the state folder was touched


def test_compute_uses_every_core_unless_told():
    assert available_cores() >= 1
    assert Compute().fit_threads == available_cores()
    assert Compute(threads=1).fit_threads == 1
