"""What is decided about a frame on small arrays, in one place for both executors.

Each frame hands in a few small NumPy arrays (its half-resolution luma, a sample of its
half-resolution YUV, its nets' input or its colour cells) and gets back what the per-pixel
work needs: whether it starts a shot and how noisy it is (``Moment``), the black level, the
gains at low resolution with their colour, highlight and exposure factors, the denoise
weight and the night corrections. ``Decisions`` keeps the state these carry from frame to
frame (scene cuts, auto-exposure, black level, the nets' schedule).

Three guards make the output safe to leave on:
- **Colour**: the nets' colour change is trusted only where the input is too dark for its
  own colour to be right; where it is brighter its local chromaticity is restored
  (``colour_ratio``).
- **Do no harm**: the gains never go below 1 (the output is never darker than the input);
  highlights in a dark frame (a lamp, a window) land on a soft shoulder above SHOULDER
  instead of clipping (``highlight_factor``).
- **Exposure over time** (video): one global factor from ``exposure.AutoExposure``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..nets.backends import Backend
from ..pixelops.formats import LUMA, RGB24, YUV420P, downscale
from ..pixelops.reference import denoise_weight
from .denoise import estimate_noise, noise_sigma
from .exposure import AutoExposure, Followed, LightSwitch, SceneCutDetector
from .night import (
    BLACK_SECONDS,
    SETTLE_SPREAD,
    BlackLevel,
    NightCorrection,
    beside_bright_edges,
    correction,
    gain_cap,
    keep_mean,
    lift_boost,
    still_night_weight,
    unsettled_share,
)
from .schedule import INPUT_FLOOR, NetSchedule
from .settings import EnhanceSettings

__all__ = ["EPSILON", "Decisions", "Moment", "colour_grid", "colour_ratio", "highlight_factor",
           "local_peak"]

# Floor of a luma or an illumination a colour or gain divides by (0-1): below it a pixel's
# colour is unknown.
EPSILON = 1e-3
# Colour: local input luma (0-1) below which the nets' colour is kept, above which the
# input's chromaticity is restored (log-linear in between).
TRUST_NETS_BELOW, TRUST_INPUT_ABOVE = 0.07, 0.2
# The same where the black level's chroma bias has been removed (the fast YUV path): the
# input's colour is then right down to darker levels.
TRUST_NEUTRAL_BLACKS = (0.02, 0.08)
# Quality mode measures colour on cells of this many pixels.
COLOUR_CELL = 16
# Output level (0-1) above which a region's brightest pixels are compressed, not clipped.
SHOULDER = 0.8
# Input luma (0-1) from which a cell's brightest part counts as a light source (fully from
# the second value).
BRIGHT_INPUT = (0.35, 0.6)


@dataclass(frozen=True)
class Moment:
    """Where a video frame sits in its stream: its time (seconds, None: unknown), whether it
    starts a shot, whether the light jumped since the last frame and whether a new light
    has held since the last one (``exposure.LightSwitch``), its noise (standard deviation,
    codes), the stream's noise followed over time (what the gain cap and the knee follow: a
    frame's own estimate wobbles, and the picture's brightness would with it) and how many
    frames the temporal denoiser's estimate holds (``Decisions.denoised``; 0: none is
    kept)."""

    time: float | None
    cut: bool
    light_jumped: bool
    new_light: bool
    noise: float
    stream_noise: float
    estimate_frames: int = 0

    @property
    def estimate_restarts(self) -> bool:
        """Whether the temporal estimate starts again with this frame: a cut, a new light."""
        return self.cut or self.new_light

    @property
    def levels_restart(self) -> bool:
        """Whether the levels followed over the stream (the black level, the exposure, the
        stream's noise) start again with this frame: also where the light only jumped."""
        return self.estimate_restarts or self.light_jumped


def colour_ratio(output: np.ndarray, source: np.ndarray,
                 trust: tuple[float, float] = (TRUST_NETS_BELOW, TRUST_INPUT_ABOVE)) -> np.ndarray:
    """Per-channel factors (same shape as the small float32 RGB ``output``) that move its
    chromaticity back to the ``source``'s (same shape, 0-1) where the source is bright
    enough to trust: not at all below ``trust[0]``, fully from ``trust[1]`` (luma, 0-1)."""
    out_luma = np.maximum(output @ LUMA, EPSILON)[..., None]
    src_luma = np.maximum(source @ LUMA, EPSILON)[..., None]
    trust = np.clip((src_luma - trust[0]) / (trust[1] - trust[0]), 0.0, 1.0)
    wanted = (np.maximum(source, EPSILON) / src_luma) / (np.maximum(output, EPSILON) / out_luma)
    return np.exp(trust * np.log(wanted)).astype(np.float32)


def colour_grid(height: int, width: int) -> tuple[int, int]:
    """The (w, h) cells on which quality mode measures colour and highlights."""
    return max(1, width // COLOUR_CELL), max(1, height // COLOUR_CELL)


def highlight_factor(output: np.ndarray, source: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Per-cell factors (h, w, 1) for a small proposed ``output`` (h, w, 3, 0-1) of the
    small ``source`` so that each cell's bright part (``peak``, h×w, 0-1, see
    ``local_peak``) lands on a soft shoulder above SHOULDER instead of clipping."""
    gain = (output @ LUMA) / np.maximum(source @ LUMA, INPUT_FLOOR)
    lifted = peak * gain
    room = 1.0 - SHOULDER
    eased = SHOULDER + room * (1.0 - np.exp(-np.maximum(lifted - SHOULDER, 0.0) / room))
    factor = np.where(lifted > SHOULDER, eased / np.maximum(lifted, EPSILON), 1.0)
    # only where the input itself is bright there (a lamp, a window): in a uniformly dark
    # scene the nets' lift of its brightest details is what the user wants
    bright = np.clip((peak - BRIGHT_INPUT[0]) / (BRIGHT_INPUT[1] - BRIGHT_INPUT[0]), 0.0, 1.0)
    return (1.0 + bright * (factor - 1.0)).astype(np.float32)[..., None]


def local_peak(half: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The brightest luma (0-1) around each cell of a ``size`` (w, h) grid, from a frame's
    ``half_luma`` (uint8 or uint16: at half resolution single noisy pixels barely count)."""
    reach = max(1, math.ceil(half.shape[1] / size[0]))
    peaks = cv2.dilate(half, np.ones((reach, reach), np.uint8))
    top = 65535.0 if half.dtype == np.uint16 else 255.0
    return downscale(peaks, size).astype(np.float32) / top


def _mean_luma(image: np.ndarray) -> float:
    return float(np.asarray(cv2.mean(image)[:3]) @ LUMA)


class Decisions:
    """One stream's decisions (see the module docstring), under ``settings``; ``backend``
    runs the nets on fast mode's small frames; ``live``: the nets' periodic refresh may run
    in the background (``schedule.NetSchedule``)."""

    def __init__(self, backend: Backend, settings: EnhanceSettings, live: bool = False) -> None:
        self.backend, self.settings = backend, settings
        self.schedule = NetSchedule(settings.nets_every, background=live)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (call between unrelated streams)."""
        self.cuts = SceneCutDetector()
        self.lights = LightSwitch()
        self.exposure = AutoExposure(self.settings.smooth)
        self.blacks = BlackLevel()
        self.noise = Followed(BLACK_SECONDS)
        self.schedule.reset()

    def moment(self, half: np.ndarray, time: float | None) -> Moment:
        """The next video frame's ``Moment`` from its ``half_luma``."""
        noise = noise_sigma(half)
        moment = Moment(time, self.cuts(half, noise), *self.lights(float(half.mean())), noise,
                        stream_noise=noise)
        return replace(moment, stream_noise=self.noise(noise, time,
                                                       restart=moment.levels_restart))

    @staticmethod
    def denoised(moment: Moment, estimate_frames: int) -> Moment:
        """``moment`` once the temporal denoiser has run: its estimate holds
        ``estimate_frames`` frames."""
        return replace(moment, estimate_frames=estimate_frames)

    def settled_noise(self, moment: Moment) -> float:
        """The noise a still scene's temporal estimate keeps in this stream once settled (the
        camera's where nothing is averaged; ``denoise.estimate_noise``): the knee of the
        lift follows it, so the picture's brightness does not move while the estimate
        settles after a start or a cut, or where things move."""
        strength = self.settings.temporal_denoise if moment.estimate_frames else 0.0
        return estimate_noise(moment.stream_noise, math.inf, strength)

    def black_level(self, sample: Callable[[int], tuple[np.ndarray, ...]], half: np.ndarray,
                    moment: Moment | None, grey_surface: bool = False) -> np.ndarray:
        """The ``BlackLevel`` (black, U and V bias, floor share, U and V cast) of a frame from
        ``sample(spread)``: every ``night.SAMPLE``-th pixel of every ``SAMPLE``-th row of its
        half-resolution Y, U and V, each the mean of ``spread`` × ``spread`` pixels, those
        ``beside_bright_edges`` of its ``half_luma`` left out. Followed over the stream for
        video, read as the settled estimate will give it (``night.unsettled_share``); the
        frame's own for a still image (``moment`` None); ``grey_surface`` as
        ``BlackLevel.from_samples``."""
        usable = ~beside_bright_edges(half)
        measured = BlackLevel.from_samples(*sample(1), grey_surface=grey_surface, usable=usable)
        if moment is None:
            return measured
        share = unsettled_share(estimate_noise(moment.stream_noise, moment.estimate_frames,
                                               self.settings.temporal_denoise),
                                self.settled_noise(moment)) if moment.estimate_frames else 0.0
        if share > 0:
            spread = BlackLevel.from_samples(*sample(SETTLE_SPREAD), grey_surface=grey_surface,
                                             usable=usable)
            measured = measured + np.float32(share) * (spread - measured)
        return self.blacks.follow(measured, moment.time, moment.levels_restart,
                                  moment.stream_noise)

    def exposure_factor(self, output: np.ndarray, moment: Moment | None) -> float:
        """The global factor for a frame whose proposed output (float32 RGB, 0-1, any size)
        is ``output``: the auto-exposure's (video only) times the exposure compensation."""
        compensation = self.settings.compensation
        if moment is None or not self.exposure.enabled:
            return compensation
        return compensation * self.exposure(_mean_luma(output), moment.time,
                                            moment.levels_restart)

    def cell_ratio(self, output_small: np.ndarray, source_small: np.ndarray,
                   half: np.ndarray, moment: Moment | None, level: np.ndarray,
                   thumbnail: np.ndarray | None = None
                   ) -> tuple[np.ndarray, float, np.ndarray | None]:
        """Quality mode's per-cell factors (``colour_grid`` cells: colour, highlights, the
        gain cap), global exposure factor and night lift (black point, knee, boost and
        weight of ``reference.night_lifted``) for R ∘ Î and the input averaged over the cells
        (float32 RGB, 0-1); ``half``: the input's ``half_luma``; ``level``: its
        ``black_level``; ``thumbnail`` (video): the frame at the fast mode's size (float32
        RGB, 0-255), on which the nets decide the brightness the auto-exposure follows.
        Video takes the night corrections in full, a still photo as far as
        ``night.still_night_weight`` says (None where not at all: it keeps the nets' own
        darks)."""
        ratio = colour_ratio(output_small, source_small)
        grid = output_small.shape[1::-1]
        ratio *= highlight_factor(output_small * ratio, source_small, local_peak(half, grid))
        if thumbnail is None:
            factor = self.exposure_factor(output_small, moment)
        else:
            decided = self._nets(thumbnail)
            factor = self.exposure_factor(decided, moment) * _mean_luma(decided) / max(
                _mean_luma(output_small), EPSILON)
        weight = 1.0 if moment is not None else still_night_weight(level)
        if weight == 0.0:
            return ratio, factor, None
        night, cap = self._night(level, half, moment)
        source_luma = (source_small @ LUMA) * np.float32(255)
        gain = ((output_small * ratio) @ LUMA) * np.float32(255 * factor) / np.maximum(
            source_luma, np.float32(255 * INPUT_FLOOR))
        boost = lift_boost(np.maximum(gain - 1.0, 0.0), source_luma, night)
        # no cell's gain, once boosted, above the cap
        allowed = 1.0 + (cap - 1.0) / boost
        ratio *= np.minimum(allowed / np.maximum(gain, EPSILON), 1.0)[..., None] ** weight
        return ratio, factor, np.array([night.black, night.knee, boost, weight], np.float32)

    def fast_gains(self, small: np.ndarray, half: np.ndarray, moment: Moment | None,
                   level: np.ndarray) -> tuple[np.ndarray, np.ndarray, NightCorrection]:
        """The fast YUV path's decisions at low resolution, for the frame's ``small_rgb``
        (its planes with the black ``level``'s bias off) and ``half_luma``: the RGB gains
        (h, w, 3, at most the gain cap of ``_night``), the denoise weight (h, w) and the
        night corrections."""
        gains = self.small_gains(small, half, moment, YUV420P)
        night, cap = self._night(level, half, moment)
        gains = np.minimum(keep_mean(gains, small @ LUMA, night), np.float32(cap))
        return gains, denoise_weight(gains.mean(axis=2), self.settings.denoise), night

    def _night(self, level: np.ndarray, half: np.ndarray, moment: Moment | None
               ) -> tuple[NightCorrection, float]:
        """The night corrections for a black ``level`` and the gain cap (``night.gain_cap``
        moved by the exposure compensation: asked for, a stop more reaches the darkest
        footage too): the knee follows the noise of what is lifted (video: the settled
        temporal estimate's), the cap the camera's."""
        if moment is None:  # a still image's, its 16 bits as codes
            lifted = camera = noise_sigma(half) / (257.0 if half.dtype == np.uint16 else 1.0)
        else:
            lifted, camera = self.settled_noise(moment), moment.stream_noise
        return correction(level, lifted), gain_cap(camera) * self.settings.compensation

    def small_gains(self, small: np.ndarray, half: np.ndarray, moment: Moment | None,
                    fmt: str = RGB24) -> np.ndarray:
        """Fast mode's RGB gains (h, w, 3, ≥ 1) for the small frame (0-255): the nets (or,
        in video, their last result's grid), colour, highlights, exposure."""
        source_small = small.astype(np.float32) * np.float32(1 / 255)
        if moment is None:
            output_small = self._nets(small)
        else:  # video: the nets' last result may stand in for them (``schedule``)
            output_small = self.schedule(source_small, moment.cut, lambda: self._nets(small))
        trust = TRUST_NEUTRAL_BLACKS if fmt == YUV420P else (TRUST_NETS_BELOW, TRUST_INPUT_ABOVE)
        output_small *= colour_ratio(output_small, source_small, trust)
        output_small *= highlight_factor(output_small, source_small,
                                         local_peak(half, small.shape[1::-1]))
        factor = self.exposure_factor(output_small, moment)
        return np.maximum(output_small * np.float32(factor)
                          / np.maximum(source_small, INPUT_FLOOR), 1.0)

    def _nets(self, small: np.ndarray) -> np.ndarray:
        """R ∘ Î of the small frame (float32 RGB, 0-1)."""
        d = self.backend(small)
        return d.reflectance * d.enhanced_illumination[..., None]
