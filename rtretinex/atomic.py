"""One way to write any file the project produces: never a half-written file at the target.

``AtomicFile`` hands out a unique hidden temporary path beside the target (so two runs
writing the same target never share one); ``commit`` flushes it to disk and renames it into
place, ``discard`` removes it. ``atomic_write`` is the context-manager form: the target is
replaced only when the block finishes without an exception.

A writer holds a lock on its temporary file while it lives. A process killed outright
(SIGKILL, a lost cluster node) cannot remove its temporary file, so the next writer of the
same target removes every temporary file of it that nobody holds.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["AtomicFile", "atomic_write", "atomic_write_bytes"]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (and directories on some systems) refuse fsync
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """Temporary files beside ``targets`` (one token, so ``a.xml``/``a.bin`` stay a pair),
    published together by ``commit`` (in reverse order: the first target last)."""

    def __init__(self, *targets: Path | str) -> None:
        self.targets = [Path(t) for t in targets]
        for target in self.targets:
            _remove_abandoned(target)
        token = secrets.token_hex(4)
        self.tmps = [_temporary(t, token) for t in self.targets]
        self.locks = []
        for tmp in self.tmps:  # created and locked now; writers open them by name later
            self.locks.append(os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644))
            fcntl.flock(self.locks[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.done = False

    @property
    def tmp(self) -> Path:
        """The temporary path of the first target."""
        return self.tmps[0]

    def commit(self) -> None:
        """fsync the temporary files, rename them over the targets, fsync the folder."""
        for tmp, target in reversed(list(zip(self.tmps, self.targets))):
            _fsync(tmp)
            os.replace(tmp, target)
        _fsync(self.targets[0].parent)
        self.done = True
        self._unlock()

    def discard(self) -> None:
        """Remove whatever was written (safe to call twice, or after commit)."""
        if not self.done:
            for tmp in self.tmps:
                if os.path.lexists(tmp):  # (unlink fails on a read-only disk even if absent)
                    tmp.unlink()
        self.done = True
        self._unlock()

    def _unlock(self) -> None:
        for fd in self.locks:
            os.close(fd)
        self.locks = []


def _temporary(target: Path, token: str) -> Path:
    return target.with_name(f".{target.stem}.{token}.partial{target.suffix}")


def _remove_abandoned(target: Path) -> None:
    """Remove the temporary files of ``target`` whose writer is gone (no lock held)."""
    for tmp in target.parent.glob(_temporary(target, "*").name):
        try:
            fd = os.open(tmp, os.O_WRONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            tmp.unlink(missing_ok=True)
        except OSError:  # a live writer holds it
            pass
        finally:
            os.close(fd)


@contextmanager
def atomic_write(*targets: Path | str) -> Iterator[AtomicFile]:
    """Write to ``AtomicFile.tmps`` inside the block; published only if the block succeeds."""
    handle = AtomicFile(*targets)
    try:
        yield handle
        handle.commit()
    finally:
        handle.discard()


def atomic_write_bytes(target: Path | str, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_write(target) as handle:
        handle.tmp.write_bytes(data)
