"""The plugin's settings, read and checked once, when beets loads the plugin.

Every bad value is one ``UserError`` in one wording, ``genreclf: bad
configuration: genreclf.KEY: must be ...; got VALUE``, with the value as the
user wrote it and, for a misspelt choice, the nearest one; a typo stops
``beet`` at start-up rather than halfway through an import. A number may be
quoted (``'0.5'``): YAML then reads it as text, but the user meant the number.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
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
SWITCH_WORDS = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}


class SettingsError(UserError):
    """A configuration value is invalid; the message names the key."""


class Refused(ValueError):
    """What a key accepts (``must be ...``), with a ``note`` on the value
    given: why it was refused, or the choice it was probably meant as."""

    def __init__(self, accepts: str, note: str = "") -> None:
        super().__init__(accepts)
        self.note = note


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
        auto=_checked(view["auto"], _switch),
        mode=_checked(view["mode"], _mode),
        genres_from=_checked(view["genres_from"], _one_of(GENRES_FROM)),
        min_confidence=_checked(view["min_confidence"], _threshold),
        label_map=_checked(view["map"], _label_map),
        model=_model(view["model"]),
        jobs=_checked(view["jobs"], _non_negative_int),
        window_count=_checked(view["windows"], _auto(_window_count)),
        window_seconds=_checked(view["window_seconds"], _auto(_window_seconds)),
        custom_tags=_checked(view["custom_tags"], _switch),
        mood=_checked(view["mood"], _switch),
        mood_tags=_checked(view["mood_tags"], _switch),
        explain_limit=_checked(view["explain_limit"], _positive_int),
        backend=_checked(view["backend"], _one_of(tuple(BACKENDS))),
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
    return "off" if value is False else _one_of(MODES)(value)


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    """A parser of one of ``choices``, any case; a misspelt one is named
    with the nearest choice."""

    def choice(value: Any) -> str:
        if isinstance(value, str) and value.casefold() in choices:
            return value.casefold()
        raise Refused(f"must be one of {', '.join(choices)}", _did_you_mean(value, choices))

    return choice


def _did_you_mean(value: Any, choices: tuple[str, ...]) -> str:
    """"did you mean X?" for the choice nearest ``value``, or '' if none is near."""
    near = difflib.get_close_matches(value.casefold(), choices, n=1) if isinstance(value, str) else []
    return f"did you mean {near[0]}?" if near else ""


def _switch(value: Any) -> bool:
    """yes or no: YAML's booleans, also quoted ('yes', 'off', 'true'...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in SWITCH_WORDS:
        return SWITCH_WORDS[value.strip().casefold()]
    raise Refused("must be yes or no")


def _model(view: confuse.ConfigView) -> str:
    """A packaged model's name (any case), '' for the default, or the path
    of a genreclf model file (checked without loading it). A refusal shows
    the value as written, not the path it resolved to."""
    value = view.get()
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value.casefold() in PACKAGED_MODELS:
        return value.casefold()
    accepts = f"must be {', '.join(PACKAGED_MODELS)} or a genreclf model file"
    if not isinstance(value, str):
        raise _refused(view.name, value, Refused(accepts))
    try:
        path = view.get(confuse.Filename())
        check_model_file(path)
    except (confuse.ConfigError, NotAModel) as exc:
        note = "; ".join(filter(None, [str(exc), _did_you_mean(value, PACKAGED_MODELS)]))
        raise _refused(view.name, value, Refused(accepts, note)) from None
    return path


def _checked(view: confuse.ConfigView, parse: Callable[[Any], Any]) -> Any:
    """``parse`` of the view's value; one line naming the key if it is bad."""
    return _parsed(view.name, view.get(), parse)


def _parsed(key: str, value: Any, parse: Callable[[Any], Any]) -> Any:
    try:
        return parse(value)
    except (TypeError, ValueError) as exc:
        raise _refused(key, value, exc) from exc


def _refused(key: str, value: Any, refusal: Exception) -> SettingsError:
    """The one line for a bad ``value`` of ``key``: what the key accepts, the
    value as written, and the refusal's note if it has one."""
    note = getattr(refusal, "note", "")
    return SettingsError(
        f"genreclf: bad configuration: {key}: {refusal}; got {_plain(value)}"
        + (f" ({note})" if note else "")
    )


def _plain(value: Any) -> str:
    """``value`` as the user wrote it, near enough: mappings and lists in
    YAML's flow style, rather than Python's OrderedDict(...)."""
    return json.dumps(value, default=str, ensure_ascii=False)


def _number(value: Any) -> float | int | None:
    """``value`` as a number, also when quoted ('0.5'); None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value.strip())
            except ValueError:
                pass
    return None


def _in_range(value: Any, low: float, high: float, accepts: str, above_low: bool = False) -> float:
    """``value`` as a float from ``low`` (excluded if ``above_low``) to ``high``."""
    number = _number(value)
    if number is None or not (low < number if above_low else low <= number) or not number <= high:
        raise Refused(accepts)
    return float(number)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().casefold() == "auto"


def _threshold(value: Any) -> float | None:
    if _is_auto(value):
        return None
    return _in_range(value, 0.0, 1.0, "must be 'auto' or a number from 0 to 1")


def _auto(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``parse``, or None for 'auto'."""

    def parse_or_auto(value: Any) -> Any:
        if _is_auto(value):
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise Refused(f"must be 'auto' or {str(exc).removeprefix('must be ')}") from None

    return parse_or_auto


def _fraction(value: Any) -> float:
    return _in_range(value, 0.0, 1.0, "must be a number above 0 and at most 1", above_low=True)


def _window_seconds(value: Any) -> float:
    accepts = f"must be a number of seconds from {MIN_WINDOW_SECONDS:g} to 3600"
    return _in_range(value, MIN_WINDOW_SECONDS, 3600, accepts)


def _integer(value: Any, low: int, high: float, accepts: str) -> int:
    """``value`` as a whole number from ``low`` to ``high`` (4, 4.0 or '4')."""
    number = _number(value)
    if number is None or not math.isfinite(number) or number != int(number):
        raise Refused(accepts)
    if not low <= number <= high:
        raise Refused(accepts)
    return int(number)


def _non_negative_int(value: Any) -> int:
    return _integer(value, 0, math.inf, "must be a whole number, 0 or more (0: one per core)")


def _positive_int(value: Any) -> int:
    return _integer(value, 1, math.inf, "must be a whole number, 1 or more")


def _at_least_two(value: Any) -> int:
    return _integer(value, 2, math.inf, "must be a whole number, 2 or more")


def _window_count(value: Any) -> int:
    return _integer(value, 1, MAX_WINDOWS, f"must be a whole number from 1 to {MAX_WINDOWS}")


def _scheduler(value: Any) -> str:
    if isinstance(value, str) and value.casefold() == "local":
        return "local"
    if not (isinstance(value, str) and "://" in value):
        raise Refused("must be 'local' or a scheduler address such as tcp://host:8786")
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
            raise ValueError(
                f"must map each model label to a genre or a list of genres ('{label}' does not)"
            ) from None
    return mapping
