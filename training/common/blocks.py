"""The blocks every fast-model figure is measured on.

Eight artist-disjoint blocks: GTZAN's three artist-filtered split lists and
the extra recordings in five folds grouped by artist, exactly as the
accurate model's card makes them (``GroupKFold`` over ``extra_tracks``'
groups, in ``labels.csv`` order), so the two models' real-music checks are
comparable. Every evaluation holds one block out and trains on the seven
others: pooled over the GTZAN blocks that is the GTZAN cross-validation,
over the extra blocks the real-music check.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.model_selection import GroupKFold

from training.accurate.data import Track
from training.accurate.evaluate import EXTRA_FOLDS


@dataclass(frozen=True)
class Blocks:
    tracks: tuple[Track, ...]  # GTZAN first, then extra, in file order
    of_track: dict[str, str]  # track key -> block name

    @property
    def names(self) -> list[str]:
        return sorted(set(self.of_track.values()))

    def inside(self, name: str) -> list[Track]:
        return [t for t in self.tracks if self.of_track[t.key] == name]

    def outside(self, *names: str | None) -> list[Track]:
        return [t for t in self.tracks if self.of_track[t.key] not in names]

    def gtzan_lists(self) -> list[str]:
        return [n for n in self.names if n.startswith("gtzan:")]

    def extra_folds(self) -> list[str]:
        return [n for n in self.names if n.startswith("extra:")]


def make_blocks(gtzan: list[Track], extra: list[Track]) -> Blocks:
    """GTZAN tracks by split list (their ``group``), extra tracks by fold."""
    of_track = {t.key: t.group for t in gtzan}
    splitter = GroupKFold(n_splits=EXTRA_FOLDS)
    for fold, (_, held_out) in enumerate(splitter.split(extra, groups=[t.group for t in extra])):
        of_track.update({extra[i].key: f"extra:{fold + 1}" for i in held_out})
    return Blocks(tuple(gtzan + extra), of_track)
