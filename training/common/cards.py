"""Formatting both model cards use."""

from __future__ import annotations


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(x) for x in row) + " |" for row in rows])


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"
