"""``beet genreclf``: its options, and one handler per action (tag, learn,
explain, stats), each over one :class:`~.run.TaggingRun`."""

from __future__ import annotations

import sqlite3
from optparse import Values
from typing import TYPE_CHECKING

from beets import ui
from beets.dbcore.db import DBAccessError

from . import inspection
from .explain import counted
from .inspection import artist_of, base_model, embeddings
from .run import TaggingRun, head_path
from .settings import Settings
from .tagging import Tagger, ours

if TYPE_CHECKING:
    from beets.library import Library

    from .learn import LabelChoice

RESUME = "what was analysed is stored; run the command again to continue"
USAGE = "%prog [options] [QUERY...]"
# Which options each action takes (beyond the query); --base also needs a
# learned head to set aside, and -j files to decode.
ACTION_OPTIONS = {
    "tag": {"force", "pretend", "write", "base", "album", "jobs"},
    "learn": {"force", "pretend", "jobs"},
    "explain": {"base", "plot", "album", "jobs"},
    "stats": {"base", "plot", "album"},
}
OPTION_NAMES = {
    "force": "-f/--force",
    "pretend": "-p/--pretend",
    "write": "-w/-W",
    "base": "--base",
    "plot": "--plot",
    "album": "-a/--album",
    "jobs": "-j/--jobs",
}


def subcommand() -> ui.Subcommand:
    command = ui.Subcommand(
        "genreclf", help="classify the genre of items by listening to them"
    )
    parser = command.parser
    parser.usage = USAGE
    parser.add_option(
        "-f", "--force", action="store_true", default=False,
        help="re-analyse items already analysed by the current model (with --learn: "
        "save a head that misses learn.target_precision)",
    )
    parser.add_option(
        "-p", "--pretend", action="store_true", default=False,
        help="show what would change; store and write nothing (with --learn: "
        "evaluate, save nothing)",
    )
    parser.add_option(
        "-w", "--write", dest="write", action="store_true", default=None,
        help="write the genre into the files' tags (default: import.write)",
    )
    parser.add_option(
        "-W", "--nowrite", dest="write", action="store_false",
        help="do not write tags, only update the database",
    )
    parser.add_album_option()
    parser.add_option(
        "--learn", action="store_true", default=False,
        help="learn your genres from the matching items that have some",
    )
    parser.add_option(
        "--base", action="store_true", default=False,
        help="predict the model's own genres even if you learned yours",
    )
    parser.add_option(
        "-j", "--jobs", type="int", default=None,
        help="worker processes (default: config genreclf.jobs, 0 = all cores)",
    )
    parser.add_option(
        "--explain", action="store_true", default=False,
        help="show each genre's probability per analysed window; store nothing "
        "(at most genreclf.explain_limit items)",
    )
    parser.add_option(
        "--stats", action="store_true", default=False,
        help="show the predicted genres, their confidence and the items whose "
        "genres disagree with a confident prediction (no audio is decoded)",
    )
    parser.add_option(
        "--plot", metavar="FILE",
        help="with --explain or --stats: also draw it into FILE (e.g. genres.png)",
    )
    return command


def run_command(settings: Settings, log, lib: Library, opts: Values, args: list[str]) -> None:
    settings = settings.with_jobs(opts.jobs)
    action = chosen_action(opts)
    if opts.base and not head_path().exists():
        raise ui.UserError(
            "genreclf: --base does nothing: no genres were learned (see --learn), "
            "the model's own are used already"
        )
    handlers = {"tag": tag, "learn": learn, "explain": explain, "stats": stats}
    handlers[action](settings, log, lib, opts, args)


def chosen_action(opts: Values) -> str:
    """The action the options ask for; a UserError for options that do not
    go together (rather than ignoring some of them)."""
    actions = [name for name in ("learn", "explain", "stats") if getattr(opts, name)]
    if len(actions) > 1:
        raise ui.UserError(f"genreclf: choose one of {', '.join('--' + a for a in actions)}")
    action = actions[0] if actions else "tag"
    given = {
        "force": opts.force,
        "pretend": opts.pretend,
        "write": opts.write is not None,
        "base": opts.base,
        "plot": opts.plot is not None,
        "album": opts.album,
        "jobs": opts.jobs is not None,
    }
    stray = [name for name, used in given.items() if used and name not in ACTION_OPTIONS[action]]
    if stray:
        where = f"--{action}" if action != "tag" else "tagging (use it with --explain or --stats)"
        raise ui.UserError(
            f"genreclf: {', '.join(OPTION_NAMES[name] for name in stray)} "
            f"does not apply to {where}"
        )
    return action


def tag(settings: Settings, log, lib: Library, opts: Values, args: list[str]) -> None:
    write = ui.should_write(opts.write)
    with TaggingRun(settings, lib, log, base=opts.base) as run:
        try:
            tagger = Tagger(run, write, opts.force, opts.pretend)
            if opts.album:
                tagger.albums(list(lib.albums(args)))
            else:
                tagger.items(list(lib.items(args)))
        except KeyboardInterrupt:
            run.report()
            log.error("interrupted: {}", RESUME)
            raise SystemExit(130) from None
        except (sqlite3.OperationalError, DBAccessError) as exc:
            run.report()
            raise ui.UserError(
                f"genreclf: cannot write to the library database ({exc}); {RESUME}"
            ) from exc
        run.report()
    fail_on_new_failures(run)


def fail_on_new_failures(run: TaggingRun) -> None:
    """Exit status 1 for files that failed this time."""
    problem = run.summary.failure_line()
    if problem:
        raise ui.UserError(problem)


def learn(settings: Settings, log, lib: Library, opts: Values, args: list[str]) -> None:
    """Fit a head on the matching items' genres; report its grouped
    cross-validation; save it in the beets configuration folder."""
    from .learn import LearnError, choose_labels, fit_head

    wanted = settings.learn
    tagged = [item for item in lib.items(args) if item.genres and not ours(item)]
    choice = choose_labels(
        [item.genres for item in tagged], [artist_of(item) for item in tagged],
        wanted.min_examples, wanted.labels, wanted.synonyms,
    )
    chosen = [(item, label) for item, label in zip(tagged, choice.assigned) if label]
    log.info(
        "learning {} genres from {} of {} tagged items: {} (genres that genreclf "
        "set are left out)",
        len(choice.labels), len(chosen), len(tagged), ", ".join(choice.labels) or "none",
    )
    with TaggingRun(settings, lib, log, base=True) as run:
        try:
            _check_labels(choice, wanted.min_examples, log)
            examples = embeddings(run, chosen)
            # Files that could not be analysed may leave a genre short.
            analysed = choose_labels(
                [[e.label] for e in examples], [e.group for e in examples],
                wanted.min_examples, choice.labels,
            )
            _check_labels(analysed, wanted.min_examples, log)
            examples = [e for e in examples if e.label in analysed.labels]
            head, evaluation = fit_head(
                examples, analysed.labels, base_model(run), wanted.synonyms,
                wanted.target_precision,
            )
        except LearnError as exc:
            raise ui.UserError(f"genreclf: cannot learn: {exc}") from exc
        for line in evaluation.lines():
            log.info("{}", line)
        if evaluation.comparison is not None:  # the head against the model itself
            say = log.warning if evaluation.comparison.worse else log.info
            say("{}", evaluation.comparison.line())
        log.info("{}", head.judging_line())
        if opts.pretend:
            log.info("pretend: nothing saved ({} is unchanged)", run.head_path)
            return
        if not evaluation.reached and not opts.force:
            raise ui.UserError(
                f"genreclf: not saved: fewer than {evaluation.target_precision:.0%} of its "
                "genres are right at any min_confidence (learn.target_precision); tag more "
                "tracks, or save it anyway with -f"
            )
        kept = head.save(run.head_path)
        log.info(
            "saved {}{}; `beet genreclf` now predicts these genres (--base: the model's own)",
            run.head_path, f"; previous head kept as {kept}" if kept else "",
        )


def _check_labels(choice: LabelChoice, min_examples: int, log) -> None:
    """Name each genre left out, in one line per reason; LearnError if fewer
    than two genres are left to learn."""
    for left_out in choice.left_out:
        log.info("{}", left_out.line())
    choice.check(min_examples)


def explain(settings: Settings, log, lib: Library, opts: Values, args: list[str]) -> None:
    """Print (and plot) what the model hears in each item; store nothing."""
    from .explain import no_items_text, text_chart

    if opts.plot:
        from .plots import check_plot_path

        check_plot_path(opts.plot)  # before any work
    albums = list(lib.albums(args)) if opts.album else []
    if opts.album:
        items = [item for album in albums for item in album.items()]
    else:
        items = list(lib.items(args))
    limit = settings.explain_limit
    if len(items) > limit:
        raise ui.UserError(
            f"genreclf: --explain shows at most {limit} items and the query matches "
            f"{len(items)}; narrow it or raise genreclf.explain_limit"
        )
    if not items:
        ui.print_(no_items_text(args))
        return
    width = min(ui.term_width(), 100)
    explanations = []
    with TaggingRun(settings, lib, log, base=opts.base, progress=False) as run:
        shown = (
            inspection.album_explanations(run, albums)
            if opts.album
            else inspection.explanations(run, items)
        )
        for explanation in shown:
            ui.print_(text_chart(explanation, width) + "\n")
            explanations.append(explanation)
    if opts.plot and explanations:
        from .plots import explanation_figure, save

        ui.print_(f"plot written to {save(explanation_figure(explanations), opts.plot)}")
    if run.summary.failures:
        raise ui.UserError(
            f"genreclf: {counted(run.summary.failures, 'file')} could not be analysed"
        )


def stats(settings: Settings, log, lib: Library, opts: Values, args: list[str]) -> None:
    """Print (and plot) the stored predictions; no audio is decoded."""
    from .stats import album_stats, album_stats_text, library_stats, stats_judge, stats_text

    if opts.plot:
        from .plots import check_plot_path

        check_plot_path(opts.plot)
    judge = stats_judge(settings, lib, log, base=opts.base)
    if opts.album:
        albums = list(lib.albums(args))
        ui.print_(album_stats_text(album_stats(albums, judge), args) + "\n")
        items = [item for album in albums for item in album.items()]
    else:
        items = list(lib.items(args))
    library = library_stats(items, judge)
    ui.print_(stats_text(library, args))
    if opts.plot and library.analysed:
        from .plots import save, stats_figure

        ui.print_(f"plot written to {save(stats_figure(library), opts.plot)}")
    elif opts.plot:
        ui.print_("no plot: no analysed items")
