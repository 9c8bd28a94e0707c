"""Temporal smoothing of the enhanced illumination so video does not flicker.

``smooth_illumination`` is an exponential moving average; ``SceneCutDetector`` spots cuts
from a small luma histogram so the average restarts there instead of smearing two shots.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["SceneCutDetector", "TemporalSmoother", "smooth_illumination"]

# Half the L1 distance between normalised 32-bin luma histograms above which frames are
# treated as different shots (0 = identical, 1 = disjoint).
CUT_THRESHOLD = 0.5


def smooth_illumination(previous: np.ndarray | None, current: np.ndarray,
                        strength: float) -> np.ndarray:
    """EMA step: ``strength`` of the previous state plus the rest of the current map."""
    if previous is None or previous.shape != current.shape or strength <= 0:
        return current
    return cv2.addWeighted(previous, strength, current, 1.0 - strength, 0.0)


class SceneCutDetector:
    """Flags a frame whose luma histogram differs a lot from the previous frame's."""

    def __init__(self, threshold: float = CUT_THRESHOLD, bins: int = 32) -> None:
        self.threshold, self.bins = threshold, bins
        self.previous: np.ndarray | None = None

    def histogram(self, frame: np.ndarray) -> np.ndarray:
        small = cv2.resize(frame, (64, 36), interpolation=cv2.INTER_AREA)
        luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        hist = cv2.calcHist([luma], [0], None, [self.bins], [0, 256]).ravel()
        return hist / max(hist.sum(), 1.0)

    def __call__(self, frame: np.ndarray) -> bool:
        hist = self.histogram(frame)
        previous, self.previous = self.previous, hist
        return previous is not None and 0.5 * float(np.abs(hist - previous).sum()) > self.threshold


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
