"""YUV 4:2:0 frames: plane layout, conversions, and gains applied in YUV as in RGB."""

import cv2
import numpy as np
import pytest

from rtretinex.pixelops.formats import (
    RGB_TO_YUV,
    YUV_OFFSET,
    YUV_TO_RGB,
    downscale,
    from_rgb,
    half_luma,
    half_planes,
    planes,
    small_rgb,
    to_rgb,
)
from rtretinex.pixelops.host import apply_yuv_gains
from rtretinex.pixelops.reference import SHOULDER_START, colourfulness

from .conftest import small_photo


def dark_photo(name="coffee", level=0.15, height=360, width=640):
    return (small_photo(name, height, width) * level).astype(np.uint8)


def smooth_gains(size, mean, spread=0.15, seed=0):
    """Per-channel gains that vary smoothly over a (w, h) grid and by colour."""
    rng = np.random.default_rng(seed)
    gains = mean * (1 - spread + 2 * spread * rng.random((size[1], size[0], 3)))
    return np.maximum(cv2.GaussianBlur(gains.astype(np.float32), (5, 5), 0), 1.0)


def ideal(buffer, gains):
    """What the gains do to the frame in exact arithmetic: RGB from Y and bilinearly
    upsampled chroma in float, times the bilinearly upsampled gains, clipped."""
    y, u, v = planes(buffer)
    size = (y.shape[1], y.shape[0])
    chroma = [cv2.resize(p, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
              for p in (u, v)]
    yuv = np.dstack([y.astype(np.float32), *chroma]) - YUV_OFFSET
    up = cv2.resize(gains, size, interpolation=cv2.INTER_LINEAR)
    return np.clip((yuv @ YUV_TO_RGB.T) * up, 0, 255)


def test_planes_are_views_in_opencv_i420_layout():
    image = small_photo(height=90, width=160)
    buffer = from_rgb(image)
    y, u, v = planes(buffer)
    assert buffer.shape == (135, 160) and y.shape == (90, 160) and u.shape == v.shape == (45, 80)
    assert all(np.shares_memory(p, buffer) for p in (y, u, v))
    y[...] = 16
    u[...] = v[...] = 128
    assert np.abs(to_rgb(buffer).astype(int)).max() <= 1  # black



def yuv_gains(buffer, gains, *denoise):
    """``apply_yuv_gains`` on a whole yuv420p buffer."""
    return apply_yuv_gains(planes(buffer)[0], half_planes(buffer), gains, *denoise)[0]

def plain(rgb, exact):
    """Where the YUV path applies the gains as they are: colours (not near greys, whose
    gains are made neutral) lifted below the highlight shoulder's knee."""
    source = rgb.astype(np.float32)
    below_knee = exact.max(axis=2) < 0.95 * 255 * SHOULDER_START
    y, u, v = np.moveaxis(source @ RGB_TO_YUV.T, 2, 0)
    return below_knee & (colourfulness(np.maximum(y, 1.0), u, v) > 0.99)


@pytest.mark.parametrize("name,level", [("coffee", 0.15), ("chelsea", 0.1),
                                        ("rocket", 0.3), ("astronaut", 0.5)])
def test_gains_in_yuv_match_the_rgb_path(name, level):
    """Colour gains (which do not commute with the YUV matrix) land where the RGB path puts
    them, and closer to exact arithmetic than the RGB path itself (which amplifies the
    decoder's 8-bit RGB rounding)."""
    buffer = from_rgb(dark_photo(name, level))
    gains = smooth_gains((64, 36), 0.5 / level)
    exact = ideal(buffer, gains)
    rgb = to_rgb(buffer)
    judged = plain(rgb, exact)
    assert judged.mean() > 0.2
    rgb_path = cv2.multiply(rgb, cv2.resize(gains, (640, 360)), dtype=cv2.CV_8U)[judged]
    yuv_path = to_rgb(yuv_gains(buffer, gains)).astype(np.float32)[judged]
    yuv_error = np.abs(yuv_path - exact[judged]).mean()
    assert yuv_error < 1.5
    assert yuv_error <= np.abs(rgb_path - exact[judged]).mean() + 0.1
    assert abs((yuv_path - exact[judged]).mean()) < 0.2  # no bias


def test_grey_gains_scale_luma_and_keep_hue():
    """Colours are lifted with the light; near greys keep their chroma."""
    buffer = from_rgb(dark_photo())
    out = yuv_gains(buffer, np.full((9, 16, 3), 3.0, np.float32))
    y_in, u_in, v_in = (p.astype(float) for p in planes(buffer))
    y_out, u_out, v_out = (p.astype(float) for p in planes(out))
    assert np.abs((y_out - 16) - 3 * (y_in - 16)).mean() < 0.6
    y_half = cv2.resize(y_in, u_in.shape[::-1], interpolation=cv2.INTER_AREA) - 16
    colour = colourfulness(y_half, u_in - 128, v_in - 128)
    for chroma_in, chroma_out in ((u_in, u_out), (v_in, v_out)):
        lifted, kept = colour > 0.99, colour < 0.01
        assert np.abs((chroma_out - 128) - 3 * (chroma_in - 128))[lifted].mean() < 1.0
        assert np.abs(chroma_out - chroma_in)[kept].mean() < 1.0


def test_a_denoise_weight_smooths_only_the_finest_luma():
    rng = np.random.default_rng(1)
    noisy = np.clip(dark_photo(level=0.3) + rng.normal(0, 6, (360, 640, 3)), 0, 255)
    buffer = from_rgb(noisy.astype(np.uint8))
    gains = np.full((9, 16, 3), 2.0, np.float32)
    kept = planes(yuv_gains(buffer, gains))[0].astype(np.float32)
    smoothed = planes(yuv_gains(buffer, gains, np.full((9, 16), 0.8, np.float32)))[0]
    smoothed = smoothed.astype(np.float32)

    def fine(image):
        return np.abs(image - cv2.GaussianBlur(image, (5, 5), 0)).mean()

    assert fine(smoothed) < 0.5 * fine(kept)
    assert abs(smoothed.mean() - kept.mean()) < 0.5  # brightness unchanged


def test_half_luma_and_small_rgb_agree_with_rgb():
    image = dark_photo(level=0.5)
    buffer = from_rgb(image)
    rgb = to_rgb(buffer)
    assert np.abs(half_luma(buffer, "yuv420p").astype(int) - half_luma(rgb)).mean() < 1.0
    small = small_rgb(half_planes(buffer), (64, 36))
    assert small.dtype == np.float32 and small.shape == (36, 64, 3)
    assert np.abs(small - downscale(rgb, (64, 36))).mean() < 1.0


def test_camera_frames_take_the_yuv_path_when_they_can():
    from rtretinex.pixelops.formats import camera_frame

    image = small_photo(height=90, width=160)
    buffer, fmt = camera_frame(image[:, :, ::-1].copy(), bgr=True)
    assert fmt == "yuv420p" and np.abs(to_rgb(buffer).astype(int) - image).mean() < 3  # 4:2:0
    odd, fmt = camera_frame(image[:89], bgr=False)
    assert fmt == "rgb24" and odd.shape == (89, 160, 3)
