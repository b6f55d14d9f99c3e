"""progress.py with a clock of our own: when an ETA is shown, and what the summary says."""

from __future__ import annotations

from collections import Counter

import pytest

from beetsplug.genreclf.progress import RunSummary, reason_kind
from beetsplug.genreclf.run import TaggingRun
from beetsplug.genreclf.tagging import Tagger
from tests.helper import GenreClfTestBase


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def progress_at(
    at: float, finished: list[tuple[float, int]], total: int = 100, **counts
) -> str:
    """The progress line at ``at`` seconds of a run whose files finish as
    (seconds, files), each followed by a progress_line call as the plugin does."""
    clock = Clock()
    summary = RunSummary(total=total, clock=clock, **counts)
    for clock.now, files in finished:
        summary.analysed += files
        summary.progress_line()
    clock.now = at
    return summary.progress_line(force=True)


# The issue: 5 s of worker start-up, then 5 files/s; the old line at 5 s said "ETA 8m15s".
PROGRESS = {
    "nothing finished yet": ((5.0, []), "0/100 (0%)"),
    "only the first file, after start-up": ((5.0, [(4.5, 1)]), "1/100 (1%)"),
    "a burst right after the first file": ((4.2, [(4.0, 1), (4.1, 7)]), "8/100 (8%)"),
    "steady after start-up": (
        (7.0, [(4.0, 1), (5.0, 2), (6.0, 2), (7.0, 2)], 101),
        "7/101 (7%), 2.0 files/s, ETA 0m47s",
    ),
    "the issue's run, 25 s long": (
        (7.0, [(5.0, 1), (6.0, 5), (7.0, 5)], 101),
        "11/101 (11%), 5.0 files/s, ETA 0m18s",
    ),
}


@pytest.mark.parametrize("run, line", PROGRESS.values(), ids=PROGRESS.keys())
def test_the_eta_leaves_worker_start_up_out(run, line):
    assert progress_at(*run) == line


def test_skipped_files_are_done_but_take_no_time():
    line = progress_at(6.0, [(4.0, 1), (6.0, 4)], total=105, skipped=40, unanalysable_skipped=10)
    assert line == "55/105 (52%), 2.0 files/s, ETA 0m25s"


@pytest.mark.parametrize(
    "finished, total, line",
    [
        ([], 0, "0/0 files so far"),
        ([(4.0, 1)], 1, "1/1 file so far"),
        ([(4.0, 1)], 2, "1/2 files so far"),
        ([(4.0, 1), (5.0, 2), (6.0, 2), (7.0, 2)], 12, "7/12 files so far, 2.0 files/s"),
    ],
)
def test_an_import_shows_the_files_received_so_far_and_no_eta(finished, total, line):
    """An import's files come album by album: its total is what came so far."""
    assert progress_at(7.0, finished, total=total, open_ended=True) == line


def test_failures_count_in_the_rate():
    clock = Clock()
    summary = RunSummary(total=20, clock=clock)
    for clock.now, reason in [(3.0, "the audio is silent"), (4.0, None), (5.0, "denied")]:
        if reason == "denied":
            summary.write_failed["Permission denied"] += 1
        elif reason:
            summary.failed[reason] += 1
        else:
            summary.analysed += 3
        summary.progress_line()
    assert summary.progress_line(force=True) == "5/20 (25%), 2.0 files/s, ETA 0m08s"


def test_a_progress_line_every_five_seconds():
    clock = Clock()
    summary = RunSummary(total=10, clock=clock)
    lines = []
    for clock.now in (1.0, 4.9, 5.0, 9.0, 10.1):
        summary.analysed += 1
        lines.append(summary.progress_line())
    assert [line is not None for line in lines] == [False, False, True, False, True]


SUMMARIES = {
    "a plain run": (
        {"analysed": 3, "skipped": 1, "genres_set": Counter(jazz=2, rock=1)},
        [
            "analysed 3, skipped 1 (already analysed), failed 0 in 0m07s",
            "genres set: jazz 2, rock 1",
        ],
    ),
    "analysis and tag-write failures apart": (
        {
            "analysed": 2,
            "failed": Counter({"too short to analyse (0.5 s; needs 0.74 s)": 1}),
            "write_failed": Counter({"Permission denied": 2}),
        },
        [
            "analysed 2, skipped 0 (already analysed), failed 1, tags not written 2 in 0m07s",
            "  could not be analysed (1): too short to analyse",
            "  tags not written (2): Permission denied",
        ],
    ),
    "one line per kind of failure, however many files": (
        {
            "failed": Counter({
                "truncated or damaged: decoded 1.7 s of 6.0 s": 1,
                "truncated or damaged: decoded 1.6 s of 6.0 s (decoder: Xing stream size off)": 1,
                "truncated or damaged: decoded 0.2 s of 6.0 s": 2,
                "not a readable audio file: End of file": 1,
            }),
            "write_failed": Counter({
                "[Errno 13] Permission denied: '/music/a.mp3'": 1,
                "[Errno 13] Permission denied: '/music/b.mp3'": 1,
            }),
        },
        [
            "analysed 0, skipped 0 (already analysed), failed 5, tags not written 2 in 0m07s",
            "  could not be analysed (4): truncated or damaged",
            "  could not be analysed (1): not a readable audio file",
            "  tags not written (2): Permission denied",
        ],
    ),
    "tags written to one file": (
        {"analysed": 1, "written": 1},
        [
            "analysed 1, skipped 0 (already analysed), failed 0 in 0m07s",
            "tags written to 1 file",
        ],
    ),
    "a pretend run": (
        {"analysed": 4, "from_cache": 1, "pretend": True},
        [
            "analysed 4 (1 from the cache), skipped 0 (already analysed), failed 0 in 0m07s",
            "pretend: would store 4, would write 0 files; nothing stored or written",
        ],
    ),
    "a pretend run that would write files": (
        {"analysed": 1, "skipped": 2, "written": 3, "pretend": True},
        [
            "analysed 1, skipped 2 (already analysed), failed 0 in 0m07s",
            "pretend: would store 1, would write 3 files; nothing stored or written",
        ],
    ),
    "files an earlier run could not analyse": (
        {"analysed": 1, "unanalysable_skipped": 5},
        [
            "analysed 1, skipped 0 (already analysed), failed 0 in 0m07s",
            "5 skipped: unanalysable, see `beet ls genreclf_error::.`",
        ],
    ),
}


@pytest.mark.parametrize("counts, lines", SUMMARIES.values(), ids=SUMMARIES.keys())
def test_summary_lines(counts, lines):
    clock = Clock()
    summary = RunSummary(total=10, clock=clock, **counts)
    clock.now = 7.0
    assert summary.lines() == lines


@pytest.mark.parametrize(
    "pretend, line", [(False, "genres set: Jazz 2"), (True, "would set genres: Jazz 2")]
)
def test_a_pretend_run_says_what_it_would_set(pretend, line):
    summary = RunSummary(total=2, analysed=2, pretend=pretend, genres_set=Counter(Jazz=2))
    assert summary.lines()[-1] == line


KINDS = {
    "detail after a colon": ("truncated or damaged: decoded 1.7 s of 6.0 s", "truncated or damaged"),
    "detail in brackets": ("too short to analyse (0.5 s; needs 0.74 s)", "too short to analyse"),
    "a decoder note": ("cannot decode: bad frame (decoder: Xing stream size off)", "cannot decode"),
    "an OS error": ("[Errno 13] Permission denied: '/music/a.mp3'", "Permission denied"),
    "no detail": ("empty file", "empty file"),
    "an exception": (PermissionError(13, "Permission denied", "/music/a.mp3"), "Permission denied"),
}


@pytest.mark.parametrize("reason, kind", KINDS.values(), ids=KINDS.keys())
def test_reason_kind_leaves_the_files_detail_out(reason, kind):
    assert reason_kind(reason) == kind


class Ticking:
    """A clock a whole progress interval on at each reading: every file shows a line."""

    def __init__(self) -> None:
        self.now = 1e9

    def __call__(self) -> float:
        self.now += 10.0
        return self.now


class TestProgressOfARun(GenreClfTestBase):
    def test_the_total_is_known_before_the_first_line_and_never_grows(self):
        """Albums' tracks and single tracks in one query: all are counted
        before any is analysed, so the percentage never goes backwards."""
        plugin = self.setup_plugin()
        album_tracks = self.add_tracks("chords.flac", "beats.ogg", "noise.wav")
        self.lib.add_album(album_tracks)
        self.add_tracks("chords.mp3", "beats.wav")
        lines: list[str] = []

        with TaggingRun(plugin.settings, self.lib, plugin._log, say=lines.append) as run:
            run.summary.clock = Ticking()
            Tagger(run, write=False, force=False, pretend=False).items(list(self.lib.items()))

        assert len(lines) == 5
        assert [line.split(" ")[0] for line in lines] == [f"{done}/5" for done in range(1, 6)]
