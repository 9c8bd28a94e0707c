"""The steps of one frame, written once for both executors (``pixelops.host`` and
``pixelops.torch_ops``): the executor does the per-pixel work in its own arrays, the
``Decisions`` decide on the small arrays it hands back.

- ``video_frame``: a frame of a stream: its ``Moment`` (cut, noise), the temporal denoiser,
  then the quality step (RGB; a yuv420p frame converted there and back) or the fast YUV step.
- ``quality``: denoise(R) ∘ Î at full resolution; colour, highlights and exposure as
  per-cell factors; never below the input; the black level's cast off before the nets and
  back after.
- ``fast_yuv``: the nets on a small copy of the frame give low-resolution RGB gains, applied
  to the planes at chroma resolution with Y's fine detail (``apply_yuv_gains``), with the
  night corrections (the black level's bias off, its cast off and back on, flat-area
  smoothing, deblocking, lift, chroma smoothing).
- ``fast_rgb`` (host only: still images in fast mode, 16-bit ones among them): the same
  gains upsampled onto the denoised RGB image, without the night corrections (video in RGB
  goes to ``fast_yuv`` padded to even sides, ``Enhancer.enhance``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..pixelops.formats import RGB24, YUV420P, frame_size, planes
from ..pixelops.host import HostExecutor
from ..video.frames import VideoFrame
from .decisions import EPSILON, Decisions, Moment, colour_grid
from .denoise import TemporalDenoiser
from .night import SAMPLE, bias_of, cast_of, magenta_offset
from .settings import default_scale

__all__ = ["fast_rgb", "fast_yuv", "quality", "video_frame", "without_black_bias"]


def video_frame(executor: Any, decisions: Decisions, denoiser: TemporalDenoiser,
                frame: VideoFrame, scale: int, strength: float) -> np.ndarray:
    """The enhanced frame (uint8, the frame's pixel format) of a uint8 video ``frame``: the
    quality step where ``scale`` is 1 (a yuv420p frame converted to RGB and back), else the
    fast step (yuv420p frames only); ``strength``: the spatial denoise's."""
    fmt, fast = frame.pixel_format, scale > 1
    pixels = executor.upload(frame.image)
    if not fast and fmt == YUV420P:
        pixels = executor.to_rgb(pixels)
    work_format = YUV420P if fast else RGB24
    half = executor.half_luma(pixels, work_format)
    moment = decisions.moment(half, frame.time)
    clean = denoiser(pixels, half, moment.estimate_restarts, moment.noise, work_format,
                     executor)
    if denoiser.enabled:  # the black level is read as it will be once the estimate settles
        moment = decisions.denoised(moment, denoiser.frames)
    if fast:
        return executor.download(fast_yuv(executor, decisions, clean, half, moment, scale))
    image, level = without_black_bias(executor, decisions, clean, half, moment,
                                      grey_surface=True)
    out = quality(executor, decisions, image, level, pixels, half, moment, strength)
    return executor.download(executor.from_rgb(out) if fmt == YUV420P else out)


def without_black_bias(executor: Any, decisions: Decisions, image: Any, half: np.ndarray,
                       moment: Moment | None, grey_surface: bool) -> tuple[Any, np.ndarray]:
    """An RGB image (0-255 scale) with the magenta part of its black level's chroma bias
    taken off (``night.magenta_offset``), and that level (``Decisions.black_level``; ``half``:
    the image's ``half_luma``); ``grey_surface``: the bias is read off the frame's dominant
    near-grey surface (photos, quality mode)."""
    half_planes = executor.rgb_half_planes(image)
    level = decisions.black_level(lambda spread: executor.sampled(half_planes, SAMPLE, spread),
                                  half, moment, grey_surface)
    offset = magenta_offset(level)
    return (image if offset is None else executor.minus(image, offset)), level


def quality(executor: Any, decisions: Decisions, image: Any, level: np.ndarray, original: Any,
            half: np.ndarray, moment: Moment | None, strength: float) -> Any:
    """denoise(R) ∘ Î of an RGB ``image`` (0-255 scale) at full resolution, times the
    per-cell colour and highlight factors and the exposure and, in video, the night
    corrections of its black ``level``, in the depth of ``original`` (the frame it came
    from) and never below the input; ``half``: the original's ``half_luma``, where light
    sources are looked for. The level's colour cast (a night graded blue or purple) is
    taken off before the nets, which take it for bright light, and put back after, in
    codes, as in ``fast_yuv``."""
    cast = cast_of(level)
    image, cast_share = executor.rgb_without_cast(image, cast)
    reflectance, illumination, enhanced = executor.decompose(image)
    if strength > 0:
        gain = enhanced / illumination.clip(EPSILON, None)
        reflectance = executor.denoise_reflectance(reflectance, gain, strength)
        del gain
    del illumination  # full-resolution planes: large photos need the memory
    output = executor.times(reflectance, enhanced)
    del reflectance, enhanced
    height, width = executor.size(image)
    grid = colour_grid(height, width)
    source_small = executor.cells(image, grid) * np.float32(1 / 255)
    # video: the brightness is decided on a copy at the fast mode's size, whose noise is
    # averaged away, so the picture does not brighten as the temporal estimate settles
    scale = default_scale(height, width)
    thumbnail = None if moment is None else executor.cells(
        image, (max(1, width // scale), max(1, height // scale)))
    ratio, factor, lift = decisions.cell_ratio(executor.cells(output, grid), source_small, half,
                                               moment, level, thumbnail)
    night = None
    if lift is not None:  # the lift's share is read on the luma the fast path smooths
        half_planes = executor.rgb_half_planes(executor.as_float(image))  # not rounded
        night = executor.filtered_planes(half_planes)[0], lift
    out = executor.finish_quality(output, ratio, factor, image, original, night)
    return out if cast_share is None else executor.rgb_with_cast(out, cast_share, cast)


def fast_yuv(executor: Any, decisions: Decisions, buffer: Any, half: np.ndarray,
             moment: Moment | None, scale: int) -> Any:
    """denoise(S) ∘ G of a yuv420p ``buffer`` (uint8, or float32 when temporally denoised)
    with the gain map G from the nets at 1/``scale``; colour, exposure, the floor and the
    night corrections folded into G at low resolution. ``half``: the frame's ``half_luma``."""
    height, width = frame_size(buffer, YUV420P)
    size = (max(1, width // scale), max(1, height // scale))
    half_yuv = executor.half_planes(buffer)
    level = decisions.black_level(lambda spread: executor.sampled(half_yuv, SAMPLE, spread),
                                  half, moment)
    cast = cast_of(level)
    half_yuv, cast_share = executor.without_cast(executor.without_bias(half_yuv, bias_of(level)),
                                                 cast)
    gains, weight, night = decisions.fast_gains(executor.small_rgb(half_yuv, size), half,
                                                moment, level)
    filtered = executor.filtered_planes(half_yuv) if weight.max() > 0 else None
    out, allowed = executor.apply_yuv_gains(planes(buffer)[0], half_yuv, gains, weight, filtered,
                                         night.lift())
    if cast_share is not None:
        out = executor.with_cast(out, cast_share, cast)
    if filtered is not None:
        out = executor.smooth_chroma(out, weight, allowed)
    return out


def fast_rgb(host: HostExecutor, decisions: Decisions, image: np.ndarray,
             original: np.ndarray, half: np.ndarray, moment: Moment | None, scale: int,
             strength: float) -> np.ndarray:
    """denoise(S) ∘ G of an RGB ``image`` (0-255 scale, black bias off) with the gain map G
    from the nets at 1/``scale``, in the depth of ``original``."""
    height, width = image.shape[:2]
    size = (max(1, width // scale), max(1, height // scale))
    gains = decisions.small_gains(host.downscale(image, size), half, moment, RGB24)
    return host.apply_rgb_gains(image, gains, strength, original)
