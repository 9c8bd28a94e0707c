"""Errors that reach the user as one clear line (the CLI prints them and exits non-zero)."""

from __future__ import annotations

__all__ = ["InputError", "OutputError", "UsageError"]


class InputError(ValueError):
    """An input cannot be read: missing, empty, corrupt or of the wrong kind."""


class OutputError(OSError):
    """An output cannot be written where it was asked to go."""


class UsageError(ValueError):
    """The command line asks for something that cannot work (exit code 2)."""
