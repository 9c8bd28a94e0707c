"""Time in video: scene cuts, and auto-exposure that keeps the output's brightness steady.

The nets judge every frame afresh, so sensor noise and a flickering light make their
brightness decision wobble. ``AutoExposure`` treats that decision like a camera's
auto-exposure: it works in stops (log2 of the output's mean luma),
holds still inside a dead band (±0.1 stop: noise, a ±15 % flicker is ±0.2 stop and mostly
averaged away), follows larger changes with a time constant in seconds (α = 1 − exp(−Δt/τ)
from the frames' timestamps, so 24 and 60 fps behave alike), and jumps at once when the
light on the input changes by more than ``LIGHT_JUMP_STOPS`` from one frame to the next (a
light switched on or off; measured in linear light, so a doubled light is one stop),
when the nets' decision changes by more than a stop, or at a scene cut.
``SceneCutDetector`` and ``LightSwitch`` are the one cut signal and the one change-of-light
signal, shared by everything that follows a stream (``decisions.Moment``).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .denoise import noise_sigma

__all__ = ["AutoExposure", "Followed", "LightSwitch", "SceneCutDetector", "follow_share",
           "light_stops"]

# Correlation between consecutive normalised luma thumbnails below which frames are
# treated as different shots (1 = same picture, 0 = unrelated).
CUT_CORRELATION = 0.5
# A thumbnail whose cells vary less than this many times the noise expected in a cell (the
# luma's noise over √(pixels per cell)) is flat: a black frame, a covered lens, a blank
# wall. Its correlation is noise, so no cut is called next to a flat frame (a picture
# appearing from black is followed by the motion test and the light-jump rule instead).
FLAT_NOISE = 3.0
DEAD_BAND_STOPS = 0.1
JUMP_STOPS = 1.0
LIGHT_JUMP_STOPS = 0.75
# sRGB-encoded luma to linear light, near enough for a frame's mean.
GAMMA = 2.2
# Frame interval assumed when a frame has no timestamp.
DEFAULT_FRAME_SECONDS = 1 / 30


def light_stops(mean_luma: float) -> float:
    """The light on an input, in stops of linear light, from its mean sRGB-encoded luma
    (any scale): a doubled light is one stop more."""
    return GAMMA * math.log2(max(mean_luma, 1e-4))


class LightSwitch:
    """Follows the light on the input (``light_stops`` of a frame's mean luma) for two
    signals: ``jumped``, it moved by more than LIGHT_JUMP_STOPS since the last frame (what
    is judged on the frame itself, the black level and the exposure, starts anew at once, so
    a flash or a strobe is judged frame by frame); ``held``, the last frame's jump is still
    there (a light switched on or off, a picture appearing from black: the temporal estimate
    starts anew, as at a cut; a flash that is gone again only scaled it, and a strobe
    restarting it every frame would leave nothing averaged)."""

    def __init__(self) -> None:
        self.last: float | None = None  # the last frame's light (stops)
        self.before: float | None = None  # the light before it

    def __call__(self, mean_luma: float) -> tuple[bool, bool]:
        """(jumped, held) for the next frame, whose mean luma (any scale) is ``mean_luma``."""
        stops, last, before = light_stops(mean_luma), self.last, self.before
        self.last, self.before = stops, last
        jumped = last is not None and abs(stops - last) > LIGHT_JUMP_STOPS
        held = (before is not None and not jumped and abs(last - before) > LIGHT_JUMP_STOPS
                and abs(stops - before) > LIGHT_JUMP_STOPS)
        return jumped, held


def follow_share(time: float | None, previous_time: float | None, time_constant: float,
                 frames: int) -> float:
    """How far a value followed with ``time_constant`` seconds moves towards a new one
    between frames at ``previous_time`` and ``time`` (seconds; None: one frame interval of
    DEFAULT_FRAME_SECONDS): α = 1 − exp(−Δt / τ), Δt clamped to 0-1 s, so 24 and 60 fps
    behave alike; at least 1 / ``frames`` (the frames since the value started anew, this
    one included): until the time constant takes more, the frames since are averaged, so
    one first frame does not stand for a whole time constant."""
    if time is None or previous_time is None:
        dt = DEFAULT_FRAME_SECONDS
    else:
        dt = min(max(time - previous_time, 0.0), 1.0)
    return max(1.0 - math.exp(-dt / time_constant), 1.0 / frames)


class Followed:
    """A measurement of a stream (a number or an array) followed with ``time_constant``
    seconds (``follow_share``); the first frame and a restart take the frame's own value."""

    def __init__(self, time_constant: float) -> None:
        self.time_constant = time_constant
        self.reset()

    def reset(self) -> None:
        self.value: Any = None
        self.time: float | None = None
        self.frames = 0  # since the first frame or the last restart

    def __call__(self, measured: Any, time: float | None, restart: bool = False) -> Any:
        """The followed value after a frame at ``time`` (seconds) that measured ``measured``."""
        previous_time, self.time = self.time, time
        if self.value is None or restart or self.time_constant <= 0:
            self.value, self.frames = measured, 1
        else:
            self.frames += 1
            share = follow_share(time, previous_time, self.time_constant, self.frames)
            self.value = self.value + share * (measured - self.value)
        return self.value


class SceneCutDetector:
    """Flags a frame whose small luma thumbnail does not correlate with the previous one
    (called with each frame's luma, at any resolution: the enhancer passes ``half_luma``).

    Thumbnails average sensor noise away, and the correlation ignores global brightness,
    so flicker and a light switched on are not cuts; a new shot is. Flat frames (see
    FLAT_NOISE) are never on either side of a cut."""

    def __init__(self, threshold: float = CUT_CORRELATION, size: tuple[int, int] = (32, 18)):
        self.threshold, self.size = threshold, size
        self.previous: np.ndarray | None = None
        self.cuts = 0

    def thumbnail(self, luma: np.ndarray, noise: float) -> np.ndarray | None:
        """The luma's thumbnail with zero mean and unit norm; None when it is flat."""
        cells = cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA).astype(np.float32)
        cells = cells.ravel() - cells.mean()
        cell_noise = noise / math.sqrt(luma.size / cells.size)
        norm = float(np.linalg.norm(cells))
        flat = norm <= FLAT_NOISE * cell_noise * math.sqrt(cells.size)
        return None if flat else cells / norm

    def __call__(self, luma: np.ndarray, noise: float | None = None) -> bool:
        """Whether ``luma`` starts a new shot; ``noise``: its ``noise_sigma`` if measured."""
        thumb = self.thumbnail(luma, noise_sigma(luma) if noise is None else noise)
        previous, self.previous = self.previous, thumb
        cut = (previous is not None and thumb is not None
               and float(thumb @ previous) < self.threshold)
        self.cuts += int(cut)
        return cut


class AutoExposure:
    """Steadies the output's brightness over time; ``time_constant`` 0 disables it."""

    def __init__(self, time_constant: float, dead_band: float = DEAD_BAND_STOPS,
                 jump: float = JUMP_STOPS) -> None:
        if time_constant < 0:
            raise ValueError(f"time constant must be >= 0 seconds, got {time_constant}")
        self.time_constant, self.dead_band, self.jump = time_constant, dead_band, jump
        self.stops: float | None = None
        self.time: float | None = None
        self.frames = 0  # since the exposure started anew

    @property
    def enabled(self) -> bool:
        return self.time_constant > 0

    def __call__(self, level: float, time: float | None, restart: bool) -> float:
        """The factor that brings this frame's proposed output mean luma ``level`` to the
        steadied exposure, given the frame's time in seconds and whether the exposure starts
        anew with it (a cut, a change of light)."""
        stops = math.log2(max(level, 1e-4))
        previous_time, self.time = self.time, time
        if self.stops is None or restart or not self.enabled:
            self.stops, self.frames = stops, 1
            return 1.0
        self.frames += 1
        change = stops - self.stops
        if abs(change) > self.jump:
            self.stops, self.frames = stops, 1
        elif abs(change) > self.dead_band:
            alpha = follow_share(time, previous_time, self.time_constant, self.frames)
            self.stops += alpha * (change - math.copysign(self.dead_band, change))
        return 2.0 ** (self.stops - stops)
