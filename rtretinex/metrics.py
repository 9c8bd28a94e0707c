"""Image quality (scikit-image PSNR/SSIM, the LLIE papers' convention), video flicker, and
what goes wrong on real night footage: colour casts in the shadows and amplified codec
blocks."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = ["chromaticity_shift", "flat_stepped_blocks", "flicker", "mean_matched",
           "neutral_chroma_distance", "psnr", "shadow_colour_error", "ssim"]

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
