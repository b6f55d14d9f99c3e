"""Where the windows of a track lie: spread evenly, never overlapping, the
track heard whole (once) when it is no longer than the windows together."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beetsplug.genreclf.audio import WindowPolicy

# (window seconds, windows, track seconds) -> starts; every window is full length.
SPREAD = {
    "4 minutes, 3 x 30 s: a start every 52.5 s": ((30, 3, 240.0), [52.5, 105.0, 157.5]),
    "the issue's ~30 s track, 3 x 10 s: side by side": ((10, 3, 31.0), [0.5, 10.5, 20.5]),
    "45 s, 3 x 10 s: side by side, centred": ((10, 3, 45.0), [7.5, 17.5, 27.5]),
    "50 s, 3 x 10 s: where gaps begin": ((10, 3, 50.0), [10.0, 20.0, 30.0]),
    "60 s, 3 x 10 s: a start every 12.5 s": ((10, 3, 60.0), [12.5, 25.0, 37.5]),
    "one window: the middle": ((10, 1, 100.0), [45.0]),
}


@pytest.mark.parametrize("policy, starts", SPREAD.values(), ids=SPREAD.keys())
def test_windows_are_spread_without_overlap(policy, starts):
    seconds, count, duration = policy
    spans = WindowPolicy(seconds, count).spans(duration)
    assert [start for start, _ in spans] == pytest.approx(starts)
    assert {length for _, length in spans} == {seconds}


@pytest.mark.parametrize("duration", [30.0, 12.0, 0.5])
def test_a_track_no_longer_than_the_windows_is_heard_whole_once(duration):
    assert WindowPolicy(10, 3).spans(duration) == [(0.0, duration)]


@given(
    seconds=st.floats(3.0, 3600.0),
    count=st.integers(1, 10),
    ratio=st.floats(0.01, 4.0),  # the track's length over the windows' together
)
def test_windows_lie_in_the_track_in_order_and_never_overlap(seconds, count, ratio):
    duration = ratio * seconds * count
    spans = WindowPolicy(seconds, count).spans(duration)
    ends = [start + length for start, length in spans]
    assert spans[0][0] >= 0 and ends[-1] <= duration * (1 + 1e-9)
    starts = [start for start, _ in spans[1:]]
    assert all(end <= following * (1 + 1e-9) + 1e-9 for end, following in zip(ends, starts))
    assert sum(length for _, length in spans) == pytest.approx(min(duration, seconds * count))
