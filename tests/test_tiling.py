"""Quality mode in tiles: every pixel covered once, the same R, I, Î and picture as untiled."""

import numpy as np
import pytest

from rtretinex import Enhancer, EnhanceSettings
from rtretinex.nets import tiling
from rtretinex.nets.backends import create_backend
from rtretinex.nets.tiling import MARGIN, Relighter, decompose_tiled, tiles
from rtretinex.training.data import simulate_low_light

from .conftest import small_photo


def test_tiles_cover_the_frame_once_with_margins():
    height, width = 300, 412
    seen = np.zeros((height, width), int)
    for run, keep in tiles(height, width, tile=128):
        rows = slice(run[0].start + keep[0].start, run[0].start + keep[0].stop)
        cols = slice(run[1].start + keep[1].start, run[1].start + keep[1].stop)
        seen[rows, cols] += 1
        # the kept part sits MARGIN inside the run region, except at the frame's edges
        assert keep[0].start == (MARGIN if rows.start else 0)
        assert keep[1].start == (MARGIN if cols.start else 0)
        assert run[0].stop - rows.stop == (MARGIN if rows.stop < height else 0)
        assert run[1].stop - cols.stop == (MARGIN if cols.stop < width else 0)
    assert (seen == 1).all()


@pytest.mark.parametrize("name", ["torch-cpu", "openvino"])
def test_tiled_decomposition_is_the_untiled_one(name):
    dark = simulate_low_light(small_photo("coffee", 300, 412), exposure=0.06, seed=3)
    backend = create_backend(name, "fp32")
    whole = backend(dark)
    tiled = decompose_tiled(backend, dark, Relighter(backend.weights), tile=128)
    assert np.abs(whole.reflectance - tiled.reflectance).max() < 1e-5
    assert np.abs(whole.illumination - tiled.illumination).max() < 1e-5
    assert np.abs(whole.enhanced_illumination - tiled.enhanced_illumination).max() < 1e-4


def test_quality_mode_tiles_large_frames_without_seams(monkeypatch):
    dark = simulate_low_light(small_photo("astronaut", 300, 412), exposure=0.06, seed=3)
    backend = create_backend("torch-cpu", "fp32")
    whole = Enhancer(backend, EnhanceSettings(mode="quality"))(dark)
    calls = []

    def small_tiles(backend, image, relighter):
        calls.append(image.shape)
        return decompose_tiled(backend, image, relighter, tile=96)

    # the enhancer imports tiling when it first needs it (it needs torch)
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 10_000)
    monkeypatch.setattr(tiling, "decompose_tiled", small_tiles)
    tiled = Enhancer(backend, EnhanceSettings(mode="quality"))(dark)
    assert calls == [dark.shape]
    assert np.abs(tiled.astype(int) - whole).max() <= 1
