"""Temporal smoothing of the enhanced illumination so video does not flicker.

``smooth_illumination`` is an exponential moving average; ``SceneCutDetector`` spots cuts
from small luma thumbnails so the average restarts there instead of smearing two shots.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["SceneCutDetector", "TemporalSmoother", "smooth_illumination"]

# Correlation between consecutive normalised luma thumbnails below which frames are
# treated as different shots (1 = same picture, 0 = unrelated).
CUT_CORRELATION = 0.5


def smooth_illumination(previous: np.ndarray | None, current: np.ndarray,
                        strength: float) -> np.ndarray:
    """EMA step: ``strength`` of the previous state plus the rest of the current map."""
    if previous is None or previous.shape != current.shape or strength <= 0:
        return current
    return cv2.addWeighted(previous, strength, current, 1.0 - strength, 0.0)


class SceneCutDetector:
    """Flags a frame whose small luma thumbnail does not correlate with the previous one.

    Thumbnails average sensor noise away, and the correlation ignores global brightness,
    so flicker and a light switched on are not cuts; a new shot is."""

    def __init__(self, threshold: float = CUT_CORRELATION, size: tuple[int, int] = (32, 18)):
        self.threshold, self.size = threshold, size
        self.previous: np.ndarray | None = None

    def thumbnail(self, frame: np.ndarray) -> np.ndarray:
        small = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32).ravel()
        luma -= luma.mean()
        return luma / max(float(np.linalg.norm(luma)), 1e-6)

    def __call__(self, frame: np.ndarray) -> bool:
        thumb = self.thumbnail(frame)
        previous, self.previous = self.previous, thumb
        return previous is not None and float(thumb @ previous) < self.threshold


class TemporalSmoother:
    """Smooths Î over frames with strength ``strength`` (0 disables); resets on cuts."""

    def __init__(self, strength: float) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
        self.strength = strength
        self.detector = SceneCutDetector()
        self.state: np.ndarray | None = None
        self.cuts = 0

    def __call__(self, frame: np.ndarray, enhanced_illumination: np.ndarray) -> np.ndarray:
        """Return the smoothed Î for ``frame`` (the input frame drives cut detection)."""
        if self.strength == 0:
            return enhanced_illumination
        if self.detector(frame):
            self.state = None
            self.cuts += 1
        self.state = smooth_illumination(self.state, enhanced_illumination, self.strength)
        return self.state
