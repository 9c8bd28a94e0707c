import subprocess
import sys

import cv2
import numpy as np
import pytest

from rtretinex import Enhancer, EnhanceSettings
from rtretinex.errors import UsageError
from rtretinex.frame.settings import default_scale
from rtretinex.metrics import psnr
from rtretinex.nets.backends import create_backend
from rtretinex.pixelops.formats import downscale
from rtretinex.training.data import simulate_low_light
from rtretinex.video.frames import VideoFrame

from .conftest import small_photo


@pytest.fixture(scope="module")
def backend():
    return create_backend("torch-cpu")


def test_default_scale_puts_the_nets_near_107x60():
    assert default_scale(60, 106) == 1
    assert default_scale(360, 640) == 6
    assert default_scale(720, 1280) == 12
    assert default_scale(1080, 1920) == 18
    assert default_scale(2160, 3840) == 36
    assert default_scale(400, 600) == 7


def test_fast_mode_stays_close_to_quality_mode(backend):
    # nets at 128×96 in fast mode; with much smaller inputs (< ~64 px tall) the low-res
    # nets brighten noticeably more than the full-res ones (see README, Known limits)
    dark = simulate_low_light(small_photo(height=384, width=512))
    quality = Enhancer(backend, EnhanceSettings(mode="quality"))(dark)
    fast = Enhancer(backend, EnhanceSettings(mode="fast", scale=4))(dark)
    assert fast.shape == quality.shape == dark.shape and fast.dtype == np.uint8
    assert abs(float(fast.mean()) - float(quality.mean())) < 0.1 * float(quality.mean())
    assert psnr(fast, quality) > psnr(dark, quality) + 6


def test_scale_one_fast_mode_is_quality_mode(backend):
    dark = simulate_low_light(small_photo())
    fast = Enhancer(backend, EnhanceSettings(mode="fast", scale=1, denoise=0.5))
    assert np.array_equal(fast(dark), Enhancer(backend, EnhanceSettings(mode="quality"))(dark))


def test_odd_and_tiny_frames(backend):
    for h, w in ((37, 53), (5, 7)):
        frame = simulate_low_light(small_photo(height=h, width=w))
        for mode in ("quality", "fast"):
            assert Enhancer(backend, EnhanceSettings(mode=mode, scale=4))(frame).shape == (h, w, 3)


@pytest.mark.parametrize("kwargs,message", [
    ({"mode": "turbo"}, "unknown mode"),
    ({"scale": 0}, "--scale must be"),
    ({"smooth": -1.0}, "--smooth must be"),
    ({"temporal_denoise": -1.0}, "--temporal-denoise must be"),
    ({"nets_every": 0}, "--nets-every must be"),
    ({"denoise": -1}, "--denoise must be"),
    ({"exposure": 3.5}, "--exposure must be within"),
])
def test_settings_are_validated(kwargs, message):
    with pytest.raises(UsageError, match=message):
        EnhanceSettings(**kwargs)


def test_video_takes_fast_mode_on_every_device_and_images_quality_mode():
    """Fast mode alone has the night corrections, and scores higher on camera-like clips
    than quality mode (docs/history.md): a GPU transcode takes it too unless asked."""
    assert EnhanceSettings().for_stream(video=True).mode == "fast"
    assert EnhanceSettings().for_stream(video=False).mode == "quality"
    assert EnhanceSettings(mode="quality").for_stream(video=True).mode == "quality"


@pytest.mark.parametrize("width,height,scale", [(1280, 720, 12), (851, 477, 8), (640, 360, 4)])
def test_downscale_is_an_area_average_of_the_frame(width, height, scale):
    frame = small_photo(height=height, width=width)
    size = (width // scale, height // scale)
    direct = cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(int)
    got = downscale(frame, size).astype(int)
    assert got.shape == direct.shape
    assert np.abs(got - direct).mean() < 1.5  # levels: footprints differ only at pixel edges


@pytest.mark.parametrize("mode", ["quality", "fast"])
@pytest.mark.parametrize("depth", [np.uint8, np.uint16])
def test_a_photo_without_colour_comes_back_without_colour(backend, mode, depth):
    """The nets tint a black-and-white photo (a mean chroma of 2-3 codes, up to 13, on
    dark grey photos); such a photo keeps no colour and is as bright as its tinted output."""
    colour = small_photo("coffee", height=96, width=128)
    grey = cv2.merge([cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)] * 3)
    dark = (grey.astype(np.float64) * 0.08 * np.iinfo(depth).max / 255).round().astype(depth)
    enhancer = Enhancer(backend, EnhanceSettings(mode=mode, scale=4))
    out = enhancer(dark)
    assert out.dtype == depth and out.shape == dark.shape
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    tinted = enhancer._still(dark)
    assert np.abs(tinted.astype(float) - tinted.mean(axis=2, keepdims=True)).max() > 0
    assert out.mean() > 5 * dark.mean()
    assert abs(out.mean() - tinted.mean()) < 0.02 * tinted.mean()
    assert (out.astype(int) >= dark.astype(int) - (1 if depth == np.uint8 else 257)).all()
    near_grey = dark.copy()
    near_grey[0, 0, 0] += 1  # one coloured pixel: a colour photo, enhanced as one
    assert np.array_equal(enhancer(near_grey), enhancer._still(near_grey))


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_a_video_without_colour_comes_back_without_colour(backend, mode):
    """An infrared camera writes grey in a colour format (U and V at 128): quality mode's
    nets tinted it (U / V up to 7 codes off on a grey clip); every frame stays grey, in
    yuv420p and in RGB (``Enhancer.frame``, odd sides too), as bright as before."""
    grey = cv2.cvtColor(small_photo("coffee", height=96, width=128), cv2.COLOR_RGB2GRAY)
    dark = cv2.merge([(grey * 0.08).round().astype(np.uint8)] * 3)
    buffer = cv2.cvtColor(dark, cv2.COLOR_RGB2YUV_I420)
    assert (buffer[96:] == 128).all()
    enhancer = Enhancer(backend, EnhanceSettings(mode=mode, scale=4))
    for index in range(3):
        out = enhancer.enhance(VideoFrame(buffer, index, pixel_format="yuv420p"))
        assert (out[96:] == 128).all() and out[:96].mean() > 4 * buffer[:96].mean()
    enhancer.reset()
    for image in (dark, dark[:95, :127]):
        rgb = enhancer.frame(image)
        assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
        assert rgb.shape == image.shape and rgb.mean() > 4 * image.mean()


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_exposure_compensation_brightens_and_never_darkens_below_the_input(backend, mode):
    dark = simulate_low_light(small_photo("coffee", height=96, width=128), exposure=0.1, seed=2)
    settings = EnhanceSettings(mode=mode, scale=4)
    auto = Enhancer(backend, settings)(dark).astype(float)
    enhancer = Enhancer(backend, settings)
    assert enhancer.adjust_exposure(1.0) == 1.0
    brighter = enhancer(dark).astype(float)
    assert brighter.mean() > auto.mean() * 1.3
    assert enhancer.adjust_exposure(-10) == -3.0  # kept within the range
    darkest = enhancer(dark).astype(int)
    assert dark.mean() - 0.5 <= darkest.mean() < auto.mean()
    # the floor: the gain never goes below 1 (fast mode's spatial denoise still smooths
    # single noisy pixels a little)
    assert (darkest >= dark.astype(int) - 1).mean() > (0.999 if mode == "quality" else 0.9)


@pytest.mark.parametrize("size", [(96, 128), (45, 61)])
def test_warm_up_leaves_no_trace_in_the_stream(backend, size):
    """A warmed-up enhancer enhances a video exactly as a fresh one (the blank frames it
    ran are forgotten: exposure, temporal denoise, scene cuts)."""
    height, width = size
    frames = [simulate_low_light(small_photo(height=height, width=width), seed=i)
              for i in range(3)]
    settings = EnhanceSettings(mode="fast", scale=4).for_stream(video=True)
    fresh, warmed = Enhancer(backend, settings), Enhancer(backend, settings)
    warmed.warm_up(width, height)
    for i, frame in enumerate(frames):
        assert np.array_equal(fresh.frame(frame, i / 30), warmed.frame(frame, i / 30))
    assert warmed.scene_cuts == fresh.scene_cuts


def test_warm_up_loads_the_compiled_loops():
    """In a new process: after warm_up the YUV path's loops are compiled or loaded."""
    code = ("from rtretinex.nets.backends import create_backend; "
            "from rtretinex.pixelops import loops as kernels; "
            "from rtretinex import Enhancer, EnhanceSettings; "
            "e = Enhancer(create_backend('openvino'), EnhanceSettings(mode='fast')"
            ".for_stream(video=True)); e.warm_up(320, 180); "
            "print(*(len(k.signatures) for k in (kernels._update_luma, kernels._update_chroma, "
            "kernels._gains_at_chroma, kernels._compose_luma)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert all(int(n) >= 1 for n in done.stdout.split()), done.stdout
