"""Every per-pixel op of the frame path, run by each executor (the host's numba loops and
OpenCV passes, torch on the CPU) against its reference (``rtretinex.pixelops.reference``,
on NumPy arrays, with OpenCV's resampling where an op resamples)."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from rtretinex.frame.denoise import Motion
from rtretinex.nets.backends import create_backend
from rtretinex.pixelops import host as host_ops
from rtretinex.pixelops import reference
from rtretinex.pixelops.formats import (
    CHROMA_ZERO,
    RGB_TO_YUV,
    Y_BLACK,
    YUV_TO_RGB,
    planes,
)
from rtretinex.pixelops.host import HostExecutor, mix
from rtretinex.pixelops.loops import (
    cast_added,
    cast_removed,
    compose_luma,
    deblock,
    gains_at_chroma,
    grid_sums,
    guided_rows,
    lift_shares,
    mixed_rows,
    slice_grid,
    update_chroma,
    update_luma,
)
from rtretinex.pixelops.torch_ops import TorchExecutor

EXECUTORS = ["host", "torch"]


@pytest.fixture(scope="module")
def torch_cpu():
    return create_backend("torch-cpu")


@pytest.fixture(params=EXECUTORS)
def executor(request, torch_cpu):
    return HostExecutor(torch_cpu) if request.param == "host" else TorchExecutor(torch_cpu)


def on_host(value):
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def resized(plane, size):
    """OpenCV's bilinear resize to ``size`` (w, h): the reference upsampling."""
    return cv2.resize(plane, size, interpolation=cv2.INTER_LINEAR)


def moved(plane, shift):
    """The reference move: by whole pixels, the uncovered strip filled with the edge."""
    dx, dy = shift
    padded = np.pad(plane, ((max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0)))
                    + ((0, 0),) * (plane.ndim - 2), mode="edge")
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[top:top + plane.shape[0], left:left + plane.shape[1]]


def test_lift_share_keeps_blacks_and_lifts_little_at_the_floor():
    luma = np.array([0.0, 2.0, 4.0, 5.0, 10.0, 200.0], np.float32)
    share = reference.lift_share(luma, 4.0, 2.0)
    assert share[:3].tolist() == [0.0, 0.0, 0.0]  # at or below the black point
    assert share[3] < 0.1 < share[4] < 1.0 and share[5] > 0.95
    assert reference.lift_share(luma[1:], 0.0, 0.0) == pytest.approx([1.0] * 5, abs=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("spread", [1, 3])
def test_sampled_is_the_references_spread_sample(executor, dtype, spread):
    """The black level's sample: every 4th pixel of every 4th row, with ``spread`` the mean
    of the 3×3 pixels from each (its noise three times lower)."""
    rng = np.random.default_rng(3)
    plane = rng.uniform(16, 40, (45, 82)).astype(dtype)
    got = executor.sampled((executor.upload(plane),), 4, spread)[0]
    expected = reference.spread_sample(plane.astype(np.float64), 4, spread)
    assert got.shape == expected.shape == ((45 - spread) // 4 + 1, (82 - spread) // 4 + 1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    if spread == 3:
        assert got[1, 2] == pytest.approx(plane[4:7, 8:11].astype(np.float64).mean(), rel=1e-6)
    else:
        assert np.array_equal(got, plane[::4, ::4])


def test_lift_share_of_each_executor_is_the_references():
    luma = np.random.default_rng(0).uniform(0, 40, 500).astype(np.float32)
    want = reference.lift_share(luma, 4.0, 2.5)
    np.testing.assert_allclose(lift_shares(luma, 4.0, 2.5), want, atol=1e-6)
    np.testing.assert_allclose(on_host(reference.lift_share(torch.from_numpy(luma), 4.0, 2.5)),
                               want, atol=1e-6)


def yuv_frame(rng, size=(36, 64)):
    """A random yuv420p frame: its Y plane and ``half_planes`` (float32)."""
    height, width = size
    y = rng.integers(16, 236, size).astype(np.uint8)
    y_half = cv2.resize(np.float32(y), (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    u, v = (rng.uniform(16, 240, (height // 2, width // 2)).astype(np.float32)
            for _ in range(2))
    return y, (y_half, u, v)


def reference_apply_yuv_gains(y, half, gains, weight, filtered, night):
    """``reference.gains_at_chroma`` with the maps upsampled by OpenCV to chroma size, then
    ``reference.composed_luma`` with its maps upsampled to Y's: the U, V and Y codes."""
    chroma = half[1].shape[::-1]
    maps = [resized(plane, chroma) for plane in (*cv2.split(gains), weight)]
    out_u, out_v, detail, base, _ = reference.gains_at_chroma(*half, filtered,
                                                              tuple(maps[:3]), maps[3], night)
    out_y = reference.composed_luma(np.float32(y), resized(detail, y.shape[::-1]),
                                    resized(base, y.shape[::-1]))
    return out_y, out_u, out_v


@pytest.mark.parametrize("rows", [1, 5, 9])
@pytest.mark.parametrize("night", [(0.0, 0.0), (6.0, 3.0)])
def test_apply_yuv_gains_is_the_references_gains_at_chroma(executor, rows, night):
    rng = np.random.default_rng(3)
    y, half = yuv_frame(rng)
    filtered = tuple(cv2.GaussianBlur(plane, (5, 5), 0) for plane in half)
    gains = rng.uniform(0.5, 4, (rows, 16, 3)).astype(np.float32)
    weight = rng.uniform(0, 1, (rows, 16)).astype(np.float32)
    night = np.array(night, np.float32)
    out = on_host(executor.download(executor.apply_yuv_gains(
        executor.upload(y), tuple(executor.upload(p) for p in half), gains, weight,
        tuple(executor.upload(p) for p in filtered), night)[0]))
    for got, want in zip(planes(out), reference_apply_yuv_gains(y, half, gains, weight,
                                                                filtered, night), strict=True):
        assert np.abs(got.astype(int) - want).max() <= 1  # ties may round either way
        assert np.mean(got == want) > 0.99


def test_the_loops_detail_and_base_are_the_references():
    rng = np.random.default_rng(4)
    _, half = yuv_frame(rng)
    filtered = tuple(cv2.GaussianBlur(plane, (5, 5), 0) for plane in half)
    maps = np.concatenate([rng.uniform(0.5, 4, (3, 18, 32)), rng.uniform(0, 1, (1, 18, 32))]
                          ).astype(np.float32)
    out_u, out_v = np.empty((18, 32), np.uint8), np.empty((18, 32), np.uint8)
    night = np.array([6.0, 3.0], np.float32)
    detail, base, allowed = gains_at_chroma(*half, filtered, maps, out_u, out_v, night)
    _, _, want_detail, want_base, want_allowed = reference.gains_at_chroma(
        *half, filtered, tuple(maps[:3]), maps[3], night)
    np.testing.assert_allclose(detail, want_detail, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(base, want_base, atol=2e-3)
    np.testing.assert_allclose(allowed, want_allowed, atol=1e-4)
    assert 0 < allowed.mean() < 1


def test_a_dark_saturated_colour_stays_its_colour_under_large_gains(executor):
    """A dark red (its G and B at zero, where the gains are large: the nets' G and B over
    the input floor) stays red, not grey or cyan."""
    red = np.array([40.0, 0.0, 0.0], np.float32) @ RGB_TO_YUV.T + [16, 128, 128]
    half = tuple(np.full((8, 8), c, np.float32) for c in red)
    y = np.full((16, 16), red[0], np.uint8)
    out = executor.apply_yuv_gains(
        executor.upload(y), tuple(executor.upload(p) for p in half),
        np.full((4, 8, 3), [4.0, 16.0, 16.0], np.float32), np.zeros((4, 8), np.float32), None,
        np.zeros(2, np.float32))[0]
    out_y, out_u, out_v = planes(on_host(executor.download(out)))
    r, g, b = YUV_TO_RGB @ (np.array([out_y[0, 0], out_u[0, 0], out_v[0, 0]], np.float32)
                            - [16, 128, 128])
    assert r > 100 and g < 0.3 * r and b < 0.3 * r


def test_the_shoulder_never_clips_what_was_not_clipped_and_keeps_the_order():
    peak_in = np.repeat(np.arange(0, 256, 5, dtype=np.float32), 40)
    gain = np.tile(np.geomspace(1, 40, 40).astype(np.float32), 52)
    lifted = peak_in * gain
    out = lifted * reference.shoulder(peak_in, lifted)
    below = peak_in < 230
    assert out[below].max() < 250 and (out >= peak_in - 1e-3).all()  # never darker
    np.testing.assert_allclose(out[peak_in == 255], 255.0, atol=1e-3)  # full scale: kept
    small = lifted <= np.maximum(peak_in, 255 * reference.SHOULDER_START)
    np.testing.assert_allclose(out[small], lifted[small], rtol=1e-5)  # below the knee: as is
    for level in range(52):  # for one input, more gain gives more light
        row = out[level * 40:(level + 1) * 40]
        assert (np.diff(row) >= -1e-3).all()
    for g in range(40):  # for one gain, a brighter input stays brighter
        column = out[g::40]
        assert (np.diff(column) >= -1e-3).all()
    # a lift that comes out negative (a channel below black) is left alone
    assert reference.shoulder(np.float32([0.0, 255.0]), np.float32([-3.0, -1.0])).tolist() == [
        1.0, 1.0]


def test_near_greys_keep_their_chroma_and_colours_are_lifted_with_the_light():
    gain, y = np.float32(4.0), np.float32(60.0)
    for chroma, most in ((1.0, 1.05), (3.0, 1.5)):  # codec steps, a bias left over
        colour = reference.colourfulness(y, np.float32(chroma), np.float32(0))
        assert chroma * gain * reference.chroma_kept(colour, gain) <= most * chroma
    colour = reference.colourfulness(y, np.float32(14.0), np.float32(8.0))
    assert colour > 0.95 and reference.chroma_kept(colour, gain) > 0.95  # a colour: lifted
    dark = reference.colourfulness(np.float32(8.0), np.float32(3.0), np.float32(0))
    assert dark > 0.95  # the same chroma in the dark is a colour
    assert reference.chroma_kept(np.float32(0.0), np.float32(1.0)) == 1.0


@pytest.mark.parametrize("peak", [60.0, 200.0])
def test_a_lit_colour_lifted_past_full_scale_keeps_its_hue_and_saturation(executor, peak):
    """A yellow house under a large gain: no channel clips, the channels keep their ratios."""
    rgb = np.array([peak, 0.8 * peak, 0.3 * peak], np.float32)
    yuv = rgb @ RGB_TO_YUV.T + [16, 128, 128]
    half = tuple(np.full((8, 8), c, np.float32) for c in yuv)
    out = executor.apply_yuv_gains(
        executor.upload(np.full((16, 16), yuv[0], np.uint8)),
        tuple(executor.upload(p) for p in half), np.full((4, 8, 3), 12.0, np.float32),
        np.zeros((4, 8), np.float32), None, np.zeros(2, np.float32))[0]
    out_y, out_u, out_v = (plane[2, 2] for plane in planes(on_host(executor.download(out))))
    got = YUV_TO_RGB @ (np.array([out_y, out_u, out_v], np.float32) - [16, 128, 128])
    assert got.max() < 252 and got.max() > peak  # lifted, not blown
    np.testing.assert_allclose(got / got.max(), rgb / rgb.max(), atol=0.04)


@pytest.mark.parametrize("size", [(36, 64), (10, 14), (2, 6)])
def test_compose_luma_is_the_references(size):
    """Odd half sizes and a 1-row map reach every edge case of the loop's 2× upsampling."""
    rng = np.random.default_rng(2)
    half = (size[0] // 2, size[1] // 2)
    y = rng.uniform(0, 255, size).astype(np.float32)
    detail = rng.uniform(0, 4, half).astype(np.float32)
    base = rng.uniform(-300, 300, half).astype(np.float32)
    out = np.empty(size, np.uint8)
    compose_luma(y, detail, base, out)
    want = reference.composed_luma(y, resized(detail, size[::-1]), resized(base, size[::-1]))
    assert np.abs(out - want).max() <= 1 and np.mean(out == want) > 0.999


def reference_temporal(state, frame, motion, pixel_format):
    """``reference.temporal_update`` of each plane, moved by the reference move."""
    if pixel_format == "rgb24":
        k = resized(motion.k, frame.shape[1::-1])[..., None]
        return reference.temporal_update(np.float32(frame), moved(state, motion.full_shift), k,
                                         motion.light, 0.0)
    y, u, v = planes(frame)
    ks = (resized(motion.k, y.shape[::-1]), motion.k, motion.k)
    shifts = (motion.full_shift, motion.shift, motion.shift)
    pivots = (Y_BLACK, CHROMA_ZERO, CHROMA_ZERO)
    out = [reference.temporal_update(np.float32(plane), moved(old, by), k, motion.light, pivot)
           for plane, old, k, by, pivot in zip((y, u, v), planes(state), ks, shifts, pivots,
                                               strict=True)]
    return np.concatenate([plane.reshape(-1) for plane in out]).reshape(state.shape)


@pytest.mark.parametrize("pixel_format", ["rgb24", "yuv420p"])
@pytest.mark.parametrize("light,shift", [(1.0, (0, 0)), (1.3, (2, -1)), (0.8, (-1, 3))])
def test_temporal_update_is_the_references(executor, pixel_format, light, shift):
    rng = np.random.default_rng(5)
    height, width = 36, 64
    shape = (height, width, 3) if pixel_format == "rgb24" else (height * 3 // 2, width)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    state = rng.uniform(0, 255, shape).astype(np.float32)
    k = rng.uniform(0.2, 1.0, (height // 2, width // 2)).astype(np.float32)
    motion = Motion(k, light, shift, (2 * shift[0], 2 * shift[1]))
    want = reference_temporal(state, frame, motion, pixel_format)
    got = executor.download(executor.temporal_update(
        executor.upload(state.copy()), executor.upload(frame), motion, pixel_format))
    np.testing.assert_allclose(on_host(got), want, rtol=1e-4, atol=2e-3)


def test_the_loops_update_planes_in_place_as_the_reference():
    rng = np.random.default_rng(1)
    plane = rng.integers(0, 256, (9, 7), dtype=np.uint8)
    state = rng.uniform(0, 255, (9, 7)).astype(np.float32)
    k = rng.uniform(0, 1, (9, 7)).astype(np.float32)
    want = reference.temporal_update(np.float32(plane), state, k, 1.5, CHROMA_ZERO)
    update_chroma(plane, state, k, 1.5)
    np.testing.assert_allclose(state, want, atol=2e-4)
    y = rng.integers(0, 256, (2, 6), dtype=np.uint8)  # a 1-row k
    state = rng.uniform(0, 255, (2, 6)).astype(np.float32)
    k = rng.uniform(0.2, 1, (1, 3)).astype(np.float32)
    want = reference.temporal_update(np.float32(y), state, resized(k, (6, 2)), 0.8, Y_BLACK)
    update_luma(y, state, k, 0.8)
    np.testing.assert_allclose(state, want, atol=2e-4)


def test_deblock_ramps_small_steps_between_flat_blocks_only():
    plane = np.full((16, 24), 18.0, np.float32)
    plane[:, 8:] = 20.0  # a two-code codec step on the grid (every 4th column here)
    plane[:, 16:] = 40.0  # a real edge
    plane[:, :4] += np.tile([0.0, 1.0], (16, 2))  # texture: not flat
    out = reference.deblocked(plane, 4, 3.0, 0.5)
    assert out[0, 6:10].tolist() == pytest.approx([18.25, 18.75, 19.25, 19.75])
    np.testing.assert_array_equal(out[:, 14:18], plane[:, 14:18])  # edge kept
    np.testing.assert_array_equal(out[:, :6], plane[:, :6])  # texture kept


def test_deblock_of_each_executor_is_the_references():
    rng = np.random.default_rng(3)
    plane = np.round(rng.normal(20, 0.2, (48, 64))).astype(np.float32)
    plane[::8, :] += 1  # steps to even out
    plane[:, 36:] += 40  # an edge
    want = reference.deblocked(plane, 4, 3.0, 0.5)
    assert not np.array_equal(want, plane)
    in_place = plane.copy()
    deblock(in_place, 4, 3.0, 0.5)
    np.testing.assert_allclose(in_place, want, atol=1e-5)
    np.testing.assert_allclose(on_host(reference.deblocked(torch.from_numpy(plane), 4, 3.0,
                                                           0.5)), want, atol=1e-5)
    with pytest.raises(ValueError, match="float32"):
        deblock(plane.astype(np.float64), 4, 3.0, 0.5)


class OpenCV:
    """OpenCV's resampling: what the reference's filters are checked with."""

    area = staticmethod(lambda p, size: cv2.resize(p, size, interpolation=cv2.INTER_AREA))
    box = staticmethod(lambda p, window: cv2.boxFilter(p, -1, (window, window)))

    @staticmethod
    def ramp(plane, window, axis):
        """The window's mean of the plane times each pixel's offset from its centre."""
        radius = window // 2
        padded = cv2.copyMakeBorder(plane, *(radius,) * 4, cv2.BORDER_REFLECT_101)
        out = np.zeros_like(plane)
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                shifted = padded[radius + dy:radius + dy + plane.shape[0],
                                 radius + dx:radius + dx + plane.shape[1]]
                out += shifted * (dy if axis == 0 else dx)
        return out / window**2


def reference_guided(guide, source, radius, eps):
    """``reference.guided_coefficients`` with OpenCV's resampling, upsampled."""
    (a, b), = reference.guided_coefficients(OpenCV, guide, (source,), radius, eps)
    return resized(a, guide.shape[::-1]), resized(b, guide.shape[::-1])


@pytest.mark.parametrize("size", [(48, 64), (560, 960)])  # the second: 1080p's wider means
def test_filtered_planes_are_the_references_flat_smoothing_deblocked(executor, size):
    height, width = size
    rng = np.random.default_rng(6)
    y_half = np.round(rng.normal(20, 1.0, size)).astype(np.float32)
    y_half[:, width * 9 // 16:] += 40  # an edge
    y_half[:, :width * 5 // 16] = np.round(np.linspace(10, 14, height))[:, None]  # a faint,
    u, v = (rng.integers(120, 136, size).astype(np.uint8) for _ in range(2))  # quantised gradient
    a, b = reference_guided(y_half, y_half, reference.FLAT_RADIUS, reference.FLAT_EPS)
    want_y = reference.deblocked(a * y_half + b, reference.BLOCK_SPACING,
                                 reference.DEBLOCK_STEP, reference.DEBLOCK_FLAT)
    mean, share = (resized(p, (width, height)) for p in reference.flat_means(OpenCV, y_half))
    assert share.max() > 0.9 and share.min() == 0.0
    want_y = reference.mixed(want_y, mean, share)
    got = executor.filtered_planes(tuple(executor.upload(p) for p in (y_half, u, v)))
    np.testing.assert_allclose(on_host(got[0]), want_y, atol=1e-3)
    for plane, filtered in zip((u, v), got[1:], strict=True):
        want = cv2.GaussianBlur(plane, (reference.DIAMETER,) * 2, 0)
        assert np.abs(on_host(filtered).astype(int) - want).max() <= 1


def test_a_larger_picture_spreads_a_code_step_over_more_pixels(executor):
    """The flat means grow with the picture: a one-code step across a flat 1080p frame is
    a ramp over more pixels than across a 360p one (the same share of the picture)."""
    assert reference.flat_mean_windows(360) == reference.flat_mean_windows(720) == (
        reference.FLAT_MEAN_WINDOW, reference.FLAT_MEAN_WIDE)
    widths = []
    for height, width in ((180, 320), (540, 960)):  # chroma resolution of 360p and 1080p
        plane = np.full((height, width), 18.0, np.float32)
        plane[:, width // 2:] = 19.0
        zero = np.zeros_like(plane)
        smooth = on_host(executor.filtered_planes(
            tuple(executor.upload(p) for p in (plane, zero, zero)))[0])
        row = smooth[height // 2]
        widths.append(int(((row > 18.05) & (row < 18.95)).sum()))
    assert widths[1] > widths[0]


def test_flat_smoothing_removes_one_code_blocks_and_keeps_edges(executor):
    plane = np.full((32, 64), 18.0, np.float32)
    plane[:, 8:16] = plane[:, 24:32] = 19.0  # the codec's one-code steps
    plane[:, 48:] = 60.0  # a real edge
    zero = np.zeros_like(plane)
    smooth = on_host(executor.filtered_planes(
        tuple(executor.upload(p) for p in (plane, zero, zero)))[0])
    steps = np.abs(np.diff(smooth[16, :40]))
    assert steps.max() < 0.35 < np.abs(np.diff(plane[16, :40])).max()
    assert smooth[16, 50:].min() > 59.0 and smooth[16, :44].max() < 20.0


def test_a_faint_quantised_gradient_becomes_a_ramp_without_crossing_an_edge(executor):
    """Rows rising a code every 6 rows (a glow's falloff, as the codec stores it) lifted by
    a gain of 20 step by 20 codes; filtered, no row steps by more than a fifth of a code
    (4 codes lifted), the slope is kept, and an edge's bright side does not leak into it."""
    height, width = 96, 64
    plane = np.repeat(np.floor(np.arange(height) / 6.0)[:, None], width, axis=1)
    plane = (plane + 10.0).astype(np.float32)
    plane[:, 44:] = 80.0  # a lamp beside it
    zero = np.zeros_like(plane)
    smooth = on_host(executor.filtered_planes(
        tuple(executor.upload(p) for p in (plane, zero, zero)))[0])
    column = smooth[12:-12, 16]
    assert np.abs(np.diff(column)).max() < 0.2 < np.abs(np.diff(plane[12:-12, 16])).max()
    np.testing.assert_allclose(column.mean(), plane[12:-12, 16].mean(), atol=0.1)
    assert column[-1] - column[0] > 10  # the gradient is kept
    assert smooth[:, :42].max() < plane[:, :42].max() + 0.5  # nothing of the lamp leaks


def test_the_cast_comes_off_the_dark_pixels_that_hold_it_and_goes_back_in_codes(executor):
    """A black level's cast (U +9, V −2) comes off a dark pixel that has it, in full, off a
    darker share of it in part, not off a colour the other way nor off a bright pixel in
    its direction; what ``with_cast`` puts back is what ``without_cast`` took."""
    cast = (9.0, -2.0)
    y = np.array([[18, 18, 18, 18, 120, 60]], np.float32)
    u = np.array([[137, 132.5, 119, 128, 137, 137]], np.float32)
    v = np.array([[126, 127, 130, 128, 126, 126]], np.float32)
    (_, u_off, v_off), share = executor.without_cast(tuple(map(executor.upload, (y, u, v))),
                                                    cast)
    share = on_host(share)
    expected = reference.cast_share(y, u, v, cast)
    np.testing.assert_allclose(share, expected, atol=1e-6)
    assert share[0, 0] == pytest.approx(1.0) and 0.4 < share[0, 1] < 0.6
    assert share[0, 2] == 0.0 and share[0, 3] == 0.0 and share[0, 4] == 0.0  # not its colour
    assert 0.0 < share[0, 5] < 1.0  # brighter: the cast is a smaller part of its light
    np.testing.assert_allclose(on_host(u_off)[0, :2], [128.0, 128.0], atol=1e-4)
    buffer = np.full((3, 12), 128, np.uint8)  # a yuv420p buffer of 2 × 12 pixels
    for plane, off in zip(planes(buffer)[1:], (u_off, v_off), strict=True):
        plane[...] = np.rint(on_host(off))
    out = on_host(executor.download(executor.with_cast(executor.upload(buffer.copy()),
                                                       executor.upload(share), cast)))
    _, out_u, out_v = planes(out)
    np.testing.assert_array_equal(out_u, np.rint(u).astype(np.uint8))
    np.testing.assert_array_equal(out_v, np.rint(v).astype(np.uint8))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])  # U and V as decoded, or filtered
def test_the_cast_loops_are_the_references(dtype):
    rng = np.random.default_rng(9)
    y = rng.uniform(10, 120, (37, 53)).astype(np.float32)  # some at or below Y's black
    u, v = (rng.uniform(110, 150, y.shape).astype(dtype) for _ in range(2))
    cast = (7.0, -3.0)
    for got, want in zip(cast_removed(y, u, v, cast),
                         reference.cast_removed(y, u.astype(np.float32), v.astype(np.float32),
                                                cast), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)
    share = reference.cast_share(y, u.astype(np.float32), v.astype(np.float32), cast)
    assert 0.05 < np.mean(share > 0) < 0.95 and share.max() == pytest.approx(1.0)
    plane = rng.integers(0, 256, y.shape).astype(np.uint8)
    want = reference.cast_added(plane.astype(np.float32), share, 40.0)  # some clip at 255
    cast_added(plane, share, 40.0)
    assert np.abs(plane.astype(int) - want).max() <= 1 and np.mean(plane == want) > 0.999


def test_a_photos_cast_comes_off_the_pixels_that_hold_it_and_goes_back_in_codes(executor):
    """The RGB form of the cast (quality mode): the same share as on the planes, taken off
    each pixel in RGB without changing its luma; what ``rgb_with_cast`` puts back onto the
    unchanged output is the input again."""
    cast = (9.0, -2.0)
    y = np.array([[18, 18, 18, 18, 120, 60]], np.float32)
    u = np.array([[137, 132.5, 119, 128, 137, 137]], np.float32)
    v = np.array([[126, 127, 130, 128, 126, 126]], np.float32)
    rgb = np.einsum("ij,hwj->hwi", YUV_TO_RGB,
                    np.stack([y - Y_BLACK, u - CHROMA_ZERO, v - CHROMA_ZERO], axis=-1))
    image = np.rint(rgb).clip(0, 255).astype(np.uint8)
    free, share = executor.rgb_without_cast(executor.upload(image), cast)
    free, share = executor.download(free), on_host(share)
    yuv = np.einsum("ij,hwj->hwi", RGB_TO_YUV, image.astype(np.float32))
    expected = reference.cast_share(yuv[..., 0] + Y_BLACK, yuv[..., 1] + CHROMA_ZERO,
                                    yuv[..., 2] + CHROMA_ZERO, cast)
    np.testing.assert_allclose(share, expected, atol=1e-5)
    assert share[0, 0] > 0.9 and share[0, 2] == 0.0 and share[0, 4] == 0.0
    change = np.einsum("ij,hwj->hwi", RGB_TO_YUV, free - image)
    np.testing.assert_allclose(change[..., 0], 0.0, atol=0.01)  # luma kept
    np.testing.assert_allclose(change[0, 0, 1:], [-9.0 * share[0, 0], 2.0 * share[0, 0]],
                               atol=0.05)
    back = executor.download(executor.rgb_with_cast(
        executor.upload(np.rint(free).astype(np.uint8)), executor.upload(share), cast))
    assert back.dtype == np.uint8
    assert np.abs(back.astype(np.int16) - image).max() <= 1


def test_smooth_chroma_is_the_references(executor):
    rng = np.random.default_rng(4)
    buffer = rng.integers(0, 256, (72, 64)).astype(np.uint8)
    weight = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    y, u, v = planes(buffer)
    guide = cv2.resize(y, u.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
    small = (max(1, u.shape[1] // 2), max(1, u.shape[0] // 2))
    allowed = np.tile(np.linspace(0, 1, u.shape[1], dtype=np.float32), (u.shape[0], 1))
    share = resized(resized(weight, small), u.shape[::-1]) * allowed
    want = reference.chroma_smoothed(
        np.float32(u), np.float32(v),
        tuple(reference_guided(guide, np.float32(plane), reference.CHROMA_RADIUS,
                               reference.CHROMA_EPS) for plane in (u, v)), guide, share)
    got = on_host(executor.download(executor.smooth_chroma(executor.upload(buffer.copy()),
                                                           weight, executor.upload(allowed))))
    assert np.array_equal(planes(got)[0], y)
    for plane, expected in zip(planes(got)[1:], want, strict=True):
        assert np.abs(plane.astype(int) - expected).max() <= 1
    assert not np.array_equal(got, buffer)


def test_smooth_chroma_removes_blotches_and_keeps_colour_edges(executor):
    rng = np.random.default_rng(1)
    height, width = 96, 128
    buffer = np.empty((height * 3 // 2, width), np.uint8)
    y, u, v = planes(buffer)
    y[:] = 90
    y[:, 64:] = 160  # a grey wall beside a bright red door
    u[:], v[:] = 128, 128
    v[:, 32:] = 190
    blotches = cv2.resize(rng.normal(0, 6, (12, 16)), (64, 48), interpolation=cv2.INTER_NEAREST)
    u[:, :32] = np.clip(128 + np.round(blotches[:, :32]), 0, 255)  # codec-block chroma noise

    def smoothed(weight, allowed=1.0):
        return on_host(executor.download(executor.smooth_chroma(
            executor.upload(buffer.copy()), np.full((6, 8), weight, np.float32),
            executor.upload(np.full(u.shape, allowed, np.float32)))))

    wall, door = (slice(4, 44), slice(4, 28)), (slice(4, 44), slice(36, 60))
    _, out_u, out_v = planes(smoothed(1.0))
    assert np.abs(out_u[wall].astype(int) - 128).mean() < 0.5 * np.abs(u[wall] - 128.0).mean()
    assert np.abs(out_v[door].astype(int) - 190).max() <= 1  # the door's colour stays its own
    assert np.abs(out_v[wall].astype(int) - 128).max() <= 1  # and does not bleed on the wall
    assert np.array_equal(smoothed(0.0), buffer)  # no denoise weight: nothing changes
    assert np.array_equal(smoothed(1.0, allowed=0.0), buffer)  # not allowed: nor here


def test_smooth_chroma_takes_a_grey_only_towards_grey(executor):
    """A near grey beside a colour (a white cable against a blue sky):
    its chroma noise is smoothed away, but no pixel of it moves away from grey, so none
    takes the colour beside it; the colour keeps its own."""
    rng = np.random.default_rng(3)
    height, width = 64, 128
    buffer = np.empty((height * 3 // 2, width), np.uint8)
    y, u, v = planes(buffer)
    y[:, :64], y[:, 64:] = 200, 110  # the grey brighter than the colour beside it
    u[:] = 128 + rng.integers(-2, 3, u.shape)
    v[:] = 128 + rng.integers(-2, 3, v.shape)
    v[:, 32:] = 190  # the colour, right of the grey
    out = on_host(executor.download(executor.smooth_chroma(
        executor.upload(buffer.copy()), np.ones((4, 8), np.float32),
        executor.upload(np.ones(u.shape, np.float32)))))
    _, out_u, out_v = planes(out)
    for before, after in ((u[:, :32], out_u[:, :32]), (v[:, :32], out_v[:, :32])):
        assert (np.abs(after.astype(int) - 128) <= np.abs(before.astype(int) - 128)).all()
        assert np.abs(after.astype(int) - 128).mean() < 0.7 * np.abs(before - 128.0).mean()
    assert np.abs(out_v[:, 36:].astype(int) - 190).max() <= 1


def test_the_hosts_blend_is_the_references_mix():
    rng = np.random.default_rng(7)
    old, new = (rng.uniform(0, 255, (20, 30, 3)).astype(np.float32) for _ in range(2))
    share = rng.uniform(0, 1, (20, 30)).astype(np.float32)
    want = reference.mixed(old, new, share[..., None])
    np.testing.assert_allclose(mix(new, old, share), want, rtol=2e-5)  # blendLinear: ~1e-5
    np.testing.assert_allclose(mix(new[..., 0], old[..., 0], share), want[..., 0], rtol=2e-5)


def test_denoised_reflectance_is_the_bilateral_mixed_by_the_denoise_weight(executor):
    rng = np.random.default_rng(2)
    reflectance = np.clip(rng.normal(0.4, 0.08, (30, 40, 3)), 0, 1).astype(np.float32)
    reflectance[:, 20:] += 0.3  # an edge to keep
    gain = np.tile(np.linspace(1, 6, 40, dtype=np.float32), (30, 1))  # from none to full
    weight = reference.denoise_weight(gain, 1.0)
    assert weight.min() == 0 and weight.max() == 1
    filtered = cv2.bilateralFilter(reflectance, reference.DIAMETER, reference.R_SIGMA,
                                   reference.DIAMETER / 2)
    want = reference.mixed(reflectance, filtered, weight[..., None])
    got = executor.denoise_reflectance(executor.upload(reflectance), executor.upload(gain), 1.0)
    np.testing.assert_allclose(executor.download(got), want, atol=2e-3)


def test_night_lifted_keeps_blacks_greys_grey_and_lifts_colours():
    """At the black point nothing is lifted; a near grey takes the proposed luma with its
    own chroma in codes (grey, not the nets' tint); a colour takes the proposal."""
    def lifted(rgb, proposal, smooth_y, black=2.0, knee=1.0, boost=1.0):
        source = tuple(np.float32([c]) for c in rgb)
        out = reference.night_lifted(source, tuple(np.float32([c]) for c in proposal),
                                     np.float32([smooth_y]), black, knee, boost)
        return np.array([c[0] for c in out])

    np.testing.assert_allclose(lifted((2, 2, 2), (60, 70, 50), 16 + 2 / 1.164), (2, 2, 2))
    luma = np.float32([0.299, 0.587, 0.114])
    grey = lifted((60, 61, 60), (150, 180, 140), 16 + 60 * 219 / 255)
    share = float(reference.lift_share(np.float32(60), 2.0, 1.0))  # 0.95
    want = float(np.float32([60, 61, 60]) @ luma) + share * float(np.float32([90, 119, 80]) @ luma)
    assert abs(float(grey @ luma) - want) < 0.5
    assert grey.max() - grey.min() < 2.0
    red = lifted((60, 20, 20), (180, 60, 60), 16 + 32 * 219 / 255)
    share = float(reference.lift_share(np.float32(32), 2.0, 1.0))  # read on the smoothed Y
    np.testing.assert_allclose(red, (60, 20, 20) + share * np.float32([120, 40, 40]), atol=1)


def test_finish_quality_with_the_night_lift_is_the_references(executor, monkeypatch):
    monkeypatch.setattr(host_ops, "NIGHT_ROWS", 7)  # the host's bands: 24 rows in four
    rng = np.random.default_rng(11)
    image = rng.integers(0, 60, (24, 32, 3), dtype=np.uint8)
    output = rng.uniform(0, 1, (24, 32, 3)).astype(np.float32)
    ratio = rng.uniform(0.8, 1.2, (2, 3, 3)).astype(np.float32)
    smooth_y = rng.uniform(16, 60, (12, 16)).astype(np.float32)
    lift = np.float32([3.0, 2.5, 1.4, 0.8])
    got = executor.download(executor.finish_quality(
        executor.upload(output), ratio, 0.9, executor.upload(image), executor.upload(image),
        (executor.upload(smooth_y), lift)))
    proposed = output * resized(ratio, (32, 24)) * np.float32(255 * 0.9)
    source = image.astype(np.float32)
    lifted = np.stack(reference.night_lifted(
        tuple(source[..., c] for c in range(3)), tuple(proposed[..., c] for c in range(3)),
        resized(smooth_y, (32, 24)), *lift.tolist()), axis=-1)
    eased = reference.shoulder(source.max(axis=2), lifted.max(axis=2))
    want = np.maximum(np.clip(np.round(lifted * eased[..., None]), 0, 255), image)
    assert np.abs(got.astype(int) - want).max() <= 1


@pytest.mark.parametrize("size", [(360, 640), (411, 284)])  # 720p's chroma; 822p portrait's
def test_the_row_loops_are_the_references_with_opencvs_upsampling(size):
    """``guided_rows`` and ``mixed_rows`` read half-size maps resized to their width and
    interpolate the rows themselves: the same as OpenCV's INTER_LINEAR of the whole map
    (an odd size is not exactly 2×)."""
    rng = np.random.default_rng(8)
    plane = rng.uniform(0, 255, size).astype(np.float32)
    half = (size[1] // 2, size[0] // 2)
    first, second = (rng.uniform(0, 1, half[::-1]).astype(np.float32) for _ in range(2))
    maps = host_ops._at_width((first, second), size[1])
    up = [cv2.resize(m, size[::-1], interpolation=cv2.INTER_LINEAR) for m in (first, second)]
    np.testing.assert_allclose(guided_rows(plane, maps), up[0] * plane + up[1], atol=1e-4)
    mixed = plane.copy()
    mixed_rows(mixed, maps)
    np.testing.assert_allclose(mixed, reference.mixed(plane, *up), atol=1e-4)


def test_maps_of_the_wrong_size_are_refused():
    """The loops do not check bounds: the wrappers must."""
    y = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="does not fit"):
        update_luma(y, np.zeros((8, 8), np.float32), np.zeros((3, 4), np.float32), 1.0)
    with pytest.raises(ValueError, match="does not fit"):
        compose_luma(y, np.zeros((4, 4), np.float32), np.zeros((4, 5), np.float32), y)
    with pytest.raises(ValueError, match="differ"):
        update_chroma(y, np.zeros((8, 8), np.float32), np.zeros((8, 7), np.float32), 1.0)
    plane = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="do not fit"):
        mixed_rows(plane, np.zeros((2, 4, 4), np.float32))  # not at the plane's width
    with pytest.raises(ValueError, match="do not fit"):
        guided_rows(plane, np.zeros((3, 4, 8), np.float32))  # a, b and one more
    with pytest.raises(ValueError, match="float32"):
        mixed_rows(y, np.zeros((2, 4, 8), np.float32))  # uint8: += would wrap


def test_an_install_with_nowhere_to_cache_still_runs():
    """A read-only install and no writable cache folder: numba compiles each run instead
    of failing at import (simulated by leaving numba no cache locator it can use)."""
    code = ("import numpy as np; from rtretinex.pixelops.loops import update_chroma; "
            "s = np.zeros((2, 2), np.float32); "
            "update_chroma(np.full((2, 2), 10, np.uint8), s, np.ones((2, 2), np.float32), 1.0); "
            "print(s.sum())")
    env = dict(os.environ, NUMBA_CACHE_LOCATOR_CLASSES="IPythonCacheLocator")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "40.0"


def tents(position: np.ndarray, bins: int) -> np.ndarray:
    """Tent weights (h, w, bins) at each pixel's bin position: the reference."""
    return np.maximum(1 - np.abs(position[..., None] - np.arange(bins)), 0).astype(np.float32)


@pytest.mark.parametrize("height,width", [(60, 106), (45, 80), (3, 5), (1, 1)])
def test_grid_sums_and_slice_match_dense_references(height, width):
    """The gain grid's loops against NumPy/OpenCV: splatting = per-bin box sums over
    4-pixel cells; slicing = each bin's cells upsampled with INTER_LINEAR, mixed by the
    tents."""
    rng = np.random.default_rng(0)
    position = rng.uniform(0, 8, (height, width)).astype(np.float32)
    values = rng.normal(0, 1, (height, width, 3)).astype(np.float32)
    sums = grid_sums(position, values, 4, 9)
    cells_h, cells_w = -(-height // 4), -(-width // 4)
    weights = tents(position, 9)
    padded = np.zeros((cells_h * 4, cells_w * 4, 9, 4), np.float32)
    padded[:height, :width, :, :3] = weights[..., None] * values[:, :, None, :]
    padded[:height, :width, :, 3] = weights
    want = padded.reshape(cells_h, 4, cells_w, 4, 9, 4).sum(axis=(1, 3))
    assert np.allclose(sums, want, atol=1e-4)
    grid = rng.normal(0, 1, (cells_h, cells_w, 9, 3)).astype(np.float32)
    upsampled = np.stack([cv2.resize(grid[:, :, b], (cells_w * 4, cells_h * 4),
                                     interpolation=cv2.INTER_LINEAR)[:height, :width]
                          for b in range(9)], axis=2).reshape(height, width, 9, 3)
    expected = (weights[..., None] * upsampled).sum(axis=2)
    assert np.allclose(slice_grid(grid, position, 4), expected, atol=1e-4)
