"""The enhancer: what callers hold to enhance images and the frames of one stream.

It keeps the settings and the stream's state (``Decisions``, the temporal denoiser) and
chooses the executor once: the host's NumPy/OpenCV path, or torch on the nets' device where
that is a GPU (``on_device``). Every frame goes through ``steps``: quality mode runs both nets
on the whole frame and returns denoise(R) ∘ Î; fast mode runs them on a frame downscaled by
an integer factor and applies what they did (a per-channel gain map) at full resolution,
in YUV for yuv420p video. Still images never carry state from one call to the next.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..nets.backends import Backend, create_backend
from ..nets.weightfile import DEFAULT_WEIGHTS
from ..pixelops.formats import (
    RGB24,
    YUV420P,
    even_size,
    even_yuv420p,
    frame_size,
    from_rgb,
    grey_like,
    half_luma,
    is_grey,
    to_rgb,
)
from ..pixelops.host import HostExecutor
from ..video.frames import VideoFrame
from . import steps
from .decisions import Decisions
from .denoise import TemporalDenoiser
from .settings import EnhanceSettings

__all__ = ["Enhancer"]

_MICROSECOND = Fraction(1, 1_000_000)
log = logging.getLogger("rtretinex")


class Enhancer:
    """Enhances RGB images (``__call__``; uint8, or uint16 kept at 16 bits) and video frames
    in order (``enhance``, which keeps the temporal state of one stream)."""

    def __init__(self, backend: Backend, settings: EnhanceSettings | None = None,
                 on_device: bool | None = None, live: bool = False) -> None:
        """``on_device``: video frames (quality mode, and fast mode's yuv420p) go to the
        torch executor on the nets' device; None: where that device is a GPU. ``live``:
        frames come from a live source, where fast mode refreshes the nets' result in the
        background (``schedule.NetSchedule``) rather than on the frame it falls on; a file's
        output then stays the same from run to run."""
        self.backend = backend
        self.host = HostExecutor(backend)
        self.executor: Any = self.host
        if on_device or (on_device is None and hasattr(backend, "infer_tensor")):
            # torch backends only: the torch executor needs torch, which OpenVINO runs without
            from ..pixelops.torch_ops import TorchExecutor, device_of

            device = device_of(backend)
            if on_device or (device is not None and device.type == "cuda"):
                self.executor = TorchExecutor(backend)
        settings = (settings or EnhanceSettings()).for_stream(video=False)
        self.decisions = Decisions(backend, settings, live)
        self.reset()

    @classmethod
    def load(cls, mode: str | None = None, backend: str = "auto", precision: str | None = None,
             weights: Path = DEFAULT_WEIGHTS, **settings: float) -> Enhancer:
        """An enhancer with its backend built, e.g. ``Enhancer.load(mode="fast")`` for video
        (mode None: quality, as for images); ``settings`` are other EnhanceSettings fields
        (smooth, exposure, ...)."""
        return cls(create_backend(backend, precision, weights),
                   EnhanceSettings(mode=mode, **settings))

    @property
    def settings(self) -> EnhanceSettings:
        return self.decisions.settings

    @property
    def on_device(self) -> bool:
        """Whether video frames go to the torch executor."""
        return self.executor is not self.host

    @property
    def scene_cuts(self) -> int:
        return self.decisions.cuts.cuts

    @property
    def exposure_stops(self) -> float:
        """The exposure compensation in use (stops)."""
        return self.settings.exposure

    def adjust_exposure(self, stops: float) -> float:
        """Change the exposure compensation by ``stops`` (kept within ±EXPOSURE_RANGE), from
        the next frame on; returns the new value. Safe to call from another thread."""
        self.decisions.settings = self.settings.with_exposure(stops)
        return self.settings.exposure

    def reset(self) -> None:
        """Forget the temporal state (call between unrelated streams)."""
        self.frames_seen = 0
        self.decisions.reset()
        self.temporal_denoiser = TemporalDenoiser(self.settings.temporal_denoise)

    def frame(self, image: np.ndarray, seconds: float | None = None) -> np.ndarray:
        """Enhance the next frame of a video (RGB uint8) captured at ``seconds`` (None: a
        frame interval of 1/30 s is assumed), for callers with their own capture loop. The
        temporal state (auto-exposure, temporal denoise) carries over from call to call;
        ``reset()`` before an unrelated video. In fast mode the frame goes the way decoded
        video does, as yuv420p (its chroma at half resolution), night corrections included."""
        pts = None if seconds is None else round(seconds * 1_000_000)
        self.frames_seen += 1
        return self.enhance(VideoFrame(image, self.frames_seen - 1, pts, _MICROSECOND))

    def warm_up(self, width: int, height: int) -> None:
        """Run the video path on two dim grey frames of this size, then forget them, so the
        compiled loops load and the nets settle on the size before a live source's first
        frames wait for them."""
        if width < 2 or height < 2:
            return
        grey = np.full((height, width, 3), 30, np.uint8)
        even = width % 2 == 0 and height % 2 == 0
        image, fmt = (from_rgb(grey), YUV420P) if even else (grey, RGB24)
        for index in range(2):
            self.enhance(VideoFrame(image, index, pixel_format=fmt))
        self.decisions.schedule.costs.clear()  # the first calls' times include loading
        self.reset()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Enhance one still image (no temporal state is used or kept). A uint16 image is
        enhanced from all its 16 bits (the shadow detail a 16-bit export keeps) and comes
        back as uint16. An image without colour comes back without colour (the nets would
        tint it; video frames too)."""
        out = self._still(image)
        return grey_like(out) if is_grey(image) else out

    def _still(self, image: np.ndarray) -> np.ndarray:
        half = half_luma(image)
        work = image
        if image.dtype == np.uint16:
            work = image.astype(np.float32) * np.float32(1 / 257)
        scale = self.settings.scale_for(*image.shape[:2])
        work, level = steps.without_black_bias(self.host, self.decisions, work, half, None,
                                               grey_surface=scale == 1)
        if scale == 1:
            return steps.quality(self.host, self.decisions, work, level, image, half, None,
                                 self.settings.denoise)
        return steps.fast_rgb(self.host, self.decisions, work, image, half, None, scale,
                              self.settings.denoise)

    def enhance(self, frame: VideoFrame) -> np.ndarray:
        """Enhance the next frame of the stream; the output has the frame's pixel format.
        A frame the GPU has no memory for sends the stream to the host from then on."""
        fmt = frame.pixel_format
        height, width = frame_size(frame.image, fmt)
        scale = self.settings.scale_for(height, width)
        if fmt == RGB24 and scale > 1:
            # the fast step and its night corrections work on yuv420p: an RGB frame (odd
            # sides, or from ``frame``) goes there with its odd last row and column repeated
            even = even_yuv420p(frame.image, RGB24, even_size(width, height))
            return to_rgb(self.enhance(frame.with_image(even, YUV420P)))[:height, :width]
        executor = self.executor
        if frame.image.dtype != np.uint8:
            executor = self.host
        if executor is not self.host:
            from ..pixelops.torch_ops import OutOfMemory  # loaded with the torch executor

            try:
                return self._video_frame(executor, frame, scale)
            except OutOfMemory:  # a frame too large for the GPU: tiles on the host
                log.warning("the GPU ran out of memory for a %dx%d frame: enhancing on the "
                            "host from here on (quality mode in tiles)",
                            *frame_size(frame.image, fmt)[::-1])
                self.executor = self.host
                self.reset()
        return self._video_frame(self.host, frame, scale)

    def _video_frame(self, executor: Any, frame: VideoFrame, scale: int) -> np.ndarray:
        out = steps.video_frame(executor, self.decisions, self.temporal_denoiser, frame, scale,
                                self.settings.denoise)
        fmt = frame.pixel_format
        return grey_like(out, fmt) if is_grey(frame.image, fmt) else out
