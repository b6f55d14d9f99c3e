"""Predictions read without being stored: base-model embeddings for
``--learn``, and what the model hears for ``--explain``."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .policy import album_probabilities
from .tags import shown_path

if TYPE_CHECKING:
    from beets.library import Album, Item

    from .explain import Explanation
    from .learn import BaseModel, Example
    from .model import TrackPrediction
    from .run import TaggingRun


def embeddings(run: TaggingRun, chosen: Sequence[tuple[Item, str]]) -> list[Example]:
    """Each chosen (item, label)'s base-model embedding, from the cache
    where it is there."""
    from .learn import Example

    summary = run.summary
    summary.total += len(chosen)
    examples = []
    work = [((item, label), os.fsdecode(item.path)) for item, label in chosen]
    for outcome in run.outcomes(work):
        item, label = outcome.key
        if outcome.prediction is None:
            run.errors.failed(item, outcome.error)
            continue
        summary.analysed += 1
        prediction = outcome.prediction
        examples.append(
            Example(label, artist_of(item), prediction.embedding, prediction.probabilities)
        )
        run.show_progress()
    run.log.info(
        "embeddings: {} from the cache, {} decoded, {} failed",
        summary.from_cache, summary.analysed - summary.from_cache, summary.failures,
    )
    return examples


def base_model(run: TaggingRun) -> BaseModel:
    """The run's model as --learn judges a head against it: each label with
    the genres it is written as (``map``, else its name; run with ``base``)."""
    from .learn import BaseModel

    labels = run.model.labels
    genres = {label: run.policy.mapped(label) for label in labels}
    return BaseModel(run.model.identity, labels, genres)


def explanations(run: TaggingRun, items: Sequence[Item]) -> Iterator[Explanation]:
    """What the model hears in each window of each item, in the labels
    tagging would store (a learned head's, if there is one)."""
    from .explain import display_title, explain

    head = run.labeller.head
    work = [(item, os.fsdecode(item.path)) for item in items]
    for outcome in run.outcomes(work, detail=True):
        item = outcome.key
        if outcome.prediction is None:
            run.errors.failed(item, outcome.error)
            continue
        prediction = in_labels(head, outcome.prediction) if head else outcome.prediction
        path = shown_path(item.path)
        yield explain(
            path, prediction, outcome.analysis.windows, run.labeller.labels,
            title=display_title(path, item.artist, item.title),
            mood_head=run.labeller.mood_head, aggregation=run.model.aggregation,
        )


def album_explanations(run: TaggingRun, albums: Sequence[Album]) -> Iterator[Explanation]:
    """Each album's tracks side by side and the album's prediction, in
    the labels tagging would store (from the cache where it can)."""
    from .explain import album_explanation

    work = [
        ((index, item), os.fsdecode(item.path))
        for index, album in enumerate(albums)
        for item in album.items()
    ]
    outcomes = run.outcomes(work)
    for index, group in itertools.groupby(outcomes, key=lambda o: o.key[0]):
        names, probabilities, track_embeddings = [], [], []
        for outcome in group:
            _, item = outcome.key
            if outcome.prediction is None:
                run.errors.failed(item, outcome.error)
                continue
            names.append(f"{item.track:02d}" if item.track else item.title[:8])
            probabilities.append(run.labeller.probabilities(outcome.prediction))
            track_embeddings.append(outcome.prediction.embedding)
        if probabilities:
            tracks = np.stack(probabilities)
            yield album_explanation(
                str(albums[index]), names, tracks, album_probabilities(tracks),
                run.labeller.labels, run.labeller.mood_head, np.stack(track_embeddings),
            )


def in_labels(head, prediction: TrackPrediction) -> TrackPrediction:
    """``prediction`` in the learned head's labels (see Head.probabilities):
    per segment, and overall on the track's, as tagging does."""
    from .model import TrackPrediction

    per_segment = np.stack([
        head.probabilities(probabilities, embedding)
        for probabilities, embedding in zip(
            prediction.segment_probabilities, prediction.segment_embeddings
        )
    ])
    return TrackPrediction(
        probabilities=head.probabilities(prediction.probabilities, prediction.embedding),
        embedding=prediction.embedding,
        segment_probabilities=per_segment,
        segment_embeddings=prediction.segment_embeddings,
    )


def artist_of(item: Item) -> str:
    """Who a track is by, for grouping folds (see learn.artist_group)."""
    from beets import config

    from .learn import artist_group

    various = item.albumartist.casefold() == config["va_name"].as_str().casefold()
    return artist_group(
        item.albumartist, item.artist, item.album, os.fsdecode(item.path),
        compilation=bool(item.comp) or various,
    )
