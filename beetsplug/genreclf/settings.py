"""The plugin's settings, read and checked once, when beets loads the plugin.

Every bad value is one ``UserError`` naming the key and what it accepts, so a
typo stops ``beet`` at start-up rather than halfway through an import.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import confuse
from beets import logging
from beets.ui import UserError

from .backends import BACKENDS
from .modelfile import NotAModel, check_model_file
from .policy import GENRES_FROM, MODES

DEFAULTS: dict[str, Any] = {
    "auto": True,
    "mode": "fill",
    "genres_from": "album",
    "min_confidence": "auto",
    "map": {},
    "model": "",
    "jobs": 0,
    "windows": "auto",
    "window_seconds": "auto",
    "custom_tags": False,
    "mood": True,
    "mood_tags": False,
    "explain_limit": 20,
    "backend": "loky",
    "dask": {"scheduler": "local", "path_map": {}},
    "learn": {"min_examples": 20, "labels": [], "map": {}, "target_precision": 0.8},
}
MIN_WINDOW_SECONDS = 3.0  # one model segment
PACKAGED_MODELS = ("accurate", "fast", "mfcc")  # model.PACKAGED (not imported: keeps load light)
MAX_WINDOWS = 100
FREE_FORM = ("map", "path_map")  # mappings whose keys are the user's, not ours


class SettingsError(UserError):
    """A configuration value is invalid; the message names the key."""


@dataclass(frozen=True)
class LearnSettings:
    min_examples: int
    labels: tuple[str, ...]
    synonyms: dict[str, str]  # learn.map: genre -> the label it counts as
    target_precision: float


@dataclass(frozen=True)
class Settings:
    auto: bool
    mode: str
    genres_from: str  # "album": an album's tracks take its genre; "track": their own
    min_confidence: float | None  # None: 'auto', the model's (or head's) own threshold
    label_map: dict[str, list[str]]
    model: str  # a packaged model's name (accurate, fast, mfcc), a file path, or "" (the default)
    jobs: int  # 0: one per core
    window_count: int | None  # None: 'auto', the model's recommendation
    window_seconds: float | None  # None: 'auto', the model's recommendation
    custom_tags: bool
    mood: bool  # store the model's mood fields (if it has a mood head)
    mood_tags: bool  # and write the mood into files' MOOD tag
    explain_limit: int
    backend: str
    dask_scheduler: str
    dask_path_map: tuple[tuple[str, str], ...]
    learn: LearnSettings

    def with_jobs(self, jobs: int | None) -> Settings:
        """These settings with ``-j`` applied (checked like the config key)."""
        if jobs is None:
            return self
        return dataclasses.replace(self, jobs=_parsed("-j/--jobs", jobs, _non_negative_int))

    def workers(self, files: int) -> int:
        """Worker processes for ``files`` files: never more than the cores or
        the files (a 1000-worker pool for ten files helps nobody)."""
        cores = os.cpu_count() or 1
        return max(1, min(self.jobs or cores, cores, files))


def load_settings(view: confuse.ConfigView) -> Settings:
    """Settings from the plugin's configuration ``view``; raises SettingsError.
    Keys it does not know are warned about (a typo would be ignored)."""
    for line in unknown_keys(view, DEFAULTS):
        logging.getLogger("beets.genreclf").warning("{}", line)
    learn = view["learn"]
    return Settings(
        auto=_read(view["auto"], bool),
        mode=_checked(view["mode"], _mode),
        genres_from=_read(view["genres_from"], confuse.Choice(GENRES_FROM)),
        min_confidence=_checked(view["min_confidence"], _threshold),
        label_map=_checked(view["map"], _label_map),
        model=_model(view["model"]),
        jobs=_checked(view["jobs"], _non_negative_int),
        window_count=_checked(view["windows"], _auto(_window_count)),
        window_seconds=_checked(view["window_seconds"], _auto(_window_seconds)),
        custom_tags=_read(view["custom_tags"], bool),
        mood=_read(view["mood"], bool),
        mood_tags=_read(view["mood_tags"], bool),
        explain_limit=_checked(view["explain_limit"], _positive_int),
        backend=_read(view["backend"], confuse.Choice(list(BACKENDS))),
        dask_scheduler=_checked(view["dask"]["scheduler"], _scheduler),
        dask_path_map=tuple(_checked(view["dask"]["path_map"], _string_map).items()),
        learn=LearnSettings(
            min_examples=_checked(learn["min_examples"], _at_least_two),
            labels=tuple(_checked(learn["labels"], _strings)),
            synonyms=_checked(learn["map"], _string_map),
            target_precision=_checked(learn["target_precision"], _fraction),
        ),
    )


def unknown_keys(view: confuse.ConfigView, known: dict[str, Any]) -> list[str]:
    """A line for each key under ``view`` that is not in ``known``, naming
    the nearest known key."""
    try:
        keys = view.keys()
    except confuse.ConfigError:  # not a mapping: reported when its value is read
        return []
    lines = []
    for key in keys:
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {view.name}.{near[0]}?)" if near else ""
            lines.append(f"unknown configuration key {view.name}.{key}, ignored{hint}")
        elif isinstance(known[key], dict) and key not in FREE_FORM:
            lines += unknown_keys(view[key], known[key])
    return lines


def _mode(value: Any) -> str:
    """One of MODES; YAML reads a bare ``off`` (or ``no``, ``false``) as false."""
    if value is False:
        return "off"
    if value not in MODES:
        raise ValueError(f"must be one of {', '.join(MODES)}")
    return value


def _model(view: confuse.ConfigView) -> str:
    """A packaged model's name (any case), '' for the default, or the path
    of a genreclf model file (checked without loading it)."""
    value = _read(view, str)
    if not value or value.casefold() in PACKAGED_MODELS:
        return value.casefold()
    return _parsed(view.name, _read(view, confuse.Filename()), _model_file)


def _model_file(path: str) -> str:
    try:
        check_model_file(path)
    except NotAModel as exc:
        names = ", ".join(PACKAGED_MODELS)
        raise ValueError(f"must be {names} or a genreclf model file ({exc})") from None
    return path


def _read(view: confuse.ConfigView, template: Any) -> Any:
    """``view.get(template)``, with confuse's error as one line naming the key."""
    try:
        return view.get(template)
    except confuse.ConfigError as exc:
        raise SettingsError(f"genreclf: bad configuration: {exc}") from exc


def _checked(view: confuse.ConfigView, parse: Callable[[Any], Any]) -> Any:
    """``parse`` of the view's value; one line naming the key if it is bad."""
    return _parsed(view.name, view.get(), parse)


def _parsed(key: str, value: Any, parse: Callable[[Any], Any]) -> Any:
    try:
        return parse(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(
            f"genreclf: bad configuration: {key}: {exc}; got {_plain(value)}"
        ) from exc


def _plain(value: Any) -> str:
    """``value`` as the user wrote it, near enough: mappings and lists in
    YAML's flow style, rather than Python's OrderedDict(...)."""
    return json.dumps(value, default=str, ensure_ascii=False)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _threshold(value: Any) -> float | None:
    if value == "auto":
        return None
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError("must be 'auto' or a number from 0 to 1")
    return float(value)


def _auto(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``parse``, or None for 'auto'."""

    def parse_or_auto(value: Any) -> Any:
        if value == "auto":
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise ValueError(f"must be 'auto' or {str(exc).removeprefix('must be ')}") from None

    return parse_or_auto


def _fraction(value: Any) -> float:
    if not _is_number(value) or not 0.0 < value <= 1.0:
        raise ValueError("must be a number above 0 and at most 1")
    return float(value)


def _window_seconds(value: Any) -> float:
    if not _is_number(value) or not MIN_WINDOW_SECONDS <= value <= 3600:
        raise ValueError(f"must be a number of seconds from {MIN_WINDOW_SECONDS:g} to 3600")
    return float(value)


def _integer(value: Any, low: int, high: int | None, words: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(words)
    if high is not None and value > high:
        raise ValueError(words)
    return value


def _non_negative_int(value: Any) -> int:
    return _integer(value, 0, None, "must be a whole number, 0 or more (0: one per core)")


def _positive_int(value: Any) -> int:
    return _integer(value, 1, None, "must be a whole number, 1 or more")


def _at_least_two(value: Any) -> int:
    return _integer(value, 2, None, "must be a whole number, 2 or more")


def _window_count(value: Any) -> int:
    return _integer(value, 1, MAX_WINDOWS, f"must be a whole number from 1 to {MAX_WINDOWS}")


def _scheduler(value: Any) -> str:
    if value != "local" and not (isinstance(value, str) and "://" in value):
        raise ValueError("must be 'local' or a scheduler address such as tcp://host:8786")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be text")
    return value


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError("must be a list of genres")
    return [_text(item) for item in value]


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of text to text")
    return {_text(key): _text(target) for key, target in value.items()}


def _label_map(value: Any) -> dict[str, list[str]]:
    """label -> one genre or a list of genres."""
    if not isinstance(value, dict):
        raise ValueError("must map each model label to a genre or a list of genres")
    mapping = {}
    for label, genres in value.items():
        try:
            mapping[_text(label)] = [_text(genres)] if isinstance(genres, str) else _strings(genres)
        except ValueError:
            raise ValueError(f"'{label}' must map to a genre or a list of genres") from None
    return mapping
