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

from .formats import CHROMA_ZERO, LUMA, RGB_TO_YUV, Y_BLACK, YUV_TO_RGB

__all__ = ["BLOCK_SPACING", "CHROMA_EPS", "CHROMA_RADIUS", "DEBLOCK_FLAT", "DEBLOCK_STEP",
           "DIAMETER", "FLAT_EPS", "FLAT_RADIUS", "FULL_GAIN", "R_SIGMA", "TINY", "Resampler",
           "chroma_smoothed", "colour_rolloff", "composed_luma", "deblocked", "denoise_weight",
           "gains_at_chroma", "guided_coefficients", "lift_share", "mixed", "temporal_update"]

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
# Block edges every BLOCK_SPACING pixels at chroma resolution (the 8×8 luma blocks) that step
# less than DEBLOCK_STEP codes between sides flat within DEBLOCK_FLAT become ramps.
BLOCK_SPACING, DEBLOCK_STEP, DEBLOCK_FLAT = 4, 3.0, 0.5
# The output's chroma smoothed along its luma where the gain is high (the guided filter,
# windows of 5 × 5 at half the chroma resolution, eps in output luma levels²).
CHROMA_RADIUS, CHROMA_EPS = 2, 10.0**2


def _torch(array: Any) -> bool:
    return type(array).__module__.startswith("torch")


def _minimum(a: Any, b: Any) -> Any:
    if _torch(a):
        import torch

        return torch.minimum(a, b)
    return np.minimum(a, b)


def _where(condition: Any, a: Any, b: Any) -> Any:
    if _torch(condition):
        import torch

        return torch.where(condition, a, b)
    return np.where(condition, a, b)


def _codes(value: Any) -> Any:
    """Rounded half to even (OpenCV's and numba's rint) and clipped to 0-255, still float."""
    return value.round().clip(0.0, 255.0)


def lift_share(luma: Any, black: float, knee: float) -> Any:
    """The share of its lift (0-1) a pixel at ``luma`` (full-range codes) gets: none at or
    below the ``black`` point, rising over about ``knee`` codes above it to nearly all. A
    gain g then maps luma L to L + (g − 1)·share·L: blacks stay black and a signal at the
    noise floor is lifted little."""
    excess = (luma - black).clip(0.0, None)
    return (excess * excess / ((excess + knee) * luma).clip(TINY, None)).clip(None, 1.0)


def colour_rolloff(gain_r: Any, gain_g: Any, gain_b: Any, saturated: float) -> Any:
    """The factor on a pixel's output chroma where the smallest of its three gains exceeds
    ``saturated`` (0: no roll-off): colour lifted that much is mostly the codec's chroma
    steps. The strongest channel's gain counts, so a saturated colour keeps its hue."""
    if saturated <= 0:
        return 1.0
    weakest = _minimum(_minimum(gain_r, gain_g), gain_b)
    return (saturated / weakest.clip(TINY, None)).clip(None, 1.0)


def gains_at_chroma(y: Any, u: Any, v: Any, filtered: tuple[Any, Any, Any],
                    gains: tuple[Any, Any, Any], weight: Any, night: Any
                    ) -> tuple[Any, Any, Any, Any]:
    """The RGB ``gains`` applied to a frame at chroma resolution (every input at that size):
    Y (averaged over each chroma pixel's 2×2), U and V, each mixed with its ``filtered`` plane
    by the denoise ``weight``, to RGB, lifted by ``lift_share`` of each gain (``night``:
    black point, knee, roll-off gain), clipped, back to YUV. Returns U', V' (rounded codes,
    rolled off), and Y's detail gain (the gains' luma, less the denoised share) and base
    (Y' − detail · Y): the output Y is Y_full · detail + base (``composed_luma``)."""
    black, knee, saturated = (float(n) for n in night)
    y0 = y + weight * (filtered[0] - y) - Y_BLACK
    u0 = u + weight * (filtered[1] - u) - CHROMA_ZERO
    v0 = v + weight * (filtered[2] - v) - CHROMA_ZERO
    to_rgb, to_yuv = YUV_TO_RGB.tolist(), RGB_TO_YUV.tolist()
    share = lift_share(to_rgb[0][0] * y0, black, knee)  # Y − 16 as full-range luma
    lifts = [1.0 + (gain - 1.0) * share for gain in gains]
    red, green, blue = (((row[0] * y0 + row[1] * u0 + row[2] * v0) * lift).clip(0.0, 255.0)
                        for row, lift in zip(to_rgb, lifts, strict=True))
    detail = (float(LUMA[0]) * lifts[0] + float(LUMA[1]) * lifts[1]
              + float(LUMA[2]) * lifts[2]) * (1.0 - weight)
    base = (to_yuv[0][0] * red + to_yuv[0][1] * green + to_yuv[0][2] * blue + Y_BLACK
            - detail * y)
    # the output's colour is rolled towards its own grey (rolling the input's made grey,
    # then cyan by the gains)
    rolled = colour_rolloff(*gains, saturated)
    out_u, out_v = (_codes((row[0] * red + row[1] * green + row[2] * blue) * rolled
                           + CHROMA_ZERO) for row in to_yuv[1:])
    return out_u, out_v, detail, base


def composed_luma(y: Any, detail: Any, base: Any) -> Any:
    """The output Y (codes, float) from the full-resolution Y and ``gains_at_chroma``'s
    detail and base upsampled to it."""
    return _codes(y * detail + base)


def temporal_update(new: Any, old: Any, k: Any, light: float, pivot: float) -> Any:
    """The recursive filter's step: the estimate ``old`` under ``light`` times the light
    (scaled around ``pivot``: Y's black, the chroma's zero, 0 for RGB), moved a share ``k``
    of the way to the ``new`` frame."""
    previous = (old - pivot) * light + pivot
    return previous + k * (new - previous)


def mixed(old: Any, new: Any, share: Any) -> Any:
    """``share`` of ``new`` into ``old``: the blend of every filter by its weight."""
    return old + share * (new - old)


def chroma_smoothed(chroma: Any, a: Any, b: Any, guide: Any, share: Any) -> Any:
    """A chroma plane with ``share`` of its guided filter (a · guide + b) mixed in, rounded
    to codes."""
    return _codes(mixed(chroma, a * guide + b, share))


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
    """The resampling an executor does for the guided filter, on one plane each."""

    def area(self, plane: Any, size: tuple[int, int]) -> Any: ...
    def box(self, plane: Any, window: int) -> Any: ...


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
    variance = resample.box(small * small, window) - mean * mean + max(eps, TINY)
    out = []
    for source in sources:
        small_source = small if source is guide else resample.area(source, size)
        mean_source = resample.box(small_source, window)
        a = (resample.box(small * small_source, window) - mean * mean_source) / variance
        b = mean_source - a * mean
        out.append((resample.box(a, window), resample.box(b, window)))
    return out
