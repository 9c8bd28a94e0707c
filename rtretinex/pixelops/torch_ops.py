"""The torch executor: a frame's per-pixel work on the nets' torch device (a GPU, or the CPU),
with the same methods as ``host.HostExecutor``.

On a GPU the nets take a few ms a 1080p frame; the per-pixel work around them on the host
would copy full-resolution float arrays each way. Here a video frame stays on the device
from the upload of its uint8 pixels to the download of the enhanced ones; what is decided
on small arrays (``frame.decisions``) gets a few small downloads a frame. The formulas are
``reference``'s, run on tensors; the resampling reproduces OpenCV's: its fixed-point colour
conversions (bit-exact), area averaging in OpenCV's steps as small matrices, bilinear
upsampling with half-pixel centres, its bilateral, box and Gaussian filters. On "cpu" the
output matches the host executor's within a code or two; on CUDA the nets run in the
backend's precision (fp16, channels_last).

RGB images are (3, H, W) tensors here, yuv420p buffers (H·3/2, W). Frames are not tiled: the
device is expected to hold a 4K frame's nets (~6 GB in fp16).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..nets.backends import Backend
from . import reference
from .formats import (
    CHROMA_ZERO,
    RGB24,
    RGB_TO_YUV,
    Y_BLACK,
    Y_TO_LUMA,
    YUV420P,
    YUV_OFFSET,
    YUV_TO_RGB,
    area_steps,
    planes,
)

__all__ = ["OutOfMemory", "TorchExecutor", "area", "bilateral", "bilinear", "box", "device_of",
           "flat_smooth", "gaussian", "grey", "half_luma", "moved", "rgb_to_yuv420p",
           "yuv420p_to_rgb"]

# OpenCV's fixed-point BT.601 constants (20 fractional bits) for I420 ↔ RGB, and its
# RGB → grey weights (15 bits): the device's conversions give OpenCV's codes exactly.
_SHIFT = 20
_TO_RGB = {"y": 1220542, "vr": 1673527, "vg": -852492, "ug": -409993, "ub": 2116026}
_TO_Y = (269484, 528482, 102760)
_TO_U = (-155188, -305135, 460324)
_TO_V = (460324, -385875, -74448)
_GREY = (9798, 19235, 3735)
# OpenCV's 5-tap Gaussian for sigma 0 (from the size): the binomial weights, over 16.
_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)
# Bilateral filter: OpenCV's spatial sigma for the reflectance (``denoise_reflectance``).
_SIGMA_SPACE = reference.DIAMETER / 2


# What the GPU raises for a frame it has no memory for (``Enhancer.enhance`` catches it).
OutOfMemory = torch.OutOfMemoryError


def device_of(backend: object) -> torch.device | None:
    """The torch device a backend's nets run on and take tensors on, None for a backend
    without one (OpenVINO)."""
    device = getattr(backend, "device", None)
    if isinstance(device, torch.device) and hasattr(backend, "infer_tensor"):
        return device
    return None


def yuv420p_to_rgb(buffer: torch.Tensor) -> torch.Tensor:
    """(3, H, W) uint8 RGB of a yuv420p buffer (H·3/2, W) uint8, as OpenCV's I420 → RGB."""
    y, u, v = (plane.int() for plane in planes(buffer))
    u, v = (plane.repeat_interleave(2, 0).repeat_interleave(2, 1) - 128 for plane in (u, v))
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
    steps of ``formats.downscale``."""
    image = image.float()
    for width, height in area_steps(tuple(image.shape[1:]), size):
        rows = _area_matrix(image.shape[1], height, image.device)
        columns = _area_matrix(image.shape[2], width, image.device)
        image = rows @ image @ columns.T
    return image


def moved(image: torch.Tensor, shift: tuple[int, int]) -> torch.Tensor:
    """A (C, H, W) ``image`` moved by ``shift`` (x, y pixels), the strip it uncovers filled
    with its edge (``denoise.shifted``)."""
    if shift == (0, 0):
        return image
    dx, dy = shift
    height, width = image.shape[1:]
    padded = F.pad(image[None], (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)),
                   mode="replicate")[0]
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[:, top:top + height, left:left + width]


def bilinear(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) bilinear resize of a (C, h, w) float tensor to ``size`` (w, h), as
    OpenCV's INTER_LINEAR (half-pixel centres, edges clamped)."""
    return F.interpolate(image[None], size=(size[1], size[0]), mode="bilinear",
                         align_corners=False)[0]


def half_luma(rgb: torch.Tensor) -> torch.Tensor:
    """``formats.half_luma`` of (3, H, W) uint8 RGB: its luma area-averaged to half its
    width and height, uint8 (rounded half up, as OpenCV's 2 × 2 average)."""
    height, width = rgb.shape[1:]
    size = (max(1, width // 2), max(1, height // 2))
    return (area(grey(rgb)[None], size)[0] + 0.5).floor().clamp(0, 255).to(torch.uint8)


def bilateral(image: torch.Tensor, sigma_color: float,
              sigma_space: float = _SIGMA_SPACE) -> torch.Tensor:
    """OpenCV's bilateral filter (diameter reference.DIAMETER) of a (3, H, W) float32 image: the
    neighbours within the radius weighted by distance and by the L1 distance of their
    colour, borders reflected (BORDER_REFLECT_101)."""
    radius = reference.DIAMETER // 2
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


def box(image: torch.Tensor, size: int) -> torch.Tensor:
    """OpenCV's normalized box filter (size × size, BORDER_REFLECT_101) of (C, H, W)."""
    radius = size // 2
    return F.avg_pool2d(F.pad(image[None], (radius,) * 4, mode="reflect"), size, 1)[0]


def gaussian(plane: torch.Tensor) -> torch.Tensor:
    """``denoise.gaussian`` of an (H, W) plane: OpenCV's 5 × 5 Gaussian with sigma from the
    size (the binomial 1 4 6 4 1 / 16), BORDER_REFLECT_101; a uint8 plane comes back
    rounded half up to codes, as OpenCV's bit-exact filter gives it."""
    height, width = plane.shape
    padded = F.pad(plane.float()[None, None], (2, 2, 2, 2), mode="reflect")[0, 0]
    # sums of shifted copies, not a convolution: cuDNN would take fp32 convolutions in TF32
    rows = sum(weight / 16.0 * padded[:, i:i + width] for i, weight in enumerate(_BINOMIAL))
    out = sum(weight / 16.0 * rows[i:i + height] for i, weight in enumerate(_BINOMIAL))
    return (out + 0.5).floor() if plane.dtype == torch.uint8 else out


class _Resample:
    """This module's resampling of one (H, W) plane (``reference.Resampler``)."""

    @staticmethod
    def area(plane: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return area(plane[None], size)[0]

    @staticmethod
    def box(plane: torch.Tensor, window: int) -> torch.Tensor:
        return box(plane[None], window)[0]

    @staticmethod
    def ramp(plane: torch.Tensor, window: int, axis: int) -> torch.Tensor:
        radius = window // 2
        offsets = torch.arange(-radius, radius + 1, dtype=plane.dtype, device=plane.device)
        kernel = (offsets / window)[:, None].expand(window, window) / window
        kernel = kernel if axis == 0 else kernel.T
        padded = F.pad(plane[None, None], (radius,) * 4, mode="reflect")
        return F.conv2d(padded, kernel.contiguous()[None, None])[0, 0]


def _guided_upsampled(guide: torch.Tensor, sources: tuple[torch.Tensor, ...], radius: int,
                      eps: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``reference.guided_coefficients`` upsampled to the guide's size."""
    height, width = guide.shape
    return [(bilinear(a[None], (width, height))[0], bilinear(b[None], (width, height))[0])
            for a, b in reference.guided_coefficients(_Resample, guide, sources, radius, eps)]


def flat_smooth(plane: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """``host.flat_smooth``: the guided filter of an (H, W) float plane by itself."""
    (a, b), = _guided_upsampled(plane, (plane,), radius, eps)
    return a * plane + b


def _round_uint8(image: torch.Tensor) -> torch.Tensor:
    """Rounded (half to even, as OpenCV) and saturated to uint8."""
    return image.round().clamp(0, 255).to(torch.uint8)


def _buffer(y: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """A yuv420p buffer of its three planes."""
    return torch.cat([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, y.shape[1])


class TorchExecutor:
    """The frame path's operations on ``device_of(backend)`` (see the module docstring)."""

    def __init__(self, backend: Backend) -> None:
        device = device_of(backend)
        if device is None:
            raise ValueError(f"the {backend.name} backend has no torch device")
        self.backend, self.device = backend, device
        self.on_gpu = device.type == "cuda"
        self._lut = torch.from_numpy(Y_TO_LUMA).to(device)  # limited-range Y → luma
        self._pinned: tuple[tuple, torch.Tensor] | None = None  # CUDA upload staging

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    # moving frames in and out, and between formats
    def upload(self, image: np.ndarray) -> torch.Tensor:
        """A host frame as a device tensor (RGB as (3, H, W)). For CUDA it is copied through
        a page-locked buffer kept for its shape (allocating one costs more than the copy);
        reusing it is safe because every frame ends with a download, which waits for the
        upload before."""
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type == "cuda":
            key = (tensor.shape, tensor.dtype)
            if self._pinned is None or self._pinned[0] != key:
                self._pinned = (key, torch.empty(tensor.shape, dtype=tensor.dtype,
                                                 pin_memory=True))
            staging = self._pinned[1]
            staging.copy_(tensor)
            tensor = staging.to(self.device, non_blocking=True)
        return tensor.permute(2, 0, 1) if tensor.dim() == 3 else tensor

    def download(self, image: torch.Tensor) -> np.ndarray:
        if image.dim() == 3:
            image = image.permute(1, 2, 0).contiguous()
        return image.cpu().numpy()

    def to_rgb(self, buffer: torch.Tensor) -> torch.Tensor:
        return yuv420p_to_rgb(buffer)

    def from_rgb(self, image: torch.Tensor) -> torch.Tensor:
        return rgb_to_yuv420p(image)

    def half_luma(self, image: torch.Tensor, pixel_format: str = RGB24) -> np.ndarray:
        """``formats.half_luma`` of a frame on the device, on the host."""
        if pixel_format == YUV420P:
            y = planes(image)[0]
            height, width = y.shape
            return self._lut[(area(y[None], (width // 2, height // 2))[0] + 0.5).floor().long()
                             ].cpu().numpy()
        return half_luma(image).cpu().numpy()

    def size(self, image: torch.Tensor) -> tuple[int, int]:
        """(height, width) of an RGB image."""
        return image.shape[1], image.shape[2]

    # the temporal denoiser's estimate
    def as_float(self, image: torch.Tensor) -> torch.Tensor:
        return image.float()

    def temporal_update(self, state: torch.Tensor, frame: torch.Tensor, motion: Any,
                        pixel_format: str) -> torch.Tensor:
        """``reference.temporal_update`` of the estimate ``state`` (moved with the camera)
        with ``frame``: per plane for yuv420p (Y above black, the chroma around grey; k at
        chroma resolution, upsampled for Y), on all three channels for RGB."""
        k = self._tensor(motion.k)
        if pixel_format == YUV420P:
            height, width = planes(frame)[0].shape
            shares = (bilinear(k[None], (width, height))[0], k, k)
            pivots = (Y_BLACK, CHROMA_ZERO, CHROMA_ZERO)
            shifts = (motion.full_shift, motion.shift, motion.shift)
            return _buffer(*(
                reference.temporal_update(plane.float(), moved(estimate[None], by)[0], share,
                                          motion.light, pivot)
                for plane, estimate, share, pivot, by in zip(
                    planes(frame), planes(state), shares, pivots, shifts, strict=True)))
        height, width = frame.shape[1:]
        return reference.temporal_update(frame.float(), moved(state, motion.full_shift),
                                         bilinear(k[None], (width, height)), motion.light, 0.0)

    # the fast YUV path
    def half_planes(self, buffer: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``formats.half_planes``: Y area-averaged to chroma resolution (float), U, V."""
        y, u, v = planes(buffer)
        return area(y[None], (u.shape[1], u.shape[0]))[0], u, v

    def sampled(self, planes_: tuple[torch.Tensor, ...], step: int, spread: int = 1
                ) -> tuple[np.ndarray, ...]:
        """``host.HostExecutor.sampled``, on the host."""
        return tuple(reference.spread_sample(plane.float(), step, spread).cpu().numpy()
                     for plane in planes_)

    def without_bias(self, half: tuple[torch.Tensor, ...], bias: tuple[float, float]
                     ) -> tuple[torch.Tensor, ...]:
        """``host.HostExecutor.without_bias``."""
        y_half, u, v = half
        if not any(bias):
            return half
        return y_half, u.float() - bias[0], v.float() - bias[1]

    def without_cast(self, half: tuple[torch.Tensor, ...], cast: tuple[float, float]
                     ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
        """``host.HostExecutor.without_cast``."""
        if not any(cast):
            return half, None
        *chroma, share = reference.cast_removed(*(plane.float() for plane in half), cast)
        return (half[0], *chroma), share

    def with_cast(self, buffer: torch.Tensor, share: torch.Tensor, cast: tuple[float, float]
                  ) -> torch.Tensor:
        """``host.HostExecutor.with_cast`` (a new buffer)."""
        y, u, v = planes(buffer)
        u, v = (reference.cast_added(plane.float(), share, offset).to(torch.uint8)
                for plane, offset in zip((u, v), cast, strict=True))
        return _buffer(y, u, v)

    def small_rgb(self, half: tuple[torch.Tensor, ...], size: tuple[int, int]) -> np.ndarray:
        """``formats.small_rgb`` of planes on the device, on the host."""
        small_yuv = torch.stack([area(plane[None], size)[0] for plane in half])
        matrix = self._tensor(YUV_TO_RGB)
        offset = self._tensor(YUV_OFFSET)[:, None, None]
        small = torch.einsum("ij,jhw->hwi", matrix, small_yuv - offset).clamp(0.0, 255.0)
        return small.contiguous().cpu().numpy()

    def filtered_planes(self, half: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """``host.HostExecutor.filtered_planes``."""
        y_half, u, v = half
        smooth = flat_smooth(y_half.float(), reference.FLAT_RADIUS, reference.FLAT_EPS)
        smooth = reference.deblocked(smooth, reference.BLOCK_SPACING, reference.DEBLOCK_STEP,
                                     reference.DEBLOCK_FLAT)
        size = (smooth.shape[1], smooth.shape[0])
        mean, share = (bilinear(plane[None], size)[0]
                       for plane in reference.flat_means(_Resample, y_half.float()))
        return reference.mixed(smooth, mean, share), gaussian(u), gaussian(v)

    def apply_yuv_gains(self, y: torch.Tensor, half: tuple[torch.Tensor, ...],
                        gains: np.ndarray, weight: np.ndarray,
                        filtered: tuple[torch.Tensor, ...] | None, night: np.ndarray
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """``host.apply_yuv_gains``: ``reference.gains_at_chroma`` with the gains and weight
        upsampled to chroma resolution, then ``reference.composed_luma``."""
        y_half, u, v = (plane.float() for plane in half)
        smooth = tuple(plane.float() for plane in (filtered or half))
        height, width = u.shape
        small = np.concatenate([gains, weight[..., None]], axis=2).transpose(2, 0, 1)
        gain_r, gain_g, gain_b, share = bilinear(self._tensor(small), (width, height))
        out_u, out_v, detail, base, allowed = reference.gains_at_chroma(
            y_half, u, v, smooth, (gain_r, gain_g, gain_b), share, night)
        full = (y.shape[1], y.shape[0])
        out_y = reference.composed_luma(y.float(), bilinear(detail[None], full)[0],
                                        bilinear(base[None], full)[0])
        return _buffer(*(plane.to(torch.uint8) for plane in (out_y, out_u, out_v))), allowed

    def smooth_chroma(self, buffer: torch.Tensor, weight: np.ndarray, allowed: torch.Tensor
                      ) -> torch.Tensor:
        """``host.HostExecutor.smooth_chroma`` (a new buffer)."""
        y, u, v = planes(buffer)
        height, width = u.shape
        guide = (area(y[None], (width, height))[0] + 0.5).floor()
        # the weight at the coefficients' size first, as the host's single pass has it
        share = bilinear(bilinear(self._tensor(weight)[None],
                                  (max(1, width // 2), max(1, height // 2))), (width, height))[0]
        share = share * allowed
        chroma = (u.float(), v.float())
        coefficients = _guided_upsampled(guide, chroma, reference.CHROMA_RADIUS,
                                         reference.CHROMA_EPS)
        out_u, out_v = reference.chroma_smoothed(*chroma, coefficients, guide, share)
        return _buffer(y, out_u.to(torch.uint8), out_v.to(torch.uint8))

    # RGB images and quality mode
    def rgb_half_planes(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``formats.rgb_half_planes``: limited-range Y, U, V at half size."""
        height, width = image.shape[1:]
        small = area(image, (max(1, width // 2), max(1, height // 2)))
        yuv = (torch.einsum("ij,jhw->ihw", self._tensor(RGB_TO_YUV), small)
               + self._tensor(YUV_OFFSET)[:, None, None])
        return tuple(yuv)

    def rgb_without_cast(self, image: torch.Tensor, cast: tuple[float, float]
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``host.HostExecutor.rgb_without_cast``."""
        if not any(cast):
            return image, None
        rgb, share = reference.rgb_cast_removed(image.float().unbind(0), cast)
        return torch.stack(rgb), share

    def rgb_with_cast(self, image: torch.Tensor, share: torch.Tensor,
                      cast: tuple[float, float]) -> torch.Tensor:
        """``host.HostExecutor.rgb_with_cast`` (uint8 frames)."""
        rgb = reference.rgb_cast_added(image.float().unbind(0), share, cast)
        return _round_uint8(torch.stack(rgb))

    def minus(self, image: torch.Tensor, offset: np.ndarray) -> torch.Tensor:
        """An RGB image less an RGB ``offset`` (float, not below 0)."""
        return (image.float() - self._tensor(offset)[:, None, None]).clamp(min=0.0)

    def decompose(self, image: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(R, I, Î) of a whole frame: (3, H, W), (H, W), (H, W)."""
        reflectance, illumination, enhanced = (
            t[0] for t in self.backend.infer_tensor(image[None].float() / 255.0))
        return reflectance, illumination[0], enhanced[0]

    def denoise_reflectance(self, reflectance: torch.Tensor, gain: torch.Tensor,
                            strength: float) -> torch.Tensor:
        """``host.denoise_reflectance``: the bilateral filter blended in by the gain."""
        weight = reference.denoise_weight(gain, strength)
        if float(weight.max()) <= 0.0:
            return reflectance
        filtered = bilateral(reflectance, reference.R_SIGMA * strength)
        return reference.mixed(reflectance, filtered, weight)

    def times(self, reflectance: torch.Tensor, illumination: torch.Tensor) -> torch.Tensor:
        return reflectance * illumination

    def cells(self, image: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        """``host.HostExecutor.cells``, on the host."""
        return area(image, size).permute(1, 2, 0).contiguous().cpu().numpy()

    def finish_quality(self, output: torch.Tensor, ratio: np.ndarray, factor: float,
                       image: torch.Tensor, original: torch.Tensor,
                       night: tuple[torch.Tensor, np.ndarray] | None = None) -> torch.Tensor:
        """``host.HostExecutor.finish_quality`` for uint8 frames."""
        height, width = output.shape[1:]
        ratio_full = bilinear(self._tensor(ratio).permute(2, 0, 1), (width, height))
        lifted = output * ratio_full * np.float32(255.0 * factor)
        if night is not None:
            smooth_y, lift = night
            smooth_y = bilinear(smooth_y[None], (width, height))[0]
            lifted = torch.stack(reference.night_lifted(
                image.float().unbind(0), lifted.unbind(0), smooth_y, *(float(n) for n in lift)))
        eased = reference.shoulder(image.float().amax(dim=0), lifted.amax(dim=0))
        out = _round_uint8(lifted * eased)
        return torch.maximum(out, image if image.dtype == torch.uint8 else _round_uint8(image))
