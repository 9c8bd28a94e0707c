"""Quality mode with the whole frame on the nets' torch device.

On a GPU the nets take ~5 ms a 1080p frame, but the per-pixel work around them ran on the
host in NumPy/OpenCV with full-resolution float arrays copied each way (enhance 105 ms a
frame on an H200). ``DevicePath`` keeps a video frame on the device from the upload of its
uint8 planes to the download of the enhanced ones: YUV → RGB, the temporal denoiser's
blend, the black level's magenta, the nets, the reflectance's bilateral denoise, R ∘ Î, the
per-cell colour, highlight and exposure factors applied, the floor at the input, RGB → YUV.

What is decided on small arrays stays the enhancer's own code, fed three small downloads a
frame (the half-resolution luma, every 8th pixel of the half-resolution YUV, the frame
averaged over its colour cells): scene cuts, the noise level, the denoiser's motion share,
the black level, the colour and highlight factors, the auto-exposure. So one set of
decisions serves both paths, and the pixel work here reproduces the host's: OpenCV's own
fixed-point colour conversions (bit-exact), area averaging in OpenCV's steps as small
matrices, bilinear upsampling with half-pixel centres, OpenCV's bilateral filter. On "cpu"
the path matches the NumPy path within a code or two (``tests/test_device.py``); on CUDA
the nets run in the backend's precision (fp16, channels_last).

Frames are not tiled: the device is expected to hold a 4K frame's nets (~6 GB in fp16).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .denoise import DIAMETER, denoise_weight, noise_sigma
from .enhancer import EPSILON, R_SIGMA, Enhancer, _Moment, colour_grid
from .frames import VideoFrame
from .night import SAMPLE, BlackLevel, magenta_offset
from .pixels import RGB_TO_YUV, YUV420P, YUV_OFFSET, area_steps

__all__ = ["DevicePath", "area", "bilateral", "bilinear", "device_of", "half_luma",
           "rgb_to_yuv420p", "yuv420p_to_rgb"]

# OpenCV's fixed-point BT.601 constants (20 fractional bits) for I420 ↔ RGB, and its
# RGB → grey weights (15 bits): the device's conversions give OpenCV's codes exactly.
_SHIFT = 20
_TO_RGB = {"y": 1220542, "vr": 1673527, "vg": -852492, "ug": -409993, "ub": 2116026}
_TO_Y = (269484, 528482, 102760)
_TO_U = (-155188, -305135, 460324)
_TO_V = (460324, -385875, -74448)
_GREY = (9798, 19235, 3735)
# Bilateral filter: OpenCV's spatial sigma for the reflectance (``denoise_reflectance``).
_SIGMA_SPACE = DIAMETER / 2


def device_of(backend: object) -> torch.device | None:
    """The torch device a backend's nets run on and take tensors on, None for a backend
    without one (OpenVINO)."""
    device = getattr(backend, "device", None)
    if isinstance(device, torch.device) and hasattr(backend, "infer_tensor"):
        return device
    return None


def yuv420p_to_rgb(buffer: torch.Tensor) -> torch.Tensor:
    """(3, H, W) uint8 RGB of a yuv420p buffer (H·3/2, W) uint8, as OpenCV's I420 → RGB."""
    height, width = buffer.shape[0] * 2 // 3, buffer.shape[1]
    flat = buffer.reshape(-1).int()
    area_, quarter = height * width, height * width // 4
    y = flat[:area_].reshape(height, width)
    u, v = (flat[area_ + i * quarter:area_ + (i + 1) * quarter].reshape(height // 2, width // 2)
            .repeat_interleave(2, 0).repeat_interleave(2, 1) - 128 for i in (0, 1))
    y = (y - 16).clamp(min=0) * _TO_RGB["y"]
    half = 1 << (_SHIFT - 1)
    r = (y + _TO_RGB["vr"] * v + half) >> _SHIFT
    g = (y + _TO_RGB["vg"] * v + _TO_RGB["ug"] * u + half) >> _SHIFT
    b = (y + _TO_RGB["ub"] * u + half) >> _SHIFT
    return torch.stack([r, g, b]).clamp(0, 255).to(torch.uint8)


def rgb_to_yuv420p(rgb: torch.Tensor) -> torch.Tensor:
    """The yuv420p buffer (H·3/2, W) uint8 of (3, H, W) uint8 RGB with even sides, as
    OpenCV's RGB → I420 (chroma from the top-left pixel of each 2×2 block)."""
    r, g, b = rgb.int()
    half = 1 << (_SHIFT - 1)

    def plane(weights: tuple[int, int, int], offset: int, rr, gg, bb) -> torch.Tensor:
        value = weights[0] * rr + weights[1] * gg + weights[2] * bb + (offset << _SHIFT) + half
        return (value >> _SHIFT).clamp(0, 255).to(torch.uint8).reshape(-1)

    corner = (r[::2, ::2], g[::2, ::2], b[::2, ::2])
    parts = (plane(_TO_Y, 16, r, g, b), plane(_TO_U, 128, *corner), plane(_TO_V, 128, *corner))
    return torch.cat(parts).reshape(-1, rgb.shape[2])


def grey(rgb: torch.Tensor) -> torch.Tensor:
    """(H, W) uint8 luma of (3, H, W) uint8 RGB, as OpenCV's RGB → GRAY."""
    r, g, b = rgb.int()
    return ((_GREY[0] * r + _GREY[1] * g + _GREY[2] * b + (1 << 14)) >> 15).to(torch.uint8)


@lru_cache(maxsize=64)
def _area_matrix(size_in: int, size_out: int, device: torch.device) -> torch.Tensor:
    """(size_out, size_in) weights of OpenCV's area downscale along one axis: each output
    pixel averages the input span it covers, partly covered pixels by their share."""
    scale = size_in / size_out
    starts = torch.arange(size_out, dtype=torch.float64) * scale
    edges = torch.arange(size_in + 1, dtype=torch.float64)
    low = torch.maximum(edges[None, :-1], starts[:, None])
    high = torch.minimum(edges[None, 1:], starts[:, None] + scale)
    return ((high - low).clamp(min=0) / scale).float().to(device)


def area(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, h, w) float32 area average of a (C, H, W) tensor to ``size`` (w, h), in the
    steps of ``pixels.downscale``."""
    image = image.float()
    for width, height in area_steps(tuple(image.shape[1:]), size):
        rows = _area_matrix(image.shape[1], height, image.device)
        columns = _area_matrix(image.shape[2], width, image.device)
        image = rows @ image @ columns.T
    return image


def bilinear(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) bilinear resize of a (C, h, w) float tensor to ``size`` (w, h), as
    OpenCV's INTER_LINEAR (half-pixel centres, edges clamped)."""
    return F.interpolate(image[None], size=(size[1], size[0]), mode="bilinear",
                         align_corners=False)[0]


def half_luma(rgb: torch.Tensor) -> torch.Tensor:
    """``pixels.half_luma`` of (3, H, W) uint8 RGB: its luma area-averaged to half its
    width and height, uint8 (rounded half up, as OpenCV's 2 × 2 average)."""
    height, width = rgb.shape[1:]
    size = (max(1, width // 2), max(1, height // 2))
    return (area(grey(rgb)[None], size)[0] + 0.5).floor().clamp(0, 255).to(torch.uint8)


def bilateral(image: torch.Tensor, sigma_color: float,
              sigma_space: float = _SIGMA_SPACE) -> torch.Tensor:
    """OpenCV's bilateral filter (diameter DIAMETER) of a (3, H, W) float32 image: the
    neighbours within the radius weighted by distance and by the L1 distance of their
    colour, borders reflected (BORDER_REFLECT_101)."""
    radius = DIAMETER // 2
    height, width = image.shape[1:]
    padded = F.pad(image[None], (radius,) * 4, mode="reflect")[0]
    colour_coeff = -0.5 / (sigma_color * sigma_color)
    total = torch.zeros_like(image)
    weights = torch.zeros_like(image[0])
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            distance = math.sqrt(dy * dy + dx * dx)
            if distance > radius:
                continue
            near = padded[:, radius + dy:radius + dy + height, radius + dx:radius + dx + width]
            difference = (near - image).abs().sum(0)
            weight = torch.exp(difference * difference * colour_coeff
                               - distance * distance / (2 * sigma_space * sigma_space))
            total += near * weight
            weights += weight
    return total / weights


def _round_uint8(image: torch.Tensor) -> torch.Tensor:
    """Rounded (half to even, as OpenCV) and saturated to uint8."""
    return image.round().clamp(0, 255).to(torch.uint8)


class DevicePath:
    """Quality mode for one stream's video frames on ``device_of(enhancer.backend)``, with
    the enhancer's own state and decisions (see the module docstring)."""

    def __init__(self, enhancer: Enhancer) -> None:
        device = device_of(enhancer.backend)
        if device is None:
            raise ValueError(f"the {enhancer.backend.name} backend has no torch device")
        self.enhancer, self.device = enhancer, device
        self.state: torch.Tensor | None = None  # the temporal denoiser's estimate

    def upload(self, image: np.ndarray) -> torch.Tensor:
        """A host frame as a device tensor (pinned memory first for CUDA)."""
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor

    @torch.inference_mode()
    def enhance(self, frame: VideoFrame) -> np.ndarray:
        """The enhanced frame (uint8, the frame's pixel format) of the stream's next
        frame, as ``Enhancer.enhance`` gives it in quality mode."""
        enhancer, fmt = self.enhancer, frame.pixel_format
        pixels = self.upload(frame.image)
        rgb = yuv420p_to_rgb(pixels) if fmt == YUV420P else pixels.permute(2, 0, 1)
        half = half_luma(rgb).cpu().numpy()
        noise = noise_sigma(half)
        cut = enhancer.cuts(half, noise)
        moment = _Moment(frame.time, cut, noise)
        image = self._temporal(rgb, half, cut, noise)
        image = self._neutral_blacks(image, moment)
        out = self._quality(image, half, moment)
        if fmt == YUV420P:
            return rgb_to_yuv420p(out).cpu().numpy()
        return out.permute(1, 2, 0).contiguous().cpu().numpy()

    def reset(self) -> None:
        self.state = None

    def _temporal(self, rgb: torch.Tensor, half: np.ndarray, cut: bool, noise: float
                  ) -> torch.Tensor:
        """The temporal denoiser's estimate (float32) of the frame, or the frame itself
        (uint8) when it is off; the motion share is the denoiser's own."""
        denoiser = self.enhancer.temporal_denoiser
        if not denoiser.enabled:
            return rgb
        motion = denoiser.motion(half, cut, tuple(rgb.shape), noise)
        if motion is None or self.state is None:
            self.state = rgb.float()
            return self.state
        k_small, light = motion
        height, width = rgb.shape[1:]
        k = bilinear(torch.from_numpy(k_small).to(self.device)[None], (width, height))
        previous = self.state if light == 1.0 else self.state * light
        self.state = rgb.float() * k + previous * (1.0 - k)
        return self.state

    def _neutral_blacks(self, image: torch.Tensor, moment: _Moment) -> torch.Tensor:
        """The frame with the black level's magenta taken off (``night.neutral_blacks_rgb``;
        the level measured on every SAMPLE-th pixel of its half-resolution YUV)."""
        height, width = image.shape[1:]
        small = area(image, (max(1, width // 2), max(1, height // 2)))[:, ::SAMPLE, ::SAMPLE]
        matrix = torch.from_numpy(RGB_TO_YUV).to(self.device)
        offset = torch.from_numpy(YUV_OFFSET).to(self.device)[:, None, None]
        samples = (torch.einsum("ij,jhw->ihw", matrix, small) + offset).cpu().numpy()
        level = self.enhancer.blacks.follow(BlackLevel.from_samples(*samples), moment.time,
                                            moment.cut)
        offset = magenta_offset(level)
        if offset is None:
            return image
        return (image.float() - torch.from_numpy(offset).to(self.device)[:, None, None]
                ).clamp(min=0.0)

    def _quality(self, image: torch.Tensor, half: np.ndarray, moment: _Moment
                 ) -> torch.Tensor:
        """``Enhancer._quality`` on the device: (3, H, W) uint8 RGB."""
        enhancer = self.enhancer
        height, width = image.shape[1:]
        reflectance, illumination, enhanced = (
            t[0] for t in enhancer.backend.infer_tensor(image[None].float() / 255.0))
        strength = enhancer.settings.denoise
        if strength > 0:
            weight = denoise_weight(enhanced[0] / illumination[0].clamp(min=EPSILON),
                                    strength)
            if float(weight.max()) > 0.0:
                filtered = bilateral(reflectance, R_SIGMA * strength)
                reflectance = filtered * weight + reflectance * (1.0 - weight)
        output = reflectance * enhanced
        grid = colour_grid(height, width)
        source_small = (area(image, grid) / 255.0).permute(1, 2, 0).cpu().numpy()
        output_small = area(output, grid).permute(1, 2, 0).contiguous().cpu().numpy()
        ratio, factor = enhancer.cell_ratio(output_small, source_small, half, moment)
        ratio_full = bilinear(torch.from_numpy(ratio).to(self.device).permute(2, 0, 1),
                              (width, height))
        out = _round_uint8(output * ratio_full * np.float32(255.0 * factor))
        return torch.maximum(out, image if image.dtype == torch.uint8 else _round_uint8(image))
