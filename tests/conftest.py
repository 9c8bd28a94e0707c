"""Shared fixtures: small LOL-format folders made from scikit-image's bundled photos."""

from __future__ import annotations

import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from rtretinex.images import write_image
from rtretinex.training.data import simulate_low_light


def interruptible() -> None:
    """``preexec_fn`` for a child a test stops with Ctrl-C (SIGINT): a test run launched in
    the background (``make test &``) has SIGINT ignored, which its children would inherit
    (as a shell's background jobs do) and Python would then keep."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def small_photo(name: str = "astronaut", height: int = 48, width: int = 64) -> np.ndarray:
    """A real photo from scikit-image, resized to height × width (uint8 RGB)."""
    image = getattr(skdata, name)()
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def make_lol_folder(root: Path, count: int = 4, height: int = 48, width: int = 64,
                    suffix: str = ".png") -> Path:
    """Write ``count`` simulated low/high pairs in LOL layout under ``root``."""
    photos = ("astronaut", "chelsea", "coffee", "rocket")
    for side in ("low", "high"):
        (root / side).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        high = small_photo(photos[i % len(photos)], height, width)
        write_image(root / "high" / f"{i + 1}{suffix}", high)
        write_image(root / "low" / f"{i + 1}{suffix}", simulate_low_light(high, seed=i))
    return root


@pytest.fixture
def lol_folder(tmp_path: Path) -> Path:
    return make_lol_folder(tmp_path / "lol")


def write_flat_clip(path: Path, codec: str, width: int, height: int, pix_fmt: str,
                    frames: int = 3, rate: int = 25) -> Path:
    """A few flat grey frames (levels 30, 40, ...) in an unusual codec or pixel format."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for i in range(frames):
            image = np.full((height, width, 3), 30 + 10 * i, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return path
