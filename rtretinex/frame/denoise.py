"""Denoising: over time (``TemporalDenoiser``), and in space where the enhancement
amplifies noise (a fast filter blended in by gain).

**Over time** (both modes, video only): a recursive filter on the dark input,
y_t = y_{t−1} + k·(x_t − y_{t−1}) per pixel, as camera ISPs do it. ``k`` comes from a motion
test: the blurred luma difference |x_t − y_{t−1}| against the noise expected in it (the
frame's noise level, estimated on the frame itself with Immerkær's operator, so a camera
pan cannot inflate it). Where nothing moved k falls to its floor (strength 1: 0.2, about
9 frames averaged); where something moved k is 1 and the pixel is the new frame. The
previous estimate is first scaled by the change in mean brightness, so a flickering light
is not mistaken for motion, and moved by the camera's motion between the frames (a pan, a
hand's shake: ``global_shift``), so what the camera moved is averaged again rather than
taken new; a scene cut restarts the filter.

**In space**:

Dark pixels get the largest gain, so their sensor noise is amplified most. The filtered
image is blended in per pixel with a weight that grows with the gain
(``strength · (gain − 1) / (FULL_GAIN − 1)``, clipped to [0, 1]). Where the weight is 1 the
filtered pixel is taken as it is, so the blend pass runs only over the rows of the cells
where it is not (full-resolution row bands, contiguous in memory); how many rows that is
depends on the scene (~8 % of the fps benchmark's clip with the previous weights, 87-100 %
with the current ones, whose gain there is ~3).

Quality mode filters the reflectance R with a bilateral filter (d=5, edge-preserving).
Fast mode filters the dark input S with a 5×5 Gaussian: S's edges are a few levels high,
below any bilateral colour sigma that removes its noise, so the bilateral would blur them
too; on the LOL validation pairs the Gaussian scored higher (older weights, fast mode 1/4:
18.66 dB / 0.634 vs 18.54 / 0.628) at a tenth of the cost (0.5 vs 5.3 ms at 720p). NL-means would be
better still but costs ~500 ms a frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from ..pixelops.formats import RGB24, YUV420P, frame_size, half_luma, planes
from ..pixelops.loops import update_chroma, update_luma

__all__ = ["Motion", "TemporalDenoiser", "denoise_frame", "denoise_reflectance", "denoise_weight",
           "flat_smooth", "gaussian", "global_shift", "guided_coefficients", "guided_filter", "mix",
           "noise_sigma", "shift_probe", "shifted"]

DIAMETER = 5
# Motion test: mean |difference| around a pixel in noise standard deviations (noise alone
# gives ~0.8): at or below STILL_SIGMAS the pixel is static, at or above MOVING_SIGMAS it moved.
STILL_SIGMAS, MOVING_SIGMAS = 1.2, 2.0
# Camera motion is found by phase correlation of consecutive frames' half-resolution lumas,
# downscaled to about SHIFT_ROWS rows (never up; first at half that size, to skip the rest
# where nothing moved), and followed only where it is at least a full-resolution pixel,
# aligns the frames better than no shift by SHIFT_GAIN (a large object moving in a still
# scene must not move the background's estimate) and is at most MAX_SHIFT of the frame's
# side (a faster pan is taken as new).
SHIFT_ROWS, SHIFT_GAIN, MAX_SHIFT = 180, 0.8, 0.125
# Smallest noise level assumed (levels, 0-255): 8-bit rounding alone gives 0.29.
MIN_SIGMA = 0.3
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
# The gain above which the filter applies fully (at strength 1); no filtering at gain <= 1.
FULL_GAIN = 4.0


def denoise_reflectance(reflectance: np.ndarray, gain: np.ndarray, strength: float,
                        sigma_color: float) -> np.ndarray:
    """Bilateral-filter float32 RGB ``reflectance`` where ``gain`` (H, W) is high;
    ``sigma_color`` (in R's units) is scaled by ``strength``."""
    return _blend_by_gain(reflectance, gain, strength, lambda image: cv2.bilateralFilter(
        image, DIAMETER, sigma_color * strength, DIAMETER / 2))


def denoise_frame(frame: np.ndarray, gain: np.ndarray, strength: float) -> np.ndarray:
    """Gaussian-filter an RGB ``frame`` or one plane (uint8 or float32) where ``gain`` is
    high; ``gain`` may be a low-resolution map (it is upsampled only if a blend is needed)."""
    return _blend_by_gain(frame, gain, strength, gaussian)


def gaussian(image: np.ndarray) -> np.ndarray:
    """The fast mode's spatial filter: a DIAMETER × DIAMETER Gaussian."""
    return cv2.GaussianBlur(image, (DIAMETER, DIAMETER), 0)


def guided_coefficients(guide: np.ndarray, sources: tuple[np.ndarray, ...], radius: int,
                        eps: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The guided filter's (a, b) for each source, at half the guide's resolution and
    already averaged over their windows: ``guided_filter`` is a · guide + b with them
    upsampled."""
    height, width = guide.shape
    size = (max(1, width // 2), max(1, height // 2))
    window = (2 * radius + 1, 2 * radius + 1)
    small = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
    mean = cv2.boxFilter(small, -1, window)
    variance = cv2.boxFilter(small * small, -1, window)
    variance -= mean * mean
    variance += np.float32(max(eps, 1e-6))
    out = []
    for source in sources:
        small_source = small if source is guide else cv2.resize(source, size,
                                                                interpolation=cv2.INTER_AREA)
        mean_source = cv2.boxFilter(small_source, -1, window)
        a = cv2.boxFilter(small * small_source, -1, window)
        a -= mean * mean_source
        a /= variance
        b = mean_source - a * mean
        out.append((cv2.boxFilter(a, -1, window), cv2.boxFilter(b, -1, window)))
    return out


def guided_filter(guide: np.ndarray, sources: tuple[np.ndarray, ...], radius: int, eps: float
                  ) -> list[np.ndarray]:
    """Edge-preserving smoothing of float32 ``sources`` by a float32 ``guide`` of their size:
    the guided filter (He et al., 2010), its coefficients computed at half resolution and
    upsampled (the fast guided filter, He and Sun, 2015). Where the guide varies well below
    ``eps`` (levels²) across a window ((2·radius + 1)² at half resolution) a source becomes
    its window mean; where the guide varies much more (edges, texture) the source follows
    it, so it is not smoothed across the guide's edges."""
    size = guide.shape[::-1]
    return [cv2.resize(a, size, interpolation=cv2.INTER_LINEAR) * guide
            + cv2.resize(b, size, interpolation=cv2.INTER_LINEAR)
            for a, b in guided_coefficients(guide, sources, radius, eps)]


def flat_smooth(plane: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """``guided_filter`` of a float32 plane by itself: windows whose variance is well below
    ``eps`` (noise, the codec's one-code steps and bands) become their mean; windows that
    vary much more (edges, texture above the noise) are kept."""
    return guided_filter(plane, (plane,), radius, eps)[0]


def denoise_weight(gain: np.ndarray, strength: float) -> np.ndarray:
    """How much of the filtered image to take (0-1) where the enhancement's gain is
    ``gain`` (an array or a torch tensor): 0 at gain 1, 1 from gain 1 + (FULL_GAIN − 1) /
    strength."""
    return ((gain - 1.0) * (strength / (FULL_GAIN - 1.0))).clip(0.0, 1.0)


def _blend_by_gain(image: np.ndarray, gain: np.ndarray, strength: float,
                   denoise: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if strength <= 0:
        return image
    weight = denoise_weight(gain, strength)
    if weight.max() <= 0.0:
        return image
    filtered = denoise(image)
    partial = np.nonzero((weight < 1.0).any(axis=1))[0]
    if partial.size == 0:
        return filtered
    height, width = image.shape[:2]
    cell = height / weight.shape[0]
    if weight.shape != (height, width):
        weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_LINEAR)
    for top, bottom in _row_runs(partial, cell, height):
        rows = slice(top, bottom)
        mix(filtered[rows], image[rows], weight[rows], out=filtered[rows])
    return filtered


_DEPTHS = {np.dtype(np.uint8): cv2.CV_8U, np.dtype(np.uint16): cv2.CV_16U,
           np.dtype(np.float32): cv2.CV_32F}


def mix(new: np.ndarray, old: np.ndarray, weight: np.ndarray,
        out: np.ndarray | None = None) -> np.ndarray:
    """weight·new + (1 − weight)·old per pixel (``weight``: float32, one channel), in the
    type of ``old``. One-channel images take old + weight·(new − old) in three passes:
    OpenCV's blendLinear is slow for them (720p float: 2.1 ms against 0.9)."""
    if new.ndim == 3:
        return cv2.blendLinear(new, old, weight, 1.0 - weight, dst=out)
    difference = cv2.subtract(new, old, dtype=cv2.CV_32F)
    cv2.multiply(difference, weight, dst=difference)
    return cv2.add(old, difference, dst=out, dtype=_DEPTHS[old.dtype])


def _row_runs(rows: np.ndarray, cell: float, height: int) -> list[tuple[int, int]]:
    """Full-resolution row ranges reached by the low-res ``rows`` (cells ``cell`` pixels
    tall, one more cell each side for the bilinear upsampling), merged where they touch."""
    tops = np.maximum(0, ((rows - 1) * cell).astype(int))
    bottoms = np.minimum(height, np.ceil((rows + 2) * cell).astype(int))
    starts = np.flatnonzero(np.r_[True, tops[1:] > bottoms[:-1]])
    ends = np.r_[starts[1:] - 1, len(rows) - 1]
    return list(zip(tops[starts].tolist(), bottoms[ends].tolist(), strict=True))


def noise_sigma(luma: np.ndarray, rows: int = 48) -> float:
    """Standard deviation of the noise of a luma image (levels), by Immerkær's
    Laplacian-difference operator on a band of rows at the middle of the image (median of
    every other response, so edges barely count)."""
    top = max(0, luma.shape[0] // 2 - rows // 2)
    band = luma[top:top + rows].astype(np.float32)
    response = cv2.filter2D(band, -1, _IMMERKAER)[1:-1, 1:-1:2]
    if response.size == 0:
        return MIN_SIGMA
    return max(MIN_SIGMA, float(np.median(np.abs(response))) / (0.6745 * 6.0))


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
    if min(height, width) < 16:  # too small to tell
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


@lru_cache(maxsize=4)
def _hanning(size: tuple[int, int]) -> np.ndarray:
    return cv2.createHanningWindow(size, cv2.CV_32F)


def shifted(image: np.ndarray, shift: tuple[int, int], out: np.ndarray | None = None
            ) -> np.ndarray:
    """``image`` moved by ``shift`` (x, y pixels; into ``out``, not ``image`` itself), the
    strip it uncovers filled with its edge."""
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], dst=out, flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_REPLICATE)


class TemporalDenoiser:
    """Motion-adaptive recursive filter over frames (see the module docstring);
    ``strength`` 0 disables it, 1 lets static pixels average about 9 frames.

    The motion test runs on luma at half resolution (``half_luma``), where the previous
    estimate's luma is kept by the same recursion (the filter is linear, so the small copy
    tracks the downscaled full one); full resolution sees one pass: for yuv420p a fused
    loop per plane (``kernels``), for RGB an upsample of k and one blend."""

    def __init__(self, strength: float) -> None:
        if strength < 0:
            raise ValueError(f"temporal denoise strength must be >= 0, got {strength}")
        self.strength = strength
        self.k_still = 1.0 / (1.0 + 4.0 * strength)
        self.reset()

    @property
    def enabled(self) -> bool:
        return self.strength > 0

    def reset(self) -> None:
        self.state: np.ndarray | None = None
        self.spare: np.ndarray | None = None  # the state's buffer to move it into
        self.small_luma: np.ndarray | None = None
        self.shape: tuple[int, ...] | None = None
        self.mean = 0.0
        self.probe: np.ndarray | None = None  # the last frame's ``shift_probe``
        # what the moves so far fell short of the camera's motion, by whole pixels (at half
        # and full resolution): carried into the next move, so the estimate never drifts
        self.carried: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, cut: bool = False, half: np.ndarray | None = None,
                 pixel_format: str = RGB24, noise: float | None = None) -> np.ndarray:
        """The filtered frame (float32, 0-255, same layout) of a uint8 ``frame`` (RGB or a
        yuv420p buffer); the frame itself when disabled. ``half``: the frame's
        ``half_luma`` if already computed (for yuv420p it has the chroma planes' size),
        ``noise`` its ``noise_sigma``."""
        if not self.enabled:
            return frame
        height, width = frame_size(frame, pixel_format)
        luma = half_luma(frame, pixel_format) if half is None else half
        motion = self.motion(luma, cut, frame.shape, noise)
        if motion is None:
            self.state = frame.astype(np.float32)
            return self.state
        if motion.shift != (0, 0) or motion.full_shift != (0, 0):
            self._move(motion, pixel_format)
        k_small, light = motion.k, motion.light
        if pixel_format == YUV420P:  # in place, one fused pass a plane; U and V at k's size
            y, *uv = planes(frame)
            state_y, *state_uv = planes(self.state)
            update_luma(y, state_y, k_small, light)
            for plane, state in zip(uv, state_uv, strict=True):
                update_chroma(plane, state, k_small, light)
            return self.state
        k = cv2.resize(k_small, (width, height), interpolation=cv2.INTER_LINEAR)
        previous = self.state if light == 1.0 else self.state * np.float32(light)
        self.state = mix(np.float32(frame), previous, k, out=self.state)
        return self.state

    def _move(self, motion: Motion, pixel_format: str) -> None:
        """Move the estimate with the camera (``motion``'s shifts), through the spare
        buffer."""
        if self.spare is None or self.spare.shape != self.state.shape:
            self.spare = np.empty_like(self.state)
        if pixel_format == YUV420P:
            for plane, out, by in zip(planes(self.state), planes(self.spare),
                                      (motion.full_shift, motion.shift, motion.shift),
                                      strict=True):
                shifted(plane, by, out=out)
        else:
            shifted(self.state, motion.full_shift, out=self.spare)
        self.state, self.spare = self.spare, self.state

    def motion(self, half: np.ndarray, cut: bool, shape: tuple[int, ...],
               noise: float | None = None) -> Motion | None:
        """What to take from the frame with ``half_luma`` ``half`` and buffer ``shape``
        (``Motion``: k at ``half``'s size); None when the filter restarts with this frame
        (first frame, a cut, a new size). Updates the small luma's recursion, so the
        caller must then move and update its full-resolution estimate."""
        luma = half.astype(np.float32)
        mean, previous_mean = float(luma.mean()), self.mean
        self.mean = mean
        probe, scale = shift_probe(luma)
        previous_probe, self.probe = self.probe, probe
        if cut or self.small_luma is None or self.shape != shape:
            self.small_luma, self.shape, self.carried = luma, shape, None
            return None
        # a flickering light changes the whole frame: follow it before testing for motion
        gain = mean / previous_mean if previous_mean > 0 else 1.0
        light = gain if abs(gain - 1.0) > 0.01 else 1.0
        previous_luma = self.small_luma * light
        shift, full_shift = self._camera(global_shift(previous_probe * light, probe,
                                                      0.5 / scale), scale)
        if shift != (0, 0):
            previous_luma = shifted(previous_luma, shift)
        # mean |difference| over 3×3 small pixels (absolute first: a moving texture's
        # signed differences would cancel), in units of the noise of one small pixel
        motion = cv2.blur(cv2.absdiff(luma, previous_luma), (3, 3))
        # measured where the motion test looks
        sigma = (noise_sigma(luma) if noise is None else noise) * 1.05
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
