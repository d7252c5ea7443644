"""The one error a data source raises for bad input: it names the file and, where it applies,
the row, so the user can open the file and look."""
from __future__ import annotations

from ..errors import GraphrecError


class DataError(GraphrecError, ValueError):
    """Bad or missing input data (never a bug in graphrec)."""
