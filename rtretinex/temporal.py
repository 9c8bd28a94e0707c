"""Temporal smoothing so video does not flicker.

The nets see every frame afresh, so sensor noise and small lighting changes make the
output brightness wobble from frame to frame. ``TemporalSmoother`` keeps an exponential
moving average of the output's brightness on a coarse grid and returns, per cell, the
correction that pulls the current frame towards that average. A cell whose brightness
changes by much more than ``tolerance`` follows at once (motion, a light switched on), and
``SceneCutDetector`` restarts the average at a cut so two shots never blend.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["GRID", "SceneCutDetector", "TemporalSmoother", "coarse_luma"]

# Correlation between consecutive normalised luma thumbnails below which frames are
# treated as different shots (1 = same picture, 0 = unrelated).
CUT_CORRELATION = 0.5
# Cells (width, height) of the brightness grid that is smoothed over time.
GRID = (16, 9)
EPSILON = 1e-3
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def coarse_luma(image: np.ndarray, grid: tuple[int, int] = GRID) -> np.ndarray:
    """Mean luma per grid cell of an RGB image (any dtype), float32 (rows, cols)."""
    cells = cv2.resize(image, grid, interpolation=cv2.INTER_AREA).astype(np.float32)
    return cells @ _LUMA


class SceneCutDetector:
    """Flags a frame whose small luma thumbnail does not correlate with the previous one.

    Thumbnails average sensor noise away, and the correlation ignores global brightness,
    so flicker and a light switched on are not cuts; a new shot is."""

    def __init__(self, threshold: float = CUT_CORRELATION, size: tuple[int, int] = (32, 18)):
        self.threshold, self.size = threshold, size
        self.previous: np.ndarray | None = None

    def thumbnail(self, frame: np.ndarray) -> np.ndarray:
        luma = coarse_luma(frame, self.size).ravel()
        luma -= luma.mean()
        return luma / max(float(np.linalg.norm(luma)), 1e-6)

    def __call__(self, frame: np.ndarray) -> bool:
        thumb = self.thumbnail(frame)
        previous, self.previous = self.previous, thumb
        return previous is not None and float(thumb @ previous) < self.threshold


class TemporalSmoother:
    """EMA of the output's coarse brightness with strength ``strength`` (0 disables)."""

    def __init__(self, strength: float, tolerance: float = 0.2) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
        self.strength, self.tolerance = strength, tolerance
        self.detector = SceneCutDetector()
        self.state: np.ndarray | None = None
        self.cuts = 0

    @property
    def enabled(self) -> bool:
        return self.strength > 0

    def __call__(self, frame: np.ndarray, brightness: np.ndarray) -> np.ndarray:
        """Per-cell gain correction for this frame's output, given the input ``frame``
        (for cut detection) and the output's ``coarse_luma``."""
        cut = self.detector(frame)
        if cut or self.state is None or self.state.shape != brightness.shape:
            self.cuts += int(cut)
            self.state = brightness
            return np.ones_like(brightness)
        change = np.abs(brightness - self.state) / np.maximum(self.state, EPSILON)
        weight = self.strength * np.exp(-np.square(change / self.tolerance))
        self.state = weight * self.state + (1.0 - weight) * brightness
        return self.state / np.maximum(brightness, EPSILON)
