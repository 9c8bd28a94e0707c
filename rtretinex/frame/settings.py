"""How frames are enhanced: the user's settings (``EnhanceSettings``) and their defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import UsageError

__all__ = ["DEFAULT_DENOISE", "DEFAULT_SMOOTH", "DEFAULT_TEMPORAL_DENOISE", "EXPOSURE_RANGE",
           "MODES", "EnhanceSettings", "default_scale"]

MODES = ("quality", "fast")
# Video defaults: auto-exposure time constant (s) and temporal denoise strength.
DEFAULT_SMOOTH = 0.5
DEFAULT_TEMPORAL_DENOISE = 1.0
# Spatial denoise defaults: fast mode works on the raw input, so it needs a stronger denoise
# than the nets' own R (chosen on the LOL validation split).
DEFAULT_DENOISE = {"quality": 0.5, "fast": 2.0}
# Exposure compensation (stops) a user may ask for, either way.
EXPOSURE_RANGE = 3.0
# Fast mode aims the nets at about this many pixels (107×60; 720p → 1/12, 1080p → 1/18): a
# few ms on two CPU cores, and the scale matters little to the result.
FAST_TARGET_PIXELS = 6400


def default_scale(height: int, width: int) -> int:
    """Smallest integer downscale that brings the nets' input to at most FAST_TARGET_PIXELS."""
    return max(1, math.ceil(math.sqrt(height * width / FAST_TARGET_PIXELS)))


@dataclass(frozen=True, kw_only=True)
class EnhanceSettings:
    """How frames are enhanced. ``mode`` None is chosen per stream (``for_stream``);
    ``scale`` None is picked from the frame size; ``denoise`` None is the mode's default.
    ``smooth`` (auto-exposure time constant, seconds), ``temporal_denoise`` and
    ``nets_every`` (fast mode: run the nets on every N-th frame, None: as often as they
    cost about ``schedule.NET_BUDGET_MS`` of CPU a frame) act on video only; ``exposure``
    (stops, ±EXPOSURE_RANGE) brightens or darkens the result, never below the input."""

    mode: str | None = None
    scale: int | None = None
    smooth: float = DEFAULT_SMOOTH
    denoise: float | None = None
    temporal_denoise: float = DEFAULT_TEMPORAL_DENOISE
    nets_every: int | None = None
    exposure: float = 0.0

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.scale is not None and self.scale < 1:
            raise UsageError(f"--scale must be an integer >= 1, got {self.scale}")
        if self.smooth < 0:
            raise UsageError(f"--smooth must be >= 0 seconds, got {self.smooth}")
        if self.denoise is not None and self.denoise < 0:
            raise UsageError(f"--denoise must be >= 0, got {self.denoise}")
        if self.temporal_denoise < 0:
            raise UsageError(f"--temporal-denoise must be >= 0, got {self.temporal_denoise}")
        if self.nets_every is not None and self.nets_every < 1:
            raise UsageError(f"--nets-every must be a number of frames >= 1, got "
                             f"{self.nets_every}")
        if abs(self.exposure) > EXPOSURE_RANGE:
            raise UsageError(f"--exposure must be within ±{EXPOSURE_RANGE} stops, "
                             f"got {self.exposure}")

    def for_stream(self, video: bool) -> EnhanceSettings:
        """Settings with the mode and spatial denoise fixed: quality for images, fast for
        video on every device (it alone has the night corrections, and it scores higher on
        camera-like clips too: docs/history.md)."""
        mode = self.mode or ("fast" if video else "quality")
        denoise = DEFAULT_DENOISE[mode] if self.denoise is None else self.denoise
        return replace(self, mode=mode, denoise=denoise)

    def scale_for(self, height: int, width: int) -> int:
        """The fast mode's downscale for a frame of this size; 1 in quality mode."""
        if self.mode == "quality":
            return 1
        return self.scale or default_scale(height, width)

    @property
    def compensation(self) -> float:
        """The exposure compensation as a factor on the light: 2 to the power of its stops."""
        return 2.0 ** self.exposure

    def with_exposure(self, stops: float) -> EnhanceSettings:
        """These settings with the exposure compensation moved by ``stops`` (kept within
        ±EXPOSURE_RANGE)."""
        value = min(max(self.exposure + stops, -EXPOSURE_RANGE), EXPOSURE_RANGE)
        return replace(self, exposure=round(value, 3))
