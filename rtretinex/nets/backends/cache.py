"""The engine cache: where built engines live, and keys that change when anything an engine
depends on does.

Location: ``$RTRETINEX_ENGINES`` if set; else ``engines/`` of a source checkout (the folder
beside ``pyproject.toml``); else the user cache (``$XDG_CACHE_HOME/rtretinex/engines``,
``~/.cache/rtretinex/engines``), never inside an installed package.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from ..weightfile import weights_sha256

__all__ = ["ENGINES_DIR", "engine_key", "engine_path", "engines_dir", "log"]


def engines_dir() -> Path:
    """The engine cache folder for this install (see the module docstring)."""
    if os.environ.get("RTRETINEX_ENGINES"):
        return Path(os.environ["RTRETINEX_ENGINES"])
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file() and (checkout / "rtretinex").is_dir():
        return checkout / "engines"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "rtretinex" / "engines"


ENGINES_DIR = engines_dir()
log = logging.getLogger("rtretinex")


def engine_key(weights: Path, **parts: object) -> str:
    """Short hash of the weights' content plus every other part (profile, precision,
    device, library versions). Any change gives a new key, so a stale engine is never used."""
    payload = {"weights": weights_sha256(weights), **{k: str(v) for k, v in parts.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def engine_path(backend: str, key: str, suffix: str, root: Path = ENGINES_DIR) -> Path:
    """Where the engine of ``backend`` with ``key`` lives in the cache."""
    return Path(root) / f"{backend}-{key}{suffix}"
