"""Pixel formats and the resampling the enhancer does on them.

Video decoders hand out YUV 4:2:0 and encoders take it, so fast mode enhances the planes
themselves instead of converting every frame to RGB and back. A ``yuv420p`` buffer is one
uint8 array (H·3/2, W): the Y plane, then U and V (H/2 × W/2 each), BT.601 limited range as
in OpenCV's conversions; an ``rgb24`` image is (H, W, 3).

The colour constants are owned here: BT.601 luma weights, OpenCV's limited-range matrices,
the limited range's black and chroma zero.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "CHROMA_ZERO",
    "LUMA",
    "RGB24",
    "RGB_TO_YUV",
    "YUV420P",
    "YUV_OFFSET",
    "YUV_TO_RGB",
    "Y_BLACK",
    "Y_TO_FULL",
    "Y_TO_LUMA",
    "area_steps",
    "as_rgb",
    "camera_frame",
    "chroma_in_rgb",
    "downscale",
    "even_size",
    "even_yuv420p",
    "frame_size",
    "from_rgb",
    "grey_like",
    "half_luma",
    "half_planes",
    "is_grey",
    "planes",
    "rgb_half_planes",
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
# Limited range: Y's black and the chroma planes' zero (codes), and Y's step on the full range.
Y_BLACK, CHROMA_ZERO = 16.0, 128.0
Y_TO_FULL = 255.0 / 219.0
YUV_OFFSET = np.array([Y_BLACK, CHROMA_ZERO, CHROMA_ZERO], np.float32)
# The same as affine 3×4 matrices for cv2.transform (offsets included).
_YUV_TO_RGB_AFFINE = np.hstack([YUV_TO_RGB, -(YUV_TO_RGB @ YUV_OFFSET)[:, None]])
_RGB_TO_YUV_AFFINE = np.hstack([RGB_TO_YUV, YUV_OFFSET[:, None]])
# Limited-range Y (16-235) to full-range luma (0-255), the scale the RGB path's luma has.
Y_TO_LUMA = np.clip((np.arange(256) - Y_BLACK) * Y_TO_FULL + 0.5, 0, 255).astype(np.uint8)


def chroma_in_rgb(offset: np.ndarray) -> np.ndarray:
    """The RGB change (3, 0-255 scale) of a chroma ``offset`` (U, V codes): luma unchanged."""
    return YUV_TO_RGB[:, 1:] @ np.asarray(offset, np.float32)


def frame_size(image: np.ndarray, pixel_format: str) -> tuple[int, int]:
    """(height, width) of the picture held by ``image``."""
    if pixel_format == YUV420P:
        return image.shape[0] * 2 // 3, image.shape[1]
    return image.shape[0], image.shape[1]


def planes(buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (no copies) of the Y (H, W), U and V (H/2, W/2) planes of a yuv420p buffer (an
    array, or a torch tensor)."""
    height, width = frame_size(buffer, YUV420P)
    flat, area, quarter = buffer.reshape(-1), height * width, height * width // 4
    chroma = (height // 2, width // 2)
    return (flat[:area].reshape(height, width), flat[area:area + quarter].reshape(chroma),
            flat[area + quarter:].reshape(chroma))


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


def is_grey(image: np.ndarray, pixel_format: str = RGB24) -> bool:
    """Whether a frame has no colour at all: R = G = B in every pixel, or U and V at zero
    (a black-and-white photo, an infrared camera's picture)."""
    if pixel_format == YUV420P:
        chroma = image[frame_size(image, YUV420P)[0]:]
        return not cv2.countNonZero(cv2.absdiff(chroma, CHROMA_ZERO))
    red, green, blue = cv2.split(image)
    return not (cv2.countNonZero(cv2.absdiff(red, green))
                or cv2.countNonZero(cv2.absdiff(green, blue)))


def grey_like(image: np.ndarray, pixel_format: str = RGB24) -> np.ndarray:
    """A frame's luma without its colour, in its format and depth (RGB: the luma in all
    three channels)."""
    if pixel_format == YUV420P:
        grey = image.copy()
        grey[frame_size(image, YUV420P)[0]:] = CHROMA_ZERO
        return grey
    return cv2.merge([cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)] * 3)


def even_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) rounded up to even sides, which yuv420p needs."""
    return width + width % 2, height + height % 2


def even_yuv420p(image: np.ndarray, pixel_format: str, size: tuple[int, int]) -> np.ndarray:
    """A frame (RGB uint8 or a yuv420p buffer) as a yuv420p buffer of ``size`` (w, h, both
    even): as it is when it has that size already; else scaled to it (a stream that changed
    size) or with its odd last row and column repeated."""
    height, width = frame_size(image, pixel_format)
    if pixel_format == YUV420P and (width, height) == size:
        return image
    if pixel_format == YUV420P:
        image = to_rgb(image)
    if even_size(width, height) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    elif width % 2 or height % 2:
        image = cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
    # OpenCV's BT.601 RGB → I420: several times faster than swscale's, and round-trips at
    # least as closely
    return from_rgb(image)


def downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average ``image`` to ``size`` (w, h), in the steps of ``area_steps``."""
    for step in area_steps(image.shape[:2], size):
        image = cv2.resize(image, step, interpolation=cv2.INTER_AREA)
    return image


def area_steps(shape: tuple[int, int], size: tuple[int, int]) -> list[tuple[int, int]]:
    """The sizes (w, h) an area downscale of an image of ``shape`` (h, w) to ``size`` goes
    through. OpenCV's area resize is ~4× faster for an integer factor, so a non-integer one
    is split: first by the largest integer factor that divides both sides, then the small
    rest."""
    height, width = shape
    if width % size[0] or height % size[1]:
        step = max((k for k in range(2, width // size[0] // 2 + 1)
                    if width % k == 0 and height % k == 0), default=1)
        if step > 1:
            return [(width // step, height // step), size]
    return [size]


def half_luma(image: np.ndarray, pixel_format: str = RGB24) -> np.ndarray:
    """Full-range luma of a frame (RGB uint8/uint16, or a yuv420p buffer), area-averaged to
    half its width and height, same dtype: what the temporal denoiser's motion test, the
    scene-cut detector and the enhancer's light-source search look at (once a frame)."""
    height, width = frame_size(image, pixel_format)
    half = (max(1, width // 2), max(1, height // 2))
    if pixel_format == YUV420P:
        return cv2.LUT(cv2.resize(planes(image)[0], half, interpolation=cv2.INTER_AREA),
                       Y_TO_LUMA)
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), half,
                      interpolation=cv2.INTER_AREA)


def half_planes(buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The planes of a yuv420p buffer (uint8 or float32) at chroma resolution: Y
    area-averaged there (float32: its fractions matter once amplified), U and V."""
    y, u, v = planes(buffer)
    return cv2.resize(np.float32(y), (u.shape[1], u.shape[0]), interpolation=cv2.INTER_AREA), u, v


def rgb_half_planes(image: np.ndarray) -> tuple[np.ndarray, ...]:
    """An RGB image (0-255 scale, any dtype) as ``half_planes`` would give its yuv420p
    buffer: limited-range Y, U and V at half its width and height, float32."""
    half = (max(1, image.shape[1] // 2), max(1, image.shape[0] // 2))
    # averaged in the image's own type: no full-size float copy of a large photo
    small = np.float32(cv2.resize(image, half, interpolation=cv2.INTER_AREA))
    return tuple(cv2.split(cv2.transform(small, _RGB_TO_YUV_AFFINE)))


def small_rgb(half: tuple[np.ndarray, ...], size: tuple[int, int]) -> np.ndarray:
    """A frame's ``half_planes`` area-averaged to ``size`` (w, h) as float32 RGB on the
    0-255 scale: what the nets see in fast mode."""
    yuv = cv2.merge([downscale(plane.astype(np.float32, copy=False), size) for plane in half])
    return np.clip(cv2.transform(yuv, _YUV_TO_RGB_AFFINE), 0.0, 255.0)
