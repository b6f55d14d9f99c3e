"""Progress lines (count, rate, ETA) and the end-of-run summary."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

PROGRESS_EVERY_SECONDS = 5.0
# The rate is measured from the first finished file (worker start-up left out),
# and shown once this many more files and seconds have gone by.
ETA_AFTER_FILES = 3
ETA_AFTER_SECONDS = 2.0
UNANALYSABLE_QUERY = "genreclf_error::."  # items an earlier run could not analyse
# Files left at their source by beets (an interrupted copy or move import):
ORIGINALS_ADVICE = (
    "`beet move --copy QUERY` (import.copy) or `beet move QUERY` (import.move) "
    "brings them into the library, then `beet genreclf -w QUERY` writes them "
    "(a library kept in place: set import.copy and import.move to no)"
)


@dataclass
class RunSummary:
    """What one run did, for its progress lines and its closing summary.

    analysed: files analysed and stored (with ``pretend``: that would be stored).
    skipped: already analysed by the current model.
    unanalysable_skipped: recorded as unanalysable by an earlier run, not tried.
    from_cache: of ``analysed``, those read from the cache (see cache.py).
    failed: reason -> files that could not be analysed.
    write_failed: reason -> files analysed whose tags could not be written.
    written: files whose tags were written (analysed now or earlier; with
        ``pretend``: that would be written).
    originals_kept: files not written because they lie outside the library
        directory while beets copies or moves imports (see storing.py).
    genres_set: the genres set (with ``pretend``: that would be set) -> files.
    not_music: files found to be speech, sound effects or noise (no genre set
        for them unless ``map`` names one).
    pretend: the run stores and writes nothing.
    open_ended: files keep coming (an import): the total is of the files
        received so far; no percentage, no ETA.
    clock: seconds of a monotonic clock (a test passes its own).
    """

    total: int
    analysed: int = 0
    skipped: int = 0
    unanalysable_skipped: int = 0
    from_cache: int = 0
    failed: Counter = field(default_factory=Counter)
    write_failed: Counter = field(default_factory=Counter)
    written: int = 0
    originals_kept: int = 0
    genres_set: Counter = field(default_factory=Counter)
    not_music: int = 0
    pretend: bool = False
    open_ended: bool = False
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    started: float = field(init=False)
    _last_report: float = field(init=False)
    _first_finished: tuple[float, int] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.started = self._last_report = self.clock()

    @property
    def failures(self) -> int:
        """Files that could not be analysed."""
        return sum(self.failed.values())

    @property
    def write_failures(self) -> int:
        """Files analysed whose tags could not be written."""
        return sum(self.write_failed.values())

    @property
    def finished(self) -> int:
        """Files whose analysis ended, well or not."""
        return self.analysed + self.failures + self.write_failures

    @property
    def done(self) -> int:
        return self.finished + self.skipped + self.unanalysable_skipped

    def progress_line(self, force: bool = False) -> str | None:
        """Call after each finished file: a progress line every
        PROGRESS_EVERY_SECONDS (or now if ``force``), else None."""
        now = self.clock()
        if self._first_finished is None and self.finished:
            self._first_finished = (now, self.finished)
        if not force and now - self._last_report < PROGRESS_EVERY_SECONDS:
            return None
        self._last_report = now
        rate = self._rate(now)
        if self.open_ended:
            line = f"{self.done}/{self.total} {_files(self.total)} so far"
            return line + (f", {rate:.1f} files/s" if rate else "")
        line = f"{self.done}/{self.total} ({100 * self.done / max(self.total, 1):.0f}%)"
        if rate is None:
            return line
        eta = _duration((self.total - self.done) / rate)
        return f"{line}, {rate:.1f} files/s, ETA {eta}"

    def _rate(self, now: float) -> float | None:
        """Files per second since the first finished file; None until enough
        files and time have passed for an honest estimate."""
        if self._first_finished is None:
            return None
        since, count = self._first_finished
        files, seconds = self.finished - count, now - since
        if files < ETA_AFTER_FILES or seconds < ETA_AFTER_SECONDS:
            return None
        return files / seconds

    def failure_line(self) -> str | None:
        """What failed in this run, in one line (for exit status 1); None if
        nothing did (files known from an earlier run to be unanalysable do
        not count)."""
        problems = []
        if self.failures:
            problems.append(f"{self.failures} {_files(self.failures)} could not be analysed")
        if self.write_failed:
            writes = self.write_failures
            problems.append(f"{writes} {_files(writes)} could not be written")
        return f"genreclf: {'; '.join(problems)}" if problems else None

    def lines(self) -> list[str]:
        """The summary, one line per fact."""
        elapsed = _duration(self.clock() - self.started)
        cached = f" ({self.from_cache} from the cache)" if self.from_cache else ""
        unwritten = f", tags not written {self.write_failures}" if self.write_failures else ""
        lines = [
            f"analysed {self.analysed}{cached}, skipped {self.skipped} (already analysed), "
            f"failed {self.failures}{unwritten} in {elapsed}"
        ]
        if self.pretend:
            lines.append(
                f"pretend: would store {self.analysed}, would write {self.written} "
                f"{_files(self.written)}; nothing stored or written"
            )
        if self.unanalysable_skipped:
            lines.append(
                f"{self.unanalysable_skipped} skipped: unanalysable, "
                f"see `beet ls {UNANALYSABLE_QUERY}`"
            )
        if self.written and not self.pretend:
            lines.append(f"tags written to {self.written} {_files(self.written)}")
        if self.originals_kept:
            lines.append(
                f"tags not written to {self.originals_kept} {_files(self.originals_kept)} "
                f"outside the library directory: {ORIGINALS_ADVICE}"
            )
        for reason, count in by_kind(self.failed).most_common():
            lines.append(f"  could not be analysed ({count}): {reason}")
        for reason, count in by_kind(self.write_failed).most_common():
            lines.append(f"  tags not written ({count}): {reason}")
        if self.genres_set:
            shares = ", ".join(f"{g} {n}" for g, n in self.genres_set.most_common())
            lines.append(f"{'would set genres' if self.pretend else 'genres set'}: {shares}")
        if self.not_music:
            lines.append(
                f"not music: {self.not_music} (speech, effects, noise; "
                "see `beet ls genreclf_genre:nonmusic`)"
            )
        return lines


def by_kind(reasons: Counter) -> Counter:
    """``reasons`` (reason -> files) counted by :func:`reason_kind`: the
    summary has one line per kind of failure, the per-file lines the detail."""
    kinds: Counter = Counter()
    for reason, count in reasons.items():
        kinds[reason_kind(reason)] += count
    return kinds


def reason_kind(reason: object) -> str:
    """What a failure's reason says before its file's detail: "truncated or
    damaged" of "truncated or damaged: decoded 1.2 s of 6.0 s", "Permission
    denied" of "[Errno 13] Permission denied: '/music/a.mp3'"."""
    text = re.sub(r"^\[Errno \d+\] ", "", str(reason))
    return re.split(r": | \(", text, maxsplit=1)[0].strip() or text


def _files(count: int) -> str:
    return "file" if count == 1 else "files"


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
