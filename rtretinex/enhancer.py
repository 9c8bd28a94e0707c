"""The per-frame core: decompose → enhance → denoise → compose → smooth over time.

Quality mode runs both nets on the whole frame and returns denoise(R) ∘ Î. Fast mode runs
them on a frame downscaled by an integer factor, turns the low-res result into a per-channel
gain map G = (R ∘ Î) / max(S, ε) (what the nets did to each low-res pixel: brightening and
colour correction), upsamples G bilinearly and returns denoise(S) ∘ G at full resolution
(DESIGN.md section 2): the full-resolution work is a few cheap per-pixel passes. On the
LOL validation pairs this per-channel gain scores 1.8 dB higher than the illumination-only
gain Î / I (see README).
In both modes the output's coarse brightness is smoothed over time (temporal.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .backends import Backend
from .denoise import denoise_frame, denoise_reflectance
from .errors import UsageError
from .temporal import TemporalSmoother, coarse_luma

__all__ = ["DEFAULT_DENOISE", "DEFAULT_SMOOTH", "MODES", "EnhanceSettings", "Enhancer",
           "default_scale"]

MODES = ("quality", "fast")
# Defaults of run_stream.py and the benchmarks (chosen on the LOL validation split: fast
# mode works on the raw input, so it needs a stronger denoise than the nets' own R).
DEFAULT_SMOOTH = 0.6
DEFAULT_DENOISE = {"quality": 0.5, "fast": 2.0}
# Fast mode aims the nets at about this many pixels (107×60; 720p → 1/12, 1080p → 1/18):
# ~7 ms on the 2-core CPU here. On LOL the scale matters little (1/4: 19.52 dB, 1/7: 19.16).
FAST_TARGET_PIXELS = 6400
EPSILON = 1e-3
# Fast mode's gain divides by the low-res input: dark pixels below this level are treated
# as this level, which caps the gain (at ~127× for a fully bright output).
INPUT_FLOOR = 2.0 / 255.0
# Bilateral colour sigma on R (in [0, 1]) at strength 1.
R_SIGMA = 0.1


def default_scale(height: int, width: int) -> int:
    """Smallest integer downscale that brings the nets' input to at most FAST_TARGET_PIXELS."""
    return max(1, math.ceil(math.sqrt(height * width / FAST_TARGET_PIXELS)))


@dataclass(frozen=True)
class EnhanceSettings:
    """How frames are enhanced; ``scale`` None means picked from the frame size."""

    mode: str = "quality"
    scale: int | None = None
    smooth: float = 0.0
    denoise: float | None = 0.0  # None: the mode's default (DEFAULT_DENOISE)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.scale is not None and self.scale < 1:
            raise UsageError(f"--scale must be an integer >= 1, got {self.scale}")
        if not 0.0 <= self.smooth < 1.0:
            raise UsageError(f"--smooth must be in [0, 1), got {self.smooth}")
        if self.denoise is None:
            object.__setattr__(self, "denoise", DEFAULT_DENOISE[self.mode])
        if self.denoise < 0:
            raise UsageError(f"--denoise must be >= 0, got {self.denoise}")


def _three(channel: np.ndarray) -> np.ndarray:
    return cv2.merge([channel, channel, channel])


def _compose(image: np.ndarray, gain3: np.ndarray, scale: float) -> np.ndarray:
    """image (H, W, 3) × gain3 (H, W, 3, float32) × scale → uint8 RGB, rounded and saturated
    (one OpenCV pass, no float copy of the frame)."""
    return cv2.multiply(image, gain3, scale=scale, dtype=cv2.CV_8U)


def _downscale(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average ``frame`` to ``size`` (w, h). OpenCV's area resize is ~4× faster for an
    integer factor, so a non-integer one is split: first by the largest integer factor that
    divides both sides, then the small rest (720p → 106×60: 0.9 instead of 2.5 ms)."""
    height, width = frame.shape[:2]
    if width % size[0] or height % size[1]:
        step = max((k for k in range(2, width // size[0] // 2 + 1)
                    if width % k == 0 and height % k == 0), default=1)
        if step > 1:
            frame = cv2.resize(frame, (width // step, height // step),
                               interpolation=cv2.INTER_AREA)
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


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
        if scale == 1:
            return self._quality(frame)
        return self._fast(frame, scale)

    def _quality(self, frame: np.ndarray) -> np.ndarray:
        """denoise(R) ∘ Î at full resolution, then the temporal correction."""
        d, strength = self.backend(frame), self.settings.denoise
        reflectance = d.reflectance
        if strength > 0:
            gain = d.enhanced_illumination / np.maximum(d.illumination, EPSILON)
            reflectance = denoise_reflectance(reflectance, gain, strength, R_SIGMA)
        out = _compose(reflectance, _three(d.enhanced_illumination), 255.0)
        if not self.smoother.enabled:
            return out
        correction = self.smoother(frame, coarse_luma(out))
        return _compose(out, cv2.resize(_three(correction), frame.shape[1::-1]), 1.0)

    def _fast(self, frame: np.ndarray, scale: int) -> np.ndarray:
        """denoise(S) ∘ G with the gain map G from the low-res nets; the temporal correction
        is folded into G at low resolution, so full resolution sees one resize and one
        multiply (plus the denoise)."""
        height, width = frame.shape[:2]
        size, strength = (width, height), self.settings.denoise
        small = _downscale(frame, (max(1, width // scale), max(1, height // scale)))
        d = self.backend(small)
        output_small = d.reflectance * d.enhanced_illumination[..., None]
        gain3_small = output_small / np.maximum(small * np.float32(1 / 255), INPUT_FLOOR)
        if self.smoother.enabled:
            correction = self.smoother(small, coarse_luma(output_small))
            gain3_small *= cv2.resize(correction, small.shape[1::-1])[..., None]
        gain3 = cv2.resize(gain3_small, size, interpolation=cv2.INTER_LINEAR)
        frame = denoise_frame(frame, gain3_small.mean(axis=2), strength)
        return _compose(frame, gain3, 1.0)
