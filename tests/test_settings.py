"""Settings: every bad value is one UserError naming the key, at load."""

from __future__ import annotations

import logging
from pathlib import Path

import confuse
import pytest
from beets import ui
from confuse.yaml_util import load_yaml_string

from beetsplug.genreclf.model import PACKAGED
from beetsplug.genreclf.settings import (
    DEFAULTS,
    Settings,
    SettingsError,
    load_settings,
    unknown_keys,
)
from tests.helper import GenreClfTestBase

ONNX_WITHOUT_OUR_METADATA = b"\x08\x08"  # a ModelProto with only ir_version = 8


def settings_from(**values) -> Settings:
    root = confuse.RootView([confuse.ConfigSource.of({"genreclf": DEFAULTS})])
    root.set({"genreclf": values})
    return load_settings(root["genreclf"])


def settings_from_yaml(text: str) -> Settings:
    """As beets reads ``text`` under ``genreclf:`` in config.yaml."""
    return settings_from(**load_yaml_string(text, "config.yaml"))


@pytest.mark.parametrize(
    "values, key, words",
    [
        ({"mode": "sometimes"}, "genreclf.mode", "fill"),
        ({"min_confidence": "high"}, "genreclf.min_confidence", "'auto' or a number"),
        ({"min_confidence": 1.5}, "genreclf.min_confidence", "from 0 to 1"),
        ({"map": {"jazz": 5}}, "genreclf.map", "or a list of genres ('jazz' does not)"),
        ({"map": {"jazz": [1, None]}}, "genreclf.map", "or a list of genres ('jazz' does not)"),
        ({"map": ["jazz"]}, "genreclf.map", "must map each model label"),
        ({"custom_tags": "maybe"}, "genreclf.custom_tags", "yes or no"),
        ({"auto": "sometimes"}, "genreclf.auto", "yes or no"),
        ({"mood": 2}, "genreclf.mood", "yes or no"),
        ({"genres_from": "folder"}, "genreclf.genres_from", "album, track"),
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


@pytest.mark.parametrize(
    "text, field, expected",
    [
        ("mode: off", "mode", "off"),
        ("mode: no", "mode", "off"),
        ("mode: false", "mode", "off"),
        ("mode: 'off'", "mode", "off"),
        ("auto: off", "auto", False),
        ("auto: yes", "auto", True),
        ("custom_tags: on", "custom_tags", True),
    ],
)
def test_yaml_booleans_read_as_the_words_meant(text, field, expected):
    assert getattr(settings_from_yaml(text), field) == expected


@pytest.mark.parametrize(
    "text, key",
    [
        ("mode: yes", "genreclf.mode"),
        ("windows: off", "genreclf.windows"),
        ("window_seconds: no", "genreclf.window_seconds"),
        ("min_confidence: off", "genreclf.min_confidence"),
        ("genres_from: no", "genreclf.genres_from"),
        ("backend: off", "genreclf.backend"),
        ("jobs: off", "genreclf.jobs"),
        ("learn: {labels: [yes, no]}", "genreclf.learn.labels"),
    ],
)
def test_a_yaml_boolean_where_no_switch_is_meant_names_its_key(text, key):
    with pytest.raises(SettingsError, match=key) as raised:
        settings_from_yaml(text)
    assert "\n" not in str(raised.value)


# Every key in one wording: what it accepts, the value as written, a note.
MESSAGES = {
    "a quoted number out of range": (
        "min_confidence: '1.5'",
        "genreclf.min_confidence: must be 'auto' or a number from 0 to 1; got \"1.5\"",
    ),
    "a switch": ("custom_tags: maybe", "genreclf.custom_tags: must be yes or no; got \"maybe\""),
    "a misspelt mode": (
        "mode: fil",
        "genreclf.mode: must be one of fill, append, replace, off; got \"fil\" "
        "(did you mean fill?)",
    ),
    "a choice nothing is near": (
        "genres_from: folder",
        "genreclf.genres_from: must be one of album, track; got \"folder\"",
    ),
    "a misspelt backend": (
        "backend: threads",
        "genreclf.backend: must be one of loky, threading, dask; got \"threads\" "
        "(did you mean threading?)",
    ),
    "a misspelt model name": (
        "model: accuarte",
        "genreclf.model: must be accurate, fast, mfcc or a genreclf model file; "
        "got \"accuarte\" (no such file; did you mean accurate?)",
    ),
    "a misspelt model name in capitals": (
        "model: FSAT",
        "genreclf.model: must be accurate, fast, mfcc or a genreclf model file; "
        "got \"FSAT\" (no such file; did you mean fast?)",
    ),
    "a model name that is no model": (
        "model: AUTO",
        "genreclf.model: must be accurate, fast, mfcc or a genreclf model file; "
        "got \"AUTO\" (no such file)",
    ),
    "a model that is not text": (
        "model: 3",
        "genreclf.model: must be accurate, fast, mfcc or a genreclf model file; got 3",
    ),
    "a fraction of a window": (
        "windows: '2.5'",
        "genreclf.windows: must be 'auto' or a whole number from 1 to 100; got \"2.5\"",
    ),
    "infinitely many jobs": (
        "jobs: .inf",
        "genreclf.jobs: must be a whole number, 0 or more (0: one per core); got Infinity",
    ),
}


@pytest.mark.parametrize("text, message", MESSAGES.values(), ids=MESSAGES.keys())
def test_every_key_is_refused_in_one_wording(text, message):
    with pytest.raises(SettingsError) as raised:
        settings_from_yaml(text)
    assert str(raised.value) == f"genreclf: bad configuration: {message}"


# A number YAML reads as text because it is quoted is the number meant.
QUOTED = {
    "min_confidence": ("min_confidence: '0.5'", "min_confidence", 0.5),
    "min_confidence, spaced": ('min_confidence: " 0.25 "', "min_confidence", 0.25),
    "min_confidence 'Auto'": ("min_confidence: 'Auto'", "min_confidence", None),
    "jobs": ("jobs: '2'", "jobs", 2),
    "windows": ("windows: '4'", "window_count", 4),
    "windows as 4.0": ("windows: 4.0", "window_count", 4),
    "window_seconds": ("window_seconds: '7.5'", "window_seconds", 7.5),
    "explain_limit": ("explain_limit: '5'", "explain_limit", 5),
    "a quoted switch": ("custom_tags: 'yes'", "custom_tags", True),
    "a choice in capitals": ("mode: Append", "mode", "append"),
    "a scheduler in capitals": ("dask: {scheduler: Local}", "dask_scheduler", "local"),
}


@pytest.mark.parametrize("text, field, expected", QUOTED.values(), ids=QUOTED.keys())
def test_quoted_numbers_are_the_numbers_meant(text, field, expected):
    assert getattr(settings_from_yaml(text), field) == expected


@pytest.mark.parametrize(
    "text, field, expected",
    [
        ("learn: {min_examples: '10'}", "min_examples", 10),
        ("learn: {target_precision: '0.9'}", "target_precision", 0.9),
    ],
)
def test_quoted_numbers_under_learn(text, field, expected):
    assert getattr(settings_from_yaml(text).learn, field) == expected


def test_a_bad_map_is_shown_as_written():
    with pytest.raises(SettingsError) as raised:
        settings_from_yaml("map: {jazz: [1, ~], rock: Rock}")
    message = str(raised.value)
    assert message.endswith('got {"jazz": [1, null], "rock": "Rock"}')
    assert "OrderedDict" not in message


@pytest.mark.parametrize(
    "values, unknown, nearest",
    [
        ({"modle": "fast"}, "modle", "mode"),
        ({"min_confidance": 0.5}, "min_confidance", "min_confidence"),
        ({"dask": {"schedular": 1}}, "dask.schedular", "dask.scheduler"),
        ({"learn": {"min_example": 5}}, "learn.min_example", "learn.min_examples"),
        ({"xyzzy": 1}, "xyzzy", None),
        ({"map": {"rock": "Rock"}, "learn": {"map": {"bebop": "jazz"}}}, None, None),
        ({"dask": {"path_map": {"/music": "/mnt/music"}}}, None, None),  # the user's keys
        ({"mode": "fill", "windows": 2}, None, None),
    ],
)
def test_an_unknown_key_is_named_with_the_nearest_known_one(values, unknown, nearest):
    root = confuse.RootView([confuse.ConfigSource.of({"genreclf": DEFAULTS})])
    root.set({"genreclf": values})
    hint = f" (did you mean genreclf.{nearest}?)" if nearest else ""
    expected = [f"unknown configuration key genreclf.{unknown}, ignored{hint}"] if unknown else []
    assert unknown_keys(root["genreclf"], DEFAULTS) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", ""),
        ("fast", "fast"),
        ("Fast", "fast"),
        ("ACCURATE", "accurate"),
        ("mfcc", "mfcc"),
        (str(PACKAGED["mfcc"]), str(PACKAGED["mfcc"])),
    ],
)
def test_a_model_is_a_packaged_name_in_any_case_or_a_model_file(value, expected):
    assert settings_from(model=value).model == expected


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("nosuch.onnx", None, "no such file"),
        ("passwd", b"root:x:0:0:root:/root:/bin/bash\n", "not an ONNX model"),
        ("empty.onnx", b"", "empty, not an ONNX model"),
        ("cut.onnx", PACKAGED["mfcc"].read_bytes()[:5000], "not an ONNX model (cut short)"),
        ("other.onnx", ONNX_WITHOUT_OUR_METADATA, "an ONNX model, but not genreclf's"),
        ("folder", "folder", "a folder"),
    ],
)
def test_a_bad_model_is_refused_at_load_saying_why(tmp_path, name, content, reason):
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(SettingsError) as raised:
        settings_from(model=str(path))
    message = str(raised.value)
    expected = "genreclf: bad configuration: genreclf.model: must be accurate, fast, mfcc"
    assert message.startswith(expected)
    assert f"({reason}" in message and str(path) in message and "\n" not in message


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

    @pytest.mark.parametrize("model", ["nosuch", "/etc/passwd"])
    def test_a_bad_model_stops_beets_at_load(self, model):
        with pytest.raises(ui.UserError, match="genreclf.model: must be accurate, fast, mfcc"):
            self.setup_plugin(model=model)

    def test_a_relative_model_is_shown_as_written_not_resolved(self):
        with pytest.raises(ui.UserError) as raised:
            self.setup_plugin(model="models/accuarte.onnx")
        assert str(raised.value).endswith('got "models/accuarte.onnx" (no such file)')

    def test_quoted_numbers_are_read_at_load(self):
        plugin = self.setup_plugin(min_confidence="0.5", jobs="1", windows="2")
        settings = plugin.settings
        assert (settings.min_confidence, settings.jobs, settings.window_count) == (0.5, 1, 2)

    def test_mode_off_as_yaml_reads_it_tags_nothing(self):
        self.config["genreclf"].set(load_yaml_string("mode: off", "config.yaml"))
        plugin = self.setup_plugin()
        assert plugin.settings.mode == "off"

    def test_a_misspelt_key_is_warned_about_at_load(self, caplog):
        with caplog.at_level(logging.WARNING, "beets.genreclf"):
            self.setup_plugin(window_second=10)
        warning = (  # beets puts "genreclf: " in front
            "unknown configuration key genreclf.window_second, ignored "
            "(did you mean genreclf.window_seconds?)"
        )
        assert warning in [r.getMessage() for r in caplog.records]

    def test_a_bad_jobs_option_stops_the_command(self):
        self.setup_plugin()
        self.add_tracks("chords.flac")
        with pytest.raises(ui.UserError, match="-j/--jobs"):
            self.run_command("genreclf", "-j", "-3")
        assert self.analysed_ids() == set()
