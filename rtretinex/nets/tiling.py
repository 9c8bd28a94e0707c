"""Quality mode on large images, in bounded memory: the Decom-Net on overlapping tiles, the
Enhance-Net once on the whole frame.

The Decom-Net is local (a 9×9 convolution, five 3×3 and a 3×3 head: each output pixel sees
10 px around it), so tiles with a margin of at least that much give exactly the untiled R
and I. The Enhance-Net is not: it judges brightness from a grid×grid view of the whole
frame (``RetinexNet.relight``), so it runs once on the assembled R and I. A 24-megapixel
photo then needs the nets' activations for one tile at a time instead of the whole frame
(8.6 GiB peak before).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from .backends import Backend, Decomposition
from .models import create_retinexnet

__all__ = ["MARGIN", "TILE", "TILE_ABOVE_PIXELS", "Relighter", "decompose_tiled", "tiles"]

# Frames above this many pixels are decomposed in tiles of TILE × TILE (plus margins).
TILE_ABOVE_PIXELS = 4_000_000
TILE = 768
# At least the Decom-Net's reach (10 px), rounded up.
MARGIN = 16


def tiles(height: int, width: int, tile: int = TILE
          ) -> Iterator[tuple[tuple[slice, slice], tuple[slice, slice]]]:
    """(region of the frame to run, part of its result to keep) for each tile: the region
    is the tile grown by MARGIN on every side that is not the frame's edge."""
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(height, top + tile), min(width, left + tile)
            run_top, run_left = max(0, top - MARGIN), max(0, left - MARGIN)
            run = (slice(run_top, min(height, bottom + MARGIN)),
                   slice(run_left, min(width, right + MARGIN)))
            keep = (slice(top - run_top, bottom - run_top),
                    slice(left - run_left, right - run_left))
            yield run, keep


class Relighter:
    """The Enhance-Net of a weights file on the CPU, in float32: Î from the whole frame's
    R and I (its grid view is small, so this is cheap at any size)."""

    def __init__(self, weights) -> None:
        self.net = create_retinexnet(weights)
        if self.net.enhance_grid == 0:
            raise ValueError("these weights run the Enhance-Net at full resolution: not tileable")

    def __call__(self, reflectance: np.ndarray, illumination: np.ndarray) -> np.ndarray:
        r = torch.from_numpy(reflectance).permute(2, 0, 1)[None]  # channels-last view
        i = torch.from_numpy(illumination)[None, None]
        with torch.inference_mode():
            return self.net.relight(r, i)[0, 0].numpy()


def decompose_tiled(backend: Backend, image: np.ndarray, relighter: Relighter,
                    tile: int = TILE) -> Decomposition:
    """R, I and Î of ``image`` as ``backend`` gives them untiled, in tiles."""
    height, width = image.shape[:2]
    reflectance = np.empty((height, width, 3), np.float32)
    illumination = np.empty((height, width), np.float32)
    for run, keep in tiles(height, width, tile):
        part = backend(image[run])
        out = (slice(run[0].start + keep[0].start, run[0].start + keep[0].stop),
               slice(run[1].start + keep[1].start, run[1].start + keep[1].stop))
        reflectance[out] = part.reflectance[keep]
        illumination[out] = part.illumination[keep]
    return Decomposition(reflectance, illumination, relighter(reflectance, illumination))
