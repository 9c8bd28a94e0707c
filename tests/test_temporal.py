"""Time in video: auto-exposure (steady, time-constant based, follows real changes, resets on
cuts), the scene-cut signal, and the whole enhancer on flickering and changing dark clips
(real nets, OpenVINO, small frames from the low-light simulator)."""

import math
from fractions import Fraction

import numpy as np
import pytest

from rtretinex import Enhancer, EnhanceSettings
from rtretinex.frame.exposure import AutoExposure, LightSwitch, SceneCutDetector
from rtretinex.metrics import flicker
from rtretinex.nets.backends import create_backend
from rtretinex.pixelops.formats import YUV420P, from_rgb, half_luma, to_rgb
from rtretinex.training.data import simulate_low_light
from rtretinex.video.frames import VideoFrame

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


def enhance_all(backend, frames, smooth: float, mode: str = "quality", fps: int = 30):
    enhancer = Enhancer(backend, EnhanceSettings(mode=mode, scale=2, smooth=smooth,
                                                 denoise=0.0, temporal_denoise=0.0))
    return [enhancer.enhance(VideoFrame(f, i, i, Fraction(1, fps))) for i, f in enumerate(frames)]


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_auto_exposure_holds_a_flickering_light_steady(backend, mode):
    clip = flickering_clip(30)
    raw = flicker(enhance_all(backend, clip, 0.0, mode))[0]
    steady = flicker(enhance_all(backend, clip, 0.5, mode))[0]
    assert steady <= 0.25 * raw, (raw, steady)
    assert steady <= 0.1 * flicker(clip)[0] * 3  # output moves < 0.3× the input's own flicker


def test_a_light_switched_on_passes_through_at_once(backend):
    base = small_photo(height=90, width=160)
    clip = [simulate_low_light(base, exposure=0.02 if i < 10 else 0.3, seed=i)
            for i in range(14)]
    plain = enhance_all(backend, clip, 0.0)
    steady = enhance_all(backend, clip, 0.5)
    for i in range(10, 14):
        assert abs(steady[i].mean() - plain[i].mean()) < 0.05 * plain[i].mean()


def test_a_scene_cut_resets_the_exposure(backend):
    clip = flickering_clip(8) + flickering_clip(4, photo="coffee")
    plain = enhance_all(backend, clip, 0.0)
    steady = enhance_all(backend, clip, 0.5)
    assert np.array_equal(steady[8], plain[8])  # first frame after the cut: no history
    assert not all(np.array_equal(steady[i], plain[i]) for i in range(1, 8))


def test_auto_exposure_dead_band_time_constant_and_jump():
    ae = AutoExposure(0.5)
    assert ae(0.5, 0.0, False) == 1.0
    assert ae(0.5 * 2 ** 0.08, 1 / 30, False) == pytest.approx(2 ** -0.08)  # ±0.1 stop
    assert ae(1.5, 2 / 30, False) == pytest.approx(1.0)  # output > 1 stop: at once
    assert ae(1.2, 3 / 30, False) > 1.1  # 0.3 stop down: followed slowly
    assert ae(1.0, 4 / 30, False) > 1.1  # still held
    assert ae(0.4, 5 / 30, True) == 1.0  # a cut or a change of light starts over


def test_a_light_that_holds_is_a_new_light_a_flash_or_a_flicker_is_not():
    """``LightSwitch`` on the frames' mean luma: more than LIGHT_JUMP_STOPS of linear light
    between two frames (a doubled light is one stop, its sRGB luma 1.37 times) has jumped;
    when the next frame keeps it, it is a new light (the temporal estimate starts anew); a
    flash gone again the next frame never is."""
    switch = LightSwitch()
    doubled, off = 2 ** (1 / 2.2), 32 ** (1 / 2.2)
    assert switch(40.0) == (False, False)  # nothing before the first frame
    assert switch(40.0 * 1.15 ** (1 / 2.2)) == (False, False)  # a light flickering by 15 %
    assert switch(40.0 * doubled) == (True, False)  # doubled: jumped
    assert switch(40.0 * doubled) == (False, True)  # and held: a new light
    assert switch(40.0 * doubled) == (False, False)
    assert switch(40.0 * doubled / off) == (True, False)  # a dark frame: lightning off
    assert switch(40.0 * doubled) == (True, False)  # gone again: not a new light
    assert switch(40.0 * doubled / off) == (True, False)  # switched off
    assert switch(40.0 * doubled / off) == (False, True)


def test_a_strobe_keeps_its_temporal_averaging_and_its_brightness(backend):
    """A light two stops apart from frame to frame: each frame is judged on its own light
    (black level, exposure), and the temporal estimate follows it by scaling, not by
    restarting on every flash (then nothing would be averaged)."""
    photo = small_photo("astronaut", height=180, width=320)
    enhancer = Enhancer(backend, EnhanceSettings(mode="fast").for_stream(video=True))
    out = []
    for i in range(24):
        dark = simulate_low_light(photo, exposure=0.005 if i % 2 == 0 else 0.02, seed=i)
        frame = VideoFrame(from_rgb(dark), i, i, Fraction(1, 30), pixel_format=YUV420P)
        out.append(to_rgb(enhancer.enhance(frame)).astype(np.float32))
    even, odd = np.mean([o.mean() for o in out[8::2]]), np.mean([o.mean() for o in out[9::2]])
    # when written: 2 % apart, 5.4 codes between frames of one phase; with the estimate
    # restarted at every jump, 12 % and 17.2
    assert abs(even - odd) < 0.05 * (even + odd) / 2
    same_phase = np.mean([np.abs(out[k] - out[k - 2]).mean() for k in range(10, 24)])
    assert same_phase < 8.0


def test_the_auto_exposure_averages_its_first_frames():
    """At the start no frame's exposure is more right than the next's: the first ones are
    averaged until the time constant takes a larger share, so a first frame that came out
    darker (a noisier estimate) does not stand for the seconds after it."""
    ae = AutoExposure(0.5)
    ae(0.25, 0.0, False)
    factor = ae(0.25 * 2 ** 0.5, 1 / 30, False)  # half a stop up on the second frame
    # half of the change beyond the dead band followed at once (1 s: 7 % of it)
    assert 0.5 + math.log2(factor) == pytest.approx(0.4 / 2, abs=1e-6)


@pytest.mark.parametrize("fps", [24, 60])
def test_auto_exposure_follows_in_seconds_not_frames(fps):
    """Half a stop up, held for one second: the same share is followed at 24 and 60 fps."""
    ae = AutoExposure(0.5)
    for i in range(fps):  # a second to settle: its first frames are averaged
        ae(0.25, i / fps, False)
    for i in range(fps, 2 * fps + 1):
        factor = ae(0.25 * 2 ** 0.5, i / fps, False)
    followed = 0.5 + np.log2(factor)  # stops of the output above the start
    expected = 0.4 * (1 - np.exp(-1 / 0.5))  # the change beyond the dead band, τ = 0.5 s
    assert followed == pytest.approx(expected, abs=0.02)


def test_cut_detector_ignores_noise_and_flicker_but_sees_cuts():
    detector = SceneCutDetector()
    clip = flickering_clip(10)
    assert not any(detector(half_luma(f)) for f in clip)
    assert detector(half_luma(small_photo("coffee", height=90, width=160)))
    assert detector.cuts == 1


def test_flat_frames_are_never_cuts():
    """A black screen, a covered lens or a blank wall: their thumbnails hold only noise,
    which does not correlate from frame to frame; calling cuts there would restart the
    temporal denoiser and the exposure on every frame."""
    rng = np.random.default_rng(0)
    detector = SceneCutDetector()
    for level in (0, 3, 3, 120, 120):  # black, dim noise, a bright blank wall
        noisy = np.clip(level + rng.normal(0, 2, (90, 160)), 0, 255).astype(np.uint8)
        assert not detector(noisy)
    assert not detector(half_luma(small_photo("coffee", height=90, width=160)))  # from blank
    assert detector(half_luma(small_photo("chelsea", height=90, width=160)))  # a real cut
    assert detector.cuts == 1


def test_auto_exposure_rejects_a_negative_time_constant():
    with pytest.raises(ValueError, match=">= 0 seconds"):
        AutoExposure(-1.0)
