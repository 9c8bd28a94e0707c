"""The host executor: a frame's per-pixel work in NumPy and OpenCV passes, with the fused
numba loops (``loops``) where one pass a pixel earns its speed.

Arrays are NumPy's: RGB images (H, W, 3) on the 0-255 scale (uint8, uint16 from 16-bit
photos, or float32 once filtered), yuv420p buffers (H·3/2, W). ``TorchExecutor``
(``torch_ops``) has the same methods on torch tensors; ``frame.steps`` runs either.

Spatial denoise blends a filtered image in by a weight that grows with the gain
(``reference.denoise_weight``): quality mode filters the reflectance with OpenCV's bilateral
filter (edge-preserving), fast mode the dark input with a DIAMETER × DIAMETER Gaussian (its
edges are a few levels high, below any colour sigma that removes its noise). Where the
weight is 1 the filtered pixel is taken as it is, so the blend runs only over the rows of
the cells where it is not.

Per-channel RGB gains do not commute with the YUV matrix (a gain on red moves Y, U and V),
so ``apply_yuv_gains`` runs the RGB path at chroma resolution, where the chroma lives
anyway, and adds Y's finer detail scaled by the luma of the gains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from ..nets.backends import Backend
from . import reference
from .formats import (
    RGB24,
    YUV420P,
    downscale,
    from_rgb,
    half_luma,
    half_planes,
    planes,
    rgb_half_planes,
    small_rgb,
    to_rgb,
)
from .loops import (
    NEUTRAL_NIGHT,
    cast_added,
    cast_removed,
    compose_luma,
    deblock,
    gains_at_chroma,
    guided_rows,
    mixed_rows,
    update_chroma,
    update_luma,
)
from .loops import smooth_chroma as smooth_chroma_loop

__all__ = ["HostExecutor", "apply_yuv_gains", "denoise_frame", "denoise_reflectance",
           "flat_smooth", "gaussian", "guided_filter", "mix", "shifted"]


class _Resample:
    """OpenCV's resampling of one plane (``reference.Resampler``)."""

    @staticmethod
    def area(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return cv2.resize(plane, size, interpolation=cv2.INTER_AREA)

    @staticmethod
    def box(plane: np.ndarray, window: int) -> np.ndarray:
        return cv2.boxFilter(plane, -1, (window, window))

    @staticmethod
    def ramp(plane: np.ndarray, window: int, axis: int) -> np.ndarray:
        radius = window // 2
        offsets = np.arange(-radius, radius + 1, dtype=np.float32) / window
        flat = np.full(window, 1.0 / window, np.float32)
        along, across = (offsets, flat) if axis == 1 else (flat, offsets)
        return cv2.sepFilter2D(plane, -1, along, across)


def _at_width(maps: tuple[np.ndarray, ...], width: int) -> np.ndarray:
    """Low-resolution float32 maps of one size resized (INTER_LINEAR) to ``width`` columns,
    stacked (n, rows, width): what the loops read, interpolating between their rows as they
    go instead of reading full-size copies."""
    rows = maps[0].shape[0]
    out = np.empty((len(maps), rows, width), np.float32)
    for plane, target in zip(maps, out, strict=True):
        cv2.resize(plane, (width, rows), dst=target, interpolation=cv2.INTER_LINEAR)
    return out


def gaussian(image: np.ndarray) -> np.ndarray:
    """The fast mode's spatial filter: a reference.DIAMETER × reference.DIAMETER Gaussian."""
    return cv2.GaussianBlur(image, (reference.DIAMETER, reference.DIAMETER), 0)


def guided_filter(guide: np.ndarray, sources: tuple[np.ndarray, ...], radius: int, eps: float
                  ) -> list[np.ndarray]:
    """Edge-preserving smoothing of float32 ``sources`` by a float32 ``guide`` of their size
    (``reference.guided_coefficients``, upsampled as OpenCV's INTER_LINEAR does)."""
    width = guide.shape[1]
    return [guided_rows(guide, _at_width((a, b), width))
            for a, b in reference.guided_coefficients(_Resample, guide, sources, radius, eps)]


def flat_smooth(plane: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """``guided_filter`` of a float32 plane by itself: windows whose variance is well below
    ``eps`` (noise, the codec's one-code steps and bands) become their mean; windows that
    vary much more (edges, texture above the noise) are kept."""
    return guided_filter(plane, (plane,), radius, eps)[0]


def denoise_reflectance(reflectance: np.ndarray, gain: np.ndarray, strength: float,
                        sigma_color: float) -> np.ndarray:
    """Bilateral-filter float32 RGB ``reflectance`` where ``gain`` (H, W) is high;
    ``sigma_color`` (in R's units) is scaled by ``strength``."""
    return _blend_by_gain(reflectance, gain, strength, lambda image: cv2.bilateralFilter(
        image, reference.DIAMETER, sigma_color * strength, reference.DIAMETER / 2))


def denoise_frame(frame: np.ndarray, gain: np.ndarray, strength: float) -> np.ndarray:
    """Gaussian-filter an RGB ``frame`` or one plane (uint8 or float32) where ``gain`` is
    high; ``gain`` may be a low-resolution map (it is upsampled only if a blend is needed)."""
    return _blend_by_gain(frame, gain, strength, gaussian)


def _blend_by_gain(image: np.ndarray, gain: np.ndarray, strength: float,
                   denoise: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if strength <= 0:
        return image
    weight = reference.denoise_weight(gain, strength)
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
    """``reference.mixed`` (weight·new + (1 − weight)·old per pixel; ``weight``: float32, one
    channel), in the type of ``old``. One-channel images take three passes: OpenCV's
    blendLinear is slow for them."""
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


def shifted(image: np.ndarray, shift: tuple[int, int], out: np.ndarray | None = None
            ) -> np.ndarray:
    """``image`` moved by ``shift`` (x, y pixels; into ``out``, not ``image`` itself), the
    strip it uncovers filled with its edge."""
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], dst=out, flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_REPLICATE)


def apply_yuv_gains(y: np.ndarray, half: tuple[np.ndarray, ...], gains: np.ndarray,
                    weight: np.ndarray | None = None,
                    filtered: tuple[np.ndarray, ...] | None = None,
                    night: np.ndarray = NEUTRAL_NIGHT) -> tuple[np.ndarray, np.ndarray]:
    """The yuv420p buffer (uint8) of a frame's Y plane ``y`` (H, W) and ``half_planes``
    (H/2, W/2; uint8 or float32, 0-255) with the low-resolution RGB ``gains`` (h, w, 3)
    applied (upsampled bilinearly): ``reference.gains_at_chroma`` then
    ``reference.composed_luma``, in two fused passes (``loops``). ``weight`` (h, w; 0-1,
    default 0) mixes that share of ``filtered`` (the three planes filtered) in;
    ``night``: black point and knee (default none). Returns the buffer and
    the share of the chroma smoothing each chroma pixel may take."""
    height, width = y.shape
    y_half, u, v = half
    if weight is None:
        weight = np.zeros(gains.shape[:2], np.float32)
    maps = _at_width((*cv2.split(gains), weight), u.shape[1])
    out = np.empty((height * 3 // 2, width), np.uint8)
    out_y, out_u, out_v = planes(out)
    detail_half, base_half, smooth_half = gains_at_chroma(y_half, u, v, filtered or half, maps,
                                                        out_u, out_v, night)
    compose_luma(y, detail_half, base_half, out_y)
    return out, smooth_half


def _depth(original: np.ndarray) -> tuple[float, int]:
    """(full-scale value, OpenCV depth) of the output for a frame of this dtype."""
    return (65535.0, cv2.CV_16U) if original.dtype == np.uint16 else (255.0, cv2.CV_8U)


# Quality mode's night lift runs on bands of this many rows: its dozen float planes at a
# time, not a 24 MP photo's.
NIGHT_ROWS = 256


class HostExecutor:
    """The frame path's operations on NumPy arrays (see the module docstring)."""

    on_gpu = False

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.relighter = None  # tiling.Relighter, for frames too large to run whole
        self._spare: np.ndarray | None = None  # the temporal estimate's buffer to move into

    # moving frames in and out, and between formats
    def upload(self, image: np.ndarray) -> np.ndarray:
        return image

    def download(self, image: np.ndarray) -> np.ndarray:
        return image

    def to_rgb(self, buffer: np.ndarray) -> np.ndarray:
        return to_rgb(buffer)

    def from_rgb(self, image: np.ndarray) -> np.ndarray:
        return from_rgb(image)

    def half_luma(self, image: np.ndarray, pixel_format: str = RGB24) -> np.ndarray:
        return half_luma(image, pixel_format)

    def size(self, image: np.ndarray) -> tuple[int, int]:
        """(height, width) of an RGB image."""
        return image.shape[0], image.shape[1]

    # the temporal denoiser's estimate
    def as_float(self, image: np.ndarray) -> np.ndarray:
        return image.astype(np.float32)

    def temporal_update(self, state: np.ndarray, frame: np.ndarray, motion: Any,
                        pixel_format: str) -> np.ndarray:
        """The estimate ``state`` moved with the camera and updated with ``frame``
        (``reference.temporal_update``, k from ``motion``); in place where it can be."""
        if motion.shift != (0, 0) or motion.full_shift != (0, 0):
            state = self._moved(state, motion, pixel_format)
        k_small, light = motion.k, motion.light
        if pixel_format == YUV420P:  # one fused pass a plane; U and V at k's size
            y, *uv = planes(frame)
            state_y, *state_uv = planes(state)
            update_luma(y, state_y, k_small, light)
            for plane, estimate in zip(uv, state_uv, strict=True):
                update_chroma(plane, estimate, k_small, light)
            return state
        height, width = frame.shape[:2]
        k = cv2.resize(k_small, (width, height), interpolation=cv2.INTER_LINEAR)
        previous = state if light == 1.0 else state * np.float32(light)
        return mix(np.float32(frame), previous, k, out=state)

    def _moved(self, state: np.ndarray, motion: Any, pixel_format: str) -> np.ndarray:
        """``state`` moved by ``motion``'s shifts, into the spare buffer (the old one becomes
        the spare)."""
        if self._spare is None or self._spare.shape != state.shape:
            self._spare = np.empty_like(state)
        if pixel_format == YUV420P:
            for plane, out, by in zip(planes(state), planes(self._spare),
                                      (motion.full_shift, motion.shift, motion.shift),
                                      strict=True):
                shifted(plane, by, out=out)
        else:
            shifted(state, motion.full_shift, out=self._spare)
        moved, self._spare = self._spare, state
        return moved

    # the fast YUV path
    def half_planes(self, buffer: np.ndarray) -> tuple[np.ndarray, ...]:
        return half_planes(buffer)

    def sampled(self, planes_: tuple[np.ndarray, ...], step: int, spread: int = 1
                ) -> tuple[np.ndarray, ...]:
        """Every ``step``-th pixel of every ``step``-th row of each plane; with ``spread``
        over 1, each the mean of ``spread`` × ``spread`` pixels (``reference.spread_sample``)."""
        if spread == 1:
            return tuple(plane[::step, ::step] for plane in planes_)
        return tuple(reference.spread_sample(plane, step, spread) for plane in planes_)

    def without_bias(self, half: tuple[np.ndarray, ...], bias: tuple[float, float]
                     ) -> tuple[np.ndarray, ...]:
        """``half_planes`` with the black level's chroma ``bias`` (U, V codes) taken off U
        and V (float32 then)."""
        y_half, u, v = half
        if not any(bias):
            return half
        return (y_half, *(np.subtract(plane, offset, dtype=np.float32)
                          for plane, offset in zip((u, v), bias, strict=True)))

    def without_cast(self, half: tuple[np.ndarray, ...], cast: tuple[float, float]
                     ) -> tuple[tuple[np.ndarray, ...], np.ndarray | None]:
        """``half_planes`` (bias off) with the black level's colour ``cast`` (U, V codes)
        taken off U and V as far as each pixel holds it (``reference.cast_removed``), and
        that share (None where there is no cast: the planes as they are)."""
        if not any(cast):
            return half, None
        *chroma, share = cast_removed(*half, cast)
        return (half[0], *chroma), share

    def with_cast(self, buffer: np.ndarray, share: np.ndarray, cast: tuple[float, float]
                  ) -> np.ndarray:
        """A yuv420p output ``buffer`` (in place) with the ``cast`` ``without_cast`` took
        off put back onto its U and V (``reference.cast_added``)."""
        _, u, v = planes(buffer)
        for plane, offset in zip((u, v), cast, strict=True):
            cast_added(plane, share, offset)
        return buffer

    def small_rgb(self, half: tuple[np.ndarray, ...], size: tuple[int, int]) -> np.ndarray:
        return small_rgb(half, size)

    def filtered_planes(self, half: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """What the fast path mixes into ``half`` where the gain is high: Y with its flat
        areas smoothed, the block edges left in them made ramps and its flattest windows
        their mean (``reference.flat_means``), U and V through the fast mode's Gaussian."""
        y_half, u, v = half
        y = flat_smooth(y_half, reference.FLAT_RADIUS, reference.FLAT_EPS)
        deblock(y, reference.BLOCK_SPACING, reference.DEBLOCK_STEP, reference.DEBLOCK_FLAT)
        mixed_rows(y, _at_width(reference.flat_means(_Resample, y_half), y.shape[1]))
        return y, gaussian(u), gaussian(v)

    def apply_yuv_gains(self, y: np.ndarray, half: tuple[np.ndarray, ...], gains: np.ndarray,
                        weight: np.ndarray, filtered: tuple[np.ndarray, ...] | None,
                        night: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return apply_yuv_gains(y, half, gains, weight, filtered, night)

    def smooth_chroma(self, buffer: np.ndarray, weight: np.ndarray, allowed: np.ndarray
                      ) -> np.ndarray:
        """A yuv420p output ``buffer`` (in place) with that share of the guided filter of its
        U and V along its luma (``reference.CHROMA_RADIUS``, ``CHROMA_EPS``) mixed in where
        ``weight`` (h, w; 0-1) is above 0, times the share each chroma pixel is ``allowed``
        (``reference.chroma_smoothing_share``): chroma noise reduction that follows the
        gain, without colour bleeding across the picture's edges or onto a grey. One pass
        at chroma resolution."""
        y, u, v = planes(buffer)
        width = u.shape[1]
        guide = cv2.resize(y, (width, u.shape[0]), interpolation=cv2.INTER_AREA)
        (a_u, b_u), (a_v, b_v) = reference.guided_coefficients(
            _Resample, np.float32(guide), (np.float32(u), np.float32(v)), reference.CHROMA_RADIUS,
            reference.CHROMA_EPS)
        share = cv2.resize(weight, a_u.shape[::-1], interpolation=cv2.INTER_LINEAR)
        smooth_chroma_loop(u, v, guide, _at_width((a_u, b_u, a_v, b_v, share), width), allowed)
        return buffer

    # RGB images and quality mode
    def rgb_half_planes(self, image: np.ndarray) -> tuple[np.ndarray, ...]:
        return rgb_half_planes(image)

    def rgb_without_cast(self, image: np.ndarray, cast: tuple[float, float]
                         ) -> tuple[np.ndarray, np.ndarray | None]:
        """An RGB image (0-255 scale) with the black level's colour ``cast`` (U, V codes)
        taken off as far as each pixel holds it (``reference.rgb_cast_removed``; float32),
        and that share (None where there is no cast: the image as it is)."""
        if not any(cast):
            return image, None
        rgb, share = reference.rgb_cast_removed(
            cv2.split(image.astype(np.float32, copy=False)), cast)
        return cv2.merge(rgb), share

    def rgb_with_cast(self, image: np.ndarray, share: np.ndarray, cast: tuple[float, float]
                      ) -> np.ndarray:
        """An RGB output (uint8 or uint16) with the ``cast`` ``rgb_without_cast`` took off
        put back (``reference.rgb_cast_added``), rounded to its depth."""
        top = _depth(image)[0]
        rgb = reference.rgb_cast_added(cv2.split(image.astype(np.float32)), share, cast, top)
        return cv2.merge(rgb).round().astype(image.dtype)

    def minus(self, image: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """An RGB image less an RGB ``offset`` (float32, not below 0)."""
        return np.maximum(np.subtract(image, offset, dtype=np.float32), 0.0)

    def decompose(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(R, I, Î) of a whole frame (the nets; in tiles above ``tiling.TILE_ABOVE_PIXELS``:
        bounded memory)."""
        from ..nets.tiling import TILE_ABOVE_PIXELS, Relighter, decompose_tiled  # needs torch

        if image.shape[0] * image.shape[1] <= TILE_ABOVE_PIXELS:
            d = self.backend(image)
        else:
            if self.relighter is None:
                self.relighter = Relighter(self.backend.weights)
            d = decompose_tiled(self.backend, image, self.relighter)
        return d.reflectance, d.illumination, d.enhanced_illumination

    def denoise_reflectance(self, reflectance: np.ndarray, gain: np.ndarray, strength: float
                            ) -> np.ndarray:
        return denoise_reflectance(reflectance, gain, strength, reference.R_SIGMA)

    def times(self, reflectance: np.ndarray, illumination: np.ndarray) -> np.ndarray:
        """R ∘ Î, in place (no three-channel copy of Î)."""
        reflectance *= illumination[..., None]
        return reflectance

    def cells(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """An RGB image area-averaged in float to ``size`` (w, h) cells (a uint8 average
        rounded to codes would move a dark cell's colour), float32 (h, w, 3)."""
        return downscale(image.astype(np.float32, copy=False), size)

    def finish_quality(self, output: np.ndarray, ratio: np.ndarray, factor: float,
                       image: np.ndarray, original: np.ndarray,
                       night: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """R ∘ Î (0-1) times the per-cell ``ratio`` upsampled and the global ``factor``, taken
        from the input by ``reference.night_lifted`` where ``night`` (the smoothed Y at half
        resolution; black point, knee, boost, weight) is given, under the highlight
        ``reference.shoulder``, in the depth of the ``original``, never below the input
        (``image``, or a 16-bit ``original``)."""
        height, width = output.shape[:2]
        ratio_full = cv2.resize(ratio, (width, height), interpolation=cv2.INTER_LINEAR)
        top, depth = _depth(original)
        lifted = cv2.multiply(output, ratio_full, scale=255.0 * factor)
        if night is not None:
            smooth_y, lift = night
            smooth_y = cv2.resize(smooth_y, (width, height), interpolation=cv2.INTER_LINEAR)
            for first in range(0, height, NIGHT_ROWS):  # a band at a time: a photo's memory
                rows = slice(first, first + NIGHT_ROWS)
                lifted[rows] = cv2.merge(reference.night_lifted(
                    cv2.split(image[rows].astype(np.float32)), cv2.split(lifted[rows]),
                    smooth_y[rows], *(float(n) for n in lift)))
        eased = reference.shoulder(np.max(image, axis=2).astype(np.float32),
                                   np.max(lifted, axis=2))
        out = cv2.multiply(lifted, cv2.merge([eased] * 3), scale=top / 255.0, dtype=depth)
        if original.dtype == np.uint16:
            return cv2.max(out, original)
        return cv2.max(out, image if image.dtype == np.uint8 else cv2.convertScaleAbs(image))

    # the fast RGB path (still images in fast mode)
    def downscale(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return downscale(image, size)

    def apply_rgb_gains(self, image: np.ndarray, gains: np.ndarray, strength: float,
                        original: np.ndarray) -> np.ndarray:
        """denoise(S) ∘ G: the low-resolution RGB ``gains`` (h, w, 3) upsampled onto the
        image, which is first denoised where they are high; the output in the depth of the
        ``original``."""
        height, width = image.shape[:2]
        full = cv2.resize(gains, (width, height), interpolation=cv2.INTER_LINEAR)
        image = denoise_frame(image, gains.mean(axis=2), strength)
        top, depth = _depth(original)
        return cv2.multiply(image, full, scale=top / 255.0, dtype=depth)
