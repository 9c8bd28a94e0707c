"""Image quality (scikit-image PSNR/SSIM, the LLIE papers' convention), video flicker, and
what goes wrong on real night footage: colour casts in the shadows, amplified codec blocks,
and how a night frame looks against its own input (``night_look``: blown highlights, false
contours, greys, saturation, the floor)."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .pixelops.formats import LUMA

__all__ = ["chromaticity_shift", "false_contours", "flat_stepped_blocks", "flicker",
           "mean_matched", "neutral_chroma_distance", "night_look", "night_look_of_clip", "psnr",
           "shadow_colour_error", "ssim"]

# Where shadow colour and blocks are judged: dark-to-mid output luma (0-255).
SHADOW_LUMA = (20.0, 110.0)
BLOCK = 8


def _check_pair(pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape or pred.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError(
            f"expected two uint8 RGB images of one shape, got {pred.dtype}{pred.shape} "
            f"and {target.dtype}{target.shape}"
        )


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of uint8 RGB images (data_range 255)."""
    _check_pair(pred, target)
    return float(peak_signal_noise_ratio(target, pred, data_range=255))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of uint8 RGB images: scikit-image defaults, channel_axis=2, data_range 255."""
    _check_pair(pred, target)
    return float(structural_similarity(target, pred, data_range=255, channel_axis=2))


def flicker(frames: Iterable[np.ndarray]) -> tuple[float, float]:
    """Mean and variance of |Δ mean luma| between consecutive frames (0-255 scale)."""
    means = [float(f.mean()) for f in frames]
    if len(means) < 2:
        raise ValueError("flicker needs at least two frames")
    steps = np.abs(np.diff(means))
    return float(steps.mean()), float(steps.var())


def chromaticity_shift(output: np.ndarray, source: np.ndarray) -> float:
    """L1 distance between the mean (r, g, b) proportions of two RGB images: 0 when the
    output is the source times one gain, larger for a colour cast."""
    def proportions(image: np.ndarray) -> np.ndarray:
        mean = image.reshape(-1, 3).astype(np.float64).mean(axis=0)
        return mean / max(float(mean.sum()), 1e-9)

    return float(np.abs(proportions(output) - proportions(source)).sum())


def mean_matched(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``pred`` (uint8 RGB) times one factor so its mean equals ``target``'s: the brightness
    a method picked no longer counts, only structure and colour."""
    factor = float(target.mean()) / max(float(pred.mean()), 1e-6)
    return cv2.convertScaleAbs(pred, alpha=factor)


def _chroma(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 Y, Cr, Cb (OpenCV's full-range BT.601) of uint8 RGB."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float32)


def shadow_colour_error(pred: np.ndarray, target: np.ndarray,
                        below: float = SHADOW_LUMA[1]) -> float:
    """Mean |ΔCr| + |ΔCb| (codes) of ``pred`` against ``target`` where the target's luma is
    below ``below``: a colour cast over the shadows."""
    _check_pair(pred, target)
    p, t = _chroma(pred), _chroma(target)
    mask = t[..., 0] < below
    if not mask.any():
        return 0.0
    return float(np.abs(p[..., 1:] - t[..., 1:])[mask].sum(axis=1).mean())


def neutral_chroma_distance(image: np.ndarray, luma: tuple[float, float] = SHADOW_LUMA
                            ) -> float:
    """Mean |Cr − 128| + |Cb − 128| (codes) of a uint8 RGB image where its luma is within
    ``luma``: how far dark-to-mid areas are from grey. Real night scenes are mostly
    neutral there; a magenta black level times a gain is not."""
    c = _chroma(image)
    mask = (c[..., 0] >= luma[0]) & (c[..., 0] <= luma[1])
    if not mask.any():
        return 0.0
    return float(np.abs(c[..., 1:] - 128.0)[mask].sum(axis=1).mean())


def flat_stepped_blocks(image: np.ndarray, step: float = 3.0, flat: float = 1.0,
                        luma: tuple[float, float] = SHADOW_LUMA) -> float:
    """Share of the 8×8 blocks (codec grid) with mean luma within ``luma`` that are flat
    inside (mean |difference| between neighbouring pixels below ``flat``) but step by at
    least ``step`` codes from a neighbouring block across their right or bottom edge:
    amplified codec blocks, which a smooth gradient or real texture is not."""
    y = _chroma(image)[..., 0]
    rows, cols = y.shape[0] // BLOCK, y.shape[1] // BLOCK
    if rows < 2 or cols < 2:
        return 0.0
    y = y[:rows * BLOCK, :cols * BLOCK]
    blocks = y.reshape(rows, BLOCK, cols, BLOCK)
    inside = (np.abs(np.diff(blocks, axis=3)).mean(axis=(1, 3))
              + np.abs(np.diff(blocks, axis=1)).mean(axis=(1, 3))) / 2
    right = np.zeros((rows, cols), bool)
    below = np.zeros((rows, cols), bool)
    right[:, :-1] = np.abs(blocks[:, :, :-1, -1].mean(axis=1)
                           - blocks[:, :, 1:, 0].mean(axis=1)) >= step
    below[:-1] = np.abs(blocks[:-1, -1].mean(axis=-1) - blocks[1:, 0].mean(axis=-1)) >= step
    means = blocks.mean(axis=(1, 3))
    judged = (means >= luma[0]) & (means <= luma[1])
    if not judged.any():
        return 0.0
    return float(((inside < flat) & (right | below))[judged].mean())


# How night footage looks against its own input (``night_look``): full-range BT.601 in float.
CLIPPED_OUT, CLIPPED_IN = 250.0, 230.0  # newly clipped: out at least, in below
FLAT_STD, CONTOUR_STEP = 0.8, 6.0  # false contours: 5×5 std of the input, output step
JUDGED_LUMA = (40.0, 230.0)  # greys and saturation are judged where the input is lit
GREY_CHROMA, COLOURED_CHROMA, MIN_GREY_PIXELS = 3.0, 8.0, 200
FLOOR_SHARE = 0.1  # the floor: the output over the input's darkest tenth


def _ycbcr(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full-range BT.601 luma (H, W) and |Cb − 128| + |Cr − 128| (H, W), float32, of uint8
    RGB."""
    rgb = image.astype(np.float32)
    y = rgb @ LUMA
    chroma = np.abs(0.564 * (rgb[..., 2] - y)) + np.abs(0.713 * (rgb[..., 0] - y))
    return y, chroma


def _saturation(image: np.ndarray) -> np.ndarray:
    """(max − min) / max of each pixel's R, G, B (0 where black)."""
    rgb = image.astype(np.float32)
    top = rgb.max(axis=2)
    return (top - rgb.min(axis=2)) / np.maximum(top, 1.0)


def false_contours(y_in: np.ndarray, y_out: np.ndarray) -> np.ndarray:
    """Where (bool, H × W) the input's luma ``y_in`` is flat (5×5 standard deviation at most
    FLAT_STD) but the output's ``y_out`` (float32, full-range codes) steps by CONTOUR_STEP or
    more to its right or lower neighbour."""
    mean = cv2.blur(y_in, (5, 5))
    flat = np.sqrt(np.maximum(cv2.blur(y_in * y_in, (5, 5)) - mean * mean, 0.0)) <= FLAT_STD
    steps = np.zeros(y_out.shape, bool)
    steps[:, :-1] |= np.abs(np.diff(y_out, axis=1)) >= CONTOUR_STEP
    steps[:-1] |= np.abs(np.diff(y_out, axis=0)) >= CONTOUR_STEP
    return flat & steps


def night_look(output: np.ndarray, source: np.ndarray) -> dict[str, float | None]:
    """How an enhanced night frame looks against its input (uint8 RGB, one size), in the
    four ways camera pipelines get night scenes wrong: ``newly_clipped`` (% of pixels blown
    to at least CLIPPED_OUT that were below CLIPPED_IN), ``false_contours`` (% of pixels
    where the input is flat but the output steps by CONTOUR_STEP or more to its right or
    lower neighbour: the codec's floor lifted into bands), ``greys`` (mean chroma of the
    output where the lit input is grey; None under MIN_GREY_PIXELS such pixels),
    ``saturation_kept`` (median output / input saturation where the lit input is coloured;
    None where none is); and the ``floor`` (median output luma over the input's darkest
    tenth), ``luma_in`` and ``luma_out`` (means)."""
    _check_pair(output, source)
    y_in, chroma_in = _ycbcr(source)
    y_out, chroma_out = _ycbcr(output)
    lit = (y_in >= JUDGED_LUMA[0]) & (y_in <= JUDGED_LUMA[1])
    grey, coloured = lit & (chroma_in <= GREY_CHROMA), lit & (chroma_in >= COLOURED_CHROMA)
    darkest = y_in <= np.quantile(y_in, FLOOR_SHARE)
    saturation_in = _saturation(source)[coloured]
    return {
        "newly_clipped": float(100 * ((y_out >= CLIPPED_OUT) & (y_in < CLIPPED_IN)).mean()),
        "false_contours": float(100 * false_contours(y_in, y_out).mean()),
        "greys": float(chroma_out[grey].mean()) if grey.sum() >= MIN_GREY_PIXELS else None,
        "saturation_kept": float(np.median(_saturation(output)[coloured]
                                           / np.maximum(saturation_in, 1e-6)))
        if coloured.any() else None,
        "floor": float(np.median(y_out[darkest])),
        "luma_in": float(y_in.mean()), "luma_out": float(y_out.mean())}


def night_look_of_clip(outputs: Iterable[np.ndarray], sources: Iterable[np.ndarray]
                       ) -> dict[str, float | None]:
    """``night_look`` of each frame averaged over the frames (a figure None in every frame
    stays None)."""
    frames = [night_look(o, s) for o, s in zip(outputs, sources, strict=True)]
    out: dict[str, float | None] = {}
    for key in frames[0]:
        values = [f[key] for f in frames if f[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out
