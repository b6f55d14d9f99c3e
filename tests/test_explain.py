"""--explain, --stats and --plot: a real library, generated audio, the shipped model."""

from __future__ import annotations

import re
import shlex
import sys
from collections import Counter

import numpy as np
import pytest
import soundfile
from beets import ui
from beets.library import Item

from beetsplug.genreclf import plots
from beetsplug.genreclf.analysis import AnalysedWindow, Analyzer
from beetsplug.genreclf.audio import WindowPolicy
from beetsplug.genreclf.explain import display_title, explain, no_items_text, window_headings
from beetsplug.genreclf.features import FeatureParams, segments_per_window
from beetsplug.genreclf.model import PACKAGED, GenreModel, TrackPrediction, aggregate, reference
from beetsplug.genreclf.mood import MOOD_LABELS
from tests.audiogen import synthesize, write_audio
from tests.helper import MODEL, GenreClfTestBase, file_genres

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GEOMETRIC_NOTE = "  overall: every window's evidence multiplied, so it can be above each window"
# 12 s tracks in two windows of 4 s, side by side from 2 s to 10 s: one segment each.
TWO_WINDOWS = {"windows": 2, "window_seconds": 4.0}


def chart_rows(output: str) -> tuple[list[str], dict[str, list[str]]]:
    """The column headers and {label: cells} of the first --explain chart."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  genre "))
    headers = lines[start].split()[1:]
    rows = {}
    for line in lines[start + 1 : start + 1 + len(MODEL.labels)]:
        label, rest = line.split(maxsplit=1)
        rows[label] = re.findall(r"\d+%", rest)
    return headers, rows


class TestExplain(GenreClfTestBase):
    def test_one_row_per_label_one_column_per_window_and_overall(self, capsys):
        self.setup_plugin(**TWO_WINDOWS)
        [item] = self.add_tracks("chords.flac")

        self.run_command("genreclf", "--explain")

        output = capsys.readouterr().out
        headers, rows = chart_rows(output)
        assert output.startswith(str(self.music / "chords.flac"))
        assert headers == ["0:02", "0:06", "overall"]  # side by side: 2-6 s, 6-10 s
        assert sorted(rows) == sorted(MODEL.labels)
        assert all(len(cells) == 3 for cells in rows.values())
        overall = [int(cells[-1][:-1]) for cells in rows.values()]
        assert overall == sorted(overall, reverse=True)  # most probable first
        assert max(len(line) for line in output.splitlines()) <= 80

    def test_stores_and_writes_nothing(self, capsys):
        self.setup_plugin()
        self.config["import"]["write"] = True
        [item] = self.add_tracks("beats.mp3")
        before = (self.music / "beats.mp3").read_bytes()

        with pytest.raises(ui.UserError, match="-w/-W does not apply to --explain"):
            self.run_command("genreclf", "--explain", "--write")
        self.run_command("genreclf", "--explain")

        assert "overall" in capsys.readouterr().out
        assert item.id not in self.analysed_ids()
        assert self.reloaded(item).genres == []
        assert (self.music / "beats.mp3").read_bytes() == before
        assert file_genres(item.path) == []

    def test_overall_is_what_tagging_stores(self, capsys):
        self.setup_plugin()
        [item] = self.add_tracks("noise.ogg")
        self.run_command("genreclf", "--explain")
        header = capsys.readouterr().out.splitlines()[1]

        self.run_command("genreclf", "-W")

        item = self.reloaded(item)
        assert header.startswith(f"  {item.genreclf_genre} {item.genreclf_confidence:.0%} overall")

    def test_refuses_more_items_than_the_limit(self):
        self.setup_plugin(explain_limit=1)
        self.add_tracks("chords.flac", "beats.flac")

        with pytest.raises(ui.UserError, match="at most 1 items and the query matches 2"):
            self.run_command("genreclf", "--explain")

    @pytest.mark.parametrize(
        "model, note",
        [("accurate", GEOMETRIC_NOTE), ("mfcc", "  overall: the average of all windows")],
    )
    def test_the_last_line_says_what_overall_is(self, capsys, model, note):
        self.setup_plugin(model=model)
        self.add_tracks("chords.flac")

        self.run_command("genreclf", "--explain")

        assert capsys.readouterr().out.rstrip("\n").splitlines()[-1] == note

    def test_windows_past_an_hour_are_headed_h_mm_ss(self, capsys, tmp_path):
        """A 73-minute file (8 kHz, so it stays small), five 3 s windows: the
        last starts past an hour; every heading is then h:mm:ss."""
        self.setup_plugin(windows=5, window_seconds=3)
        path = tmp_path / "long.flac"
        minute = synthesize("chords", 60, sample_rate=8000, seed=1)
        with soundfile.SoundFile(path, "w", 8000, 1, format="FLAC", subtype="PCM_16") as file:
            for _ in range(73):
                file.write(minute)
        self.lib.add(Item.from_path(path))

        self.run_command("genreclf", "--explain")

        headers, _ = chart_rows(capsys.readouterr().out)
        assert all(re.fullmatch(r"\d:\d\d:\d\d", heading) for heading in headers[:-1])
        assert len(headers) == 6 and headers[-2] > "1:00:00" and headers[0] < "1:00:00"

    def test_an_albums_mood_is_explained_track_by_track(self, capsys):
        self.setup_plugin()
        tracks = self.add_tracks("chords.flac", "beats.ogg", "noise.wav")
        for number, item in enumerate(tracks, 1):
            item.track = number
            item.store()
        self.lib.add_album(tracks)

        self.run_command("genreclf", "--explain", "-a")

        lines = capsys.readouterr().out.rstrip("\n").splitlines()
        mood = next(i for i, line in enumerate(lines) if line.startswith("  mood "))
        assert lines[mood].split() == ["mood", "01", "02", "03", "overall"]
        assert sorted(line.split()[0] for line in lines[mood + 1 : mood + 5]) == sorted(MOOD_LABELS)
        assert lines[-1] == "  overall: every track's evidence multiplied, so it can be above each track"

    def test_a_bad_file_is_reported_and_the_others_explained(self, capsys):
        self.setup_plugin()
        self.add_tracks("chords.wav", "beats.wav")
        (self.music / "beats.wav").write_bytes(b"not audio" * 100)

        with pytest.raises(ui.UserError, match="1 file"):
            self.run_command("genreclf", "--explain")

        assert capsys.readouterr().out.startswith(str(self.music / "chords.wav"))


def test_windows_of_different_music_get_different_probabilities(tmp_path):
    """Chords then beats: each window sounds like its own half, not like the mix."""
    chords, beats = synthesize("chords", 32, seed=1), synthesize("beats", 32, seed=2)
    half = len(chords) // 2  # 16 s: the mix is the first half of each
    paths = {
        "mixed": write_audio(tmp_path / "mixed.flac", np.concatenate([chords[:half], beats[:half]])),
        "chords": write_audio(tmp_path / "chords.flac", chords),
        "beats": write_audio(tmp_path / "beats.flac", beats),
    }
    mfcc = GenreModel(PACKAGED["mfcc"])  # the MFCC model, whose 3 s segments this is written for
    analyzer = Analyzer(reference(mfcc), WindowPolicy(window_seconds=8, max_windows=2), jobs=1)

    found = {
        name: explain(name, outcome.prediction, outcome.analysis.windows, mfcc.labels)
        for name, outcome in zip(paths, analyzer.analyse((n, str(p)) for n, p in paths.items()))
    }

    first, second = found["mixed"].window_probabilities
    assert found["mixed"].window_starts == [8.0, 16.0]  # 8-16 s chords, 16-24 s beats
    assert np.abs(first - second).sum() > 0.5
    top = {name: explanation.top[0] for name, explanation in found.items()}
    labels = found["mixed"].labels
    assert [labels[np.argmax(first)], labels[np.argmax(second)]] == [top["chords"], top["beats"]]
    assert found["mixed"].overall == pytest.approx((first + second) / 2, abs=1e-6)


@pytest.mark.parametrize(
    "starts, headings",
    [
        ([0.0, 47.2, 94.9], ["0:00", "0:47", "1:34"]),
        ([1800.0, 3599.9], ["30:00", "59:59"]),
        ([1200.0, 5755.4], ["0:20:00", "1:35:55"]),  # the 2-hour file: not "95:55"
        ([36000.0], ["10:00:00"]),
    ],
)
def test_window_headings_are_m_ss_or_past_an_hour_h_mm_ss(starts, headings):
    assert window_headings(starts) == headings


def test_overall_is_the_windows_evidence_multiplied():
    """Geometric pooling: overall is the renormalised geometric mean of the
    windows' columns (weighted by their segments), and can be above every
    window: jazz is 50 % in each, the rest disagree."""
    segments = np.array([[0.5, 0.5, 1e-4], [0.5, 0.5, 1e-4], [0.5, 1e-4, 0.5]])
    prediction = TrackPrediction(aggregate(segments, "geometric_mean"), np.zeros(4), segments)
    windows = [AnalysedWindow(0.0, 2), AnalysedWindow(30.0, 1)]

    found = explain("a.flac", prediction, windows, ["jazz", "rock", "pop"], aggregation="geometric_mean")

    first, second = found.window_probabilities
    pooled = first ** (2 / 3) * second ** (1 / 3)
    assert found.overall == pytest.approx(pooled / pooled.sum(), rel=1e-5)
    assert found.top[0] == "jazz" and found.top[1] > max(first[0], second[0]) + 0.3
    assert found.pooling == "geometric_mean" and found.overall_note == GEOMETRIC_NOTE.strip()


def test_segments_per_window_keeps_each_windows_count():
    params = FeatureParams()
    rate = params.sample_rate
    windows = [synthesize("beats", seconds, rate) for seconds in (10.0, 0.5, 2.0)]

    parts = segments_per_window(windows, params)

    # 10 s: 3 whole segments; 0.5 s: too short; 2 s: a short tail next to full ones
    assert [len(part) for part in parts] == [3, 0, 0]
    assert {part.shape[1:] for part in parts} == {(params.segment_frames, params.n_mfcc)}


@pytest.mark.parametrize(
    "path, artist, title, shown",
    [
        ("/music/a/01 so what.flac", "Miles Davis", "So What", "Miles Davis – So What"),
        ("/music/a/01 so what.flac", "", "So What", "So What"),
        ("/music/a/01 so what.flac", "Miles Davis", "", "01 so what.flac"),
        ("/music/a/01 so what.flac", "", "", "01 so what.flac"),
    ],
)
def test_display_title_prefers_artist_and_title(path, artist, title, shown):
    assert display_title(path, artist, title) == shown


def test_explain_carries_the_title_given_else_the_file_name():
    prediction = TrackPrediction(
        np.array([0.2, 0.8]), np.zeros(4), np.array([[0.1, 0.9], [0.3, 0.7]])
    )
    windows = [AnalysedWindow(0.0, 1), AnalysedWindow(30.0, 1)]

    named = explain("/m/a.flac", prediction, windows, ["jazz", "rock"], "Miles Davis – So What")
    unnamed = explain("/m/a.flac", prediction, windows, ["jazz", "rock"])

    assert (named.title, unnamed.title) == ("Miles Davis – So What", "a.flac")
    assert named.labels == unnamed.labels == ["rock", "jazz"]


@pytest.mark.parametrize(
    "query, text",
    [
        ([], "no items match"),
        (["title:zzzz"], "no items match title:zzzz"),
        (["artist:Miles Davis", "year:1959"], "no items match 'artist:Miles Davis' year:1959"),
    ],
)
def test_no_items_text_repeats_the_query_as_typed(query, text):
    assert no_items_text(query) == text


# Stored predictions: (genreclf_genre, genreclf_confidence, genres), in library order.
STORED = {
    "mislabelled": ("jazz", 0.9, ["Rock"]),
    "agrees in another case": ("jazz", 0.95, ["Jazz"]),
    "a genre that only contains the label": ("rock", 0.7, ["Acid Rock", "Pop"]),
    "agrees through map": ("hiphop", 0.8, ["hip-hop"]),
    "mapped label, other genre": ("hiphop", 0.6, ["Rap"]),
    "not confident": ("rock", 0.3, ["Jazz"]),
    "no genres": ("rock", 0.99, []),
    "agrees among several": ("classical", 0.85, ["Piano", "Classical"]),
    "exactly at the threshold": ("jazz", 0.5, ["Blues"]),
}
DISAGREEING = [  # most confident first
    "mislabelled",
    "a genre that only contains the label",
    "mapped label, other genre",
    "exactly at the threshold",
]


class TestStats(GenreClfTestBase):
    def add_predictions(self) -> None:
        """Items with stored predictions and no audio file: --stats must not need one."""
        for title, (label, confidence, genres) in STORED.items():
            self.add_item(
                title=title, artist="Someone", genres=genres,
                genreclf_genre=label, genreclf_confidence=confidence,
            )
        self.add_item(title="never analysed", genres=["Jazz"])

    def stats_output(self, capsys) -> list[str]:
        self.setup_plugin(min_confidence=0.5, map={"hiphop": "Hip-Hop"})
        self.add_predictions()
        self.run_command("genreclf", "--stats")
        return capsys.readouterr().out.splitlines()

    def test_counts_and_confidence_match_the_stored_fields(self, capsys):
        lines = self.stats_output(capsys)

        assert lines[0] == "10 items, 9 analysed"
        counts = Counter(label for label, _, _ in STORED.values())
        header = next(i for i, line in enumerate(lines) if line.startswith("predicted genre"))
        table = lines[header + 1 :]
        for line, (label, count) in zip(table, counts.most_common()):
            assert line.split()[:2] == [label, str(count)]
        histogram = {line.split()[0]: int(line.split()[1]) for line in lines if "–" in line[:7]}
        assert list(histogram.values()) == [0, 1, 1, 2, 5]  # 0.3; 0.5; 0.6, 0.7; the rest
        assert list(histogram) == ["0.0–0.2", "0.2–0.4", "0.4–0.6", "0.6–0.8", "0.8–1.0"]

    def test_disagreements_most_confident_first(self, capsys):
        lines = self.stats_output(capsys)

        start = lines.index(next(l for l in lines if l.startswith("4 items whose genres disagree")))
        listed = lines[start + 2 : start + 2 + len(DISAGREEING)]
        assert [line.split("Someone – ")[1] for line in listed] == DISAGREEING
        assert listed[0].split()[:3] == ["0.90", "jazz", "Rock"]
        columns = re.split(r"\s{2,}", listed[1].strip())
        assert columns == ["0.70", "rock", "Acid Rock; Pop", "Someone – " + DISAGREEING[1]]

    def test_the_printed_query_lists_exactly_the_disagreements(self, capsys):
        lines = self.stats_output(capsys)
        [query] = [line.removeprefix("list them: ") for line in lines if "beet ls" in line]
        command, subcommand, *parts = shlex.split(query)
        # The field the plugin computes for every item, with its settings.
        assert [command, subcommand, *parts] == ["beet", "ls", "genreclf_disagrees:1"]
        assert sorted(item.title for item in self.lib.items(parts)) == sorted(DISAGREEING)
        self.run_command("ls", "-f", "$title", *parts)
        assert sorted(capsys.readouterr().out.splitlines()) == sorted(DISAGREEING)

    def test_a_query_that_matches_nothing_says_so(self, capsys):
        self.setup_plugin()
        self.add_item(title="So What", genreclf_genre="jazz", genreclf_confidence=0.9)

        self.run_command("genreclf", "--stats", "title:zzzz")

        assert capsys.readouterr().out.startswith("no items match")

    def test_no_disagreement_says_so(self, capsys):
        self.setup_plugin(min_confidence=0.5)
        self.add_item(genres=["Jazz"], genreclf_genre="jazz", genreclf_confidence=0.9)

        self.run_command("genreclf", "--stats")

        output = capsys.readouterr().out
        assert "no item's genres disagree with a prediction at confidence ≥ 0.50" in output
        assert "beet ls" not in output


class TestPlot(GenreClfTestBase):
    @pytest.fixture
    def figures(self, monkeypatch) -> list:
        """The figures --plot saves, kept for inspection."""
        saved = []
        original = plots.save

        def keep(figure, path):
            saved.append(figure)
            original(figure, path)

        monkeypatch.setattr(plots, "save", keep)
        return saved

    def test_explain_plot_has_one_row_per_genre_and_a_column_per_window(self, figures, tmp_path):
        self.setup_plugin(**TWO_WINDOWS)
        self.add_tracks("chords.flac", "beats.ogg")
        png = tmp_path / "explain.png"

        self.run_command("genreclf", "--explain", "--plot", str(png))

        assert png.read_bytes().startswith(PNG_MAGIC)
        [figure] = figures
        maps = [ax for ax in figure.axes if ax.get_ylabel() == "genre"]
        assert len(maps) == 2  # one per item
        for ax, name in zip(maps, ["chords.flac", "beats.ogg"]):
            assert ax.get_title().startswith(f"{name}: ")
            assert ax.get_xlabel() == "window (start m:ss)"
            genres = [label.get_text() for label in ax.get_yticklabels()]
            assert sorted(genres) == sorted(MODEL.labels)
            windows = [label.get_text() for label in ax.get_xticklabels()]
            assert windows == ["0:02", "0:06", "overall"]
            assert ax.get_images()[0].get_array().shape == (len(MODEL.labels), 3)

    def test_stats_plot_has_one_bar_per_genre(self, figures, tmp_path):
        self.setup_plugin()
        for label, confidence in [("jazz", 0.9), ("jazz", 0.7), ("rock", 0.3)]:
            self.add_item(genreclf_genre=label, genreclf_confidence=confidence)
        png = tmp_path / "stats.png"

        self.run_command("genreclf", "--stats", "--plot", str(png))

        assert png.read_bytes().startswith(PNG_MAGIC)
        [figure] = figures
        [by_genre] = [ax for ax in figure.axes if ax.get_ylabel() == "predicted genre"]
        assert [label.get_text() for label in by_genre.get_yticklabels()] == ["rock", "jazz"]
        assert [bar.get_width() for bar in by_genre.patches] == [1, 2]
        [by_confidence] = [ax for ax in figure.axes if ax.get_xlabel().startswith("confidence")]
        assert [bar.get_height() for bar in by_confidence.patches] == [0, 1, 0, 1, 1]

    @pytest.mark.parametrize("mode", ["--explain", "--stats"])
    def test_without_matplotlib_says_how_to_install_it(self, mode, monkeypatch, tmp_path):
        self.setup_plugin()
        self.add_tracks("chords.flac")
        monkeypatch.setitem(sys.modules, "matplotlib", None)

        with pytest.raises(ui.UserError, match=re.escape("pip install 'beets-genreclf[plot]'")):
            self.run_command("genreclf", mode, "--plot", str(tmp_path / "out.png"))
        assert not (tmp_path / "out.png").exists()

    def test_plot_needs_explain_or_stats(self, tmp_path):
        self.setup_plugin()
        with pytest.raises(ui.UserError, match="--plot does not apply to tagging"):
            self.run_command("genreclf", "--plot", str(tmp_path / "out.png"))
        with pytest.raises(ui.UserError, match="choose one of --explain, --stats"):
            self.run_command("genreclf", "--explain", "--stats")
