"""Night footage: where a stream's blacks sit, the colour they carry, and how far to lift
what lies near them.

Real night video arrives after the camera's own processing: its blacks are often raised
(flare, the sensor's pedestal, noise clipped at zero) and not neutral (U and V a code or two
above 128), and its darkest areas were quantized by the codec to one or two code values. A
10× gain turns each of those into grey haze, a magenta cast and block edges. Camera ISPs
answer with a black level (subtracted before the gain), noise reduction scaled by the gain,
and a toe that lifts a signal at the noise floor less than the rest (the idea of SNR-aware
enhancement, Xu et al., CVPR 2022). Here:

- ``BlackLevel`` measures the black point and the chroma of the darkest pixels of each
  frame and follows them slowly, like the auto-exposure; the executors take that chroma
  off U and V before the nets and the gain see the frame (``without_bias``; an RGB image
  loses its magenta part, ``magenta_offset``); where the darks are further from grey than
  a bias (a night graded blue, a purple room) the rest is their cast: taken off the dark
  pixels that hold it before the nets see them (the Decom-Net takes a dark blue or purple
  for bright light and hardly lifts it) and put back after, in codes (``without_cast``);
- the lift stops at the black point and rises over a knee that follows the noise
  (``reference.lift_share``), and ``keep_mean`` raises the mid-tones' gain so the frame's
  brightness stays what the nets and the auto-exposure chose;
- where the gain is high the luma's flat areas, the codec's blocks and bands among them,
  are smoothed before the gain and the block edges left in them turned into ramps, in
  float, so one-code steps become gradients (the executors' ``filtered_planes``), and the
  output's chroma is smoothed along its luma (``smooth_chroma``);
- no pixel is lifted more than MAX_GAIN, as a camera caps its digital gain (NOISY_GAIN on
  noisy footage, whose noise dithers the bands a cap prevents: ``gain_cap``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..pixelops.formats import Y_BLACK, Y_TO_FULL, chroma_in_rgb
from ..pixelops.loops import lift_shares
from .exposure import Followed

__all__ = ["MAX_GAIN", "SAMPLE", "SETTLE_SPREAD", "BlackLevel", "NightCorrection", "as_bias",
           "beside_bright_edges", "bias_of", "cast_of", "correction", "gain_cap",
           "grey_surface_chroma", "keep_mean", "lift_boost", "magenta_offset", "shared_by_greys",
           "still_night_weight", "unsettled_share"]

# The darkest share of a frame's pixels whose level is its black point: more loses the
# darkest shadows of scenes without real blacks and reads the bias on too light pixels.
BLACK_QUANTILE = 0.0005
# The black point is at most this (full-range codes): above it a frame has no blacks.
BLACK_MAX = 24.0
# The codec's ringing: beside a sharp bright edge (a camera's timestamp, a street lamp) it
# undershoots below the scene's black, on more pixels than BLACK_QUANTILE (a timestamp burnt
# into a dashcam clip: 0.19 % of its pixels below Y 17, against 0.016 % without; its black
# point fell from 1.16 to 0, and the night sky above it was lifted into grey blotches). A
# pixel within EDGE_REACH pixels (half resolution) of one brighter by more than EDGE_STEP
# full-range codes is left out of the black level, unless that leaves less than half of
# the frame.
EDGE_REACH, EDGE_STEP = 2, 32.0
# Chroma bias is measured on pixels within this many codes above the black point, when at
# least MIN_DARK_SHARE of the frame is there. A bias is small: up to BIAS_MAX codes either
# way it is taken off in full, beyond that less, and from twice that not at all (darks that
# far from grey are coloured: a blue night, a purple room, coloured light).
DARK_SPAN, MIN_DARK_SHARE, BIAS_MAX = 3.0, 0.002, 3.0
# A bias is read as such as far as the frame's near-grey surfaces at least MID_ABOVE codes
# above the black point share it, in full where they hold SHARED_IN_FULL of it or more
# (``shared_by_greys``): their own tint moves them by as much as a small bias (greys at 0.56
# to 1.0 of a camera-like clip's 1.5-code bias). Darks within SURELY_BIAS codes of grey (U
# and V) are a bias without asking: so near grey the question is the noise's (sensor-noisy
# footage flickered 20 % more with it asked: the answer changed from frame to frame).
MID_ABOVE, SHARED_IN_FULL, SURELY_BIAS = 12.0, 0.5, 1.0
# A level holds the black point, the bias (U, V), the floor share and the cast (U, V): the
# darks' colour beyond the bias, a grade or coloured light, taken off before the nets and the
# gains see the frame and put back after, in codes (the executors' ``without_cast``).
LEVEL_SIZE = 6
# In photos the darkest pixels are as often dark coloured things (foliage, a brown blanket)
# as black, so a photo's bias is read from its dominant near-grey surface (a table, a wall,
# pavement): the most common chroma within GREY_REACH codes of grey among the pixels darker
# than GREY_SURFACE_LUMA (full-range codes), where at least MIN_GREY_SHARE of them are.
GREY_REACH, GREY_SURFACE_LUMA, MIN_GREY_SHARE = 5, 110.0, 0.02
# A photo's darks are coloured by a grade or coloured light (its cast, taken off before the
# nets and put back after) where they are further from grey than a bias (BIAS_MAX) and a
# part of the frame: its share within DARK_SPAN of the black point from the first value, in
# full from the second. A few dark pixels are as often a dark coloured thing (brown fur at
# the black point: 1-3 % of a dim cat photo).
PHOTO_CAST_FLOORS = (0.05, 0.1)
# The bias is taken off in full in frames whose mean luma (full-range codes) is at most the
# first value, not at all from the second: a well-exposed frame gets no gain that would
# amplify it, and its darkest pixels are as likely coloured as biased.
BIAS_FRAME_LUMA = (40.0, 80.0)
# The knee above the black point (codes): a part for the codec's quantization steps and a
# part that follows the noise of what is lifted (standard deviations). The first goes from
# KNEE_CODES[0] in frames with little at their black point (textured darks: a room, a lit
# street) to KNEE_CODES[1] in frames whose share within DARK_SPAN of it is FLOOR_SHARES[1]
# or more (a night sky, an unlit road: the codec's floor, where every code step a high gain
# lifts from a gradient becomes a contour), following that share from FLOOR_SHARES[0].
KNEE_CODES, FLOOR_SHARES, KNEE_NOISE = (0.5, 3.5), (0.3, 0.7), 1.0
# A still photo is taken for night footage (the night corrections of video, in full) as far
# as its share within DARK_SPAN of its black point goes from the first value to the second:
# a night sky or an unlit road, flat at the codec's floor, where the nets alone make a grey
# haze. A dark room's darks spread above its black point with their noise (the held-out LOL
# photos: at most 0.48), and the nets' own darks are right there (docs/history.md).
STILL_NIGHT_FLOORS = (0.55, 0.7)
# Time constant (s) the black level follows; a scene cut is followed at once, and so is a
# black point falling by more than FALL_NOISE times the stream's noise (a light switched
# off: a smaller fall is the frame-to-frame wobble of the darkest pixels, which grows with
# the noise).
BLACK_SECONDS, FALL_NOISE = 1.0, 0.5
# ``keep_mean`` raises the lift by at most this factor.
MAX_LIFT_BOOST = 2.0
# The most any pixel is lifted, as a camera caps its digital gain: footage whose picture
# lies in its first few codes above black (a yard camera at night) has only a few code
# values, and a larger gain turns each step between them into a band; what it lifts in the
# chroma is then mostly the codec's one-code steps. On such footage the cap sets the
# brightness: it trades the false contours against the mean luma (figures for 16, 18, 20
# and 24 in docs/history.md).
MAX_GAIN = 16.0
# Footage whose noise (standard deviation, codes) is NOISY_SIGMAS[1] or more may be lifted up
# to NOISY_GAIN instead (from NOISY_SIGMAS[0], gradually): its noise dithers every step a
# gain makes, so no band forms (a webcam's or an uncompressed sensor's dark frames measure
# 2-3; footage a codec has smoothed, where the bands appear, 0.3-1).
NOISY_SIGMAS, NOISY_GAIN = (1.25, 2.0), 32.0
# The black level reads every SAMPLE-th pixel of every SAMPLE-th row: its darkest share is
# found as well on 1/16 of the pixels.
SAMPLE = 4
# The darkest pixels of a noisier picture sit lower, so the black level (and the share of
# the frame at it) is read as it will be once the temporal estimate has settled: where the
# estimate is still noisier than that (its first frames after a start, a cut or a new
# light), partly on a sample whose every pixel is the mean of SETTLE_SPREAD × SETTLE_SPREAD
# (its noise that many times lower: three for the about nine frames the denoiser averages).
# Its share falls geometrically as the estimate settles; it is read while that share could
# still move the black point by a hundredth of a code (about the first 25 frames).
SETTLE_SPREAD, SETTLED_SHARE_MIN = 3, 0.01 / BLACK_MAX


@dataclass(frozen=True)
class NightCorrection:
    """What the kernel needs: the black point and knee of the lift (full-range codes). The
    black level's chroma bias is removed from the planes before anything looks at them (the
    executors' ``without_bias``)."""

    black: float = 0.0
    knee: float = 0.0

    def lift(self) -> np.ndarray:
        """The ``night`` argument of ``apply_yuv_gains``: black point, knee."""
        return np.array([self.black, self.knee], np.float32)


class BlackLevel:
    """The black point and black-level chroma bias of a stream of yuv420p frames, measured
    on each frame's darkest pixels and followed with a time constant (``time_constant`` 0:
    each frame on its own, as for still images); a black point that falls by more than
    FALL_NOISE times the noise is followed at once, and a scene cut restarts it.

    The frames it reads are temporally denoised, and the darkest pixels of a noisier
    estimate sit lower: after a start, a cut or a change of light (where the estimate starts
    anew) the level is read as the settled estimate will give it
    (``Decisions.black_level``), and its first frames are averaged."""

    def __init__(self, time_constant: float = BLACK_SECONDS) -> None:
        self.followed = Followed(time_constant)

    def reset(self) -> None:
        self.followed.reset()

    @staticmethod
    def measure(y_half: np.ndarray, u: np.ndarray, v: np.ndarray, grey_surface: bool = False
                ) -> np.ndarray:
        """(black point in full-range codes, U bias, V bias, floor share: the share of the
        frame within DARK_SPAN of the black point, U cast, V cast: the darks' colour beyond
        the bias, LEVEL_SIZE) of one frame's planes at chroma resolution
        (``half_planes``: limited-range Y, U, V). ``grey_surface``: the bias is read from the
        frame's dominant near-grey surface (``grey_surface_chroma``) instead of its darkest
        pixels, and a cast only where the darks are graded (PHOTO_CAST_FLOORS)."""
        luma = (y_half.astype(np.float32) - Y_BLACK) * np.float32(Y_TO_FULL)
        usable = ~beside_bright_edges(luma)
        return BlackLevel.from_samples(*(plane[::SAMPLE, ::SAMPLE] for plane in (y_half, u, v)),
                                       grey_surface=grey_surface, usable=usable)

    @staticmethod
    def from_samples(y: np.ndarray, u: np.ndarray, v: np.ndarray, grey_surface: bool = False,
                     usable: np.ndarray | None = None) -> np.ndarray:
        """``measure`` of the planes' every SAMPLE-th pixel of every SAMPLE-th row;
        ``usable`` (bool, at least as large as the samples): the samples not
        ``beside_bright_edges``, the only ones read where they are half of them or more."""
        if usable is not None:
            usable = usable[:y.shape[0], :y.shape[1]]
            if 2 * np.count_nonzero(usable) >= usable.size:
                y, u, v = y[usable], u[usable], v[usable]
        luma = (y.astype(np.float32) - Y_BLACK) * np.float32(Y_TO_FULL)
        flat = luma.reshape(-1)
        if flat.size == 0:
            return np.zeros(LEVEL_SIZE, np.float32)
        index = min(flat.size - 1, int(flat.size * BLACK_QUANTILE))
        black = float(np.clip(np.partition(flat, index)[index], 0.0, BLACK_MAX))
        dark = luma <= black + DARK_SPAN
        floor = np.count_nonzero(dark) / dark.size
        bias = cast = np.zeros(2, np.float32)
        low, high = BIAS_FRAME_LUMA
        share = _ramp(float(flat.mean()), high, low)
        offset = None  # the darks' chroma (U, V codes from grey)
        if floor >= MIN_DARK_SHARE and black < BLACK_MAX and share > 0:
            offset = np.array([plane[dark].astype(np.float32).mean() - 128.0
                               for plane in (u, v)], np.float32)
        if grey_surface and share > 0:
            found = grey_surface_chroma(luma, u, v)
            if found is not None:
                bias = share * as_bias(found)
            if offset is not None:  # a grade where the darks are too far from grey for a bias
                graded = (1.0 - _bias_fade(offset)) * _ramp(floor, *PHOTO_CAST_FLOORS)
                cast = graded * (share * offset - bias)
        elif offset is not None:
            bias = share * as_bias(offset) * shared_by_greys(offset, lambda: grey_surface_chroma(
                np.where(luma >= black + MID_ABOVE, luma, np.inf), u, v))
            cast = share * offset - bias
        return np.array([black, *bias, floor, *cast], np.float32)

    def follow(self, measured: np.ndarray, time: float | None = None, restart: bool = False,
               noise: float = 0.0) -> np.ndarray:
        """The followed level (``measure``) after a frame whose own level is
        ``measured`` (``from_samples``), at ``time`` seconds (None: 1/30 s after the last), in
        a stream with this ``noise`` (standard deviation, codes); ``restart``: the stream
        starts anew with this frame (a cut, a change of light)."""
        level = self.followed(measured, time, restart=restart)
        # a black point that falls (a light switched off) is followed at once: a stale,
        # higher one would crush what is now the picture
        if measured[0] < level[0] - FALL_NOISE * noise:
            level[0] = measured[0]
        return level


def bias_of(level: np.ndarray) -> tuple[float, float]:
    """The chroma bias (U, V codes) of a black ``level`` (``BlackLevel.measure``)."""
    return float(level[1]), float(level[2])


def cast_of(level: np.ndarray) -> tuple[float, float]:
    """The colour cast (U, V codes) of a black ``level``: the darks' colour beyond its
    bias."""
    return float(level[4]), float(level[5])


def beside_bright_edges(luma: np.ndarray) -> np.ndarray:
    """Which of the black level's samples (every SAMPLE-th pixel of every SAMPLE-th row;
    bool) of a half-resolution full-range ``luma`` plane (codes, any dtype; uint16 photos
    on their own scale) lie within EDGE_REACH pixels of one brighter by more than EDGE_STEP
    codes: where the codec's ringing may have pulled them below the black."""
    if luma.dtype == np.uint16:
        luma = luma.astype(np.float32) * np.float32(1 / 257)
    side = 2 * EDGE_REACH + 1
    brightest = cv2.dilate(luma, cv2.getStructuringElement(cv2.MORPH_RECT, (side, side)))
    return (brightest[::SAMPLE, ::SAMPLE].astype(np.float32) - luma[::SAMPLE, ::SAMPLE]
            > np.float32(EDGE_STEP))


def unsettled_share(noise: float, settled: float) -> float:
    """The share of the black level to read on the sample spread over SETTLE_SPREAD² pixels,
    for a picture with this ``noise`` whose noise once settled is ``settled`` (standard
    deviations): what brings the one to the other, 0 where it is there already or nearly
    (under SETTLED_SHARE_MIN)."""
    lowered = noise * (1.0 - 1.0 / SETTLE_SPREAD)
    share = float(np.clip((noise - settled) / lowered, 0.0, 1.0)) if lowered > 0 else 0.0
    return share if share >= SETTLED_SHARE_MIN else 0.0


def as_bias(offset: np.ndarray) -> np.ndarray:
    """The part of the darks' chroma ``offset`` (U, V codes from grey) that is a black-level
    bias: all of it up to BIAS_MAX on either plane, fading to none at twice that."""
    return (offset * _bias_fade(offset)).astype(np.float32)


def _bias_fade(offset: np.ndarray) -> float:
    """How much (0-1) of the darks' chroma ``offset`` its size alone allows to be a bias
    (``as_bias``); the rest is a grade or coloured light: near black a colour of the scene
    carries a code or two of chroma, not BIAS_MAX."""
    size = float(np.abs(offset).max())
    if size <= BIAS_MAX:
        return 1.0
    return max(0.0, 2.0 - size / BIAS_MAX) if BIAS_MAX > 0 else 0.0


def shared_by_greys(offset: np.ndarray, greys: Callable[[], np.ndarray | None]) -> float:
    """How much (0-1) of the darks' chroma ``offset`` (U, V codes) the frame's near-grey
    surfaces above them share (``greys()``: their ``grey_surface_chroma``, None where there
    are too few: all of it; not asked within SURELY_BIAS of grey): a black-level bias
    shifts every level alike, a grade or a coloured light fades above the darks, and
    greenish walls over magenta blacks share none of it (taken off them as a bias, they turn
    mint)."""
    if float(np.abs(offset).max()) <= SURELY_BIAS:
        return 1.0
    found = greys()
    if found is None:
        return 1.0
    return float(np.clip(found @ offset / (float(offset @ offset) * SHARED_IN_FULL), 0.0, 1.0))


def grey_surface_chroma(luma: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """The chroma offset (U, V codes) of a frame's most common near-grey colour among its
    pixels darker than GREY_SURFACE_LUMA (``luma``: full-range codes, same shape as the U
    and V samples): the peak of their histogram within GREY_REACH codes of grey, refined to
    the mean within a code of it. None where fewer than MIN_GREY_SHARE are near grey."""
    cu, cv = u.astype(np.float32) - 128.0, v.astype(np.float32) - 128.0
    near = (np.abs(cu) <= GREY_REACH) & (np.abs(cv) <= GREY_REACH) & (luma < GREY_SURFACE_LUMA)
    if near.size == 0 or np.count_nonzero(near) / near.size < MIN_GREY_SHARE:
        return None
    side = 2 * GREY_REACH + 1  # one-code bins around each code
    bins = [np.floor(plane[near] + (GREY_REACH + 0.5)).astype(np.intp) for plane in (cu, cv)]
    counts = np.bincount(bins[0] * side + bins[1], minlength=side * side)
    peak_u, peak_v = (float(at - GREY_REACH) for at in divmod(int(np.argmax(counts)), side))
    close = near & (np.abs(cu - peak_u) <= 1.0) & (np.abs(cv - peak_v) <= 1.0)
    return np.array([cu[close].mean(), cv[close].mean()], np.float32)


def _ramp(value: float, start: float, end: float) -> float:
    """0 at ``start``, 1 from ``end``, linear between (falling where ``end`` < ``start``)."""
    return min(max((value - start) / (end - start), 0.0), 1.0)


def gain_cap(noise: float) -> float:
    """The most a pixel of a frame with this ``noise`` (standard deviation, codes) is lifted:
    MAX_GAIN, rising to NOISY_GAIN on noisy footage."""
    return MAX_GAIN + _ramp(noise, *NOISY_SIGMAS) * (NOISY_GAIN - MAX_GAIN)


def still_night_weight(level: np.ndarray) -> float:
    """How far (0-1) a still photo with this black ``level`` takes the night corrections
    (STILL_NIGHT_FLOORS)."""
    return _ramp(float(level[3]), *STILL_NIGHT_FLOORS)


def correction(level: np.ndarray, noise: float) -> NightCorrection:
    """The corrections for a followed black ``level`` (``BlackLevel``) and the noise of
    what is lifted (standard deviation, codes: in video the temporal denoiser's estimate)."""
    floor = _ramp(float(level[3]), *FLOOR_SHARES)
    knee = KNEE_CODES[0] + floor * (KNEE_CODES[1] - KNEE_CODES[0])
    return NightCorrection(black=float(level[0]), knee=knee + KNEE_NOISE * noise)


def magenta_offset(level: np.ndarray) -> np.ndarray | None:
    """The RGB (3 codes) of the magenta part of a black ``level``'s chroma bias (U and V
    codes: what both have above 0), None when there is none: what comes off an RGB image.
    The RGB path keeps the nets' colour in the darkest areas, and the nets learned to undo
    the bluish blacks of LOL's cameras (U up, V down), not the magenta of night video."""
    magenta = max(min(bias_of(level)), 0.0)
    if not magenta:
        return None
    return chroma_in_rgb(np.array([magenta, magenta], np.float32))


def keep_mean(gains: np.ndarray, source_luma: np.ndarray, night: NightCorrection
              ) -> np.ndarray:
    """The low-resolution RGB ``gains`` (h, w, 3, ≥ 1) with their lift raised by
    ``lift_boost``; ``source_luma`` (h, w): the small input's full-range luma (0-255)."""
    boost = lift_boost(gains.mean(axis=2) - 1.0, source_luma, night)
    return 1.0 + np.float32(boost) * (gains - 1.0)


def lift_boost(lift: np.ndarray, source_luma: np.ndarray, night: NightCorrection) -> float:
    """The factor (1 to MAX_LIFT_BOOST) on a low-resolution ``lift`` (gain − 1, h × w) that
    keeps the frame's mean luma what the gains alone gave once the black point and knee of
    ``night`` take their share; ``source_luma`` (h, w): the input's full-range luma."""
    share = lift_shares(source_luma, night.black, night.knee)
    wanted = float((source_luma * lift).mean())
    kept = float((source_luma * lift * share).mean())
    if wanted <= 0.0 or kept <= 0.0:
        return 1.0
    return min(max(wanted / kept, 1.0), MAX_LIFT_BOOST)
