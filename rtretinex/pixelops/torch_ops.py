"""Video frames on the nets' torch device, in both modes.

On a GPU the nets take ~5 ms a 1080p frame, but the per-pixel work around them ran on the
host in NumPy/OpenCV with full-resolution float arrays copied each way (enhance 105 ms a
frame on an H200). ``DevicePath`` keeps a video frame on the device from the upload of its
uint8 pixels to the download of the enhanced ones. Quality mode (RGB or yuv420p frames):
YUV → RGB, the temporal denoiser's blend, the black level's magenta, the nets, the
reflectance's bilateral denoise, R ∘ Î, the per-cell colour, highlight and exposure factors
applied, the floor at the input, RGB → YUV. Fast mode (yuv420p frames): the temporal
update of the planes, the half-resolution planes and the small frame the nets see, the
flat-area smoothing, deblocking and chroma filter, the gains applied at chroma resolution
and the luma composed (``pixels.apply_yuv_gains``), the output's chroma smoothed where the
gain is high (``night.smooth_chroma``).

What is decided on small arrays stays the enhancer's own code, fed a few small downloads a
frame (the half-resolution luma, every SAMPLE-th pixel of the half-resolution YUV, the
frame averaged over its colour cells or scaled to the nets' small input): scene cuts, the
noise level, the denoiser's motion share, the black level, the nets' schedule and gain
grid in fast mode, the colour and highlight factors, the auto-exposure. So one set of
decisions serves both paths, and the pixel work here reproduces the host's: OpenCV's own
fixed-point colour conversions (bit-exact), area averaging in OpenCV's steps as small
matrices, bilinear upsampling with half-pixel centres, OpenCV's bilateral, box and
Gaussian filters. On "cpu" the path matches the NumPy path within a code or two
(``tests/test_device.py``); on CUDA the nets run in the backend's precision (fp16,
channels_last).

Frames are not tiled in quality mode: the device is expected to hold a 4K frame's nets
(~6 GB in fp16). RGB frames in fast mode (video with odd sizes) take the host path.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..frame.denoise import DIAMETER, denoise_weight, noise_sigma
from ..frame.enhancer import EPSILON, R_SIGMA, Enhancer, Moment, colour_grid
from ..frame.night import (
    BLOCK_SPACING,
    CHROMA_EPS,
    CHROMA_RADIUS,
    DEBLOCK_FLAT,
    DEBLOCK_STEP,
    FLAT_EPS,
    FLAT_RADIUS,
    SAMPLE,
    BlackLevel,
    magenta_offset,
)
from ..video.frames import VideoFrame
from .formats import (
    LUMA,
    RGB_TO_YUV,
    Y_TO_LUMA,
    YUV420P,
    YUV_OFFSET,
    YUV_TO_RGB,
    area_steps,
    frame_size,
    planes,
)

__all__ = ["DevicePath", "OutOfMemory", "apply_yuv_gains", "area", "bilateral", "bilinear",
           "box", "deblock", "device_of", "flat_smooth", "gaussian", "grey", "guided_filter",
           "half_luma", "rgb_to_yuv420p", "smooth_chroma", "yuv420p_to_rgb"]

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
_SIGMA_SPACE = DIAMETER / 2


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
    steps of ``pixels.downscale``."""
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


def guided_filter(guide: torch.Tensor, sources: tuple[torch.Tensor, ...], radius: int,
                  eps: float) -> list[torch.Tensor]:
    """``denoise.guided_filter`` (the fast guided filter) of (H, W) ``sources`` by ``guide``."""
    height, width = guide.shape
    size = (max(1, width // 2), max(1, height // 2))
    window = 2 * radius + 1
    small = area(guide[None], size)
    mean = box(small, window)
    variance = box(small * small, window) - mean * mean + max(eps, 1e-6)
    out = []
    for source in sources:
        small_source = small if source is guide else area(source[None], size)
        mean_source = box(small_source, window)
        a = (box(small * small_source, window) - mean * mean_source) / variance
        b = mean_source - a * mean
        a, b = (bilinear(box(c, window), (width, height))[0] for c in (a, b))
        out.append(a * guide + b)
    return out


def flat_smooth(plane: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """``denoise.flat_smooth``: the guided filter of an (H, W) plane by itself."""
    return guided_filter(plane, (plane,), radius, eps)[0]


def smooth_chroma(buffer: torch.Tensor, weight: np.ndarray) -> torch.Tensor:
    """``night.smooth_chroma`` of a yuv420p uint8 ``buffer`` (a new buffer)."""
    y, u, v = planes(buffer)
    height, width = u.shape
    guide = (area(y[None], (width, height))[0] + 0.5).floor()
    # the weight at the coefficients' size first, as the host's single pass has it
    share = bilinear(bilinear(torch.from_numpy(weight).to(buffer.device)[None],
                              (max(1, width // 2), max(1, height // 2))), (width, height))[0]
    chroma = (u.float(), v.float())
    smooth = guided_filter(guide, chroma, CHROMA_RADIUS, CHROMA_EPS)
    out_u, out_v = (_round_uint8(old + share * (new - old))
                    for old, new in zip(chroma, smooth, strict=True))
    return torch.cat([y.reshape(-1), out_u.reshape(-1), out_v.reshape(-1)]).reshape(
        -1, buffer.shape[1])


def deblock(plane: torch.Tensor, spacing: int, step_max: float, flat_max: float
            ) -> torch.Tensor:
    """``kernels.deblock`` of an (H, W) float plane (a new plane): column boundaries, then
    row boundaries, each a ramp where a small step separates two flat sides."""
    plane = plane.clone()
    for view in (plane, plane.T):  # the transposed view's columns are the plane's rows
        at = torch.arange(spacing, view.shape[1] - 1, spacing, device=plane.device)
        p1, p0, q0, q1 = (view[:, at + offset] for offset in (-2, -1, 0, 1))
        low = (p1 + p0) * 0.5
        step = (q0 + q1) * 0.5 - low
        ramp = (((p1 - p0).abs() < flat_max) & ((q1 - q0).abs() < flat_max)
                & (step.abs() < step_max))
        eighth = step * 0.125
        for offset, share in ((-2, 1), (-1, 3), (0, 5), (1, 7)):
            view[:, at + offset] = torch.where(ramp, low + share * eighth,
                                               view[:, at + offset])
    return plane


def _lift_share(luma: torch.Tensor, black: float, knee: float) -> torch.Tensor:
    """``kernels._lift_share``: the share of its lift a pixel at ``luma`` gets."""
    excess = (luma - black).clamp(min=0.0)
    return (excess * excess / ((excess + knee) * luma).clamp(min=1e-6)).clamp(max=1.0)


def apply_yuv_gains(y: torch.Tensor, half: tuple[torch.Tensor, ...], gains: np.ndarray,
                    weight: np.ndarray, filtered: tuple[torch.Tensor, ...] | None,
                    night: np.ndarray) -> torch.Tensor:
    """``pixels.apply_yuv_gains`` on the device: the yuv420p buffer (uint8) of a frame's Y
    plane and ``half_planes`` with the low-resolution RGB ``gains`` and denoise ``weight``
    applied (``kernels.gains_at_chroma``, then ``compose_luma``)."""
    y_half, u, v = (plane.float() for plane in half)
    y_smooth, u_smooth, v_smooth = (plane.float() for plane in (filtered or half))
    height, width = u.shape
    small = np.concatenate([gains, weight[..., None]], axis=2).transpose(2, 0, 1)
    maps = bilinear(torch.from_numpy(np.ascontiguousarray(small)).to(y.device), (width, height))
    gain_r, gain_g, gain_b, share = maps
    to_rgb, to_yuv = YUV_TO_RGB.tolist(), RGB_TO_YUV.tolist()
    lr, lg, lb = LUMA.tolist()
    black, knee, saturated = (float(n) for n in night)
    y0 = y_half + share * (y_smooth - y_half) - 16.0
    u0 = u + share * (u_smooth - u) - 128.0
    v0 = v + share * (v_smooth - v) - 128.0
    lift = _lift_share(to_rgb[0][0] * y0, black, knee)  # 255/219 · (Y − 16): full-range luma
    lifts = [1.0 + (gain - 1.0) * lift for gain in (gain_r, gain_g, gain_b)]
    red, green, blue = (((row[0] * y0 + row[1] * u0 + row[2] * v0) * channel_lift).clamp(0, 255)
                        for row, channel_lift in zip(to_rgb, lifts, strict=True))
    detail = (lr * lifts[0] + lg * lifts[1] + lb * lifts[2]) * (1.0 - share)
    base = to_yuv[0][0] * red + to_yuv[0][1] * green + to_yuv[0][2] * blue + 16.0 - detail * y_half
    rolled = (saturated / torch.minimum(torch.minimum(gain_r, gain_g), gain_b).clamp(
        min=1e-6)).clamp(max=1.0) if saturated > 0 else 1.0
    out_u, out_v = (_round_uint8((row[0] * red + row[1] * green + row[2] * blue) * rolled
                                 + 128.0) for row in to_yuv[1:])
    full = (y.shape[1], y.shape[0])
    out_y = _round_uint8(y.float() * bilinear(detail[None], full)[0]
                         + bilinear(base[None], full)[0])
    return torch.cat([out_y.reshape(-1), out_u.reshape(-1), out_v.reshape(-1)]).reshape(
        -1, y.shape[1])


def _round_uint8(image: torch.Tensor) -> torch.Tensor:
    """Rounded (half to even, as OpenCV) and saturated to uint8."""
    return image.round().clamp(0, 255).to(torch.uint8)


class DevicePath:
    """One stream's video frames enhanced on ``device_of(enhancer.backend)``, in the
    enhancer's mode, with its own state and decisions (see the module docstring)."""

    def __init__(self, enhancer: Enhancer) -> None:
        device = device_of(enhancer.backend)
        if device is None:
            raise ValueError(f"the {enhancer.backend.name} backend has no torch device")
        self.enhancer, self.device = enhancer, device
        self._lut = torch.from_numpy(Y_TO_LUMA).to(device)  # limited-range Y → luma
        self._pinned: tuple[tuple, torch.Tensor] | None = None  # CUDA upload staging
        self.state: torch.Tensor | None = None  # the temporal denoiser's estimate (RGB)
        self.planes: tuple[torch.Tensor, ...] | None = None  # the same, yuv420p planes

    def upload(self, image: np.ndarray) -> torch.Tensor:
        """A host frame as a device tensor. For CUDA it is copied through a page-locked
        buffer kept for its shape (allocating one costs more than the copy); reusing it is
        safe because every frame ends with a download, which waits for the upload before."""
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type != "cuda":
            return tensor
        key = (tensor.shape, tensor.dtype)
        if self._pinned is None or self._pinned[0] != key:
            self._pinned = (key, torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True))
        staging = self._pinned[1]
        staging.copy_(tensor)
        return staging.to(self.device, non_blocking=True)

    @torch.inference_mode()
    def enhance(self, frame: VideoFrame) -> np.ndarray:
        """The enhanced frame (uint8, the frame's pixel format) of the stream's next
        frame, as ``Enhancer.enhance`` gives it: quality mode for RGB and yuv420p frames,
        fast mode for yuv420p."""
        height, width = frame_size(frame.image, frame.pixel_format)
        scale = self.enhancer.scale_for(height, width)
        if scale > 1:
            return self._fast(frame, scale)
        return self._quality_frame(frame)

    def _quality_frame(self, frame: VideoFrame) -> np.ndarray:
        """``Enhancer.enhance`` in quality mode: temporal denoise, neutral blacks, the nets."""
        enhancer, fmt = self.enhancer, frame.pixel_format
        pixels = self.upload(frame.image)
        rgb = yuv420p_to_rgb(pixels) if fmt == YUV420P else pixels.permute(2, 0, 1)
        half = half_luma(rgb).cpu().numpy()
        noise = noise_sigma(half)
        cut = enhancer.cuts(half, noise)
        moment = Moment(frame.time, cut, noise)
        image = self._temporal(rgb, half, cut, noise)
        image = self._neutral_blacks(image, moment)
        out = self._quality(image, half, moment)
        if fmt == YUV420P:
            return rgb_to_yuv420p(out).cpu().numpy()
        return out.permute(1, 2, 0).contiguous().cpu().numpy()

    def reset(self) -> None:
        self.state = None
        self.planes = None

    def _fast(self, frame: VideoFrame, scale: int) -> np.ndarray:
        """``Enhancer._fast`` on a yuv420p frame, with its temporal denoise."""
        enhancer = self.enhancer
        y, u, v = planes(self.upload(frame.image))
        height, width = y.shape
        half = self._lut[(area(y[None], (width // 2, height // 2))[0] + 0.5).floor().long()]
        half = half.cpu().numpy()
        noise = noise_sigma(half)
        cut = enhancer.cuts(half, noise)
        moment = Moment(frame.time, cut, noise)
        y, u, v = self._temporal_planes((y, u, v), half, cut, noise, frame.image.shape)
        y_half = area(y[None], (width // 2, height // 2))[0]
        samples = [plane[::SAMPLE, ::SAMPLE].float().cpu().numpy() for plane in (y_half, u, v)]
        level = enhancer.blacks.follow(BlackLevel.from_samples(*samples), moment.time, cut)
        if level[1] or level[2]:  # ``night.neutral_blacks``
            u, v = u.float() - float(level[1]), v.float() - float(level[2])
        half_yuv = (y_half, u, v)
        size = (max(1, width // scale), max(1, height // scale))
        small_yuv = torch.stack([area(plane[None], size)[0] for plane in half_yuv])
        matrix = torch.from_numpy(YUV_TO_RGB).to(self.device)
        offset = torch.from_numpy(YUV_OFFSET).to(self.device)[:, None, None]
        small = torch.einsum("ij,jhw->hwi", matrix, small_yuv - offset).clamp(0.0, 255.0)
        gains, weight, night = enhancer.fast_gains(small.contiguous().cpu().numpy(), half,
                                                   moment, level)
        filtered = None
        if weight.max() > 0:  # ``night.filtered_planes``
            smooth = deblock(flat_smooth(y_half, FLAT_RADIUS, FLAT_EPS), BLOCK_SPACING,
                             DEBLOCK_STEP, DEBLOCK_FLAT)
            filtered = (smooth, gaussian(u), gaussian(v))
        out = apply_yuv_gains(y, half_yuv, gains, weight, filtered, night.lift())
        if filtered is not None:
            out = smooth_chroma(out, weight)
        return out.cpu().numpy()

    def _temporal_planes(self, current: tuple[torch.Tensor, ...], half: np.ndarray, cut: bool,
                         noise: float, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        """The temporal denoiser's estimate of the Y, U and V planes (float32; the planes
        themselves when it is off): ``kernels.update_luma``/``update_chroma``."""
        denoiser = self.enhancer.temporal_denoiser
        if not denoiser.enabled:
            return current
        motion = denoiser.motion(half, cut, shape, noise)
        if motion is None or self.planes is None:
            self.planes = tuple(plane.float() for plane in current)
            return self.planes
        k = torch.from_numpy(motion.k).to(self.device)
        height, width = current[0].shape
        shares = (bilinear(k[None], (width, height))[0], k, k)
        pivots = (16.0, 128.0, 128.0)  # Y scales above black, chroma around grey
        shifts = (motion.full_shift, motion.shift, motion.shift)  # Y at twice k's resolution
        updated = []
        for plane, state, share, pivot, by in zip(current, self.planes, shares, pivots, shifts,
                                                  strict=True):
            previous = (moved(state[None], by)[0] - pivot) * motion.light + pivot
            updated.append(previous + share * (plane - previous))
        self.planes = tuple(updated)
        return self.planes

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
        height, width = rgb.shape[1:]
        k = bilinear(torch.from_numpy(motion.k).to(self.device)[None], (width, height))
        previous = moved(self.state, motion.full_shift)
        if motion.light != 1.0:
            previous = previous * motion.light
        self.state = rgb.float() * k + previous * (1.0 - k)
        return self.state

    def _neutral_blacks(self, image: torch.Tensor, moment: Moment) -> torch.Tensor:
        """The frame with the black level's magenta taken off (``night.neutral_blacks_rgb``;
        the level measured on every SAMPLE-th pixel of its half-resolution YUV)."""
        height, width = image.shape[1:]
        small = area(image, (max(1, width // 2), max(1, height // 2)))[:, ::SAMPLE, ::SAMPLE]
        matrix = torch.from_numpy(RGB_TO_YUV).to(self.device)
        offset = torch.from_numpy(YUV_OFFSET).to(self.device)[:, None, None]
        samples = (torch.einsum("ij,jhw->ihw", matrix, small) + offset).cpu().numpy()
        level = self.enhancer.blacks.follow(BlackLevel.from_samples(*samples, grey_surface=True),
                                            moment.time, moment.cut)
        offset = magenta_offset(level)
        if offset is None:
            return image
        return (image.float() - torch.from_numpy(offset).to(self.device)[:, None, None]
                ).clamp(min=0.0)

    def _quality(self, image: torch.Tensor, half: np.ndarray, moment: Moment
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
