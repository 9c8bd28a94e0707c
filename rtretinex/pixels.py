"""Pixel formats and the resampling the enhancer does on them.

Video decoders hand out YUV 4:2:0 and encoders take it, so fast mode enhances the planes
themselves instead of converting every frame to RGB and back. A ``yuv420p`` buffer is one
uint8 array (H·3/2, W): the Y plane, then U and V (H/2 × W/2 each), BT.601 limited range as
in OpenCV's conversions; an ``rgb24`` image is (H, W, 3).

Per-channel RGB gains do not commute with the YUV matrix (a gain on red moves Y, U and V),
so ``apply_yuv_gains`` does not scale the planes one by one: it runs the RGB path at chroma
resolution, where the chroma lives anyway, and adds Y's finer detail scaled by the luma of
the gains.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "RGB24",
    "YUV420P",
    "apply_yuv_gains",
    "as_rgb",
    "camera_frame",
    "chroma",
    "downscale",
    "frame_size",
    "from_rgb",
    "half_luma",
    "planes",
    "scale_light",
    "small_rgb",
    "to_bgr",
    "to_rgb",
]

RGB24, YUV420P = "rgb24", "yuv420p"
# BT.601 luma weights of RGB.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# BT.601 limited range, OpenCV's constants: RGB (0-255) = YUV_TO_RGB · (Y−16, U−128, V−128).
YUV_TO_RGB = np.array([[1.164, 0.0, 1.596],
                       [1.164, -0.391, -0.813],
                       [1.164, 2.018, 0.0]], np.float32)
RGB_TO_YUV = np.linalg.inv(YUV_TO_RGB).astype(np.float32)
YUV_OFFSET = np.array([16.0, 128.0, 128.0], np.float32)
# The same as affine 3×4 matrices for cv2.transform (offsets included).
_YUV_TO_RGB_AFFINE = np.hstack([YUV_TO_RGB, -(YUV_TO_RGB @ YUV_OFFSET)[:, None]])
_RGB_TO_YUV_AFFINE = np.hstack([RGB_TO_YUV, YUV_OFFSET[:, None]])
# Limited-range Y (16-235) to full-range luma (0-255), the scale the RGB path's luma has.
_Y_TO_LUMA = np.clip((np.arange(256) - 16.0) * (255.0 / 219.0) + 0.5, 0, 255).astype(np.uint8)


def frame_size(image: np.ndarray, pixel_format: str) -> tuple[int, int]:
    """(height, width) of the picture held by ``image``."""
    if pixel_format == YUV420P:
        return image.shape[0] * 2 // 3, image.shape[1]
    return image.shape[0], image.shape[1]


def planes(buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (no copies) of the Y (H, W), U and V (H/2, W/2) planes of a yuv420p buffer."""
    height, width = frame_size(buffer, YUV420P)
    flat, area, quarter = buffer.reshape(-1), height * width, height * width // 4
    chroma = (height // 2, width // 2)
    return (flat[:area].reshape(height, width), flat[area:area + quarter].reshape(chroma),
            flat[area + quarter:].reshape(chroma))


def chroma(buffer: np.ndarray) -> np.ndarray:
    """A view (H, W/2) of a yuv420p buffer's U plane stacked over its V plane."""
    height, width = frame_size(buffer, YUV420P)
    return buffer.reshape(-1)[height * width:].reshape(height, width // 2)


def scale_light(image: np.ndarray, pixel_format: str, gain: float) -> np.ndarray:
    """A float32 frame as it would look under ``gain`` times the light (RGB scales; in YUV
    Y−16 and the chroma around 128 scale)."""
    if pixel_format != YUV420P:
        return image * np.float32(gain)
    height = frame_size(image, YUV420P)[0]
    scaled = np.empty_like(image)
    scaled[:height] = (image[:height] - 16.0) * gain + 16.0
    scaled_chroma, source_chroma = chroma(scaled), chroma(image)
    scaled_chroma[...] = (source_chroma - 128.0) * gain + 128.0
    return scaled


def camera_frame(image: np.ndarray, bgr: bool = False) -> tuple[np.ndarray, str]:
    """A camera's picture (RGB, or OpenCV's BGR) in the video path's format, with that
    format's name: yuv420p when its sides are even (fast mode works on the planes), RGB
    otherwise."""
    if image.shape[0] % 2 or image.shape[1] % 2:
        return (cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr else image), RGB24
    code = cv2.COLOR_BGR2YUV_I420 if bgr else cv2.COLOR_RGB2YUV_I420
    return cv2.cvtColor(image, code), YUV420P


def to_rgb(buffer: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8 of a yuv420p buffer."""
    return cv2.cvtColor(buffer, cv2.COLOR_YUV2RGB_I420)


def as_rgb(image: np.ndarray, pixel_format: str) -> np.ndarray:
    """RGB (H, W, 3) of a frame in either format (an RGB frame as it is)."""
    return to_rgb(image) if pixel_format == YUV420P else image


def to_bgr(image: np.ndarray, pixel_format: str) -> np.ndarray:
    """BGR (H, W, 3) uint8 of a frame, for OpenCV windows."""
    if pixel_format == YUV420P:
        return cv2.cvtColor(image, cv2.COLOR_YUV2BGR_I420)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def from_rgb(image: np.ndarray) -> np.ndarray:
    """yuv420p buffer of an RGB uint8 image with even sides."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420)


def downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average ``image`` to ``size`` (w, h). OpenCV's area resize is ~4× faster for an
    integer factor, so a non-integer one is split: first by the largest integer factor that
    divides both sides, then the small rest (720p → 106×60: 0.9 instead of 2.5 ms)."""
    height, width = image.shape[:2]
    if width % size[0] or height % size[1]:
        step = max((k for k in range(2, width // size[0] // 2 + 1)
                    if width % k == 0 and height % k == 0), default=1)
        if step > 1:
            image = cv2.resize(image, (width // step, height // step),
                               interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def half_luma(image: np.ndarray, pixel_format: str = RGB24) -> np.ndarray:
    """Full-range luma of a frame (RGB uint8/uint16, or a yuv420p buffer), area-averaged to
    half its width and height, same dtype: what the temporal denoiser's motion test, the
    scene-cut detector and the enhancer's light-source search look at (once a frame)."""
    height, width = frame_size(image, pixel_format)
    half = (max(1, width // 2), max(1, height // 2))
    if pixel_format == YUV420P:
        return cv2.LUT(cv2.resize(planes(image)[0], half, interpolation=cv2.INTER_AREA),
                       _Y_TO_LUMA)
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), half,
                      interpolation=cv2.INTER_AREA)


def small_rgb(buffer: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A yuv420p buffer (uint8 or float32) area-averaged to ``size`` (w, h) as float32 RGB
    on the 0-255 scale: what the nets see in fast mode."""
    yuv = cv2.merge([np.float32(downscale(plane, size)) for plane in planes(buffer)])
    return np.clip(cv2.transform(yuv, _YUV_TO_RGB_AFFINE), 0.0, 255.0)


def apply_yuv_gains(y: np.ndarray, u: np.ndarray, v: np.ndarray, gains: np.ndarray,
                    detail: np.ndarray | None = None) -> np.ndarray:
    """The yuv420p buffer (uint8) of planes ``y`` (H, W), ``u``, ``v`` (H/2, W/2; uint8 or
    float32, 0-255) with the low-resolution RGB ``gains`` (h, w, 3) applied (upsampled
    bilinearly), as the RGB path would: the RGB path runs at chroma resolution (RGB from Y
    averaged there, U and V; gains; clipping; back to YUV), which gives U', V' and the
    low-frequency part of Y'; Y's detail above chroma resolution is added scaled by the
    luma of the gains, and by ``detail`` (h, w; 0-1, default 1), the share of that fine
    detail to keep (less than 1 denoises the luma at no extra cost)."""
    height, width = y.shape
    chroma = (u.shape[1], u.shape[0])
    y_half = np.float32(cv2.resize(y, chroma, interpolation=cv2.INTER_AREA))
    gain_half = cv2.resize(gains, chroma, interpolation=cv2.INTER_LINEAR)
    rgb = cv2.multiply(cv2.transform(cv2.merge([y_half, np.float32(u), np.float32(v)]),
                                     _YUV_TO_RGB_AFFINE), gain_half)
    np.clip(rgb, 0.0, 255.0, out=rgb)
    out_half = cv2.transform(rgb, _RGB_TO_YUV_AFFINE)
    detail_gain = gains @ LUMA if detail is None else (gains @ LUMA) * detail
    detail_half = cv2.resize(detail_gain, chroma, interpolation=cv2.INTER_LINEAR)
    # the low-frequency rest, rounded to int16 (a faster upsample than float; gains stay
    # below 128, so |base| < 32768)
    base = cv2.subtract(cv2.extractChannel(out_half, 0), cv2.multiply(detail_half, y_half),
                        dtype=cv2.CV_16S)
    out = np.empty((height * 3 // 2, width), np.uint8)
    out_y, out_u, out_v = planes(out)
    detail_full, base_full = (cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
                              for m in (detail_gain, base))
    cv2.add(cv2.multiply(y, detail_full, dtype=cv2.CV_32F), base_full, dst=out_y,
            dtype=cv2.CV_8U)
    out_uv = cv2.convertScaleAbs(out_half)  # rounded; in range after the RGB clip
    out_u[...], out_v[...] = cv2.extractChannel(out_uv, 1), cv2.extractChannel(out_uv, 2)
    return out
