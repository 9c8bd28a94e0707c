"""Errors that reach the user as one clear line (the CLI prints them and exits non-zero)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["InputError", "OutputError", "UsageError", "existing", "report"]


class InputError(ValueError):
    """An input cannot be read: missing, empty, corrupt or of the wrong kind."""


class OutputError(OSError):
    """An output cannot be written where it was asked to go."""


class UsageError(ValueError):
    """The command line asks for something that cannot work (exit code 2)."""


def existing(path: str | Path) -> Path:
    """``path`` as a Path; raise InputError("input not found: ...") if nothing is there."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    return path


def report(error: BaseException | str, code: int | None = None) -> int:
    """Write one ``error:`` line on stderr and return the exit code: ``code`` if given,
    else 2 for a UsageError and 1 for anything else."""
    sys.stderr.write(f"error: {error}\n")
    if code is not None:
        return code
    return 2 if isinstance(error, UsageError) else 1
