"""The fused loops of the fast YUV path against the OpenCV passes they replace."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from rtretinex.pixelops.formats import LUMA, RGB_TO_YUV, YUV_TO_RGB
from rtretinex.pixelops.loops import (
    compose_luma,
    deblock,
    gains_at_chroma,
    grid_sums,
    lift_shares,
    slice_grid,
    update_chroma,
    update_luma,
)

# odd half sizes and a 1-row map reach every edge case of the 2× upsampling
SIZES = [(36, 64), (10, 14), (2, 6)]


def upsampled(half: np.ndarray) -> np.ndarray:
    return cv2.resize(half, (half.shape[1] * 2, half.shape[0] * 2),
                      interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("light", [1.0, 1.3, 0.8])
def test_update_luma_is_the_recursive_filter_with_upsampled_k(size, light):
    rng = np.random.default_rng(0)
    height, width = size
    y = rng.integers(0, 256, size, dtype=np.uint8)
    state = rng.uniform(0, 255, size).astype(np.float32)
    k_half = rng.uniform(0.2, 1.0, (height // 2, width // 2)).astype(np.float32)
    previous = (state - 16) * light + 16
    expected = previous + upsampled(k_half) * (y - previous)
    update_luma(y, state, k_half, light)
    np.testing.assert_allclose(state, expected, atol=2e-4)


def test_update_chroma_scales_around_grey():
    rng = np.random.default_rng(1)
    plane = rng.integers(0, 256, (9, 7), dtype=np.uint8)
    state = rng.uniform(0, 255, (9, 7)).astype(np.float32)
    k = rng.uniform(0, 1, (9, 7)).astype(np.float32)
    previous = (state - 128) * 1.5 + 128
    expected = previous + k * (plane - previous)
    update_chroma(plane, state, k, 1.5)
    np.testing.assert_allclose(state, expected, atol=2e-4)


@pytest.mark.parametrize("size", SIZES)
def test_compose_luma_rounds_detail_times_y_plus_base(size):
    rng = np.random.default_rng(2)
    half = (size[0] // 2, size[1] // 2)
    y = rng.uniform(0, 255, size).astype(np.float32)
    detail = rng.uniform(0, 4, half).astype(np.float32)
    base = rng.uniform(-300, 300, half).astype(np.float32)
    out = np.empty(size, np.uint8)
    compose_luma(y, detail, base, out)
    expected = np.clip(np.rint(y * upsampled(detail) + upsampled(base)), 0, 255)
    assert np.abs(out - expected).max() <= 1  # ties may round either way
    assert np.mean(out == expected) > 0.999


def reference_lift_share(luma, black, knee):
    excess = np.maximum(luma - black, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(excess > 0, excess**2 / (excess + knee) / luma, 0.0)
    return np.minimum(share, 1.0)


def reference_gains_at_chroma(y_half, u, v, filtered, maps, night=(0.0, 0.0, 0.0)):
    """The same in whole-image numpy passes."""
    size = (u.shape[1], u.shape[0])
    gains = cv2.merge([cv2.resize(m, size, interpolation=cv2.INTER_LINEAR) for m in maps[:3]])
    weight = cv2.resize(maps[3], size, interpolation=cv2.INTER_LINEAR)
    y = y_half + weight * (filtered[0] - y_half)
    u = u + weight * (filtered[1] - u)
    v = v + weight * (filtered[2] - v)
    black, knee, saturated = night
    rolled = np.minimum(1.0, saturated / np.maximum(gains.min(axis=2), 1e-6)) if saturated else 1
    yuv = np.dstack([y - 16, u - 128, v - 128])
    share = reference_lift_share(YUV_TO_RGB[0, 0] * (y - 16), black, knee)[..., None]
    gains = 1 + (gains - 1) * share
    rgb = np.clip((yuv @ YUV_TO_RGB.T) * gains, 0, 255)
    out = rgb @ RGB_TO_YUV.T
    detail = (gains @ LUMA) * (1 - weight)
    u_out, v_out = (np.clip(np.rint(out[..., c] * rolled + 128), 0, 255) for c in (1, 2))
    return u_out, v_out, detail, out[..., 0] + 16 - detail * y_half


@pytest.mark.parametrize("map_rows", [1, 5, 18])
@pytest.mark.parametrize("night", [(0.0, 0.0, 0.0), (6.0, 3.0, 2.0)])
def test_gains_at_chroma_is_the_rgb_path_at_chroma_resolution(map_rows, night):
    rng = np.random.default_rng(3)
    size = (18, 32)
    y_half = rng.uniform(16, 235, size).astype(np.float32)
    u, v = (rng.uniform(16, 240, size).astype(np.float32) for _ in range(2))
    filtered = tuple(cv2.GaussianBlur(p, (5, 5), 0) for p in (y_half, u, v))
    maps = np.stack([rng.uniform(0.5, 4, (map_rows, 32)) for _ in range(3)]
                    + [rng.uniform(0, 1, (map_rows, 32))]).astype(np.float32)
    out_u, out_v = np.empty(size, np.uint8), np.empty(size, np.uint8)
    detail, base = gains_at_chroma(y_half, u, v, filtered, maps, YUV_TO_RGB, RGB_TO_YUV, LUMA,
                                   out_u, out_v, np.array(night, np.float32))
    want_u, want_v, want_detail, want_base = reference_gains_at_chroma(y_half, u, v, filtered,
                                                                       maps, night)
    np.testing.assert_allclose(detail, want_detail, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(base, want_base, atol=2e-3)
    assert np.abs(out_u - want_u).max() <= 1 and np.abs(out_v - want_v).max() <= 1
    assert np.mean(out_u == want_u) > 0.99


def test_lift_share_keeps_blacks_and_lifts_little_at_the_floor():
    luma = np.array([0.0, 2.0, 4.0, 5.0, 10.0, 200.0], np.float32)
    share = lift_shares(luma, 4.0, 2.0)
    np.testing.assert_allclose(share, reference_lift_share(luma, 4.0, 2.0), atol=1e-6)
    assert share[:3].tolist() == [0.0, 0.0, 0.0]  # at or below the black point
    assert share[3] < 0.1 < share[4] < 1.0 and share[5] > 0.95
    assert lift_shares(luma[1:], 0.0, 0.0) == pytest.approx([1.0] * 5, abs=1e-6)  # off


def test_deblock_ramps_small_steps_between_flat_blocks_only():
    plane = np.full((16, 24), 18.0, np.float32)
    plane[:, 8:] = 20.0  # a two-code codec step on the grid (every 4th column here)
    plane[:, 16:] = 40.0  # a real edge
    plane[:, :4] += np.tile([0.0, 1.0], (16, 2))  # texture: not flat
    before = plane.copy()
    deblock(plane, 4, 3.0, 0.5)
    assert plane[0, 6:10].tolist() == pytest.approx([18.25, 18.75, 19.25, 19.75])
    np.testing.assert_array_equal(plane[:, 14:18], before[:, 14:18])  # edge kept
    np.testing.assert_array_equal(plane[:, :6], before[:, :6])  # texture kept
    with pytest.raises(ValueError, match="float32"):
        deblock(plane.astype(np.float64), 4, 3.0, 0.5)


def test_maps_of_the_wrong_size_are_refused():
    """The loops do not check bounds: the wrappers must."""
    y = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="does not fit"):
        update_luma(y, np.zeros((8, 8), np.float32), np.zeros((3, 4), np.float32), 1.0)
    with pytest.raises(ValueError, match="does not fit"):
        compose_luma(y, np.zeros((4, 4), np.float32), np.zeros((4, 5), np.float32), y)
    with pytest.raises(ValueError, match="differ"):
        update_chroma(y, np.zeros((8, 8), np.float32), np.zeros((8, 7), np.float32), 1.0)


def test_an_install_with_nowhere_to_cache_still_runs():
    """A read-only install and no writable cache folder: numba compiles each run instead
    of failing at import (simulated by leaving numba no cache locator it can use)."""
    code = ("import numpy as np; from rtretinex.pixelops.loops import update_chroma; "
            "s = np.zeros((2, 2), np.float32); "
            "update_chroma(np.full((2, 2), 10, np.uint8), s, np.ones((2, 2), np.float32), 1.0); "
            "print(s.sum())")
    env = dict(os.environ, NUMBA_CACHE_LOCATOR_CLASSES="IPythonCacheLocator")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "40.0"


def tents(position: np.ndarray, bins: int) -> np.ndarray:
    """Tent weights (h, w, bins) at each pixel's bin position: the reference."""
    return np.maximum(1 - np.abs(position[..., None] - np.arange(bins)), 0).astype(np.float32)


@pytest.mark.parametrize("height,width", [(60, 106), (45, 80), (3, 5), (1, 1)])
def test_grid_sums_and_slice_match_dense_references(height, width):
    """The gain grid's loops against NumPy/OpenCV: splatting = per-bin box sums over
    4-pixel cells; slicing = each bin's cells upsampled with INTER_LINEAR, mixed by the
    tents."""
    rng = np.random.default_rng(0)
    position = rng.uniform(0, 8, (height, width)).astype(np.float32)
    values = rng.normal(0, 1, (height, width, 3)).astype(np.float32)
    sums = grid_sums(position, values, 4, 9)
    cells_h, cells_w = -(-height // 4), -(-width // 4)
    weights = tents(position, 9)
    padded = np.zeros((cells_h * 4, cells_w * 4, 9, 4), np.float32)
    padded[:height, :width, :, :3] = weights[..., None] * values[:, :, None, :]
    padded[:height, :width, :, 3] = weights
    reference = padded.reshape(cells_h, 4, cells_w, 4, 9, 4).sum(axis=(1, 3))
    assert np.allclose(sums, reference, atol=1e-4)
    grid = rng.normal(0, 1, (cells_h, cells_w, 9, 3)).astype(np.float32)
    upsampled = np.stack([cv2.resize(grid[:, :, b], (cells_w * 4, cells_h * 4),
                                     interpolation=cv2.INTER_LINEAR)[:height, :width]
                          for b in range(9)], axis=2).reshape(height, width, 9, 3)
    expected = (weights[..., None] * upsampled).sum(axis=2)
    assert np.allclose(slice_grid(grid, position, 4), expected, atol=1e-4)


def test_colour_roll_off_keeps_a_dark_saturated_colour_and_never_turns_it_cyan():
    """A dark red (its G and B at zero, where the gains are large: the nets' G and B over
    the input floor) stays red; a neutral area lifted past the roll-off gain loses its
    chroma steps."""
    size = (8, 8)
    red = np.array([40.0, 0.0, 0.0], np.float32) @ RGB_TO_YUV.T + [16, 128, 128]
    planes = tuple(np.full(size, c, np.float32) for c in red)
    out_u, out_v = np.empty(size, np.uint8), np.empty(size, np.uint8)
    red_gains = np.array([4.0, 40.0, 40.0, 0.0], np.float32)[:, None, None] * np.ones((4, 1, 8))
    night = np.array([0.0, 0.0, 16.0], np.float32)
    detail, base = gains_at_chroma(*planes, planes, np.float32(red_gains), YUV_TO_RGB,
                                   RGB_TO_YUV, LUMA, out_u, out_v, night)
    yuv = np.array([base[0, 0] + detail[0, 0] * planes[0][0, 0] - 16,
                    float(out_u[0, 0]) - 128, float(out_v[0, 0]) - 128])
    r, g, b = YUV_TO_RGB @ yuv
    assert r > 100 and g < 0.3 * r and b < 0.3 * r  # red, not grey or cyan
    grey = tuple(np.full(size, c, np.float32) for c in (20.0, 129.0, 129.0))
    neutral_gains = np.array([30.0, 30.0, 30.0, 0.0], np.float32)[:, None, None] * np.ones(
        (4, 1, 8))
    gains_at_chroma(*grey, grey, np.float32(neutral_gains), YUV_TO_RGB, RGB_TO_YUV, LUMA,
                    out_u, out_v, night)
    rolled_u = float(out_u[0, 0]) - 128
    gains_at_chroma(*grey, grey, np.float32(neutral_gains), YUV_TO_RGB, RGB_TO_YUV, LUMA,
                    out_u, out_v, np.zeros(3, np.float32))
    assert abs(rolled_u) < 0.6 * abs(float(out_u[0, 0]) - 128)
