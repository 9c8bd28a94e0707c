"""The night-footage metrics and the camera-like degradation the video benchmark uses."""

import cv2
import numpy as np
import pytest

from rtretinex.metrics import (
    flat_stepped_blocks,
    mean_matched,
    neutral_chroma_distance,
    night_look,
    shadow_colour_error,
)
from rtretinex.pixelops.formats import planes
from rtretinex.training.data import simulate_camera_night

from .conftest import small_photo


def grey(level: float, size=(64, 64)) -> np.ndarray:
    return np.full((*size, 3), level, np.uint8)


def test_flat_blocks_that_step_at_their_edges_are_counted():
    image = grey(40)
    image[:, 32:] = 50  # one 10-code step on the block grid: the 8 blocks left of it count
    assert flat_stepped_blocks(image) == pytest.approx(8 / 64)


def test_gradients_texture_and_bright_blocks_are_not_blocks():
    ramp = np.tile(np.linspace(30, 100, 64), (64, 1))
    assert flat_stepped_blocks(np.dstack([ramp] * 3).astype(np.uint8)) == 0.0
    noise = np.random.default_rng(0).integers(30, 60, (64, 64, 3)).astype(np.uint8)
    assert flat_stepped_blocks(noise) == 0.0
    bright = grey(200)
    bright[:, 32:] = 230  # above the shadows judged
    assert flat_stepped_blocks(bright) == 0.0


def test_neutral_chroma_distance_sees_a_magenta_cast_in_the_shadows_only():
    assert neutral_chroma_distance(grey(60)) == pytest.approx(0.0, abs=0.6)
    magenta = grey(60)
    magenta[..., 1] = 45
    assert neutral_chroma_distance(magenta) > 10
    assert neutral_chroma_distance(np.clip(magenta.astype(int) + 120, 0, 255)
                                   .astype(np.uint8)) == 0.0  # no shadows left to judge


def test_shadow_colour_error_compares_chroma_where_the_target_is_dark():
    target = small_photo(height=64, width=96)
    assert shadow_colour_error(target, target) == 0.0
    tinted = target.copy()
    tinted[..., 1] = np.clip(tinted[..., 1].astype(int) - 12, 0, 255)
    assert shadow_colour_error(tinted, target) > 5


def test_mean_matched_brings_the_mean_to_the_targets():
    pred, target = grey(50), small_photo(height=64, width=96)
    assert mean_matched(pred, target).mean() == pytest.approx(target.mean(), abs=1.0)


def test_camera_night_has_a_magenta_black_level_and_camera_noise_reduction():
    photo = small_photo(height=96, width=129)  # odd width: cropped to even
    buffer = simulate_camera_night(photo, chroma_bias=2.0, seed=1)
    y, u, v = planes(buffer)
    assert y.shape == (96, 128)
    assert 16 <= np.median(y) < 40  # dark
    dark = cv2.resize(y, (64, 48), interpolation=cv2.INTER_AREA) < 20
    assert u[dark].mean() > 129 and v[dark].mean() > 129  # the bias, where it is black
    rough = simulate_camera_night(photo, chroma_bias=2.0, nr_sigma=0.0, seed=1)
    assert np.abs(np.diff(planes(rough)[0].astype(int))).mean() > np.abs(
        np.diff(y.astype(int))).mean()  # the camera's noise reduction smooths


def test_night_look_counts_what_a_night_enhancement_gets_wrong():
    source = grey(60, (40, 40))
    source[:, 20:] = (200, 150, 60)  # a lit yellow wall
    source[:5] = 2  # a near-black band, flat
    out = source.copy()
    out[10:15, :20] = 255  # blown: was 60
    out[:5, ::2] = 20  # the flat band lifted into stripes (steps of 18)
    out[20:, :20] = (60, 80, 60)  # the grey went green
    out[15:20, 20:] = (200, 190, 170)  # the yellow washed out
    look = night_look(out, source)
    assert look["newly_clipped"] == pytest.approx(100 * 5 * 20 / 1600)
    assert look["false_contours"] == pytest.approx(100 * 5 * 40 / 1600, rel=0.05)
    green_y = 0.299 * 60 + 0.587 * 80 + 0.114 * 60  # 400 of the 700 lit grey pixels
    assert look["greys"] == pytest.approx(400 * (0.564 + 0.713) * (green_y - 60) / 700,
                                          rel=0.01)
    assert look["saturation_kept"] == pytest.approx(1.0)  # most of the yellow kept
    assert look["floor"] == pytest.approx(11.0)  # the darkest tenth: half 2, half 20
    unchanged = night_look(source, source)
    assert unchanged["newly_clipped"] == unchanged["false_contours"] == 0.0
    assert unchanged["greys"] == pytest.approx(0.0, abs=1e-3)
    assert night_look(grey(10), grey(10))["saturation_kept"] is None  # nothing coloured
