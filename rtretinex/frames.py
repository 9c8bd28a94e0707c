"""The frame that travels through the pipeline: pixels plus where they sit in time."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["VideoFrame"]


@dataclass
class VideoFrame:
    """One decoded frame: uint8 RGB (H, W, 3), its timestamp (``pts`` in ``time_base``),
    how many frames a live source dropped just before it, and when it was captured
    (``time.perf_counter``, for latency)."""

    image: np.ndarray
    index: int
    pts: int | None = None
    time_base: Fraction | None = None
    rotation: int = 0
    captured_at: float = 0.0
    dropped_before: int = 0

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or None when the source gave no timestamp."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)

    def with_image(self, image: np.ndarray) -> VideoFrame:
        """The same moment in time with other pixels (the enhanced picture)."""
        return VideoFrame(image, self.index, self.pts, self.time_base, self.rotation,
                          self.captured_at, self.dropped_before)
