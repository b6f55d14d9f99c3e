"""`beet genreclf` refuses options that would do nothing, in one line."""

from __future__ import annotations

import pytest
from beets import ui

from tests.helper import GenreClfTestBase

NO_HEAD = "--base does nothing: no genres were learned"


class TestOptionsThatDoNothing(GenreClfTestBase):
    @pytest.mark.parametrize(
        "options, words",
        [
            (["--stats", "-j", "2"], "-j/--jobs does not apply to --stats"),
            (["--stats", "-a", "--jobs", "1"], "-j/--jobs does not apply to --stats"),
            (["--base"], NO_HEAD),
            (["--base", "-a", "-W"], NO_HEAD),
            (["--stats", "--base"], NO_HEAD),
            (["--explain", "--base"], NO_HEAD),
        ],
    )
    def test_they_are_refused_before_any_work(self, options, words):
        self.setup_plugin()
        self.add_tracks("chords.flac")
        with pytest.raises(ui.UserError, match=words) as raised:
            self.run_command("genreclf", *options)
        assert "\n" not in str(raised.value)
        assert self.analysed_ids() == set()

    def test_jobs_is_taken_where_files_are_decoded(self, capsys):
        self.setup_plugin()
        [item] = self.add_tracks("chords.flac")

        self.run_command("genreclf", "--explain", "-j", "1")
        self.run_command("genreclf", "-W", "-j", "1")

        assert "chords.flac" in capsys.readouterr().out
        assert self.analysed_ids() == {item.id}
