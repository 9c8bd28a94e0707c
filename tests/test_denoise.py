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


def noisy_sequence(frames, shift=0, sigma=6.0, gain=None):
    """A photo (optionally panning ``shift`` px a frame, optionally scaled by ``gain[i]``)
    with fresh Gaussian noise per frame: (clean, noisy) lists."""
    from rtretinex.denoise import TemporalDenoiser  # noqa: F401  (imported where used)

    base = small_photo(height=120, width=200).astype(np.float32)
    rng = np.random.default_rng(0)
    clean, noisy_frames = [], []
    for i in range(frames):
        c = np.roll(base, i * shift, axis=1) * (1.0 if gain is None else gain[i])
        clean.append(c)
        noisy_frames.append(np.clip(c + rng.normal(0, sigma, c.shape), 0, 255).astype(np.uint8))
    return clean, noisy_frames


def test_noise_sigma_is_estimated_from_one_frame():
    from rtretinex.denoise import noise_sigma

    for sigma in (3.0, 8.0):
        _, frames = noisy_sequence(1, sigma=sigma)
        assert noise_sigma(frames[0]) == pytest.approx(sigma, rel=0.3)


def test_temporal_denoiser_cleans_a_still_scene():
    from rtretinex.denoise import TemporalDenoiser

    clean, frames = noisy_sequence(12)
    tnr = TemporalDenoiser(1.0)
    out = [tnr(f) for f in frames]
    assert out[-1].dtype == np.float32
    assert _error(out[-1], clean[-1]) < 0.5 * _error(frames[-1], clean[-1])


def test_temporal_denoiser_does_not_ghost_a_moving_scene():
    from rtretinex.denoise import TemporalDenoiser

    clean, frames = noisy_sequence(8, shift=6)
    tnr = TemporalDenoiser(1.0)
    out = [tnr(f) for f in frames]
    # the previous positions must not linger: no worse than the raw noisy frame
    assert _error(out[-1], clean[-1]) <= 1.05 * _error(frames[-1], clean[-1])


def test_temporal_denoiser_follows_flicker_and_restarts_at_cuts():
    from rtretinex.denoise import TemporalDenoiser

    gains = [1.0, 0.9, 1.1, 0.92, 1.08, 0.95, 1.05, 1.0, 0.9, 1.1]
    clean, frames = noisy_sequence(10, gain=gains)
    tnr = TemporalDenoiser(1.0)
    out = [tnr(f) for f in frames]
    assert _error(out[-1], clean[-1]) < 0.6 * _error(frames[-1], clean[-1])
    other = np.ascontiguousarray(frames[0][::-1])
    assert np.array_equal(tnr(other, cut=True), other.astype(np.float32))
