"""The weights file: where the shipped one lies, its content hash, and the error a bad one
raises. Kept apart from ``models`` so that the OpenVINO path, which runs a cached engine,
starts without importing torch (about a second of a three-second start)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["DEFAULT_WEIGHTS", "WeightsError", "weights_sha256"]

DEFAULT_WEIGHTS = Path(__file__).parents[1] / "weights" / "retinexnet_lol.pt"


class WeightsError(ValueError):
    """A weights file is missing, corrupt or does not match the architecture."""


def weights_sha256(path: Path) -> str:
    """Content hash of a weights file (used in engine cache keys)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
