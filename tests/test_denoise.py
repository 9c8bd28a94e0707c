import numpy as np
import pytest

from rtretinex.denoise import denoise_frame, denoise_reflectance

from .conftest import small_photo


def noisy(seed=0):
    clean = small_photo(height=384, width=512)
    rng = np.random.default_rng(seed)
    return clean, np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)


def _error(image, clean):
    return np.abs(image.astype(int) - clean).mean()


@pytest.mark.parametrize("denoise", [
    lambda image, gain: denoise_frame(image, gain, 1.0),
    lambda image, gain: denoise_reflectance(image, gain, 1.0, 30.0),
])
def test_high_gain_regions_get_denoised_low_gain_regions_do_not(denoise):
    clean, image = noisy()
    gain = np.ones(image.shape[:2], np.float32)
    gain[:, 256:] = 8.0  # right half is brightened a lot
    out = denoise(image, gain)
    assert np.array_equal(out[:, :256], image[:, :256])
    assert _error(out[:, 256:], clean[:, 256:]) < 0.8 * _error(image[:, 256:], clean[:, 256:])


def test_a_low_resolution_gain_map_is_upsampled_for_the_blend():
    clean, image = noisy()
    gain = np.ones((12, 16), np.float32)
    gain[:, 8:] = 8.0
    out = denoise_frame(image, gain, 1.0)
    assert out.shape == image.shape
    assert np.array_equal(out[:, :224], image[:, :224])  # left of the bilinear ramp
    assert _error(out[:, 288:], clean[:, 288:]) < 0.8 * _error(image[:, 288:], clean[:, 288:])
    full = denoise_frame(image, np.full((12, 16), 8.0, np.float32), 1.0)
    assert np.array_equal(out[:, 304:], full[:, 304:])  # past the blended box: just filtered


def test_uniform_weights_skip_the_blend_and_zero_strength_is_identity():
    _, image = noisy()
    high, low = np.full((6, 8), 9.0, np.float32), np.full((6, 8), 0.5, np.float32)
    assert np.array_equal(denoise_frame(image, high, 1.0), denoise_frame(image, high * 2, 5.0))
    assert denoise_frame(image, low, 1.0) is image
    assert denoise_frame(image, high, 0.0) is image


def test_float_reflectance_stays_float_in_range():
    _, image = noisy()
    r = image.astype(np.float32) / 255
    out = denoise_reflectance(r, np.full(r.shape[:2], 5.0, np.float32), 1.0, 0.1)
    assert out.dtype == np.float32 and out.shape == r.shape and 0 <= out.min() <= out.max() <= 1
