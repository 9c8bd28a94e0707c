import cv2
import numpy as np
import pytest
from skimage import data as skdata

from rtretinex.pixelops.formats import from_rgb, half_luma, to_rgb
from rtretinex.pixelops.host import HostExecutor, denoise_frame, denoise_reflectance

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
    from rtretinex.frame.denoise import TemporalDenoiser  # noqa: F401  (imported where used)

    base = small_photo(height=120, width=200).astype(np.float32)
    rng = np.random.default_rng(0)
    clean, noisy_frames = [], []
    for i in range(frames):
        c = np.roll(base, i * shift, axis=1) * (1.0 if gain is None else gain[i])
        clean.append(c)
        noisy_frames.append(np.clip(c + rng.normal(0, sigma, c.shape), 0, 255).astype(np.uint8))
    return clean, noisy_frames


def test_noise_sigma_is_estimated_from_one_frame():
    from rtretinex.frame.denoise import noise_sigma

    for sigma in (3.0, 8.0):
        _, frames = noisy_sequence(1, sigma=sigma)
        luma = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
        assert noise_sigma(luma) == pytest.approx(sigma, rel=0.3)


def test_noise_sigma_moves_with_the_noise_not_in_quarter_code_steps():
    """Integer luma gives whole-number operator responses; a plain median of them moves in
    steps of a quarter code, and a frame's estimate flipped between two (the knee and the
    picture's brightness with it)."""
    from rtretinex.frame.denoise import noise_sigma

    field = np.random.default_rng(0).normal(0, 1, (180, 320))
    sigmas = np.linspace(2.0, 2.3, 7)
    found = [noise_sigma(np.round(80 + s * field).astype(np.uint8)) for s in sigmas]
    assert np.all(np.diff(found) > 0)
    assert found == pytest.approx(sigmas, rel=0.05)


def filtered(frames, pixel_format, strength=1.0):
    """The temporal denoiser's output for RGB ``frames``, fed in ``pixel_format``, as RGB
    (float32; a yuv420p result is converted back)."""
    from rtretinex.frame.denoise import TemporalDenoiser

    tnr = TemporalDenoiser(strength)
    if pixel_format == "rgb24":
        return [denoised(tnr, f) for f in frames]
    return [to_rgb(np.clip(denoised(tnr, from_rgb(f), "yuv420p") + 0.5, 0, 255)
                   .astype(np.uint8)).astype(np.float32) for f in frames]


def denoised(tnr, frame, pixel_format="rgb24", cut=False):
    """One frame through the temporal denoiser on the host executor."""
    return tnr(frame, half_luma(frame, pixel_format), cut, None, pixel_format,
               HostExecutor(None))


def as_sent(frame, pixel_format):
    """An RGB frame as the denoiser sees it (through yuv420p if it was: 4:2:0 loses
    chroma detail, which no denoiser brings back)."""
    if pixel_format == "rgb24":
        return frame
    return to_rgb(from_rgb(np.clip(frame + 0.5, 0, 255).astype(np.uint8))).astype(np.float32)


@pytest.mark.parametrize("pixel_format", ["rgb24", "yuv420p"])
def test_temporal_denoiser_cleans_a_still_scene(pixel_format):
    clean, frames = noisy_sequence(12)
    out = filtered(frames, pixel_format)
    assert out[-1].dtype == np.float32
    raw = as_sent(frames[-1], pixel_format)
    reference = as_sent(clean[-1], pixel_format)
    assert _error(out[-1], reference) < 0.5 * _error(raw, reference)


@pytest.mark.parametrize("pixel_format", ["rgb24", "yuv420p"])
def test_temporal_denoiser_does_not_ghost_a_moving_scene(pixel_format):
    clean, frames = noisy_sequence(8, shift=6)
    out = filtered(frames, pixel_format)
    # the previous positions must not linger: no worse than the raw noisy frame
    raw = as_sent(frames[-1], pixel_format)
    reference = as_sent(clean[-1], pixel_format)
    assert _error(out[-1], reference) <= 1.05 * _error(raw, reference)


@pytest.mark.parametrize("pixel_format", ["rgb24", "yuv420p"])
def test_temporal_denoiser_follows_a_camera_pan(pixel_format, monkeypatch):
    """A pan is averaged as a still scene is (its estimate moved with the camera), except
    for the strip it uncovers; without following the camera it is taken new each frame."""
    from rtretinex.frame import denoise

    clean, frames = noisy_sequence(12, shift=4)
    raw = as_sent(frames[-1], pixel_format)[:, 16:]
    reference = as_sent(clean[-1], pixel_format)[:, 16:]
    followed = filtered(frames, pixel_format)[-1][:, 16:]
    assert _error(followed, reference) < 0.6 * _error(raw, reference)
    monkeypatch.setattr(denoise, "SHIFT_GAIN", 0.0)  # no shift is ever good enough
    assert _error(filtered(frames, pixel_format)[-1][:, 16:], reference) > 0.9 * _error(
        raw, reference)


def test_global_shift_finds_the_camera_not_an_object_moving_in_a_still_scene():
    from rtretinex.frame.denoise import global_shift

    rng = np.random.default_rng(1)
    luma = skdata.camera()[:300, :480].astype(np.float32)

    def view(x, y):
        return luma[y:y + 180, x:x + 320] + rng.normal(0, 3, (180, 320)).astype(np.float32)

    assert np.abs(global_shift(view(80, 60), view(73, 64), 0.5) - (7, -4)).max() < 0.25  # a pan
    assert global_shift(view(80, 60), view(80, 60), 0.5) is None  # noise only
    assert global_shift(view(80, 60), view(79, 60), 1.5) is None  # less than asked
    still, moving = view(80, 60), view(80, 60)
    still[60:120, 40:100] = moving[60:120, 70:130] = 250.0  # a bright box moves 30 px
    assert global_shift(still, moving, 0.5) is None


@pytest.mark.parametrize("pixel_format", ["rgb24", "yuv420p"])
def test_temporal_denoiser_follows_flicker(pixel_format):
    gains = [1.0, 0.9, 1.1, 0.92, 1.08, 0.95, 1.05, 1.0, 0.9, 1.1]
    clean, frames = noisy_sequence(10, gain=gains)
    out = filtered(frames, pixel_format)
    raw = as_sent(frames[-1], pixel_format)
    reference = as_sent(clean[-1], pixel_format)
    assert _error(out[-1], reference) < 0.6 * _error(raw, reference)


def test_temporal_denoiser_restarts_at_cuts():
    from rtretinex.frame.denoise import TemporalDenoiser

    _, frames = noisy_sequence(3)
    tnr = TemporalDenoiser(1.0)
    for f in frames:
        denoised(tnr, f)
    other = np.ascontiguousarray(frames[0][::-1])
    assert np.array_equal(denoised(tnr, other, cut=True), other.astype(np.float32))
