"""The temporal denoiser's decisions: each frame's noise level, the camera's motion and the
motion test that sets, per pixel, how much of the new frame to take.

A recursive filter on the dark input, y_t = y_{t−1} + k·(x_t − y_{t−1}) per pixel, as camera
ISPs do it. ``k`` comes from a motion test: the blurred luma difference |x_t − y_{t−1}|
against the noise expected in it (the frame's noise level, estimated on the frame itself
with Immerkær's operator, so a camera pan cannot inflate it). Where nothing moved k falls to
its floor (strength 1: 0.2, about 9 frames averaged); where something moved k is 1 and the
pixel is the new frame. The previous estimate is first scaled by the change in mean
brightness, so a flickering light is not mistaken for motion, and moved by the camera's
motion between the frames (a pan, a hand's shake: ``global_shift``), so what the camera
moved is averaged again rather than taken new; a scene cut or a change of light (a light
switched on or off) restarts the filter.

The test runs at half resolution (``half_luma``), where the previous estimate's luma is kept
by the same recursion (the filter is linear, so the small copy tracks the downscaled full
one); the full-resolution estimate is the executor's (``temporal_update``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

import cv2
import numpy as np

from ..pixelops.host import mix, shifted

__all__ = [
    "Motion",
    "TemporalDenoiser",
    "estimate_noise",
    "global_shift",
    "noise_sigma",
    "shift_probe",
]

# Motion test: mean |difference| around a pixel in noise standard deviations (noise alone
# gives ~0.8): at or below STILL_SIGMAS the pixel is static, at or above MOVING_SIGMAS it moved.
STILL_SIGMAS, MOVING_SIGMAS = 1.2, 2.0
# A still pixel takes k of the new frame, falling with the strength at STILL_SLOPE
# (``still_share``): 0.2 at strength 1, a recursive average of about 9 frames.
STILL_SLOPE = 4.0
# A change of the frame's mean brightness beyond this share is a change of light, applied to
# the previous estimate before the motion test.
LIGHT_CHANGE = 0.01
# The noise the motion test expects, over the frame's measured noise: the test blurs a
# difference of two noisy frames.
NOISE_MARGIN = 1.05
# Camera motion is found by phase correlation of consecutive frames' half-resolution lumas,
# downscaled to about SHIFT_ROWS rows (never up; first at half that size, to skip the rest
# where nothing moved), and followed only where it is at least a full-resolution pixel,
# aligns the frames better than no shift by SHIFT_GAIN (a large object moving in a still
# scene must not move the background's estimate) and is at most MAX_SHIFT of the frame's
# side (a faster pan is taken as new). Probes smaller than MIN_PROBE_SIDE are not compared.
SHIFT_ROWS, SHIFT_GAIN, MAX_SHIFT, MIN_PROBE_SIDE = 180, 0.8, 0.125, 16
# Noise: Immerkær's operator on NOISE_ROWS rows at the middle of the frame; its median
# absolute response over MAD_TO_SIGMA · OPERATOR_GAIN is the standard deviation.
NOISE_ROWS, MAD_TO_SIGMA, OPERATOR_GAIN = 48, 0.6745, 6.0
# Smallest noise level assumed (levels, 0-255): 8-bit rounding alone gives 0.29.
MIN_SIGMA = 0.3
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def noise_sigma(luma: np.ndarray, rows: int = NOISE_ROWS) -> float:
    """Standard deviation of the noise of a luma image (levels; integer, or float such as
    the temporal denoiser's estimate), by Immerkær's Laplacian-difference operator on a band
    of rows at the middle of the image (median of every other response, so edges barely
    count)."""
    top = max(0, luma.shape[0] // 2 - rows // 2)
    band = luma[top:top + rows].astype(np.float32)
    response = np.abs(cv2.filter2D(band, -1, _IMMERKAER)[1:-1, 1:-1:2])
    if response.size == 0:
        return MIN_SIGMA
    middle = (_grouped_median(response) if np.issubdtype(luma.dtype, np.integer)
              else float(np.median(response)))
    return max(MIN_SIGMA, middle / (MAD_TO_SIGMA * OPERATOR_GAIN))


def _grouped_median(values: np.ndarray) -> float:
    """The median of whole-number ``values`` (≥ 0) interpolated within the middle value's
    unit interval (the median of grouped data), so it moves continuously: integer luma gives
    whole-number responses, whose plain median moves in steps of a quarter code of noise,
    and a frame's estimate flipped between two of them (the knee, and the picture's
    brightness, with it)."""
    flat = values.ravel()
    half = flat.size / 2
    middle = float(np.partition(flat, flat.size // 2)[flat.size // 2])
    below = np.count_nonzero(flat < middle)
    at = np.count_nonzero(flat == middle)
    low = max(middle - 0.5, 0.0)
    return low + (middle + 0.5 - low) * (half - below) / at


class Motion(NamedTuple):
    """What the temporal denoiser takes from one frame to the next."""

    k: np.ndarray  # share of the new frame per half-resolution pixel
    light: float  # change of light to apply to the previous estimate first
    shift: tuple[int, int]  # (x, y) pixels to move the half-resolution planes by
    full_shift: tuple[int, int]  # the same for the full-resolution planes


def shift_probe(half: np.ndarray) -> tuple[np.ndarray, int]:
    """What ``global_shift`` compares of a frame: its float32 half-resolution luma
    downscaled by an integer factor to about SHIFT_ROWS rows (never up), and the factor."""
    scale = max(1, half.shape[0] // SHIFT_ROWS)
    if scale == 1:
        return half, 1
    size = (half.shape[1] // scale, half.shape[0] // scale)
    return cv2.resize(half, size, interpolation=cv2.INTER_AREA), scale


def global_shift(previous: np.ndarray, current: np.ndarray, least: float
                 ) -> np.ndarray | None:
    """The camera's motion between two frames' probes (``shift_probe``, float32, one size):
    the whole-frame translation (x, y, in their pixels, to a tenth or so) that carries
    ``previous`` onto ``current``; None where it is under ``least`` pixels or none aligns
    them clearly better (see SHIFT_GAIN, MAX_SHIFT)."""
    height, width = current.shape
    if min(height, width) < MIN_PROBE_SIDE:  # too small to tell
        return None
    coarse = [cv2.resize(probe, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
              for probe in (previous, current)]
    (dx, dy), _ = cv2.phaseCorrelate(*coarse, _hanning((width // 2, height // 2)))
    if 4 * max(abs(dx), abs(dy)) < least:  # nothing near a pixel moved: no finer look
        return None
    (dx, dy), _ = cv2.phaseCorrelate(previous, current, _hanning((width, height)))
    if max(abs(dx), abs(dy)) < least or abs(dx) > MAX_SHIFT * width \
            or abs(dy) > MAX_SHIFT * height:
        return None
    moved = cv2.warpAffine(previous, np.float32([[1, 0, dx], [0, 1, dy]]), (width, height),
                           borderMode=cv2.BORDER_REPLICATE)
    inside = (slice(math.ceil(abs(dy)), height - math.ceil(abs(dy))),
              slice(math.ceil(abs(dx)), width - math.ceil(abs(dx))))
    aligned = float(cv2.absdiff(moved[inside], current[inside]).mean())
    unaligned = float(cv2.absdiff(previous[inside], current[inside]).mean())
    return np.array([dx, dy]) if aligned < SHIFT_GAIN * unaligned else None


def still_share(strength: float) -> float:
    """The k of a still pixel at ``strength``."""
    return 1.0 / (1.0 + STILL_SLOPE * strength)


def _averaged_frames(strength: float) -> float:
    """About how many frames a still pixel's estimate averages at ``strength``: a recursive
    average taking k of each new frame weighs 2 / k − 1 of them."""
    return 2.0 / still_share(strength) - 1.0


def estimate_noise(noise: float, frames: float, strength: float) -> float:
    """The noise (standard deviation) of a still scene's estimate after ``frames`` frames
    (1: the first, which it starts from; inf: settled) of footage whose frames have
    ``noise``: what lies beyond the 8-bit rounding (MIN_SIGMA) averages out, as the first
    frame's weight decays by 1 − k a frame and what replaces it is averaged over
    ``_averaged_frames``."""
    first = (1.0 - still_share(strength)) ** (2.0 * (frames - 1.0))
    beyond = max(noise * noise - MIN_SIGMA * MIN_SIGMA, 0.0)
    left = first + (1.0 - first) / _averaged_frames(strength)
    return math.sqrt(MIN_SIGMA * MIN_SIGMA + beyond * left)


@lru_cache(maxsize=4)
def _hanning(size: tuple[int, int]) -> np.ndarray:
    return cv2.createHanningWindow(size, cv2.CV_32F)


class TemporalDenoiser:
    """Motion-adaptive recursive filter over frames (see the module docstring);
    ``strength`` 0 disables it, 1 lets static pixels average about 9 frames. The estimate
    is kept in the executor's arrays and updated by it (``temporal_update``)."""

    def __init__(self, strength: float) -> None:
        if strength < 0:
            raise ValueError(f"temporal denoise strength must be >= 0, got {strength}")
        self.strength = strength
        self.k_still = still_share(strength)
        self.reset()

    @property
    def enabled(self) -> bool:
        return self.strength > 0

    def reset(self) -> None:
        self.state: Any = None  # the estimate, in the executor's arrays
        self.frames = 0  # how many frames it holds since it (re)started
        self.small_luma: np.ndarray | None = None
        self.shape: tuple[int, ...] | None = None
        self.mean = 0.0
        self.probe: np.ndarray | None = None  # the last frame's ``shift_probe``
        # what the moves so far fell short of the camera's motion, by whole pixels (at half
        # and full resolution): carried into the next move, so the estimate never drifts
        self.carried: np.ndarray | None = None

    def __call__(self, frame: Any, half: np.ndarray, restart: bool, noise: float | None,
                 pixel_format: str, executor: Any) -> Any:
        """The filtered frame (float32, 0-255, same layout) of a uint8 ``frame`` (RGB or a
        yuv420p buffer, in ``executor``'s arrays) whose ``half_luma`` is ``half`` and
        ``noise_sigma`` ``noise``; the frame itself when disabled."""
        if not self.enabled:
            return frame
        motion = self.motion(half, restart, tuple(frame.shape), noise)
        if motion is None:
            self.state, self.frames = executor.as_float(frame), 1
        else:
            self.state = executor.temporal_update(self.state, frame, motion, pixel_format)
            self.frames += 1
        return self.state

    def motion(self, half: np.ndarray, restart: bool, shape: tuple[int, ...],
               noise: float | None = None) -> Motion | None:
        """What to take from the frame with ``half_luma`` ``half`` and buffer ``shape``
        (``Motion``: k at ``half``'s size); None when the filter restarts with this frame
        (the first, a new size, or ``restart``: a cut or a change of light). Updates the small
        luma's recursion, so the caller must then move and update its full-resolution
        estimate."""
        luma = half.astype(np.float32)
        mean, previous_mean = float(luma.mean()), self.mean
        self.mean = mean
        probe, scale = shift_probe(luma)
        previous_probe, self.probe = self.probe, probe
        if restart or self.small_luma is None or self.shape != shape:
            self.small_luma, self.shape, self.carried = luma, shape, None
            return None
        # a flickering light changes the whole frame: follow it before testing for motion
        gain = mean / previous_mean if previous_mean > 0 else 1.0
        light = gain if abs(gain - 1.0) > LIGHT_CHANGE else 1.0
        previous_luma = self.small_luma if light == 1.0 else self.small_luma * light
        shift, full_shift = self._camera(global_shift(previous_probe * light, probe,
                                                      0.5 / scale), scale)
        if shift != (0, 0):
            previous_luma = shifted(previous_luma, shift)
        # mean |difference| over 3×3 small pixels (absolute first: a moving texture's
        # signed differences would cancel), in units of the noise of one small pixel
        motion = cv2.blur(cv2.absdiff(luma, previous_luma), (3, 3))
        # measured where the motion test looks
        sigma = (noise_sigma(luma) if noise is None else noise) * NOISE_MARGIN
        # k = k_still where motion <= STILL_SIGMAS·σ, 1 from MOVING_SIGMAS·σ, linear between
        # (one scale-and-shift, then a clip)
        span = (MOVING_SIGMAS - STILL_SIGMAS) / (1.0 - self.k_still)
        k_small = motion
        k_small *= 1.0 / (sigma * span)
        k_small += self.k_still - STILL_SIGMAS / span
        np.clip(k_small, self.k_still, 1.0, out=k_small)
        self.small_luma = mix(luma, previous_luma, k_small)
        return Motion(k_small, light, shift, full_shift)

    def _camera(self, found: np.ndarray | None, scale: int
                ) -> tuple[tuple[int, int], tuple[int, int]]:
        """The whole pixels to move the half- and full-resolution estimates by for the
        camera's motion ``found`` between the frames (``global_shift``, in pixels of probes
        ``scale`` times smaller than half resolution)."""
        if found is None:
            self.carried = None
            return (0, 0), (0, 0)
        half = found * scale
        wanted = np.r_[half, 2 * half] + (0.0 if self.carried is None else self.carried)
        moves = np.round(wanted)
        self.carried = wanted - moves
        half_x, half_y, full_x, full_y = (int(m) for m in moves)
        return (half_x, half_y), (full_x, full_y)
