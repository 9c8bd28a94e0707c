"""Image quality (scikit-image PSNR/SSIM, the LLIE papers' convention) and video flicker."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = ["chromaticity_shift", "flicker", "psnr", "ssim"]


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
