import numpy as np

from rtretinex.denoise import denoise

from .conftest import small_photo


def noisy(seed=0):
    clean = small_photo(height=96, width=128)
    rng = np.random.default_rng(seed)
    return clean, np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)


def test_high_gain_regions_get_denoised_low_gain_regions_do_not():
    clean, image = noisy()
    gain = np.ones(image.shape[:2], np.float32)
    gain[:, 64:] = 8.0  # right half is brightened a lot
    out = denoise(image, gain, 1.0, 30.0)
    assert np.array_equal(out[:, :64], image[:, :64])
    err_before = np.abs(image[:, 64:].astype(int) - clean[:, 64:]).mean()
    err_after = np.abs(out[:, 64:].astype(int) - clean[:, 64:]).mean()
    assert err_after < 0.8 * err_before


def test_zero_strength_is_identity_and_float_images_work():
    _, image = noisy()
    gain = np.full(image.shape[:2], 5.0, np.float32)
    assert denoise(image, gain, 0.0, 30.0) is image
    r = image.astype(np.float32) / 255
    out = denoise(r, gain, 1.0, 0.1)
    assert out.dtype == np.float32 and out.shape == r.shape and 0 <= out.min() <= out.max() <= 1
