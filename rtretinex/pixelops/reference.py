"""Each per-pixel formula of the frame path, stated once.

The functions take NumPy arrays or torch tensors alike (Python operators, plus the few calls
below that pick the array's own library), so the torch executor runs them as they are, and
``tests/test_pixel_ops.py`` holds every executor against them op by op: the host's fused
numba loops (``loops``, where a pass a pixel earns its speed) and OpenCV passes, and torch.
The filters' parameters are named here, beside the formulas they tune.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .formats import CHROMA_ZERO, LUMA, RGB_TO_YUV, Y_BLACK, YUV_TO_RGB, chroma_in_rgb

__all__ = [
    "BLOCK_SPACING",
    "CAST_CHROMA",
    "CHROMA_EPS",
    "CHROMA_RADIUS",
    "CHROMA_SMOOTH_GAINS",
    "DEBLOCK_FLAT",
    "DEBLOCK_STEP",
    "DIAMETER",
    "FLAT_EPS",
    "FLAT_MEAN_SIDE",
    "FLAT_MEAN_VARIANCE",
    "FLAT_MEAN_WIDE",
    "FLAT_MEAN_WINDOW",
    "FLAT_RADIUS",
    "FULL_GAIN",
    "GREY_CHROMA",
    "R_SIGMA",
    "SHOULDER_START",
    "SHOULDER_TOP",
    "TINY",
    "Resampler",
    "cast_added",
    "cast_removed",
    "cast_share",
    "chroma_kept",
    "chroma_smoothed",
    "chroma_smoothing_share",
    "colourfulness",
    "composed_luma",
    "deblocked",
    "denoise_weight",
    "flat_mean_windows",
    "flat_means",
    "gains_at_chroma",
    "guided_coefficients",
    "lift_share",
    "mixed",
    "night_lifted",
    "rgb_cast_added",
    "rgb_cast_removed",
    "shoulder",
    "spread_sample",
    "temporal_update",
]

# Divisors in the formulas are kept at least this (no pixel divides by zero).
TINY = 1e-6
# The spatial filters' window: OpenCV's bilateral filter on R (quality mode) and the fast
# mode's Gaussian on the input are DIAMETER × DIAMETER.
DIAMETER = 5
# The bilateral filter's colour sigma on R (0-1) at denoise strength 1.
R_SIGMA = 0.1
# The gain above which the spatial denoise applies fully (at strength 1); none at gain <= 1.
FULL_GAIN = 4.0
# Flat-area smoothing of the luma (the guided filter by itself, at half the chroma
# resolution): variation up to about 1.25 codes (eps, levels²) is flattened, in windows of
# radius 1 there (12 full-resolution pixels, past the codec's 8×8 blocks).
FLAT_EPS, FLAT_RADIUS = 1.25**2, 1
# Then the luma's flat areas become their mean over FLAT_MEAN_WINDOW² pixels at half the
# chroma resolution (12 full-resolution pixels): flat where what is left of it over
# FLAT_MEAN_WIDE² pixels, its slope taken out, varies by under FLAT_MEAN_VARIANCE (codes²).
# The guided filter keeps a faint gradient's one-code steps, which a high gain lifts into
# contours. Both windows grow by a step (2 and 4 pixels there) per FLAT_MEAN_SIDE pixels of
# the picture's shorter side, so that a step is spread over as large a share of a 1080p
# picture as of a 540p one.
FLAT_MEAN_WINDOW, FLAT_MEAN_WIDE, FLAT_MEAN_VARIANCE, FLAT_MEAN_SIDE = 3, 7, 1.0, 540
# Block edges every BLOCK_SPACING pixels at chroma resolution (the 8×8 luma blocks) that step
# less than DEBLOCK_STEP codes between sides flat within DEBLOCK_FLAT become ramps.
BLOCK_SPACING, DEBLOCK_STEP, DEBLOCK_FLAT = 4, 3.0, 0.5
# The output's chroma smoothed along its luma where the gain is high (the guided filter,
# windows of 5 × 5 at half the chroma resolution, eps in output luma levels²).
CHROMA_RADIUS, CHROMA_EPS = 2, 10.0**2
# The output's chroma is smoothed only where the gain lifts the codec's chroma steps into
# blotches: not at all up to the first gain, fully from the second.
CHROMA_SMOOTH_GAINS = (2.0, 4.0)
# Highlight shoulder on a pixel's brightest channel (shares of full scale): lifted as asked
# up to SHOULDER_START, beyond it eased towards SHOULDER_TOP, which it never reaches, so
# nothing that was not clipped becomes clipped and a lit object keeps its colour (the three
# channels keep their ratios) and the order of its tones.
SHOULDER_START, SHOULDER_TOP = 0.8, 0.975
# A black level's colour cast (``cast_share``) is taken off a pixel where its chroma (|U| +
# |V|) is at least the first share of the pixel's luma (Y − 16), fully from the second: the
# Decom-Net's gain on a dark field falls by 10-20 % with chroma at 0.2 of its luma towards
# blue or magenta, and by 40-60 % at 0.4 (docs/history.md, 2026-12-07).
CAST_CHROMA = (0.2, 0.4)
# A colour's chroma (|U| + |V|) over its luma (Y − 16) at which it counts half as a colour
# (a steep curve): the gains of a near grey are made neutral and its chroma is not
# amplified with the light (codec steps, a bias left over), so a grey stays grey.
GREY_CHROMA = 0.1


def _torch(array: Any) -> bool:
    return type(array).__module__.startswith("torch")


def _minimum(a: Any, b: Any) -> Any:
    if _torch(a):
        import torch

        return torch.minimum(a, b)
    return np.minimum(a, b)


def _maximum(a: Any, b: Any) -> Any:
    if _torch(a):
        import torch

        return torch.maximum(a, b)
    return np.maximum(a, b)


def _where(condition: Any, a: Any, b: Any) -> Any:
    if _torch(condition):
        import torch

        return torch.where(condition, a, b)
    return np.where(condition, a, b)


def _codes(value: Any) -> Any:
    """Rounded half to even (OpenCV's and numba's rint) and clipped to 0-255, still float."""
    return value.round().clip(0.0, 255.0)


def _weighted(weights: Any, planes: Any) -> Any:
    """w₀·p₀ + w₁·p₁ + w₂·p₂ of three planes (``weights``: three numbers or a NumPy row)."""
    w = [float(value) for value in weights]
    return w[0] * planes[0] + w[1] * planes[1] + w[2] * planes[2]


def _applied(matrix: np.ndarray, planes: Any) -> list[Any]:
    """A 3×3 colour ``matrix`` (``formats.YUV_TO_RGB``, ``RGB_TO_YUV``) applied to three
    planes."""
    return [_weighted(row, planes) for row in matrix]


def spread_sample(plane: Any, step: int, spread: int) -> Any:
    """Every ``step``-th pixel of every ``step``-th row of a plane (float), each the mean of
    the ``spread`` × ``spread`` pixels from it to the right and down: a sample whose
    independent noise is ``spread`` times lower."""
    rows = (plane.shape[0] - spread) // step + 1
    columns = (plane.shape[1] - spread) // step + 1
    total = 0.0
    for down in range(spread):
        for right in range(spread):
            total = total + plane[down::step, right::step][:rows, :columns] * 1.0
    return total * (1.0 / (spread * spread))


def lift_share(luma: Any, black: float, knee: float) -> Any:
    """The share of its lift (0-1) a pixel at ``luma`` (full-range codes) gets: none at or
    below the ``black`` point, rising over about ``knee`` codes above it to nearly all. A
    gain g then maps luma L to L + (g − 1)·share·L: blacks stay black and a signal at the
    noise floor is lifted little."""
    excess = (luma - black).clip(0.0, None)
    return (excess * excess / ((excess + knee) * luma).clip(TINY, None)).clip(None, 1.0)


def shoulder(peak_in: Any, peak_out: Any) -> Any:
    """The factor (≤ 1) on a pixel's lifted RGB whose brightest channel goes from
    ``peak_in`` to ``peak_out`` (codes): as it is up to SHOULDER_START of full scale (or the
    input, if brighter), beyond it eased towards SHOULDER_TOP (or the input) on a rational
    curve (slope 1 at the knee), so the output is never darker than the input and never
    reaches the top."""
    peak_in, peak_out = peak_in.clip(0.0, 255.0), peak_out.clip(TINY, None)
    knee = peak_in.clip(255.0 * SHOULDER_START, None)
    soft = peak_in.clip(255.0 * SHOULDER_TOP, None) - knee
    excess = (peak_out - knee).clip(0.0, None)
    eased = _minimum(peak_out, knee) + soft * excess / (soft + excess + TINY)
    return (eased / peak_out).clip(None, 1.0)


def colourfulness(y: Any, u: Any, v: Any) -> Any:
    """How much a pixel (Y − 16, U − 128, V − 128 codes) counts as a colour (0-1) rather
    than a near grey: its chroma over its luma against GREY_CHROMA, on a steep curve."""
    ratio = (abs(u) + abs(v)) / y.clip(1.0, None)
    power = ratio * ratio * ratio * ratio
    return power / (power + GREY_CHROMA**4)


def chroma_kept(colour: Any, gain: Any) -> Any:
    """The factor on a pixel's output chroma under a luma ``gain`` so that a colour
    (``colourfulness`` 1) is lifted with the light and a near grey (0) keeps its chroma in
    codes instead."""
    gain = gain.clip(1.0, None)
    return (1.0 + (gain - 1.0) * colour) / gain


def gains_at_chroma(y: Any, u: Any, v: Any, filtered: tuple[Any, Any, Any],
                    gains: tuple[Any, Any, Any], weight: Any, night: Any
                    ) -> tuple[Any, Any, Any, Any, Any]:
    """The RGB ``gains`` applied to a frame at chroma resolution (every input at that size):
    Y (averaged over each chroma pixel's 2×2), U and V, each mixed with its ``filtered`` plane
    by the denoise ``weight``, to RGB, lifted by ``lift_share`` of each gain (``night``:
    black point, knee) under the highlight ``shoulder``, clipped, back to YUV. Returns U',
    V' (rounded codes; near greys kept grey, ``chroma_kept``), Y's detail gain (the lifts'
    luma, less the denoised share) and base (Y' − detail · Y): the output Y is Y_full ·
    detail + base (``composed_luma``); and the share of the chroma smoothing the pixel may
    take (``chroma_smoothing_share``)."""
    black, knee = (float(n) for n in night)
    y0 = y + weight * (filtered[0] - y) - Y_BLACK
    u0 = u + weight * (filtered[1] - u) - CHROMA_ZERO
    v0 = v + weight * (filtered[2] - v) - CHROMA_ZERO
    share = lift_share(float(YUV_TO_RGB[0, 0]) * y0, black, knee)  # Y − 16 as full-range luma
    source = _applied(YUV_TO_RGB, (y0, u0, v0))
    lifts = [1.0 + (gain - 1.0) * share for gain in gains]
    # a near grey (by its own chroma: the filtered one carries its neighbours') gets neutral
    # gains
    colour = colourfulness(y0, u - CHROMA_ZERO, v - CHROMA_ZERO)
    neutral = _weighted(LUMA, lifts)
    lifts = [neutral + colour * (lift - neutral) for lift in lifts]
    peak_in = _maximum(_maximum(source[0], source[1]), source[2])
    peak_out = _maximum(_maximum(source[0] * lifts[0], source[1] * lifts[1]),
                        source[2] * lifts[2])
    eased = shoulder(peak_in, peak_out)
    lifts = [lift * eased for lift in lifts]
    red, green, blue = ((channel * lift).clip(0.0, 255.0)
                        for channel, lift in zip(source, lifts, strict=True))
    gain = _weighted(LUMA, lifts)
    detail = gain * (1.0 - weight)
    luma_out, *chroma_out = _applied(RGB_TO_YUV, (red, green, blue))
    base = luma_out + Y_BLACK - detail * y
    # the output's chroma is scaled towards its own grey (scaling the input's made grey,
    # then cyan by the gains)
    kept = chroma_kept(colour, gain)
    out_u, out_v = (_codes(chroma * kept + CHROMA_ZERO) for chroma in chroma_out)
    return out_u, out_v, detail, base, chroma_smoothing_share(gain)


def cast_share(y: Any, u: Any, v: Any, cast: tuple[float, float]) -> Any:
    """How much (0-1) of a black level's colour ``cast`` (U, V codes from grey) a pixel
    (``y``, ``u``, ``v``: codes, float) holds: its chroma's projection on the cast (none for
    a colour the other way, at most the cast itself), where the cast is a large part of its
    light (CAST_CHROMA). Taken off before the gains, the Decom-Net no longer takes a dark
    blue or purple for bright light (it hardly lifts it); put back after (``cast_added``),
    in codes, a grade stays as it was instead of growing with the light. Brighter pixels
    keep theirs: there the cast is small beside the light, and a colour in its direction
    (blue water under a blue-graded sky) is the scene's own."""
    size = cast[0] * cast[0] + cast[1] * cast[1]
    along = (((u - CHROMA_ZERO) * cast[0] + (v - CHROMA_ZERO) * cast[1])
             * (1.0 / size)).clip(0.0, 1.0)
    low, high = CAST_CHROMA
    ratio = (abs(cast[0]) + abs(cast[1])) / (y - Y_BLACK).clip(TINY, None)
    return along * ((ratio - low) * (1.0 / (high - low))).clip(0.0, 1.0)


def cast_removed(y: Any, u: Any, v: Any, cast: tuple[float, float]) -> tuple[Any, Any, Any]:
    """U and V (codes, float) with as much of a black level's ``cast`` taken off as each
    pixel holds (``cast_share``), and that share: what ``cast_added`` puts back."""
    share = cast_share(y, u, v, cast)
    return u - share * cast[0], v - share * cast[1], share


def cast_added(plane: Any, share: Any, cast: float) -> Any:
    """A chroma ``plane`` (codes) with ``share`` of a black level's ``cast`` (one plane's
    codes, ``cast_share``) put back, rounded to codes."""
    return _codes(plane + share * cast)


def rgb_cast_removed(rgb: tuple[Any, Any, Any], cast: tuple[float, float]
                     ) -> tuple[tuple[Any, Any, Any], Any]:
    """An RGB image's planes (0-255 scale, float) with as much of a black level's ``cast``
    (U, V codes) taken off as each pixel holds (``cast_share`` of its limited-range Y, U, V;
    not below 0), and that share: what ``rgb_cast_added`` puts back."""
    y, u, v = (plane + zero for plane, zero in zip(_applied(RGB_TO_YUV, rgb),
                                                   (Y_BLACK, CHROMA_ZERO, CHROMA_ZERO),
                                                   strict=True))
    share = cast_share(y, u, v, cast)
    offset = chroma_in_rgb(np.array(cast, np.float32)).tolist()
    return tuple((plane - share * o).clip(0.0, None)
                 for plane, o in zip(rgb, offset, strict=True)), share


def rgb_cast_added(rgb: tuple[Any, Any, Any], share: Any, cast: tuple[float, float],
                   top: float = 255.0) -> tuple[Any, Any, Any]:
    """An RGB output's planes (0-``top`` scale, float) with ``share`` of a black level's
    ``cast`` put back (``rgb_cast_removed``), in codes as ``cast_added``: within 0-``top``,
    not rounded."""
    offset = (chroma_in_rgb(np.array(cast, np.float32)) * np.float32(top / 255.0)).tolist()
    return tuple((plane + share * o).clip(0.0, top) for plane, o in zip(rgb, offset, strict=True))


def composed_luma(y: Any, detail: Any, base: Any) -> Any:
    """The output Y (codes, float) from the full-resolution Y and ``gains_at_chroma``'s
    detail and base upsampled to it."""
    return _codes(y * detail + base)


def night_lifted(source: tuple[Any, Any, Any], proposed: tuple[Any, Any, Any], smooth_y: Any,
                 black: float, knee: float, boost: float, weight: float = 1.0
                 ) -> tuple[Any, Any, Any]:
    """Quality mode's night corrections on a pixel's RGB (codes, 0-255 scale): the
    ``proposed`` output (R ∘ Î with its factors) taken ``lift_share`` of the way from the
    ``source`` (black point and knee, times ``boost``: ``night.lift_boost``) as the fast
    path's gains are, the share read on the source's limited-range Y with its flat areas
    and block edges smoothed (``smooth_y``: the executors' ``filtered_planes``), whose
    noise and steps would pass into it; a near grey (``colourfulness`` of the source) is
    lifted in its luma only, all three channels by the same codes, so it stays grey. All of
    it ``weight`` (0-1) of the way from the proposal as it is."""
    y_in, u, v = _applied(RGB_TO_YUV, source)
    colour = 1.0 + weight * (colourfulness(y_in, u, v) - 1.0)
    light_in, light_out = _weighted(LUMA, source), _weighted(LUMA, proposed)
    share = lift_share(float(YUV_TO_RGB[0, 0]) * (smooth_y - Y_BLACK), black, knee) * boost
    share = 1.0 + weight * (share - 1.0)
    grey_lift = (light_out - light_in) * (1.0 - colour)
    return tuple(channel + share * (colour * (out - channel) + grey_lift)
                 for channel, out in zip(source, proposed, strict=True))


def temporal_update(new: Any, old: Any, k: Any, light: float, pivot: float) -> Any:
    """The recursive filter's step: the estimate ``old`` under ``light`` times the light
    (scaled around ``pivot``: Y's black, the chroma's zero, 0 for RGB), moved a share ``k``
    of the way to the ``new`` frame."""
    previous = (old - pivot) * light + pivot
    return previous + k * (new - previous)


def chroma_smoothing_share(gain: Any) -> Any:
    """How much of the chroma smoothing (0-1) a pixel under luma ``gain`` takes: the
    codec's chroma blotches are smoothed where the gain lifts them (CHROMA_SMOOTH_GAINS)."""
    low, high = CHROMA_SMOOTH_GAINS
    return ((gain - low) / (high - low)).clip(0.0, 1.0)


def mixed(old: Any, new: Any, share: Any) -> Any:
    """``share`` of ``new`` into ``old``: the blend of every filter by its weight."""
    return old + share * (new - old)


def chroma_smoothed(u: Any, v: Any, coefficients: tuple[tuple[Any, Any], tuple[Any, Any]],
                    guide: Any, share: Any) -> tuple[Any, Any]:
    """The output's U and V (codes) with ``share`` of their guided filter (a · ``guide`` + b,
    ``coefficients`` for U and for V) mixed in, rounded to codes. A colour takes the filter
    as it is; a near grey (by the output's own ``colourfulness``) only as far as it moves
    towards grey, so it loses its chroma noise without taking its neighbours' colour."""
    colour = colourfulness(guide - Y_BLACK, u - CHROMA_ZERO, v - CHROMA_ZERO)
    out = []
    for plane, (a, b) in zip((u, v), coefficients, strict=True):
        own, smooth = plane - CHROMA_ZERO, a * guide + b - CHROMA_ZERO
        greyer = smooth.clip(own.clip(None, 0.0), own.clip(0.0, None))
        out.append(_codes(mixed(own, mixed(greyer, smooth, colour), share) + CHROMA_ZERO))
    return out[0], out[1]


def denoise_weight(gain: Any, strength: float) -> Any:
    """How much of the filtered image to take (0-1) where the enhancement's gain is ``gain``:
    0 at gain 1, 1 from gain 1 + (FULL_GAIN − 1) / ``strength``."""
    return ((gain - 1.0) * (strength / (FULL_GAIN - 1.0))).clip(0.0, 1.0)


def deblocked(plane: Any, spacing: int, step_max: float, flat_max: float) -> Any:
    """A float plane with the codec's block edges softened (a new plane): on every
    ``spacing``-th column, then row, boundary a step smaller than ``step_max`` between two
    sides flat to within ``flat_max`` becomes a ramp over four pixels (the idea of H.264's
    in-loop filter). Texture and real edges, not flat or stepping more, are left alone."""
    plane = plane.clone() if _torch(plane) else plane.copy()
    for view in (plane, plane.T):  # the transposed view's columns are the plane's rows
        at = np.arange(spacing, view.shape[1] - 1, spacing)
        if _torch(plane):
            import torch

            at = torch.from_numpy(at).to(plane.device)
        p1, p0, q0, q1 = (view[:, at + offset] for offset in (-2, -1, 0, 1))
        low = (p1 + p0) * 0.5
        step = (q0 + q1) * 0.5 - low
        ramp = (abs(p1 - p0) < flat_max) & (abs(q1 - q0) < flat_max) & (abs(step) < step_max)
        eighth = step * 0.125
        for offset, share in ((-2, 1), (-1, 3), (0, 5), (1, 7)):
            view[:, at + offset] = _where(ramp, low + share * eighth, view[:, at + offset])
    return plane


class Resampler(Protocol):
    """The resampling an executor does for the guided filter and the flat means, on one
    plane each (borders reflected as OpenCV's BORDER_REFLECT_101): ``area`` downscales,
    ``box`` is the window × window mean, ``ramp`` the window's mean of the plane times each
    pixel's offset from the window's centre along ``axis`` (0: rows, 1: columns)."""

    def area(self, plane: Any, size: tuple[int, int]) -> Any: ...
    def box(self, plane: Any, window: int) -> Any: ...
    def ramp(self, plane: Any, window: int, axis: int) -> Any: ...


def guided_coefficients(resample: Resampler, guide: Any, sources: tuple[Any, ...], radius: int,
                        eps: float) -> list[tuple[Any, Any]]:
    """The guided filter's (a, b) for each source (He et al., 2010), computed at half the
    guide's resolution and averaged over their windows (the fast guided filter, He and Sun,
    2015): the filtered source is a · guide + b with them upsampled. Where the guide varies
    well below ``eps`` (levels²) across a window ((2·radius + 1)² at half resolution) a
    source becomes its window mean; where it varies much more (edges, texture) the source
    follows it, so it is not smoothed across the guide's edges."""
    height, width = guide.shape
    size = (max(1, width // 2), max(1, height // 2))
    window = 2 * radius + 1
    small = resample.area(guide, size)
    mean = resample.box(small, window)
    spread = resample.box(small * small, window) - mean * mean
    variance = spread + max(eps, TINY)
    out = []
    for source in sources:
        if source is guide:  # the guide's own statistics (self-guided: flat areas' smoothing)
            mean_source, covariance = mean, spread
        else:
            small_source = resample.area(source, size)
            mean_source = resample.box(small_source, window)
            covariance = resample.box(small * small_source, window) - mean * mean_source
        a = covariance / variance
        b = mean_source - a * mean
        out.append((resample.box(a, window), resample.box(b, window)))
    return out


def flat_mean_windows(side: int) -> tuple[int, int]:
    """The mean's window and the wider one that judges flatness (``flat_means``) for a
    picture whose shorter side is ``side`` pixels: FLAT_MEAN_WINDOW and FLAT_MEAN_WIDE
    below 1.5 × FLAT_MEAN_SIDE, a step wider for each FLAT_MEAN_SIDE more."""
    steps = max(1, round(side / FLAT_MEAN_SIDE)) - 1
    return FLAT_MEAN_WINDOW + 2 * steps, FLAT_MEAN_WIDE + 4 * steps


def flat_means(resample: Resampler, plane: Any) -> tuple[Any, Any]:
    """What a float plane at chroma resolution has in its flat areas, at half its
    resolution: each window's mean (``flat_mean_windows``), and the share of it to take:
    1 where the plane varies by nothing around it once its slope is taken out (a gradient
    counts as flat, an edge or texture does not), 0 from FLAT_MEAN_VARIANCE, judged over the
    wider window so that no mean reaches across an edge, and averaged over the mean's window
    so it changes smoothly: ``mixed(plane, mean, share)`` with both upsampled to it."""
    height, width = plane.shape
    window, wide = flat_mean_windows(2 * min(height, width))
    small = resample.area(plane, (max(1, width // 2), max(1, height // 2)))
    mean = resample.box(small, wide)
    variance = resample.box(small * small, wide) - mean * mean
    spread = (wide * wide - 1) / 12.0  # the variance of the offsets across a window
    for axis in (0, 1):  # the least-squares slope along it, and the variance it explains
        slope = resample.ramp(small, wide, axis) * (1.0 / spread)
        variance = variance - slope * slope * spread
    share = (1.0 - variance * (1.0 / FLAT_MEAN_VARIANCE)).clip(0.0, 1.0)
    return resample.box(small, window), resample.box(share, window)
