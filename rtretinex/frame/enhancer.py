"""The per-frame core: (temporal denoise) → decompose → enhance → colour → exposure → compose.

Quality mode runs both nets on the whole frame and returns denoise(R) ∘ Î. Fast mode runs
them on a frame downscaled by an integer factor, turns the low-res result into a per-channel
gain map G = (R ∘ Î) / max(S, ε) (what the nets did to each low-res pixel: brightening and
colour correction), upsamples G bilinearly and returns denoise(S) ∘ G at full resolution
(DESIGN.md section 2): the full-resolution work is a few cheap per-pixel passes. Video
decoded as yuv420p stays in YUV in fast mode (``pixels.apply_yuv_gains``): no RGB
conversion either side, half the pixels to filter, and each full-resolution plane read and
written once by a fused loop (``kernels``).

Three guards make the output safe to leave on, in both modes and in one place each:
- **Colour**: the nets' colour change is trusted only where the input is too dark for its
  own colour to be right (LOL-like darkness, where sensor noise and black level skew it);
  where the input is brighter, its local chromaticity is restored (``colour_ratio``).
- **Do no harm**: the output is never darker than the input, pixel by pixel (a gain floor
  of 1): a well-exposed frame passes almost unchanged. Highlights in a dark frame (a lamp,
  a window) are not blown out: where a region's brightest input pixels would be lifted
  past ``SHOULDER`` the region's gain is eased so they land on a soft shoulder instead
  (``highlight_factor``).
- **Exposure over time** (video): the output's mean brightness is steadied by
  ``temporal.AutoExposure``, a single global factor.
- **Night footage** (``night``): the black level's chroma bias comes off before the nets
  see the frame (RGB images and frames: its magenta part only); in the fast YUV path the
  lift stops at the black point and rises over a knee that follows the noise (the
  mid-tones keep the frame's brightness), and where the gain is high the luma's flat areas
  (the codec's blocks and bands) are smoothed and deblocked in float before the gain, and
  colour is rolled off above a gain of 16 (the gain of a pixel's strongest channel, so
  a dark saturated colour keeps its hue).
Video frames (``enhance``) also go through the temporal denoiser first, and in fast mode the
nets' result reaches the gain through a per-cell tone curve (``reuse.GainGrid``) that stands
in for them between runs (``reuse.NetSchedule``); still images (``__call__``) never carry
state from one call to the next.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import UsageError
from ..nets.backends import Backend, Decomposition, create_backend
from ..nets.weightfile import DEFAULT_WEIGHTS
from ..pixelops.formats import (
    LUMA,
    RGB24,
    YUV420P,
    apply_yuv_gains,
    downscale,
    frame_size,
    from_rgb,
    half_luma,
    half_planes,
    planes,
    rgb_half_planes,
    small_rgb,
    to_rgb,
)
from ..video.frames import VideoFrame
from .denoise import (
    TemporalDenoiser,
    denoise_frame,
    denoise_reflectance,
    denoise_weight,
    noise_sigma,
)
from .exposure import AutoExposure, SceneCutDetector
from .night import (
    BlackLevel,
    NightCorrection,
    correction,
    filtered_planes,
    keep_mean,
    neutral_blacks,
    neutral_blacks_rgb,
    smooth_chroma,
)
from .schedule import NetSchedule

__all__ = [
    "DEFAULT_DENOISE",
    "DEFAULT_SMOOTH",
    "DEFAULT_TEMPORAL_DENOISE",
    "EXPOSURE_RANGE",
    "MODES",
    "EnhanceSettings",
    "Enhancer",
    "colour_grid",
    "colour_ratio",
    "default_scale",
]

MODES = ("quality", "fast")
# Video defaults: auto-exposure time constant (s) and temporal denoise strength.
DEFAULT_SMOOTH = 0.5
DEFAULT_TEMPORAL_DENOISE = 1.0
# Spatial denoise defaults (chosen on the LOL validation split: fast mode works on the raw
# input, so it needs a stronger denoise than the nets' own R).
DEFAULT_DENOISE = {"quality": 0.5, "fast": 2.0}
# Exposure compensation (stops) a user may ask for, either way.
EXPOSURE_RANGE = 3.0
# Fast mode aims the nets at about this many pixels (107×60; 720p → 1/12, 1080p → 1/18):
# ~7 ms on the 2-core CPU here. On LOL the scale matters little (1/4: 19.52 dB, 1/7: 19.16).
FAST_TARGET_PIXELS = 6400
EPSILON = 1e-3
# Fast mode's gain divides by the low-res input: dark pixels below this level are treated
# as this level, which caps the gain (at ~127× for a fully bright output).
INPUT_FLOOR = 2.0 / 255.0
# Bilateral colour sigma on R (in [0, 1]) at strength 1.
R_SIGMA = 0.1
# Colour: local input luma (0-1) below which the nets' colour is kept, above which the
# input's chromaticity is restored (log-linear in between). Held-out LOL (mean input luma
# 0.06) keeps 21.15 of 21.22 dB; real dark video frames (luma ~0.12) shift chromaticity
# 0.021 instead of 0.040.
TRUST_NETS_BELOW, TRUST_INPUT_ABOVE = 0.07, 0.2
# The same where the black level's chroma bias has been removed (the fast YUV path): the
# input's colour is then right down to darker levels (camera-like night clips: shadow colour
# error 18.3 → 16.3 codes, real dark bridge clip chromaticity shift 0.028 → 0.016).
TRUST_NEUTRAL_BLACKS = (0.02, 0.08)
# Quality mode measures colour on cells of this many pixels.
COLOUR_CELL = 16
# Output level (0-1) above which a region's brightest pixels are compressed, not clipped.
SHOULDER = 0.8
# Input luma (0-1) from which a cell's brightest part counts as a light source (fully from
# the second value).
BRIGHT_INPUT = (0.35, 0.6)


_MICROSECOND = Fraction(1, 1_000_000)
log = logging.getLogger("rtretinex")


def default_scale(height: int, width: int) -> int:
    """Smallest integer downscale that brings the nets' input to at most FAST_TARGET_PIXELS."""
    return max(1, math.ceil(math.sqrt(height * width / FAST_TARGET_PIXELS)))


@dataclass(frozen=True, kw_only=True)
class EnhanceSettings:
    """How frames are enhanced. ``mode`` None is chosen per stream (``for_stream``);
    ``scale`` None is picked from the frame size; ``denoise`` None is the mode's default.
    ``smooth`` (auto-exposure time constant, seconds), ``temporal_denoise`` and
    ``nets_every`` (fast mode: run the nets on every N-th frame, None: as often as they
    cost about ``reuse.NET_BUDGET_MS`` of CPU a frame) act on video only; ``exposure`` (stops,
    ±EXPOSURE_RANGE) brightens or darkens the result, never below the input."""

    mode: str | None = None
    scale: int | None = None
    smooth: float = DEFAULT_SMOOTH
    denoise: float | None = None
    temporal_denoise: float = DEFAULT_TEMPORAL_DENOISE
    nets_every: int | None = None
    exposure: float = 0.0

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.scale is not None and self.scale < 1:
            raise UsageError(f"--scale must be an integer >= 1, got {self.scale}")
        if self.smooth < 0:
            raise UsageError(f"--smooth must be >= 0 seconds, got {self.smooth}")
        if self.denoise is not None and self.denoise < 0:
            raise UsageError(f"--denoise must be >= 0, got {self.denoise}")
        if self.temporal_denoise < 0:
            raise UsageError(f"--temporal-denoise must be >= 0, got {self.temporal_denoise}")
        if self.nets_every is not None and self.nets_every < 1:
            raise UsageError(f"--nets-every must be a number of frames >= 1, got "
                             f"{self.nets_every}")
        if abs(self.exposure) > EXPOSURE_RANGE:
            raise UsageError(f"--exposure must be within ±{EXPOSURE_RANGE} stops, "
                             f"got {self.exposure}")

    def for_stream(self, video: bool, live: bool = False, on_gpu: bool = False
                   ) -> EnhanceSettings:
        """Settings with the mode and spatial denoise fixed: quality for images and GPU
        backends, fast for video on a CPU and for live sources."""
        mode = self.mode or ("fast" if video and (live or not on_gpu) else "quality")
        denoise = DEFAULT_DENOISE[mode] if self.denoise is None else self.denoise
        return replace(self, mode=mode, denoise=denoise)


def colour_ratio(output: np.ndarray, source: np.ndarray,
                 trust: tuple[float, float] = (TRUST_NETS_BELOW, TRUST_INPUT_ABOVE)) -> np.ndarray:
    """Per-channel factors (same shape as the small float32 RGB ``output``) that move its
    chromaticity back to the ``source``'s (same shape, 0-1) where the source is bright
    enough to trust: not at all below ``trust[0]``, fully from ``trust[1]`` (luma, 0-1;
    see TRUST_NETS_BELOW)."""
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


@dataclass(frozen=True)
class Moment:
    """Where a video frame sits in time, for the auto-exposure."""

    time: float | None
    cut: bool
    noise: float


class Enhancer:
    """Enhances RGB images (``__call__``; uint8, or uint16 kept at 16 bits) and video frames
    in order (``enhance``, which keeps the temporal state of one stream)."""

    def __init__(self, backend: Backend, settings: EnhanceSettings | None = None,
                 on_device: bool | None = None, live: bool = False) -> None:
        """``on_device``: video frames (quality mode, and fast mode's yuv420p) keep to the
        nets' torch device (``device.DevicePath``); None: where that device is a GPU.
        ``live``: frames come from a live source, where fast mode refreshes the nets'
        result in the background (``reuse.NetSchedule``) rather than on the frame it falls
        on; a file's output then stays the same from run to run."""
        self.backend = backend
        self.settings = (settings or EnhanceSettings()).for_stream(video=False)
        self.relighter = None  # tiling.Relighter, for large frames in quality mode
        self.schedule = NetSchedule(self.settings.nets_every, background=live)  # fast video
        self.device_path = None
        self.reset()
        if on_device or (on_device is None and hasattr(backend, "infer_tensor")):
            # torch backends only: the device path needs torch, which OpenVINO runs without
            from ..pixelops.torch_ops import DevicePath, device_of  # (and builds on this module)

            device = device_of(backend)
            if on_device or (device is not None and device.type == "cuda"):
                self.device_path = DevicePath(self)

    @classmethod
    def load(cls, mode: str | None = None, backend: str = "auto", precision: str | None = None,
             weights: Path = DEFAULT_WEIGHTS, **settings: float) -> Enhancer:
        """An enhancer with its backend built, e.g. ``Enhancer.load(mode="fast")`` for video
        on a CPU; ``settings`` are other EnhanceSettings fields (smooth, exposure, ...)."""
        return cls(create_backend(backend, precision, weights),
                   EnhanceSettings(mode=mode, **settings))

    def frame(self, image: np.ndarray, seconds: float | None = None) -> np.ndarray:
        """Enhance the next frame of a video (RGB uint8) captured at ``seconds`` (None: a
        frame interval of 1/30 s is assumed), for callers with their own capture loop. The
        temporal state (auto-exposure, temporal denoise) carries over from call to call;
        ``reset()`` before an unrelated video."""
        pts = None if seconds is None else round(seconds * 1_000_000)
        self.frames_seen += 1
        return self.enhance(VideoFrame(image, self.frames_seen - 1, pts, _MICROSECOND))

    def scale_for(self, height: int, width: int) -> int:
        if self.settings.mode == "quality":
            return 1
        return self.settings.scale or default_scale(height, width)

    def reset(self) -> None:
        """Forget the temporal state (call between unrelated streams)."""
        self.frames_seen = 0
        self.cuts = SceneCutDetector()
        self.exposure = AutoExposure(self.settings.smooth)
        self.temporal_denoiser = TemporalDenoiser(self.settings.temporal_denoise)
        self.blacks = BlackLevel()
        self.schedule.reset()
        if self.device_path is not None:
            self.device_path.reset()

    def warm_up(self, width: int, height: int) -> None:
        """Run the video path on two dim grey frames of this size, then forget them, so the
        compiled loops load (~0.3 s) and the nets settle on the size before a live source's
        first frames wait for them."""
        if width < 2 or height < 2:
            return
        grey = np.full((height, width, 3), 30, np.uint8)
        even = width % 2 == 0 and height % 2 == 0
        image, fmt = (from_rgb(grey), YUV420P) if even else (grey, RGB24)
        for index in range(2):
            self.enhance(VideoFrame(image, index, pixel_format=fmt))
        self.schedule.costs.clear()  # the first calls' times include loading: not the nets'
        self.reset()

    @property
    def scene_cuts(self) -> int:
        return self.cuts.cuts

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Enhance one still image (no temporal state is used or kept). A uint16 image is
        enhanced from all its 16 bits (the shadow detail a 16-bit export keeps) and comes
        back as uint16."""
        half = half_luma(image)
        if image.dtype == np.uint16:
            return self._enhance(image.astype(np.float32) * np.float32(1 / 257), None, image,
                                 half)
        return self._enhance(image, None, image, half)

    def enhance(self, frame: VideoFrame) -> np.ndarray:
        """Enhance the next frame of the stream; the output has the frame's pixel format.
        Quality mode works in RGB (a yuv420p frame is converted there and back). With a
        device path the frame goes there; a frame the GPU has no memory for sends the
        stream back to the host from then on."""
        fmt = frame.pixel_format
        quality = self.scale_for(*frame_size(frame.image, fmt)) == 1
        if (self.device_path is not None and frame.image.dtype == np.uint8
                and (quality or fmt == YUV420P)):
            from ..pixelops.torch_ops import OutOfMemory  # loaded with the device path

            try:
                return self.device_path.enhance(frame)
            except OutOfMemory:  # a frame too large for the GPU: tiles on the host
                log.warning("the GPU ran out of memory for a %dx%d frame: enhancing on the "
                            "host from here on (quality mode in tiles)",
                            *frame_size(frame.image, fmt)[::-1])
                self.device_path = None
                self.reset()
        if fmt == YUV420P and quality:
            return from_rgb(self.enhance(frame.with_image(to_rgb(frame.image), RGB24)))
        half = half_luma(frame.image, fmt)
        noise = noise_sigma(half)
        cut = self.cuts(half, noise)
        clean = self.temporal_denoiser(frame.image, cut, half, fmt, noise)
        return self._enhance(clean, Moment(frame.time, cut, noise), frame.image, half, fmt)

    @property
    def exposure_stops(self) -> float:
        """The exposure compensation in use (stops)."""
        return self.settings.exposure

    def adjust_exposure(self, stops: float) -> float:
        """Change the exposure compensation by ``stops`` (kept within ±EXPOSURE_RANGE), from
        the next frame on; returns the new value. Safe to call from another thread."""
        value = float(np.clip(self.settings.exposure + stops, -EXPOSURE_RANGE, EXPOSURE_RANGE))
        self.settings = replace(self.settings, exposure=round(value, 3))
        return self.settings.exposure

    def _exposure(self, output: np.ndarray, source: np.ndarray, moment: Moment | None
                  ) -> float:
        """The global factor for a frame whose proposed output (float32 RGB, 0-1, any size)
        is ``output`` and input (same scale) ``source``: the auto-exposure's (video only)
        times the exposure compensation."""
        compensation = 2.0 ** self.settings.exposure
        if moment is None or not self.exposure.enabled:
            return compensation
        return compensation * self.exposure(_mean_luma(output), _mean_luma(source),
                                            moment.time, moment.cut)

    def _enhance(self, image: np.ndarray, moment: Moment | None, original: np.ndarray,
                 half: np.ndarray, fmt: str = RGB24) -> np.ndarray:
        """``image``: the frame to enhance on the 0-255 scale (uint8, or float32 when
        temporally denoised or from 16 bits) in pixel format ``fmt`` (yuv420p: fast mode
        only); ``original``: the frame it came from (uint8 or uint16), whose depth the
        output has; ``half``: its ``half_luma``, where light sources are looked for."""
        scale = self.scale_for(*frame_size(image, fmt))
        if fmt == RGB24:  # quality mode reads the bias off the grey surface (photos)
            level = self._black_level(rgb_half_planes(image), moment, grey_surface=scale == 1)
            image = neutral_blacks_rgb(image, level)
        if scale == 1:
            return self._quality(image, moment, original, half)
        return self._fast(image, scale, moment, original, half, fmt)

    def _quality(self, image: np.ndarray, moment: Moment | None, original: np.ndarray,
                 half: np.ndarray) -> np.ndarray:
        """denoise(R) ∘ Î at full resolution, colour, exposure, floor at the input."""
        height, width = image.shape[:2]
        d, strength = self._decompose(image), self.settings.denoise
        output, enhanced = d.reflectance, d.enhanced_illumination
        if strength > 0:
            output = denoise_reflectance(
                output, enhanced / np.maximum(d.illumination, EPSILON), strength, R_SIGMA)
        del d  # full-resolution float planes: large photos need the memory
        output *= enhanced[..., None]  # R ∘ Î in place (no three-channel copy of Î)
        del enhanced
        grid = colour_grid(height, width)
        # averaged in float: a uint8 average rounded to codes moves a dark cell's colour
        source_small = downscale(image.astype(np.float32, copy=False), grid) * np.float32(1 / 255)
        ratio, factor = self.cell_ratio(downscale(output, grid), source_small, half, moment)
        ratio_full = cv2.resize(ratio, (width, height), interpolation=cv2.INTER_LINEAR)
        top, depth = _depth(original)
        out = cv2.multiply(output, ratio_full, scale=top * factor, dtype=depth)
        return cv2.max(out, original if original.dtype == np.uint16 else _as_uint8(image))

    def cell_ratio(self, output_small: np.ndarray, source_small: np.ndarray,
                   half: np.ndarray, moment: Moment | None) -> tuple[np.ndarray, float]:
        """Quality mode's per-cell factors (``colour_grid`` cells; colour, highlights) and
        global exposure factor for R ∘ Î and the input averaged over the cells (float32
        RGB, 0-1); ``half``: the input's ``half_luma``."""
        ratio = colour_ratio(output_small, source_small)
        grid = output_small.shape[1::-1]
        ratio *= highlight_factor(output_small * ratio, source_small, local_peak(half, grid))
        return ratio, self._exposure(output_small, source_small, moment)

    def _decompose(self, image: np.ndarray) -> Decomposition:
        """The nets on a whole frame; in tiles above TILE_ABOVE_PIXELS (bounded memory)."""
        from ..nets.tiling import TILE_ABOVE_PIXELS, Relighter, decompose_tiled  # needs torch

        if image.shape[0] * image.shape[1] <= TILE_ABOVE_PIXELS:
            return self.backend(image)
        if self.relighter is None:
            self.relighter = Relighter(self.backend.weights)
        return decompose_tiled(self.backend, image, self.relighter)

    def _black_level(self, half: tuple[np.ndarray, ...], moment: Moment | None,
                     grey_surface: bool = False) -> np.ndarray:
        """(black, U bias, V bias) of a frame's ``half_planes``: followed over the stream
        for video, the frame's own for a still image (``BlackLevel.measure``)."""
        if moment is None:
            return BlackLevel.measure(*half, grey_surface=grey_surface)
        return self.blacks(half, moment.time, moment.cut, grey_surface)

    def _nets(self, small: np.ndarray) -> np.ndarray:
        """R ∘ Î of the small frame (float32 RGB, 0-1)."""
        d = self.backend(small)
        return d.reflectance * d.enhanced_illumination[..., None]

    def _fast(self, image: np.ndarray, scale: int, moment: Moment | None,
              original: np.ndarray, half: np.ndarray, fmt: str) -> np.ndarray:
        """denoise(S) ∘ G with the gain map G from the low-res nets; colour, exposure and
        the floor are folded into G at low resolution, so full resolution sees one resize
        and one multiply (plus the denoise)."""
        height, width = frame_size(image, fmt)
        size = (max(1, width // scale), max(1, height // scale))
        if fmt == YUV420P:  # chroma filtered, luma denoised by keeping less fine detail
            half_yuv = half_planes(image)
            level = self._black_level(half_yuv, moment)
            half_yuv = neutral_blacks(half_yuv, level)
            gains, weight, night = self.fast_gains(small_rgb(half_yuv, size), half, moment,
                                                   level)
            filtered = filtered_planes(half_yuv) if weight.max() > 0 else None
            out = apply_yuv_gains(planes(image)[0], half_yuv, gains, weight, filtered,
                                  night.lift())
            if filtered is not None:
                smooth_chroma(out, weight)
            return out
        gain3_small = self._small_gains(downscale(image, size), half, moment, fmt)
        gain3 = cv2.resize(gain3_small, (width, height), interpolation=cv2.INTER_LINEAR)
        image = denoise_frame(image, gain3_small.mean(axis=2), self.settings.denoise)
        top, depth = _depth(original)
        return cv2.multiply(image, gain3, scale=top / 255.0, dtype=depth)

    def fast_gains(self, small: np.ndarray, half: np.ndarray, moment: Moment | None,
                   level: np.ndarray) -> tuple[np.ndarray, np.ndarray, NightCorrection]:
        """The fast YUV path's decisions at low resolution, for the frame's ``small_rgb``
        (its planes with the black ``level``'s bias off) and ``half_luma``: the RGB gains
        (h, w, 3), the denoise weight (h, w) and the night corrections."""
        gains = self._small_gains(small, half, moment, YUV420P)
        night = correction(level, noise_sigma(half) if moment is None else moment.noise)
        gains = keep_mean(gains, small @ LUMA, night)
        return gains, denoise_weight(gains.mean(axis=2), self.settings.denoise), night

    def _small_gains(self, small: np.ndarray, half: np.ndarray, moment: Moment | None,
                     fmt: str) -> np.ndarray:
        """Fast mode's RGB gains (h, w, 3, ≥ 1) for the small frame (0-255): the nets (or,
        in video, their last result's grid), colour, highlights, exposure."""
        source_small = small.astype(np.float32) * np.float32(1 / 255)
        if moment is None:
            output_small = self._nets(small)
        else:  # video: the nets' last result may stand in for them (``reuse``)
            output_small = self.schedule(source_small, moment.cut, lambda: self._nets(small))
        trust = TRUST_NEUTRAL_BLACKS if fmt == YUV420P else (TRUST_NETS_BELOW, TRUST_INPUT_ABOVE)
        output_small *= colour_ratio(output_small, source_small, trust)
        output_small *= highlight_factor(output_small, source_small,
                                         local_peak(half, small.shape[1::-1]))
        factor = self._exposure(output_small, source_small, moment)
        return np.maximum(output_small * np.float32(factor)
                          / np.maximum(source_small, INPUT_FLOOR), 1.0)


def _depth(original: np.ndarray) -> tuple[float, int]:
    """(full-scale value, OpenCV depth) of the output for a frame of this dtype."""
    return (65535.0, cv2.CV_16U) if original.dtype == np.uint16 else (255.0, cv2.CV_8U)


def _mean_luma(image: np.ndarray) -> float:
    return float(np.asarray(cv2.mean(image)[:3]) @ LUMA)


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """A float image (0-255) rounded to uint8; a uint8 image as it is."""
    return image if image.dtype == np.uint8 else cv2.convertScaleAbs(image)
