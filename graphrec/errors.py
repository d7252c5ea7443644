"""Errors a user can fix. The CLI prints them as one line (no traceback) and exits 2."""


class GraphrecError(Exception):
    """Base of every error that is about the user's input, not a bug."""


class ConfigError(GraphrecError, ValueError):
    """A config value that cannot work. The message names the key, the value and the range."""


class CheckpointError(GraphrecError):
    """A checkpoint that is missing, truncated or not a graphrec state dict."""
