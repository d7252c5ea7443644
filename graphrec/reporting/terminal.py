"""compare's printed table, fitted to a terminal's width: columns with nothing to say left
out, config values shortened, long headers on two lines, then, while still too wide, the
least needed columns left out and named (:func:`fit`). compare.md keeps every column."""
from __future__ import annotations

import shutil
import sys
import textwrap

import pandas as pd

from ..errors import UsageError
from .table import WIDTH, cut

VALUE_WIDTH = 16    # a config value's cell in print (a list, a path)
HEADER_WIDTH = 12   # longer headers go on two lines when the table is too wide


def _short(value) -> str:
    """A config value for print: long floats at 4 significant digits, long text cut."""
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return cut(text, VALUE_WIDTH)
    if len(text) > 8 and any(c in text for c in ".eE"):
        return f"{number:.4g}"
    return text


def _two_lines(title: str) -> list:
    """``speed-up (time to target)`` -> ``speed-up``, ``(time to target)``: split at the space
    or after the dot that leaves the shorter longest line."""
    if len(title) <= HEADER_WIDTH:
        return [title]
    if " (" in title:  # a header's parenthesis on a line of its own
        head, _, tail = title.partition(" (")
        return [head, f"({tail}"]
    cuts = [(title[:i], title[i + 1:]) for i, c in enumerate(title) if c == " "]
    cuts += [(title[:i + 1], title[i + 1:]) for i, c in enumerate(title) if c == "."]
    cuts = [(a, b) for a, b in cuts if a and b]
    return list(min(cuts, key=lambda ab: max(map(len, ab)))) if cuts else [title]


def _numeric(column: str) -> bool:
    return column in ("n", "samples/s", "speed-up", "time to target", "MLPerf score",
                      "speed-up (time to target)", "epoch s") or \
        column.split(" ")[-1].startswith(("Recall@", "NDCG@"))


def render(shown: pd.DataFrame, split: bool = False) -> list:
    """The table as lines: the row number first, numbers right-aligned, text left; with
    ``split`` long headers take two lines."""
    heads = [["#"]] + [_two_lines(c) if split else [c] for c in shown.columns]
    depth = max(map(len, heads))
    heads = [[""] * (depth - len(h)) + h for h in heads]  # bottom-aligned
    columns = [[str(i) for i in shown.index]] + [[str(v) for v in shown[c]] for c in shown.columns]
    right = [True] + [_numeric(c) for c in shown.columns]
    widths = [max(map(len, h + cells)) for h, cells in zip(heads, columns)]

    def line(texts) -> str:
        return "  ".join(t.rjust(w) if r else t.ljust(w)
                         for t, w, r in zip(texts, widths, right)).rstrip()
    return ([line([h[i] for h in heads]) for i in range(depth)]
            + [line([c[i] for c in columns]) for i in range(len(shown))])


def fit(shown: pd.DataFrame, keys: list, width: int = WIDTH) -> tuple:
    """(lines of the printed table, the columns left out to fit ``width``). Columns with
    nothing to show go first (no target set, every run completed); then, while too wide,
    long headers take two lines, and columns are left out: the run folders (when labels or
    config keys name the rows), epoch s, NDCG, MLPerf's score, the speed-up in time to
    target (the times are there), the seeds, config keys another key's value sets
    (``loader.pin_memory`` with ``loader.kind``), the other config keys from the last, the
    paired tests."""
    shown = shown.copy()
    for column in list(shown.columns):
        cells = set(map(str, shown[column]))
        if cells <= {"", "base", "nan"} or (column == "status" and cells == {"completed"}) \
                or (column == "n" and cells == {"1"}):  # the heading says runs and rows
            shown = shown.drop(columns=column)
    config = [k for k in keys if k in shown.columns and k != "sweep.label"]
    for key in config:
        shown[key] = shown[key].map(_short)
    named = "label" in shown.columns or bool(config)
    seeds = [k for k in config if k == "trainer.seed"]  # n says how many
    rest = [k for k in config[::-1] if k not in seeds]
    follows = [k for k in rest if _follows(shown, k, [c for c in config if c != k])]
    order = (["run"] if named else []) + ["epoch s"] + \
        [c for c in shown.columns if c.split(" ")[-1].startswith("NDCG@")] + \
        ["MLPerf score", "speed-up (time to target)"] + seeds + follows + \
        [k for k in rest if k not in follows] + \
        [c for c in shown.columns if c.startswith("vs base")] + ([] if named else ["run"])
    dropped = []
    while True:
        for split in (False, True):
            lines = render(shown, split)
            if max(map(len, lines)) <= width:
                return lines, dropped
        victim = next((c for c in order if c in shown.columns), None)
        if victim is None:
            return lines, dropped
        shown = shown.drop(columns=victim)
        dropped.append(victim)


def _follows(shown: pd.DataFrame, key: str, others: list) -> bool:
    """Whether another shown key's value sets ``key``'s in every row (``loader.pin_memory``
    comes with ``loader.kind``), so ``key`` says nothing more; of two keys that set each
    other, the later column is the one that follows."""
    columns = list(shown.columns)
    for other in others:
        if other not in columns or shown.groupby(other)[key].nunique().max() > 1:
            continue
        if shown.groupby(key)[other].nunique().max() > 1 or \
                columns.index(other) < columns.index(key):
            return True
    return False


def screen_width(asked) -> int:
    """``--width``; else the terminal's columns, or :data:`WIDTH` when not a terminal."""
    if asked is not None:
        if asked < 40:
            raise UsageError(f"--width {asked}: at least 40 characters")
        return asked
    return shutil.get_terminal_size((WIDTH, 24)).columns if sys.stdout.isatty() else WIDTH


def say(text: str, width: int, indent: str = "") -> None:
    """Print prose within ``width``, its later lines indented two more."""
    print(textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                        break_on_hyphens=False, break_long_words=False))
