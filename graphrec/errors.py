"""Errors a user can fix, all of them here, and how every command reports them.

A :class:`GraphrecError` is about the user's input (a config key, a file, a command-line
option), never a bug: every command prints it as ``error: <one line>`` on stderr and exits
:data:`EXIT_USER` (2), with no traceback. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import functools
import sys

EXIT_USER = 2


class GraphrecError(Exception):
    """Base of every error that is about the user's input, not a bug."""


class ConfigError(GraphrecError, ValueError):
    """A config value that cannot work. The message names the key, the value and the range."""


class DataError(GraphrecError, ValueError):
    """Bad or missing input data: the message names the file and, where it applies, the row,
    so the user can open the file and look."""


class CheckpointError(GraphrecError):
    """A checkpoint that is missing, truncated or not a graphrec state dict."""


class UsageError(GraphrecError):
    """A command-line argument that cannot work (bench, compare, dashboard): the message
    names the option and what to pass instead."""


def one_line(exc) -> str:
    """An exception's message (or any text) on one line, its lines joined with '; '."""
    parts = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(parts) or type(exc).__name__


def report(exc: GraphrecError) -> int:
    """Print ``error: <one line>`` on stderr; the exit code to end with."""
    print(f"error: {one_line(exc)}", file=sys.stderr, flush=True)
    return EXIT_USER


def run_main(main, argv=None) -> int:
    """Run a command's ``main(argv)``; its exit code (0 unless it returns an int), or
    :data:`EXIT_USER` after :func:`report` for a GraphrecError. Other errors propagate."""
    try:
        result = main(argv)
    except GraphrecError as exc:
        return report(exc)
    return result if isinstance(result, int) else 0


def command(main):
    """``main(argv) -> int`` that reports a GraphrecError (:func:`run_main`)."""
    @functools.wraps(main)
    def wrapper(argv=None) -> int:
        return run_main(main, argv)
    return wrapper
