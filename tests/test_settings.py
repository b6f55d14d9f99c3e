"""Settings: every bad value is one UserError naming the key, at load."""

from __future__ import annotations

import confuse
import pytest
from beets import ui

from beetsplug.genreclf.settings import DEFAULTS, Settings, SettingsError, load_settings
from tests.helper import GenreClfTestBase


def settings_from(**values) -> Settings:
    root = confuse.RootView([confuse.ConfigSource.of({"genreclf": DEFAULTS})])
    root.set({"genreclf": values})
    return load_settings(root["genreclf"])


@pytest.mark.parametrize(
    "values, key, words",
    [
        ({"mode": "sometimes"}, "genreclf.mode", "fill"),
        ({"min_confidence": "high"}, "genreclf.min_confidence", "'auto' or a number"),
        ({"min_confidence": 1.5}, "genreclf.min_confidence", "from 0 to 1"),
        ({"map": {"jazz": 5}}, "genreclf.map", "'jazz' must map to a genre"),
        ({"map": {"jazz": [1, None]}}, "genreclf.map", "'jazz' must map to a genre"),
        ({"map": ["jazz"]}, "genreclf.map", "must map each model label"),
        ({"custom_tags": "maybe"}, "custom_tags", "bool"),
        ({"auto": "sometimes"}, "auto", "bool"),
        ({"windows": 0}, "genreclf.windows", "from 1 to 100"),
        ({"windows": -1}, "genreclf.windows", "from 1 to 100"),
        ({"windows": 2.5}, "genreclf.windows", "whole number"),
        ({"window_seconds": 0}, "genreclf.window_seconds", "from 3 to 3600"),
        ({"window_seconds": -5}, "genreclf.window_seconds", "from 3 to 3600"),
        ({"window_seconds": "long"}, "genreclf.window_seconds", "seconds"),
        ({"jobs": -3}, "genreclf.jobs", "0 or more"),
        ({"jobs": "many"}, "genreclf.jobs", "whole number"),
        ({"explain_limit": 0}, "genreclf.explain_limit", "1 or more"),
        ({"backend": "spark"}, "genreclf.backend", "loky"),
        ({"dask": {"scheduler": "nowhere"}}, "genreclf.dask.scheduler", "local"),
        ({"dask": {"path_map": {"/music": 3}}}, "genreclf.dask.path_map", "text"),
        ({"learn": {"min_examples": 1}}, "genreclf.learn.min_examples", "2 or more"),
        ({"learn": {"labels": "jazz"}}, "genreclf.learn.labels", "list of genres"),
        ({"learn": {"map": {"bebop": ["jazz"]}}}, "genreclf.learn.map", "text"),
        ({"learn": {"target_precision": 0}}, "genreclf.learn.target_precision", "above 0"),
    ],
)
def test_a_bad_value_names_its_key(values, key, words):
    with pytest.raises(SettingsError) as raised:
        settings_from(**values)
    message = str(raised.value)
    assert key in message and words in message
    assert "\n" not in message


def test_good_values_are_read():
    settings = settings_from(
        mode="append",
        min_confidence=0.7,
        map={"hiphop": "Hip-Hop", "rock": ["Rock", "Guitar"]},
        windows=2,
        window_seconds=15,
        dask={"scheduler": "tcp://127.0.0.1:8786"},
    )
    assert (settings.mode, settings.min_confidence) == ("append", 0.7)
    assert settings.label_map == {"hiphop": ["Hip-Hop"], "rock": ["Rock", "Guitar"]}
    assert (settings.window_count, settings.window_seconds) == (2, 15.0)
    defaults = settings_from()
    assert (defaults.min_confidence, defaults.window_count, defaults.window_seconds) == (
        None, None, None  # 'auto'
    )


@pytest.mark.parametrize(
    "jobs, files, cores, expected",
    [
        (0, 500, 2, 2),  # 0: one per core
        (1000, 500, 2, 2),  # never more than the cores
        (8, 3, 16, 3),  # never more than the files
        (4, 0, 4, 1),
        (1, 100, 8, 1),
    ],
)
def test_workers_are_bounded_by_cores_and_work(monkeypatch, jobs, files, cores, expected):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert settings_from(jobs=jobs).workers(files) == expected


@pytest.mark.parametrize("jobs", [-3, -1])
def test_a_bad_jobs_option_is_refused(jobs):
    with pytest.raises(SettingsError, match="-j/--jobs: must be a whole number, 0 or more"):
        settings_from().with_jobs(jobs)


class TestAtLoad(GenreClfTestBase):
    @pytest.mark.parametrize(
        "values", [{"custom_tags": "maybe"}, {"map": {"jazz": [1, None]}}, {"window_seconds": -5}]
    )
    def test_beets_stops_at_load_with_one_line(self, values):
        with pytest.raises(ui.UserError, match="genreclf: bad configuration"):
            self.setup_plugin(**values)

    def test_a_bad_jobs_option_stops_the_command(self):
        self.setup_plugin()
        self.add_tracks("chords.flac")
        with pytest.raises(ui.UserError, match="-j/--jobs"):
            self.run_command("genreclf", "-j", "-3")
        assert self.analysed_ids() == set()
