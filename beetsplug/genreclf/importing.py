"""The import-time part: one run for a whole ``beet import``. Predictions
are stored in the import stage (files are not in place yet); once beets has
copied or moved the files, the cache follows them and our tags are written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .policy import MODEL_FIELD
from .run import TaggingRun
from .tagging import Tagger

if TYPE_CHECKING:
    from beets.library import Album, Item


class ImportRun(TaggingRun):
    """A run whose files keep coming, task by task."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.summary.open_ended = True  # files come album by album
        self._analysed_at: dict[int, bytes] = {}  # item id -> path when analysed

    def tag_imported(self, items: Sequence[Item]) -> None:
        """The import stage for singletons: store predictions now (files are
        not in place yet)."""
        Tagger(self, write=False, force=False, pretend=False).tracks(items)
        self._remember_paths(items)

    def tag_imported_album(self, album: Album, items: Sequence[Item]) -> None:
        """The import stage for an album task."""
        Tagger(self, write=False, force=False, pretend=False).albums([album])
        self._remember_paths(items)

    def _remember_paths(self, items: Sequence[Item]) -> None:
        for item in items:
            self._analysed_at[item.id] = item.path

    def files_placed(self, items: Sequence[Item], write: bool) -> None:
        """After beets copied/moved the files (and maybe wrote their tags):
        the cache follows each file, and our tags are written if asked."""
        cache = self.storer.cache
        for item in items:
            analysed_at = self._analysed_at.pop(item.id, None)
            if analysed_at is not None and cache is not None:
                cache.move(analysed_at, item.path)
            if write and item.get(MODEL_FIELD):
                self.storer.write(item)
        if cache is not None:
            cache.commit()
