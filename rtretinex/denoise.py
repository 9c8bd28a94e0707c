"""Reflectance denoising: a fast edge-preserving filter, stronger where the gain is high.

Dark pixels get the largest gain Î / I, so their sensor noise is amplified most. The
bilateral filter (d=5, ~3 ms at 720p) is blended in per pixel with a weight that grows
with the gain; NL-means would be better but is ~500 ms a frame (too slow for live).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["denoise"]

DIAMETER = 5
# The gain above which the filter applies fully (at strength 1); no filtering at gain <= 1.
FULL_GAIN = 4.0


def denoise(image: np.ndarray, gain: np.ndarray, strength: float,
            sigma_color: float) -> np.ndarray:
    """Blend a bilateral-filtered ``image`` (uint8 or float32 RGB) in by gain.

    ``sigma_color`` is in the image's own units, scaled by ``strength``; the blend weight is
    ``strength · clip((gain − 1) / (FULL_GAIN − 1), 0, 1)``, capped at 1.
    """
    if strength <= 0:
        return image
    filtered = cv2.bilateralFilter(image, DIAMETER, sigma_color * strength, DIAMETER / 2)
    weight = np.clip((gain - 1.0) * (strength / (FULL_GAIN - 1.0)), 0.0, 1.0)
    return cv2.blendLinear(filtered, image, weight, 1.0 - weight)
