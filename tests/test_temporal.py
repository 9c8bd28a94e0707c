"""Temporal smoothing: less flicker on a flickering dark clip, resets on cuts, follows real
changes. Runs the real nets (OpenVINO) on small frames from the low-light simulator."""

import numpy as np
import pytest

from rtretinex.backends import create_backend
from rtretinex.data import simulate_low_light
from rtretinex.enhancer import Enhancer, EnhanceSettings
from rtretinex.metrics import flicker
from rtretinex.temporal import SceneCutDetector, TemporalSmoother, smooth_illumination

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


def test_ema_weights_and_first_frame():
    a, b = np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)
    assert smooth_illumination(None, b, 0.6) is b
    np.testing.assert_allclose(smooth_illumination(a, b, 0.6), 0.4)
    smoother = TemporalSmoother(0.0)
    assert smoother(np.zeros((9, 9, 3), np.uint8), b) is b
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        TemporalSmoother(1.0)
