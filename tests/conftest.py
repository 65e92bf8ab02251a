"""Shared fixtures: one in-process run of the whole loop over a short version of the story."""

import contextlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from cl_assets import cli
from cl_assets.lib import scenario, warehouse
from cl_assets.replay import playback
from cl_assets.settings import StatePaths

# The built-in story, compressed so the whole loop runs in about a minute and a half.
SHORT_STORY = scenario.Story(covariate_shift=3, new_category=5, label_prior=7, concept_drift=9)
SHORT_BATCHES = 15
SHORT_ROWS = 1000


@dataclass
class LoopRun:
    paths: StatePaths
    report: dict
    instance: dg.DagsterInstance
    story: scenario.Story

    def batch(self, index: int) -> dict:
        return self.report["batches"][index]

    def sql(self, text: str, params: list | None = None) -> list[dict]:
        with warehouse.connect(self.paths.warehouse, read_only=True) as con:
            return warehouse.fetch_records(con, text, params)


def play_quietly(
    tmp_path_factory, name: str, batches: int, rows: int, seed: int, story: scenario.Story = scenario.STORY, **settings
) -> StatePaths:
    """A fresh state folder with `batches` of the built-in stream played through the loop, its
    console lines dropped; `settings` are play's `policy` and `promotion`."""
    paths = StatePaths.resolve(tmp_path_factory.mktemp(name))
    stream = playback.scenario_batches(batches, rows, seed=seed, story=story)
    playback.play(paths, scenario.spec(), stream, echo=lambda _line: None, **settings)
    return paths


@pytest.fixture(scope="session")
def story_run(tmp_path_factory) -> LoopRun:
    home = tmp_path_factory.mktemp("story")
    paths = StatePaths.resolve(home)
    lines: list[str] = []
    report = playback.play(
        paths,
        scenario.spec(),
        playback.scenario_batches(SHORT_BATCHES, SHORT_ROWS, seed=7, story=SHORT_STORY),
        report=Path(home) / "report.json",
        echo=lines.append,
    )
    assert len(lines) == SHORT_BATCHES, lines
    return LoopRun(paths, report, playback.instance_for(paths), SHORT_STORY)


def read_pending(home: list[str], text: bool = False) -> dict:
    """What a person reads from `cl pending --json` (and, with `text`, the plain listing beside it)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["pending", "--json", *home])
        listed = json.loads(out.getvalue())
        if text:
            out.seek(0)
            out.truncate()
            cli.main(["pending", *home])
            listed["text"] = out.getvalue()
    return listed


@pytest.fixture(autouse=True)
def no_mlflow_run_left_active():
    """Every test leaves no MLflow run active in its process: the next Dagster run here would log
    into it, or fail on it in another state folder (tracking.mlflow_in_state_folder ends it)."""
    yield
    mlflow = sys.modules.get("mlflow")  # not imported by tests that never track
    if mlflow is not None:
        active = mlflow.active_run()
        assert active is None, f"MLflow run {active.info.run_id} was left active"


# The groups whose fixtures play the loop, slowest first (setup times of `--durations` on 2
# cores: the backtest about 190 s, the story about 130 s, the rest 35 to 90 s; the seeds' two
# replays 47 s run alone). The built-in stream's two replays last as long as its periodic:1
# replay, 204 s beside auto's (`cl demo --policy`, one thread each). Handed out first, so that no
# worker starts one of them when the others are nearly done.
SLOWEST_GROUPS = (
    "test_backtest_builtin",
    "test_backtest",
    "story_run",
    "test_retrain_approval",
    "test_promotion",
    "test_refit_in_the_loop",
    "test_drift_in_the_loop",
    "test_replay",
    "test_backtest_seeds",
)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the marks
def pytest_collection_modifyitems(config, items):
    """`make test` runs the suite on pytest-xdist workers (`--dist loadgroup`): each module stays
    on one worker, so its module fixtures run once, and the modules sharing the session's
    story_run share a worker, so the loop is played once. On a worker the slowest groups come
    first, and `--no-loadscope-reorder` keeps that order when xdist hands the groups out."""
    if not config.pluginmanager.hasplugin("xdist"):
        return  # a plain pytest run (`-p no:xdist`): no groups to mark
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    if hasattr(config, "workerinput"):  # each worker sorts alike, so their collections agree
        rank = {group: i for i, group in enumerate(SLOWEST_GROUPS)}
        items.sort(key=lambda item: rank.get(_group(item), len(rank)))


def _group(item: pytest.Item) -> str:
    return "story_run" if "story_run" in getattr(item, "fixturenames", ()) else item.module.__name__


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: conftest still loads without it
def pytest_xdist_node_collection_finished(node, ids):
    """Under `--dist loadgroup` the groups must have reached the node ids (pytest-xdist marks them
    with an `@group` suffix): without them every test is scheduled on its own, and each worker
    plays the expensive module fixtures again (pytest-dev/pytest-xdist#1386)."""
    if node.config.getoption("dist") == "loadgroup" and ids and "@" not in ids[0]:
        pytest.exit(
            "pytest-xdist did not group the tests (no @group in the node ids): this pytest and "
            "pytest-xdist do not work together under --dist loadgroup; see pyproject.toml",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
