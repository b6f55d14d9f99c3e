"""Progress lines (count, rate, ETA) and the end-of-run summary."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

PROGRESS_EVERY_SECONDS = 5.0


@dataclass
class RunSummary:
    total: int
    analysed: int = 0
    skipped: int = 0
    from_cache: int = 0  # analysed without decoding (see cache.py)
    failed: Counter = field(default_factory=Counter)  # reason -> files not analysed
    write_failed: Counter = field(default_factory=Counter)  # reason -> files analysed, not written
    unanalysable_skipped: int = 0  # known from an earlier run not to analyse
    written: int = 0  # files whose tags were written
    pretend: bool = False  # nothing is stored
    genres: Counter = field(default_factory=Counter)  # predicted label -> files
    started: float = field(default_factory=time.monotonic)
    _last_report: float = field(default_factory=time.monotonic)

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    @property
    def done(self) -> int:
        return self.analysed + self.skipped + self.unanalysable_skipped + self.failures

    def progress_line(self, force: bool = False) -> str | None:
        """A progress line every PROGRESS_EVERY_SECONDS (or now if ``force``)."""
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_EVERY_SECONDS:
            return None
        self._last_report = now
        rate = (self.analysed + self.failures) / max(now - self.started, 1e-9)
        remaining = self.total - self.done
        eta = _duration(remaining / rate) if rate > 0 else "?"
        percent = 100 * self.done / max(self.total, 1)
        return f"{self.done}/{self.total} ({percent:.0f}%), {rate:.1f} files/s, ETA {eta}"

    def lines(self) -> list[str]:
        """The summary, one line per fact."""
        elapsed = _duration(time.monotonic() - self.started)
        cached = f" ({self.from_cache} from the cache)" if self.from_cache else ""
        verb = "would store" if self.pretend else "analysed"
        lines = [
            f"{verb} {self.analysed}{cached}, skipped {self.skipped} (already analysed), "
            f"could not analyse {self.failures} in {elapsed}"
            + (" (pretend: nothing stored)" if self.pretend else "")
        ]
        for reason, count in self.failed.most_common():
            lines.append(f"  could not analyse ({count}): {reason}")
        if self.written or self.write_failed:
            lines.append(f"tags written to {self.written} files")
        for reason, count in self.write_failed.most_common():
            lines.append(f"  tags not written ({count}): {reason}")
        if self.unanalysable_skipped:
            lines.append(
                f"{self.unanalysable_skipped} skipped: unanalysable, see "
                "`beet ls genreclf_error::.`"
            )
        if self.genres:
            shares = ", ".join(f"{g} {n}" for g, n in self.genres.most_common())
            lines.append(f"genres: {shares}")
        return lines


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
