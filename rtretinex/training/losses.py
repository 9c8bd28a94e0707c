"""RetinexNet's decomposition and relighting losses, plus the output losses used for fine-tuning.

All terms are L1 means over NCHW tensors, as in the paper's official code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets.models import RetinexOutput

__all__ = [
    "decom_loss",
    "gradient",
    "output_loss",
    "relight_loss",
    "smoothness",
    "ssim",
]

_GRAY = (0.299, 0.587, 0.114)


def gradient(x: torch.Tensor, direction: str) -> torch.Tensor:
    """Absolute finite difference with kernel [[0,0],[-1,1]] (x) or its transpose (y).

    Borders repeat the edge pixel (the official code pads with zeros, which makes even a
    constant illumination pay a smoothness cost along the right and bottom edges).
    """
    kernel = x.new_tensor([[0.0, 0.0], [-1.0, 1.0]]).view(1, 1, 2, 2)
    if direction == "y":
        kernel = kernel.transpose(2, 3)
    elif direction != "x":
        raise ValueError(f"direction must be 'x' or 'y', got {direction!r}")
    return F.conv2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), kernel).abs()


def _gray(rgb: torch.Tensor) -> torch.Tensor:
    w = rgb.new_tensor(_GRAY).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


def smoothness(illumination: torch.Tensor, reflectance: torch.Tensor) -> torch.Tensor:
    """Structure-aware smoothness: I's gradients, weighted down where R has edges."""
    gray = _gray(reflectance)
    total = illumination.new_zeros(())
    for d in ("x", "y"):
        edge = F.avg_pool2d(gradient(gray, d), 3, stride=1, padding=1)
        total = total + (gradient(illumination, d) * torch.exp(-10.0 * edge)).mean()
    return total


def decom_loss(low: tuple[torch.Tensor, torch.Tensor], high: tuple[torch.Tensor, torch.Tensor],
               s_low: torch.Tensor, s_high: torch.Tensor) -> torch.Tensor:
    """Decom-Net loss on (R, I) of the low and high image: reconstruction, mutual
    reconstruction, smoothness and reflectance consistency."""
    (r_lo, i_lo), (r_hi, i_hi) = low, high
    recon = (r_lo * i_lo - s_low).abs().mean() + (r_hi * i_hi - s_high).abs().mean()
    mutual = (r_hi * i_lo - s_low).abs().mean() + (r_lo * i_hi - s_high).abs().mean()
    smooth = smoothness(i_lo, r_lo) + smoothness(i_hi, r_hi)
    equal_r = (r_lo - r_hi).abs().mean()
    return recon + 0.001 * mutual + 0.1 * smooth + 0.01 * equal_r


def relight_loss(low: RetinexOutput, s_high: torch.Tensor) -> torch.Tensor:
    """Enhance-Net loss: R_low ∘ Î matches the normal-light image, Î stays smooth."""
    recon = (low.reflectance * low.enhanced_illumination - s_high).abs().mean()
    return recon + 3.0 * smoothness(low.enhanced_illumination, low.reflectance)


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Mean SSIM with a uniform window (scikit-image's default), inputs in [0, 1]."""
    c1, c2 = 0.01**2, 0.03**2
    n = window * window
    cov_norm = n / (n - 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, window, stride=1)

    mx, my = blur(x), blur(y)
    vx = cov_norm * (blur(x * x) - mx * mx)
    vy = cov_norm * (blur(y * y) - my * my)
    vxy = cov_norm * (blur(x * y) - mx * my)
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean()


def output_loss(low: RetinexOutput, s_low: torch.Tensor, s_high: torch.Tensor) -> torch.Tensor:
    """Joint fine-tuning loss on the final output; keeps the decomposition meaningful.

    L1 + (1 - SSIM) + a colour term (1 - cosine between RGB vectors), plus small weights on
    the low image's reconstruction and both smoothness terms so R ∘ I ≈ S still holds and
    I, Î stay smooth (fast mode upsamples the gain Î / I).
    """
    out = low.output
    l1 = (out - s_high).abs().mean()
    structure = 1.0 - ssim(out, s_high)
    colour = 1.0 - F.cosine_similarity(out, s_high, dim=1, eps=1e-4).mean()
    recon = (low.reflectance * low.illumination - s_low).abs().mean()
    smooth = smoothness(low.illumination, low.reflectance) + smoothness(
        low.enhanced_illumination, low.reflectance
    )
    return l1 + 0.5 * structure + 0.5 * colour + 0.1 * recon + 0.05 * smooth
