"""The engine cache in ``engines/``: keys that change when anything an engine depends on does."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..models import weights_sha256

__all__ = ["ENGINES_DIR", "engine_key", "engine_path", "log"]

ENGINES_DIR = Path(__file__).resolve().parents[2] / "engines"
log = logging.getLogger("rtretinex")


def engine_key(weights: Path, **parts: object) -> str:
    """Short hash of the weights' content plus every other part (profile, precision,
    device, library versions). Any change gives a new key, so a stale engine is never used."""
    payload = {"weights": weights_sha256(weights), **{k: str(v) for k, v in parts.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def engine_path(backend: str, key: str, suffix: str, root: Path = ENGINES_DIR) -> Path:
    """Where the engine of ``backend`` with ``key`` lives in the cache."""
    return Path(root) / f"{backend}-{key}{suffix}"
