"""Night footage: black level, the lift's black point, flat-area smoothing, and the whole
fast path on a camera-like night frame (magenta black level, quantized flat shadows)."""

import itertools
import math
from fractions import Fraction

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from rtretinex import Enhancer, EnhanceSettings
from rtretinex.frame import night
from rtretinex.frame.night import (
    BlackLevel,
    NightCorrection,
    bias_of,
    keep_mean,
    magenta_offset,
)
from rtretinex.metrics import flat_stepped_blocks, neutral_chroma_distance, night_look_of_clip
from rtretinex.nets.backends import create_backend
from rtretinex.pixelops.formats import (
    RGB_TO_YUV,
    YUV420P,
    as_rgb,
    from_rgb,
    half_planes,
    planes,
    to_rgb,
)
from rtretinex.pixelops.host import HostExecutor
from rtretinex.pixelops.loops import lift_shares
from rtretinex.training.data import simulate_camera_night, simulate_low_light
from rtretinex.video.frames import VideoFrame

from .conftest import small_photo


def dark_planes(bias=(1.0, 2.0), size=(90, 160)):
    """Chroma-resolution planes of a night frame: most of it one or two codes above black
    with its chroma off by ``bias``, a lit square in the middle."""
    rng = np.random.default_rng(0)
    y = rng.integers(17, 19, size).astype(np.float32)
    u = np.full(size, 128 + bias[0], np.float32)
    v = np.full(size, 128 + bias[1], np.float32)
    y[30:60, 60:100], u[30:60, 60:100], v[30:60, 60:100] = 120, 110, 150
    return y, u, v


def test_black_level_finds_the_black_point_and_its_chroma():
    y, u, v = dark_planes()
    black, bias_u, bias_v, floor, *cast = BlackLevel.measure(y, u, v)
    assert black == pytest.approx(255 / 219, abs=0.01)  # Y 17: one code above black
    assert bias_u == pytest.approx(1.0, abs=0.05) and bias_v == pytest.approx(2.0, abs=0.05)
    assert cast == [0.0, 0.0]  # all of it is the bias
    assert floor == pytest.approx(1 - 30 * 40 / (90 * 160), abs=0.02)  # all but the lit square


def test_the_knee_widens_on_frames_at_the_codecs_floor():
    """A frame mostly at its black point (a night sky, an unlit road) gets the wide knee, a
    textured dark frame the narrow one, so its shadows keep their lift; in between it
    follows the share at the black point, and a noisier frame gets a wider one."""
    y, u, v = dark_planes()
    floor_heavy = BlackLevel.measure(y, u, v)
    # the same frame textured: most pixels far above the black point, a few still on it
    textured = y + np.random.default_rng(1).integers(0, 60, y.shape).astype(np.float32)
    textured_level = BlackLevel.measure(textured, u, v)
    assert textured_level[3] < night.FLOOR_SHARES[0] < night.FLOOR_SHARES[1] < floor_heavy[3]
    narrow, wide = night.KNEE_CODES
    assert night.correction(floor_heavy, noise=0.0).knee == pytest.approx(wide)
    assert night.correction(textured_level, noise=0.0).knee == pytest.approx(narrow)
    middle = floor_heavy.copy()
    middle[3] = sum(night.FLOOR_SHARES) / 2
    assert night.correction(middle, noise=0.0).knee == pytest.approx((narrow + wide) / 2)
    assert night.correction(middle, noise=1.5).knee == pytest.approx(
        (narrow + wide) / 2 + 1.5 * night.KNEE_NOISE)


def test_a_small_deep_shadow_sets_the_black_point_so_it_is_not_crushed():
    # a dim room without blacks: one shadow covers 0.1 % of the frame, the rest sits at
    # Y 40 (at a 0.2 % quantile the black point was the room's own level, 24 codes)
    y = np.full((100, 100), 40.0, np.float32)
    y.reshape(-1)[:10] = 20.0
    u = v = np.full_like(y, 128.0)
    black = BlackLevel.from_samples(y, u, v)[0]
    assert black == pytest.approx((20 - 16) * 255 / 219, abs=0.01)


def with_ringing(y: np.ndarray) -> np.ndarray:
    """Chroma-resolution Y of a night frame with a camera's timestamp: a white bar whose
    edges the codec rang below black (0.5 % of the frame)."""
    y = y.copy()
    y[4:8, 10:80] = 235
    y[3, 10:80] = y[8, 10:80] = 8
    return y


def test_the_codecs_ringing_beside_a_bright_edge_does_not_set_the_black_point():
    y, u, v = dark_planes()
    clean = BlackLevel.measure(y, u, v)
    rung = BlackLevel.measure(with_ringing(y), u, v)
    assert rung[0] == pytest.approx(clean[0], abs=0.01)  # Y 17, not the ringing's 8
    assert rung[3] == pytest.approx(clean[3], abs=0.03)
    # a small deep shadow away from bright edges still sets it
    shadow = y.copy()
    shadow[70:75, 10:20] = 8
    assert BlackLevel.measure(shadow, u, v)[0] == pytest.approx(0.0, abs=0.01)


def test_a_timestamp_leaves_a_night_skys_lift_as_it_was(backend):
    """Video: the black level leaves out what the ringing pulled below black, so the sky
    at the codec's floor is lifted as little as without the timestamp (without the guard
    the black point fell to the ringing and the sky went from 2.3 codes to 9.7)."""
    rng = np.random.default_rng(2)
    y = rng.integers(17, 19, (192, 256)).astype(np.uint8)
    y[60:120, 100:160] = 90  # something lit
    frames = []
    for ringing in (False, True):
        frame = y.copy()
        if ringing:
            frame[8:16, 20:200] = 235
            frame[6:8, 20:200] = frame[16:18, 20:200] = 8
        u = v = np.full((96, 128), 129, np.uint8)
        frames.append(np.concatenate([frame.reshape(-1), u.reshape(-1), v.reshape(-1)]
                                     ).reshape(-1, 256))
    skies = []
    for buffer in frames:
        out = enhanced(backend, [buffer] * 4)[-1]
        skies.append(float(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[140:, :].mean()))
    assert skies[1] < skies[0] + 1.0


def test_black_level_takes_a_coloured_dark_area_as_colour_not_bias():
    """A bias is small: darks far from grey (a blue night, a purple room) keep their colour;
    between BIAS_MAX and twice it, less is taken off the further they are. What is not bias
    is the darks' cast (taken off before the gains and put back after)."""
    blue = BlackLevel.measure(*dark_planes(bias=(9.0, -2.0)))
    assert blue[1:3].tolist() == [0.0, 0.0]
    assert blue[4:6].tolist() == pytest.approx([9.0, -2.0], abs=0.05)
    assert BlackLevel.measure(*dark_planes(bias=(2.0, 1.0)))[1:3].tolist() == pytest.approx(
        [2.0, 1.0], abs=0.05)
    partly = BlackLevel.measure(*dark_planes(bias=(4.5, 1.5)))
    assert partly[1:3].tolist() == pytest.approx([2.25, 0.75], abs=0.05)
    assert partly[4:6].tolist() == pytest.approx([2.25, 0.75], abs=0.05)


def test_a_frame_without_blacks_has_no_bias():
    y, u, v = dark_planes(bias=(4.0, 4.0))
    assert BlackLevel.measure(y + 100, u, v)[1:3].tolist() == [0.0, 0.0]


def followed(level, half, time, restart=False, noise=0.3):
    """The level ``level`` follows after a frame with these ``half_planes``."""
    return level.follow(BlackLevel.measure(*half), time, restart, noise)


def test_black_level_is_followed_slowly_and_at_once_after_a_cut():
    level = BlackLevel(time_constant=1.0)
    for frame in range(45):  # the first frames are averaged, then followed with 1 s
        followed(level, dark_planes(bias=(0.0, 0.0)), time=frame / 30)
    after = followed(level, dark_planes(bias=(2.0, 2.0)), time=45 / 30)
    assert 0.0 < after[1] < 0.1  # one frame of a 1 s time constant: ~3 %
    assert followed(level, dark_planes(bias=(2.0, 2.0)), time=46 / 30, restart=True)[1] == (
        pytest.approx(2.0))


def test_the_first_frames_black_level_is_their_average_not_the_first_ones():
    """At the start (or a cut) no frame is more right than the next: their levels are
    averaged until the time constant takes a larger share (one noisy first frame would
    otherwise stand for a second)."""
    level = BlackLevel(time_constant=1.0)
    y, u, v = dark_planes()
    levels = [BlackLevel.measure(y + lift, u, v)[0] for lift in (0, 2, 1)]
    for frame, lift in enumerate((0, 2, 1)):
        got = followed(level, (y + lift, u, v), time=frame / 30)[0]
    assert got == pytest.approx(np.mean(levels), abs=1e-4)


def test_a_falling_black_point_and_a_change_of_light_are_followed_at_once():
    level = BlackLevel(time_constant=1.0)
    y, u, v = dark_planes()
    for frame in range(40):  # a lamp lifts the blacks
        followed(level, (y + 10, u, v), time=frame / 30)
    assert followed(level, (y, u, v), time=40 / 30)[0] == pytest.approx(255 / 219, abs=0.01)
    for frame in range(41, 81):  # the lamp off for a while
        followed(level, (y, u, v), time=frame / 30)
    back_on = BlackLevel.measure(y + 10, u, v)[0]  # a change of light: taken at once
    assert followed(level, (y + 10, u, v), time=81 / 30, restart=True)[0] == pytest.approx(
        back_on)
    for frame in range(82, 122):
        followed(level, (y + 10, u, v), time=frame / 30)
    risen = followed(level, (y + 12, u, v), time=122 / 30)[0]  # same light: followed slowly
    assert back_on < risen < back_on + 0.2 * 2 * 255 / 219


def test_a_dip_of_the_black_point_within_the_noise_is_followed_slowly():
    """The darkest pixels of noisy footage wobble from frame to frame, more the noisier it
    is: only a fall beyond FALL_NOISE times the noise is a light switched off."""
    y, u, v = dark_planes()
    steady = BlackLevel.measure(y + 3, u, v)[0]
    for noise, at_once in ((2.5, False), (0.3, True)):
        level = BlackLevel(time_constant=1.0)
        followed(level, (y + 3, u, v), time=0.0, noise=noise)
        dipped = followed(level, (y + 2.5, u, v), time=1 / 30, noise=noise)[0]
        assert (dipped < steady - 0.4) == at_once


def test_the_bias_comes_off_u_and_v_only():
    half = dark_planes()
    level = np.array([1.0, 1.0, 2.0, 0.5, 0.0, 0.0], np.float32)
    y, u, v = HostExecutor(None).without_bias(half, bias_of(level))
    assert y is half[0]
    assert u[0, 0] == pytest.approx(128.0) and v[0, 0] == pytest.approx(128.0)


def test_keep_mean_restores_the_brightness_the_black_point_takes():
    rng = np.random.default_rng(1)
    source = rng.uniform(2, 60, (12, 20)).astype(np.float32)
    gains = np.full((12, 20, 3), 4.0, np.float32)
    correction = NightCorrection(black=5.0, knee=2.0)
    kept = keep_mean(gains, source, correction)
    share = lift_shares(source, correction.black, correction.knee)
    wanted = (source * gains.mean(axis=2)).mean()
    got = (source * (1 + (kept.mean(axis=2) - 1) * share)).mean()
    assert got == pytest.approx(wanted, rel=1e-3)
    assert (kept >= gains).all() and kept.max() <= 1 + night.MAX_LIFT_BOOST * 3 + 1e-4


@pytest.fixture(scope="module")
def backend():
    return create_backend("torch-cpu")


def camera_night_frames(count: int = 4) -> list[np.ndarray]:
    """yuv420p buffers of a grey bundled photo (any colour in the output is a cast) as a
    camera writes it at night, its flat shadows quantized in 8×8 blocks as a codec leaves
    them."""
    grey = cv2.resize(skdata.camera(), (256, 192), interpolation=cv2.INTER_AREA)
    photo = cv2.cvtColor(cv2.convertScaleAbs(grey, alpha=0.4), cv2.COLOR_GRAY2RGB)  # dusk
    frames = []
    for seed in range(count):
        buffer = simulate_camera_night(photo, exposure=0.3, chroma_bias=1.5, seed=seed)
        y = planes(buffer)[0]
        blocks = cv2.resize(cv2.resize(y, (32, 24), interpolation=cv2.INTER_AREA), (256, 192),
                            interpolation=cv2.INTER_NEAREST)
        flat = cv2.blur(y.astype(np.float32), (5, 5)) < 24
        y[flat] = blocks[flat]
        frames.append(buffer)
    return frames


def enhanced(backend, frames, exposure=0.0, mode="fast"):
    settings = EnhanceSettings(mode=mode, scale=2 if mode == "fast" else None, exposure=exposure)
    enhancer = Enhancer(backend, settings.for_stream(video=True))
    return [to_rgb(enhancer.enhance(VideoFrame(f, i, i, Fraction(1, 30), pixel_format=YUV420P)))
            for i, f in enumerate(frames)]


def times_gain(rgb: np.ndarray, like: np.ndarray) -> np.ndarray:
    return cv2.convertScaleAbs(rgb, alpha=float(like.mean()) / max(float(rgb.mean()), 1e-3))


def test_camera_night_frame_comes_out_neutral_and_without_blocks(backend):
    frames = camera_night_frames()
    out = enhanced(backend, frames)[-1]
    naive = times_gain(to_rgb(frames[-1]), out)
    # 12.5 against 18.1 (and 15.3 with the bias left in, below); 0.5× held only while the
    # torch backend divided the nets' float input in place (keep_mean then saw 0-1 luma)
    assert neutral_chroma_distance(out) < 0.75 * neutral_chroma_distance(naive)
    assert flat_stepped_blocks(out) < 0.5 * flat_stepped_blocks(naive)
    assert out.mean() > 2 * to_rgb(frames[-1]).mean()  # still brightened


def test_without_the_black_level_the_cast_returns(backend, monkeypatch):
    """The check above fails when the bias is not removed (the test sees the feature)."""
    frames = camera_night_frames()
    fixed = enhanced(backend, frames)[-1]
    monkeypatch.setattr(night, "BIAS_MAX", 0.0)
    cast = enhanced(backend, frames)[-1]
    assert neutral_chroma_distance(cast) > neutral_chroma_distance(fixed) + 1.0


def test_half_planes_of_a_night_buffer_are_what_the_black_level_reads():
    buffer = camera_night_frames(1)[0]
    black, bias_u, bias_v, *_ = BlackLevel.measure(*half_planes(buffer))
    assert 0 <= black < 6 and 0.5 < bias_u < 3 and 0.5 < bias_v < 3


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_a_night_photo_comes_out_neutral_in_both_modes(backend, mode, monkeypatch):
    """Still images (RGB) get the black level's bias removed too: a camera-like night
    frame saved as a picture comes out grey, not magenta (quality 4.0 against 8.0 with
    the bias left in, fast 9.8 against 17.9)."""
    rgb = to_rgb(camera_night_frames(1)[0])
    enhancer = Enhancer(backend, EnhanceSettings(mode=mode, scale=2))
    fixed = enhancer(rgb)
    monkeypatch.setattr(night, "as_bias", lambda offset: np.zeros(2, np.float32))
    cast = enhancer(rgb)
    assert neutral_chroma_distance(fixed) < 0.6 * neutral_chroma_distance(cast)
    assert fixed.mean() > 3 * rgb.mean()


def test_the_rgb_path_takes_off_only_the_magenta_part_of_the_bias():
    image = np.full((4, 4, 3), 20.0, np.float32)
    assert magenta_offset(np.array([0.0, 0.8, -1.2], np.float32)) is None
    grey = HostExecutor(None).minus(image, magenta_offset(np.array([0.0, 1.5, 2.0], np.float32)))
    delta = RGB_TO_YUV @ (grey[0, 0] - image[0, 0])  # the smaller bias off both U and V
    assert delta.tolist() == pytest.approx([0.0, -1.5, -1.5], abs=0.01)


def test_a_photo_bias_is_read_off_its_grey_surface_not_its_darkest_colours():
    """A night photo whose darkest part is dark foliage (green: U and V below grey) and
    whose grey table carries the black level's +3 codes: the darkest pixels read the
    foliage's colour, the grey surface the bias; with no bias it reads none."""
    rng = np.random.default_rng(4)
    size = (120, 160)
    for bias in (3.0, 0.0):
        y = np.full(size, 57.0, np.float32) + rng.normal(0, 0.5, size).astype(np.float32)
        u = np.full(size, 128 + bias, np.float32) + rng.normal(0, 0.4, size).astype(np.float32)
        v = u.copy()
        y[:40], u[:40], v[:40] = 19.0, 128 + bias - 2.5, 128 + bias - 3.0  # foliage
        darkest = BlackLevel.measure(y, u, v)[1:3]
        grey = BlackLevel.measure(y, u, v, grey_surface=True)[1:3]
        assert grey.tolist() == pytest.approx([bias, bias], abs=0.2)
        if bias:  # the darkest pixels read the foliage's colour (the table agrees)
            assert np.abs(darkest - bias).min() > 2.0
        else:  # the grey table shares none of it: no bias (``shared_by_greys``)
            assert darkest.tolist() == pytest.approx([0.0, 0.0], abs=0.05)


def write_night_clip(path, frames, pix_fmt):
    """The camera-like night frames as a nearly lossless H.264 file in ``pix_fmt``."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 256, 192, pix_fmt
        stream.options = {"qp": "0"}
        for buffer in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(to_rgb(buffer), format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_a_full_range_night_clip_gets_the_night_corrections_too(backend, tmp_path):
    """IP cameras and MJPEG send full-range video: decoded to limited-range yuv420p, it
    takes the fast YUV path with its black level, deblocking and chroma smoothing, and comes
    out as the same clip in limited range does (it went the RGB way: a magenta cast and the
    codec's blocks)."""
    from rtretinex.video.sources import open_source

    frames = camera_night_frames()
    outs = {}
    for pix_fmt in ("yuv420p", "yuvj420p"):
        enhancer = Enhancer(backend, EnhanceSettings(mode="fast", scale=2).for_stream(video=True))
        with open_source(str(write_night_clip(tmp_path / f"{pix_fmt}.mkv", frames, pix_fmt))
                         ) as source:
            outs[pix_fmt] = [as_rgb(enhancer.enhance(f), f.pixel_format) for f in source
                             if isinstance(f, VideoFrame)][-1]
    full, limited = outs["yuvj420p"], outs["yuv420p"]
    naive = times_gain(to_rgb(frames[-1]), full)
    # 1.8 and 0.005 as limited range gives 1.9 and 0.005 (the RGB way: 8.4, and 10 codes apart)
    assert neutral_chroma_distance(full) < min(0.75 * neutral_chroma_distance(naive),
                                               neutral_chroma_distance(limited) + 1.0)
    assert flat_stepped_blocks(full) < 0.5 * flat_stepped_blocks(naive)
    assert np.abs(full.astype(int) - limited).mean() < 3


def yard_night_frames(count: int = 3, blue_darks: float = 0.0) -> list[np.ndarray]:
    """yuv420p buffers of a night yard as a security camera writes it: most of the frame a
    code or two above black (noisy, quantized), a lit yellow house, a lit grey wall and a
    white lamp; ``blue_darks``: U codes the darks are graded towards blue."""
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(count):
        rgb = np.clip(rng.normal(3.0, 1.2, (192, 256, 3)), 0, 255)
        rgb[40:100, 30:110] = (170, 130, 45)  # the house, yellow wood lit by a lamp
        rgb[120:170, 150:230] = (58, 60, 57)  # a lit grey wall (a touch of green)
        rgb[50:60, 200:212] = 250  # the lamp
        buffer = from_rgb(np.round(rgb).astype(np.uint8))
        y, u, _ = planes(buffer)
        dark = cv2.resize(y, u.shape[::-1], interpolation=cv2.INTER_AREA) < 30
        u[dark] = np.clip(u[dark].astype(int) + int(blue_darks), 0, 255)
        frames.append(buffer)
    return frames


@pytest.mark.parametrize("mode", ["fast", "quality"])
@pytest.mark.parametrize("blue_darks", [0.0, 9.0])
def test_a_night_yard_keeps_its_lit_colours_its_greys_and_its_highlights(backend, blue_darks,
                                                                         mode):
    """What is lit is exposed for, not blown (nothing newly clipped), keeps its colour
    (saturation) and a lit grey stays grey, also where the darks are truly blue (a grade,
    not a black-level bias); the dark yard is still brightened, its floor not lifted into a
    grey haze. In both modes (quality mode's floor was 52 and its greys 7.7 before it took
    the night corrections)."""
    frames = yard_night_frames(blue_darks=blue_darks)
    out = enhanced(backend, frames, mode=mode)
    look = night_look_of_clip(out, [to_rgb(f) for f in frames])
    assert look["newly_clipped"] <= 0.5
    assert look["saturation_kept"] >= 0.7
    assert look["greys"] <= 4.0
    assert look["floor"] <= 12.0, look
    assert look["luma_out"] > 1.3 * look["luma_in"], look  # the blue darks are lifted less


def test_a_night_photo_at_the_codecs_floor_keeps_its_dark_and_a_dark_room_the_nets(
        backend, monkeypatch):
    """A still that lies mostly at its black point (a night yard saved as a picture) takes
    the night corrections of video: its floor stays dark (4 codes; 51 without) and its grey
    grey (1.9; 7.5 without). A dark room's darks spread above its black point with their
    noise: it keeps the nets' output as it was (the LOL figures hold)."""
    enhancer = Enhancer(backend, EnhanceSettings(mode="quality"))
    yard = to_rgb(yard_night_frames(1)[0])
    room = simulate_low_light(small_photo("coffee", 96, 128), exposure=0.05, seed=3)
    yard_out, room_out = enhancer(yard), enhancer(room)
    look = night_look_of_clip([yard_out], [yard])
    assert look["floor"] <= 12.0 and look["greys"] <= 4.0, look
    assert look["luma_out"] > 1.3 * look["luma_in"], look
    monkeypatch.setattr(night, "STILL_NIGHT_FLOORS", (2.0, 3.0))  # no still is night
    assert night_look_of_clip([enhancer(yard)], [yard])["floor"] > 30.0
    assert np.array_equal(enhancer(room), room_out)


def test_an_odd_sized_night_clip_gets_the_night_corrections_too(backend):
    """A frame with odd sides cannot be yuv420p: it comes as RGB and takes the fast YUV path
    with its last row and column repeated, black point, knee and gain cap included, so it
    comes out as the same clip with even sides does (it went an RGB way without them)."""
    frames = yard_night_frames()
    even = enhanced(backend, frames)[-1]
    odd_frames = [np.ascontiguousarray(to_rgb(f)[:-1, :-1]) for f in frames]
    enhancer = Enhancer(backend, EnhanceSettings(mode="fast", scale=2).for_stream(video=True))
    odd = [enhancer.enhance(VideoFrame(f, i, i, Fraction(1, 30)))
           for i, f in enumerate(odd_frames)]
    assert odd[-1].shape == odd_frames[-1].shape
    look = night_look_of_clip(odd, odd_frames)
    assert look["newly_clipped"] <= 0.5 and look["greys"] <= 4.0, look
    assert np.abs(odd[-1].astype(int) - even[:-1, :-1]).mean() < 2


def test_no_pixel_is_lifted_past_the_cameras_gain_cap(backend, monkeypatch):
    """A frame whose picture lies in its first few codes above black (a yard camera at
    night) has only a few code values: lifted without a cap, each step between them becomes
    a band of dozens of codes; capped, the brightest plateau comes out at most MAX_GAIN times
    its input (above black). A stop more of exposure compensation, asked for, still brightens
    it."""
    grey = cv2.resize(skdata.camera(), (256, 192), interpolation=cv2.INTER_AREA)
    y = np.round(16 + grey.astype(np.float32) * (4 / 255)).astype(np.uint8)  # Y 16-20
    frames = [np.concatenate([y, np.full((96, 256), 128, np.uint8)]) for _ in range(3)]

    def lift_of_top_plateau(exposure=0.0):
        out = enhanced(backend, frames, exposure)[-1].astype(np.float32) @ np.float32(
            [0.299, 0.587, 0.114])
        top = y == y.max()
        return (out[top].mean() - 16 * 255 / 219) / ((float(y.max()) - 16) * 255 / 219)

    capped = lift_of_top_plateau()
    assert capped <= night.MAX_GAIN * 1.05
    assert 1.6 * capped < lift_of_top_plateau(exposure=1.0) <= 2 * night.MAX_GAIN * 1.05
    monkeypatch.setattr(night, "MAX_GAIN", 1000.0)
    assert lift_of_top_plateau() > 2 * capped  # 83 against 18 when written


def test_noisy_footage_is_lifted_past_the_cap_that_holds_smooth_footage(backend, monkeypatch):
    """Sensor noise (a webcam in a dark room) dithers every step a gain makes, so no band
    forms: a very dark noisy clip may be lifted up to NOISY_GAIN, footage a codec smoothed
    (noise at the 8-bit floor) only to MAX_GAIN."""
    assert night.gain_cap(0.3) == night.MAX_GAIN and night.gain_cap(1.0) == night.MAX_GAIN
    assert night.gain_cap(2.5) == night.NOISY_GAIN > night.MAX_GAIN
    photo = cv2.resize(skdata.astronaut(), (256, 192), interpolation=cv2.INTER_AREA)
    frames = [from_rgb(simulate_low_light(photo, exposure=0.003, seed=seed)) for seed in range(3)]

    def mean_out():
        return float(enhanced(backend, frames)[-1].mean())

    lifted = mean_out()
    monkeypatch.setattr(night, "NOISY_GAIN", night.MAX_GAIN)
    assert lifted > 1.5 * mean_out()  # 95 against 49 on a 640x360 clip when written


def test_a_noisy_very_dark_clip_starts_as_it_stays(backend):
    """A webcam in a dark room: the picture's brightness is what it will stay from the first
    frame, not brighter and hazier while the temporal denoiser settles (the black point
    and the knee of a noisier estimate sit lower), nor a slow slide over seconds, nor a
    wobble with each frame's noise estimate."""
    photo = cv2.resize(skdata.astronaut(), (320, 180), interpolation=cv2.INTER_AREA)
    frames = [from_rgb(simulate_low_light(photo, exposure=0.003, seed=seed))
              for seed in range(45)]
    luma = np.array([out.astype(np.float32).mean() for out in enhanced(backend, frames)])
    settled = luma[12:]
    # frames 0-8 within 4 % of the rest when written (they were 30 % brighter, then 10 % darker)
    assert np.abs(luma[:9] - settled.mean()).max() < 0.1 * settled.mean()
    assert abs(settled[:10].mean() - settled[-10:].mean()) < 0.05 * settled.mean()  # 3.5 %
    assert np.abs(np.diff(luma)).mean() < 0.4  # codes a frame: 0.2 when written


def test_quality_mode_video_of_a_noisy_dark_clip_starts_as_it_stays(backend):
    """Quality mode runs the nets on the whole frame, and their brightness on a noisy frame
    is lower than on the clean one the temporal estimate becomes (the picture rose by a
    third over its first second): the brightness is decided on a small copy, whose noise
    is averaged away."""
    photo = cv2.resize(skdata.astronaut(), (320, 180), interpolation=cv2.INTER_AREA)
    frames = [from_rgb(simulate_low_light(photo, exposure=0.01, seed=seed))
              for seed in range(20)]
    luma = np.array([out.astype(np.float32).mean()
                     for out in enhanced(backend, frames, mode="quality")])
    settled = luma[12:].mean()
    assert np.abs(luma[:6] - settled).max() < 0.06 * settled, luma.round(1)


def test_a_noisy_dark_room_is_at_once_as_it_stays_after_the_light_is_switched_off(backend):
    """Switched off, the light leaves a noisy very dark scene: once the new light holds, the
    temporal estimate, the black level and the exposure start anew (the estimate held the
    lit scene's blacks, not the new scene's pedestal of noise clipped at zero), so the
    picture is from the next frame what it stays, not brighter and hazy for a third of a
    second and sliding after."""
    photo = cv2.resize(skdata.astronaut(), (640, 360), interpolation=cv2.INTER_AREA)
    enhancer = Enhancer(backend, EnhanceSettings(mode="fast").for_stream(video=True))
    luma = []
    for i in range(45):
        frame = from_rgb(simulate_low_light(photo, exposure=0.05 if i < 15 else 0.003, seed=i))
        out = enhancer.enhance(VideoFrame(frame, i, i, Fraction(1, 30), pixel_format=YUV420P))
        luma.append(float(to_rgb(out).mean()))
    after = np.array(luma[15:])
    settled = after[10:]
    # the frame of the switch keeps the scaled estimate (a flash looks the same), the next
    # starts anew: 3 % off when written; 60 % brighter there when it was only scaled
    assert np.abs(after[1:10] - settled.mean()).max() < 0.1 * settled.mean()
    assert abs(settled[:10].mean() - settled[-10:].mean()) < 0.05 * settled.mean()


def test_the_knee_follows_the_noise_the_temporal_denoiser_leaves(backend, monkeypatch):
    """The knee keeps a signal at the noise floor from being lifted: the floor of what is
    lifted, the temporal denoiser's settled estimate of a still scene, not the raw frame
    (whose noise is three times that), from the first frame on: the picture does not
    brighten as the estimate settles. The gain cap still follows the camera's noise."""
    from rtretinex.frame import decisions

    knee_noise, cap_noise = [], []
    monkeypatch.setattr(decisions, "correction", lambda level, noise: knee_noise.append(noise)
                        or night.correction(level, noise))
    monkeypatch.setattr(decisions, "gain_cap", lambda noise: cap_noise.append(noise)
                        or night.gain_cap(noise))
    photo = cv2.resize(skdata.astronaut(), (320, 180), interpolation=cv2.INTER_AREA)
    frames = [from_rgb(simulate_low_light(photo, exposure=0.003, seed=seed))
              for seed in range(20)]
    enhanced(backend, frames)
    assert cap_noise[-1] > 1.5  # sensor noise: the cap is NOISY_GAIN's
    for knee, cap in zip(knee_noise, cap_noise, strict=True):
        assert 0.2 * cap < knee < 0.5 * cap


def night_in_a_tint(tint):
    """Four yuv420p frames of the camera photo as a night (luma 16-46, limited range) whose
    chroma is ``tint`` (U, V codes from grey) everywhere."""
    grey = cv2.resize(skdata.camera(), (256, 192), interpolation=cv2.INTER_AREA)
    y = (16 + grey * 0.12).astype(np.uint8)
    u, v = (np.full((96, 128), 128 + d, np.uint8) for d in tint)
    return [np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, 256)] * 4


def test_a_night_tinted_blue_or_purple_is_brightened_as_a_grey_one(backend):
    """The Decom-Net takes a dark blue or purple for bright light (a purple night came out at
    a third of a grey one's brightness, a blue one under half): the darks' cast is taken off
    before the nets and the gains see the frame, and put back after, in codes."""
    means, tints = [], []
    for tint in ((0, 0), (6, 8), (9, -2)):
        out = enhanced(backend, night_in_a_tint(tint))[-1]
        means.append(float(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).mean()))
        tints.append(cv2.cvtColor(out, cv2.COLOR_RGB2YUV)[..., 1:].reshape(-1, 2).mean(axis=0))
    assert means[0] > 100
    assert min(means[1:]) > 0.85 * means[0]
    assert tints[1][0] > 130 and tints[1][1] > 130  # purple stays purple
    assert tints[2][0] > 132  # blue stays blue


def test_the_cast_is_put_back_as_it_was_not_grown_with_the_light(backend, monkeypatch):
    """A grade is an offset: brightened, a blue night keeps the chroma it had in codes, as
    the grey one's greys keep theirs, instead of growing with the gain into a violet glare;
    without the cast taken off it stays dark (the check above sees the feature)."""
    def chroma_shift(tinted, grey):
        return (cv2.cvtColor(tinted, cv2.COLOR_RGB2YUV)[..., 1:].astype(np.float32)
                - cv2.cvtColor(grey, cv2.COLOR_RGB2YUV)[..., 1:]).reshape(-1, 2).mean(axis=0)

    grey = enhanced(backend, night_in_a_tint((0, 0)))[-1]
    blue = enhanced(backend, night_in_a_tint((9, -2)))[-1]
    shift_in = chroma_shift(to_rgb(night_in_a_tint((9, -2))[0]), to_rgb(night_in_a_tint((0, 0))[0]))
    shift_out = chroma_shift(blue, grey)
    assert shift_out[0] == pytest.approx(shift_in[0], rel=0.25)  # 8.99 against 8.94
    assert abs(shift_out[1]) < 1.5 * abs(shift_in[1]) + 1.0
    monkeypatch.setattr(BlackLevel, "from_samples", _without_cast(BlackLevel.from_samples))
    dark = enhanced(backend, night_in_a_tint((9, -2)))[-1]
    assert dark.mean() < 0.6 * blue.mean()


def _without_cast(from_samples):
    def measured(*args, **kwargs):
        level = from_samples(*args, **kwargs)
        level[4:6] = 0.0
        return level
    return staticmethod(measured)


def test_a_bias_is_one_only_where_the_greys_above_the_darks_share_it():
    """A black-level bias shifts every level alike: where the frame's near-grey surfaces
    above the darks hold it, it comes off; where they do not (greenish walls over magenta
    blacks), the darks' colour is their cast, put back after the gains."""
    y, u, v = dark_planes(bias=(2.0, 2.0))
    for wall, bias in (((2.0, 2.0), [2.0, 2.0]), ((-2.0, -2.0), [0.0, 0.0]),
                       ((1.0, 1.0), [2.0, 2.0])):  # half of it in the greys: a bias
        y_wall, u_wall, v_wall = y.copy(), u.copy(), v.copy()
        y_wall[:, :40], u_wall[:, :40], v_wall[:, :40] = 60, 128 + wall[0], 128 + wall[1]
        level = BlackLevel.measure(y_wall, u_wall, v_wall)
        assert level[1:3].tolist() == pytest.approx(bias, abs=0.05)
        assert (level[1:3] + level[4:6]).tolist() == pytest.approx([2.0, 2.0], abs=0.05)


def test_darks_within_a_code_of_grey_are_a_bias_without_asking_the_greys():
    """So near grey the greys' answer is the noise's: on sensor-noisy footage it changed
    from frame to frame and the picture flickered 20 % more (``benchmarks/flicker.py``)."""
    asked = []

    def greys():
        asked.append(True)
        return np.array([-2.0, -2.0], np.float32)

    assert night.shared_by_greys(np.array([0.8, -0.6], np.float32), greys) == 1.0
    assert not asked
    assert night.shared_by_greys(np.array([2.0, 2.0], np.float32), greys) == 0.0
    assert night.shared_by_greys(np.array([2.0, 2.0], np.float32), lambda: None) == 1.0


def dim_room():
    """Four frames of a dim room (the camera photo at luma 16-105, limited range) whose
    walls are greenish grey (U, V −2) over magenta blacks (+2), and where the walls are."""
    grey = cv2.resize(skdata.camera(), (256, 192), interpolation=cv2.INTER_AREA)
    y = (16 + grey * 0.35).astype(np.uint8)
    walls = cv2.resize(y, (128, 96), interpolation=cv2.INTER_AREA) > 30
    u = v = np.where(walls, 126, 130).astype(np.uint8)
    buffer = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, 256)
    return [buffer] * 4, cv2.resize(walls.astype(np.uint8), (256, 192),
                                    interpolation=cv2.INTER_NEAREST).astype(bool)


def wall_chroma(rgb, walls):
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    return float((np.abs(ycc[..., 1] - 128) + np.abs(ycc[..., 2] - 128))[walls].mean())


def test_greenish_walls_over_magenta_blacks_do_not_turn_mint(backend, monkeypatch):
    """The held-out dim room came out mint (greys 15.8 codes): its blacks' magenta was taken
    off every pixel as a bias. Its walls now keep about the chroma they had (5.5 codes from
    4.2; 13.3 with the bias taken off them)."""
    frames, walls = dim_room()
    before = wall_chroma(to_rgb(frames[0]), walls)
    assert wall_chroma(enhanced(backend, frames)[-1], walls) < 1.5 * before
    monkeypatch.setattr(night, "shared_by_greys", lambda offset, greys: 1.0)
    assert wall_chroma(enhanced(backend, frames)[-1], walls) > 2.5 * before


def test_a_photo_tinted_blue_or_purple_is_brightened_as_a_grey_one(backend, monkeypatch):
    """Quality mode (images) takes a photo's cast off before the nets and puts it back after,
    in codes, as fast mode does for video: a purple night photo came out at half a grey
    one's brightness (65 against 128), a blue one at 54; a photo tinted orange, which the
    nets lift anyway, gets the same."""
    enhancer = Enhancer(backend)
    photos = {tint: to_rgb(night_in_a_tint(tint)[0]) for tint in ((0, 0), (6, 8), (9, -2))}
    means, tints = {}, {}
    for tint, photo in photos.items():
        out = enhancer(photo)
        means[tint] = float(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).mean())
        tints[tint] = cv2.cvtColor(out, cv2.COLOR_RGB2YUV)[..., 1:].reshape(-1, 2).mean(axis=0)
    assert means[(0, 0)] > 100
    assert min(means[(6, 8)], means[(9, -2)]) > 0.9 * means[(0, 0)]
    assert tints[(6, 8)][0] > 131 and tints[(6, 8)][1] > 131  # purple stays purple
    assert tints[(9, -2)][0] > 133  # blue stays blue
    monkeypatch.setattr(night, "PHOTO_CAST_FLOORS", (2.0, 3.0))  # no photo is graded
    assert enhancer(photos[(6, 8)]).mean() < 0.7 * enhancer(photos[(0, 0)]).mean()


def test_a_photos_cast_is_read_only_where_its_darks_are_graded():
    """Darks within BIAS_MAX of grey (every held-out LOL photo) and a few coloured darks (dim
    brown fur at the black point) are no cast: those photos are enhanced as before."""
    y, u, v = dark_planes(bias=(2.0, 2.5))  # darks 2.5 codes from grey: a bias
    assert not BlackLevel.measure(y, u, v, grey_surface=True)[4:6].any()
    y, u, v = dark_planes(bias=(6.0, 8.0))  # purple darks: graded
    graded = BlackLevel.measure(y, u, v, grey_surface=True)
    assert graded[4] > 4.0 and graded[5] > 5.0
    rng = np.random.default_rng(1)
    y = rng.normal(60, 4, (90, 160)).astype(np.float32)
    u = np.full((90, 160), 128.0, np.float32)
    v = u.copy()
    y[:2, :40], u[:2, :40], v[:2, :40] = 30, 125, 136  # 1 % of the frame: brown fur
    level = BlackLevel.measure(y, u, v, grey_surface=True)
    assert level[3] < night.PHOTO_CAST_FLOORS[0] and not level[4:6].any()


def test_a_16_bit_photos_cast_goes_back_on_its_own_scale(backend):
    """The cast is put back in 16-bit codes on a 16-bit photo: as bright and as purple as
    the same photo in 8 bits."""
    enhancer = Enhancer(backend)
    photo = to_rgb(night_in_a_tint((6, 8))[0])
    eight, sixteen = enhancer(photo), enhancer(photo.astype(np.uint16) * 257)
    assert sixteen.dtype == np.uint16
    as_eight = sixteen.astype(np.float32) / 257
    assert eight.mean() > 100
    assert abs(as_eight.mean() - eight.mean()) < 3
    for channel in range(3):
        assert abs(as_eight[..., channel].mean() - eight[..., channel].mean()) < 4


def test_the_settled_sample_is_read_only_while_its_share_can_move_the_black_point():
    """A noisy stream's black level is read partly on the settled sample while the temporal
    estimate settles; the share falls geometrically with the frames, and once it could move
    the black point by under a hundredth of a code that second reading stops."""
    from rtretinex.frame.denoise import estimate_noise

    settled = estimate_noise(2.0, math.inf, 1.0)
    shares = [night.unsettled_share(estimate_noise(2.0, frames, 1.0), settled)
              for frames in range(1, 61)]
    assert shares[0] > 0.9 and all(a >= b for a, b in itertools.pairwise(shares))
    read = [share > 0 for share in shares]
    last = max(i for i, r in enumerate(read) if r)
    assert all(read[:last + 1]) and 15 < last < 35  # the first ~25 frames, then none
    assert min(s for s in shares if s > 0) * night.BLACK_MAX >= 0.01


def test_no_grey_surface_is_found_in_an_empty_sample():
    """A frame whose samples are all left out has no grey surface (not a NaN chroma)."""
    empty = np.zeros(0, np.float32)
    assert night.grey_surface_chroma(empty, empty, empty) is None
