"""The per-frame core: decompose → enhance → smooth → denoise → compose.

Quality mode runs both nets on the whole frame and returns denoise(R) ∘ Î. Fast mode runs
them on a frame downscaled by an integer factor, turns the low-res result into a gain map
G = Î / max(I, ε), upsamples G bilinearly and returns denoise(S) ∘ G at full resolution
(DESIGN.md section 2): the full-resolution work is a few cheap per-pixel passes.
In both modes Î is smoothed over time (temporal.py) before it is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .backends import Backend
from .denoise import denoise
from .errors import UsageError
from .temporal import TemporalSmoother

__all__ = ["MODES", "EnhanceSettings", "Enhancer", "default_scale"]

MODES = ("quality", "fast")
# Fast mode aims the nets at about this many pixels (160×90): measured real time on 2 cores.
FAST_TARGET_PIXELS = 160 * 90
EPSILON = 1e-3
# Bilateral colour sigma at strength 1: R is in [0, 1]; S is uint8 and far less noisy in
# absolute terms (its noise is amplified only later, by the gain).
R_SIGMA, S_SIGMA = 0.1, 8.0


def default_scale(height: int, width: int) -> int:
    """Smallest integer downscale that brings the nets' input to about 160×90 pixels."""
    return max(1, math.ceil(math.sqrt(height * width / FAST_TARGET_PIXELS)))


@dataclass(frozen=True)
class EnhanceSettings:
    """How frames are enhanced; ``scale`` None means picked from the frame size."""

    mode: str = "quality"
    scale: int | None = None
    smooth: float = 0.0
    denoise: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.scale is not None and self.scale < 1:
            raise UsageError(f"--scale must be an integer >= 1, got {self.scale}")
        if not 0.0 <= self.smooth < 1.0:
            raise UsageError(f"--smooth must be in [0, 1), got {self.smooth}")
        if self.denoise < 0:
            raise UsageError(f"--denoise must be >= 0, got {self.denoise}")


def _compose(image: np.ndarray, gain: np.ndarray, scale: float) -> np.ndarray:
    """image (H, W, 3) times gain (H, W) times scale → uint8 RGB, saturated."""
    product = cv2.multiply(image.astype(np.float32, copy=False), cv2.merge([gain, gain, gain]),
                           scale=scale)
    return cv2.convertScaleAbs(product)


class Enhancer:
    """Enhances uint8 RGB frames in order; keeps the temporal state of one stream."""

    def __init__(self, backend: Backend, settings: EnhanceSettings | None = None) -> None:
        self.backend = backend
        self.settings = settings or EnhanceSettings()
        self.smoother = TemporalSmoother(self.settings.smooth)

    def scale_for(self, height: int, width: int) -> int:
        if self.settings.mode == "quality":
            return 1
        return self.settings.scale or default_scale(height, width)

    def reset(self) -> None:
        """Forget the temporal state (call between unrelated images or streams)."""
        self.smoother = TemporalSmoother(self.settings.smooth)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = self.scale_for(height, width)
        strength = self.settings.denoise
        if scale == 1:
            d = self.backend(frame)
            i_hat = self.smoother(frame, d.enhanced_illumination)
            gain = i_hat / np.maximum(d.illumination, EPSILON)
            reflectance = denoise(d.reflectance, gain, strength, R_SIGMA)
            return _compose(reflectance, i_hat, 255.0)
        small = cv2.resize(frame, (max(1, width // scale), max(1, height // scale)),
                           interpolation=cv2.INTER_AREA)
        d = self.backend(small)
        i_hat = self.smoother(small, d.enhanced_illumination)
        gain_small = i_hat / np.maximum(d.illumination, EPSILON)
        gain = cv2.resize(gain_small, (width, height), interpolation=cv2.INTER_LINEAR)
        return _compose(denoise(frame, gain, strength, S_SIGMA), gain, 1.0)
