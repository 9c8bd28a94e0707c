"""The per-frame core: decompose → enhance → compose, at full resolution or in fast mode.

Quality mode runs both nets on the whole frame and returns R ∘ Î. Fast mode runs them on
a frame downscaled by an integer factor, turns the low-res result into a gain map
G = Î / max(I, ε), upsamples G bilinearly and returns S ∘ G at full resolution
(DESIGN.md section 2): the full-resolution work is a few cheap per-pixel passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .backends import Backend
from .errors import UsageError

__all__ = ["MODES", "EnhanceSettings", "Enhancer", "default_scale"]

MODES = ("quality", "fast")
# Fast mode aims the nets at about this many pixels (160×90): measured real time on 2 cores.
FAST_TARGET_PIXELS = 160 * 90
EPSILON = 1e-3


def default_scale(height: int, width: int) -> int:
    """Smallest integer downscale that brings the nets' input to about 160×90 pixels."""
    return max(1, math.ceil(math.sqrt(height * width / FAST_TARGET_PIXELS)))


@dataclass(frozen=True)
class EnhanceSettings:
    """How frames are enhanced; ``scale`` None means picked from the frame size."""

    mode: str = "quality"
    scale: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.scale is not None and self.scale < 1:
            raise UsageError(f"--scale must be an integer >= 1, got {self.scale}")


def _compose(reflectance: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """reflectance (H, W, 3) float in [0, 1] times gain (H, W) → uint8 RGB."""
    out = reflectance * (gain * 255.0)[..., None]
    return np.clip(out + 0.5, 0.0, 255.0).astype(np.uint8)


class Enhancer:
    """Enhances uint8 RGB frames one at a time with a backend."""

    def __init__(self, backend: Backend, settings: EnhanceSettings | None = None) -> None:
        self.backend = backend
        self.settings = settings or EnhanceSettings()

    def scale_for(self, height: int, width: int) -> int:
        if self.settings.mode == "quality":
            return 1
        return self.settings.scale or default_scale(height, width)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = self.scale_for(height, width)
        if scale == 1:
            d = self.backend(frame)
            return _compose(d.reflectance, d.enhanced_illumination)
        small_size = (max(1, width // scale), max(1, height // scale))
        d = self.backend(cv2.resize(frame, small_size, interpolation=cv2.INTER_AREA))
        gain = d.enhanced_illumination / np.maximum(d.illumination, EPSILON)
        gain_full = cv2.resize(gain, (width, height), interpolation=cv2.INTER_LINEAR)
        return _compose(frame.astype(np.float32) * (1.0 / 255.0), gain_full)
