"""What the plugin's end-to-end tests share: a real beets library with the
plugin loaded, the shipped model, and tag helpers."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import beets.plugins
import pytest
from beets.library import Item
from beets.test.helper import PluginTestHelper
from mediafile import MediaFile

from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.model import DEFAULT_MODEL_PATH, GenreModel
from beetsplug.genreclf.policy import DISPLAY_NAMES, GenrePolicy
from beetsplug.genreclf.run import setup_name

MODEL = GenreModel(DEFAULT_MODEL_PATH)
DEFAULT_WINDOWS = WindowPolicy(window_seconds=MODEL.windows[1], max_windows=MODEL.windows[0])
SETUP = setup_name(MODEL.identity, DEFAULT_WINDOWS)  # genreclf_model with the defaults


class GenreClfTestBase(PluginTestHelper):
    plugin: ClassVar[str] = "genreclf"
    preload_plugin: ClassVar[bool] = False

    @pytest.fixture(autouse=True)
    def _music(self, music: Path) -> None:
        self.music = music

    def setup_plugin(self, **settings) -> beets.plugins.BeetsPlugin:
        self.config["genreclf"].set({"jobs": 2, "min_confidence": 0.0, **settings})
        # Tracks are added where they are (`add_tracks`): a library kept in
        # place, whose files genreclf writes (in copy mode it would not).
        self.config["import"]["copy"] = False
        self.load_plugins()
        return beets.plugins.find_plugins()[0]

    def add_tracks(self, *names: str, **values) -> list[Item]:
        items = []
        for name in names:
            item = Item.from_path(self.music / name)
            item.update(values)
            self.lib.add(item)
            items.append(item)
        return items

    def reloaded(self, item: Item) -> Item:
        return self.lib.get_item(item.id)

    def analysed_ids(self) -> set[int]:
        return {item.id for item in self.lib.items("genreclf_model::.+")}


def tag_file(path: Path, **tags) -> None:
    media = MediaFile(path)
    media.update(tags)
    media.save()


def file_genres(path) -> list[str]:
    return MediaFile(path).genres or []


def written(label: str) -> list[str]:
    """The genres a label of the model is written as (none for ``nonmusic``)."""
    return GenrePolicy(display_names=DISPLAY_NAMES).mapped(label)
