"""The README cannot drift from the code: its configuration reference lists
exactly the plugin's settings, and it names every option of ``beet genreclf``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from beetsplug.genreclf.commands import subcommand
from beetsplug.genreclf.settings import DEFAULTS

README = Path(__file__).resolve().parents[1] / "README.md"
CONFIGURATION_HEADING = "## Configuration"
REFERENCE_ENTRY = re.compile(r"^- \*\*([a-z_.]+)\*\*", re.MULTILINE)  # "- **learn.map**: ..."


def flattened_keys(defaults: dict[str, Any], prefix: str = "") -> set[str]:
    """Setting names as the README writes them: a group of settings (a
    non-empty mapping such as ``learn``) becomes ``learn.min_examples``; a
    setting whose value is a mapping (``map: {}``) stays one key."""
    keys = set()
    for name, default in defaults.items():
        if isinstance(default, dict) and default:
            keys |= flattened_keys(default, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same level."""
    start = text.index(heading + "\n")
    level = heading.split(" ")[0] + " "
    end = text.find("\n" + level, start + len(heading))
    return text[start : end if end != -1 else len(text)]


def documented_keys(readme: str) -> set[str]:
    return set(REFERENCE_ENTRY.findall(section(readme, CONFIGURATION_HEADING)))


def command_options() -> list[str]:
    """Every option string ``beet genreclf --help`` lists (but --help itself)."""
    parser = subcommand().parser
    return [
        flag
        for option in parser.option_list
        for flag in option._short_opts + option._long_opts
        if flag not in ("-h", "--help")
    ]


@pytest.mark.parametrize(
    "defaults, keys",
    [
        ({"auto": True}, {"auto"}),
        ({"map": {}}, {"map"}),
        ({"learn": {"map": {}, "labels": []}}, {"learn.map", "learn.labels"}),
        ({"dask": {"scheduler": "local", "path_map": {}}}, {"dask.scheduler", "dask.path_map"}),
    ],
)
def test_flattened_keys(defaults: dict[str, Any], keys: set[str]) -> None:
    assert flattened_keys(defaults) == keys


def test_reference_entries_are_read_from_the_configuration_section() -> None:
    text = "# t\n- **stray**: x\n## Configuration\n- **auto**: x\n- **learn.map**: y\n## Next\n- **no**\n"
    assert documented_keys(text) == {"auto", "learn.map"}


def test_every_setting_is_documented_and_every_documented_key_exists() -> None:
    documented = documented_keys(README.read_text(encoding="utf-8"))
    settings = flattened_keys(DEFAULTS)
    assert sorted(settings - documented) == [], "settings missing from the README's reference"
    assert sorted(documented - settings) == [], "README documents keys the plugin does not have"


def test_every_command_option_appears_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    options = command_options()
    assert {"--force", "-a", "--album", "--plot"} <= set(options)  # the real parser was read
    missing = [flag for flag in options if not re.search(rf"(?<![\w-]){flag}(?![\w-])", readme)]
    assert missing == [], "beet genreclf options the README never mentions"
