"""The frame that travels through the pipeline: pixels plus where they sit in time."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["VideoFrame"]


@dataclass
class VideoFrame:
    """One decoded frame: uint8 pixels in ``pixel_format`` (``rgb24``: (H, W, 3);
    ``yuv420p``: one (H·3/2, W) buffer of the Y, U and V planes, see ``pixels``), its
    timestamp (``pts`` in ``time_base``), how many frames a live source dropped just before
    it, and when it was captured (``time.perf_counter``, for latency)."""

    image: np.ndarray
    index: int
    pts: int | None = None
    time_base: Fraction | None = None
    rotation: int = 0
    captured_at: float = 0.0
    dropped_before: int = 0
    pixel_format: str = "rgb24"

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or None when the source gave no timestamp."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)

    def with_image(self, image: np.ndarray, pixel_format: str | None = None) -> VideoFrame:
        """The same moment in time with other pixels (the enhanced picture), by default in
        the same pixel format."""
        return VideoFrame(image, self.index, self.pts, self.time_base, self.rotation,
                          self.captured_at, self.dropped_before,
                          pixel_format or self.pixel_format)
