"""Temporal smoothing: less flicker on a flickering dark clip, resets on cuts, follows real
changes. Runs the real nets (OpenVINO) on small frames from the low-light simulator."""

import numpy as np
import pytest

from rtretinex.backends import create_backend
from rtretinex.data import simulate_low_light
from rtretinex.enhancer import Enhancer, EnhanceSettings
from rtretinex.metrics import flicker
from rtretinex.temporal import SceneCutDetector, TemporalSmoother, coarse_luma

from .conftest import small_photo


@pytest.fixture(scope="module")
def backend():
    return create_backend("openvino")


def flickering_clip(frames: int, photo: str = "astronaut", jitter: float = 0.15):
    """A static dark scene under a flickering light, fresh sensor noise every frame."""
    base = small_photo(photo, height=90, width=160)
    rng = np.random.default_rng(0)
    exposures = 0.08 * (1 + jitter * rng.uniform(-1, 1, frames))
    return [simulate_low_light(base, exposure=e, seed=i) for i, e in enumerate(exposures)]


def enhance_all(backend, frames, smooth: float, mode: str = "quality"):
    enhancer = Enhancer(backend, EnhanceSettings(mode, 2, smooth, 0.0))
    return [enhancer(f) for f in frames]


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_smoothing_cuts_flicker_at_least_in_half(backend, mode):
    clip = flickering_clip(30)
    raw, _ = flicker(enhance_all(backend, clip, 0.0, mode))
    smoothed, _ = flicker(enhance_all(backend, clip, 0.6, mode))
    assert smoothed <= 0.5 * raw, (raw, smoothed)


def test_a_real_brightness_change_passes_through_within_a_few_frames(backend):
    base = small_photo(height=90, width=160)
    clip = [simulate_low_light(base, exposure=0.05 if i < 10 else 0.12, seed=i)
            for i in range(20)]
    plain = enhance_all(backend, clip, 0.0)
    smoothed = enhance_all(backend, clip, 0.6)
    for i in range(15, 20):  # 5 frames after the change
        assert abs(smoothed[i].mean() - plain[i].mean()) < 0.05 * plain[i].mean()


def test_a_scene_cut_resets_the_average(backend):
    clip = flickering_clip(8) + flickering_clip(4, photo="coffee")
    plain = enhance_all(backend, clip, 0.0)
    smoothed = enhance_all(backend, clip, 0.9)
    assert np.array_equal(smoothed[8], plain[8])  # first frame after the cut: no history
    assert not np.array_equal(smoothed[7], plain[7])


def test_cut_detector_ignores_noise_and_flicker_but_sees_cuts():
    detector = SceneCutDetector()
    clip = flickering_clip(10)
    assert not any(detector(f) for f in clip)
    assert detector(small_photo("coffee", height=90, width=160))


def test_smoother_averages_small_changes_and_follows_large_ones():
    frame = small_photo(height=90, width=160)
    smoother = TemporalSmoother(0.6, tolerance=0.1)
    base = np.full((9, 16), 100.0, np.float32)
    assert np.array_equal(smoother(frame, base), np.ones_like(base))  # first frame
    small = smoother(frame, base * 1.02)  # 2 %: mostly pulled back towards 100
    assert 0.98 < float(small.mean()) < 0.995
    big = smoother(frame, base * 2.0)  # doubling: passes through at once
    assert float(np.abs(big - 1).max()) < 0.01


def test_coarse_luma_grid():
    grid = coarse_luma(np.full((90, 160, 3), 50, np.uint8))
    assert grid.shape == (9, 16) and np.allclose(grid, 50, atol=0.01)
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        TemporalSmoother(1.0)
