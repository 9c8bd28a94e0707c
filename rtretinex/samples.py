"""A built-in dark test clip: a bundled photo panned across the frame, darkened by the
low-light simulator, with a sine-tone AAC audio track (used by ``make demo`` and tests), and
the same frames as a synthetic live camera (used by the latency and soak benchmarks). The
clip keeps its sensor noise (CRF 12: ~70 Mbit/s at 720p, costly to decode); ``camera=True``
writes it as a camera does at night instead (its noise reduction, CRF 28: the few Mbit/s of
real night footage)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data as skdata

from .pixelops.formats import camera_frame
from .training.data import simulate_camera_night, simulate_low_light
from .video.frames import VideoFrame
from .video.sources import WEBCAM_TIME_BASE, Source

__all__ = ["DarkCamera", "dark_clip_frames", "pan_frames", "write_dark_clip"]


def dark_clip_frames(frames: int, width: int, height: int, photo: str = "astronaut",
                     exposure: float = 0.08, seed: int = 0) -> Iterator[np.ndarray]:
    """Yield ``frames`` uint8 RGB frames: a slow pan over ``photo``, dark and noisy."""
    for i, image in enumerate(pan_frames(frames, width, height, photo)):
        yield simulate_low_light(image, exposure=exposure, seed=seed + i)


def pan_frames(frames: int, width: int, height: int, photo: str = "astronaut"
               ) -> Iterator[np.ndarray]:
    """Yield ``frames`` uint8 RGB frames of a slow pan over the bundled ``photo``."""
    image = getattr(skdata, photo)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    # Scale so the photo is 25 % wider than the frame, then pan across the extra width.
    zoom = max(1.25 * width / image.shape[1], height / image.shape[0])
    big = cv2.resize(image, (round(image.shape[1] * zoom), round(image.shape[0] * zoom)),
                     interpolation=cv2.INTER_AREA)
    span = big.shape[1] - width
    for i in range(frames):
        x = round(span * i / max(1, frames - 1))
        yield big[:height, x:x + width]


def write_dark_clip(path: Path, frames: int = 60, width: int = 640, height: int = 360,
                    fps: int = 30, audio: bool = True, photo: str = "astronaut",
                    camera: bool = False, loop: int | None = None) -> Path:
    """Write the dark clip as H.264 (+ AAC audio) to ``path``; ``camera``: as a camera
    writes it at night (``simulate_camera_night``, CRF 28; even sizes only); ``loop``: only
    the first that many frames rendered (the simulator costs ~0.5 s a 1080p frame), played
    back and forth."""
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = ({"crf": "28", "preset": "medium"} if camera
                         else {"crf": "12", "preset": "veryfast"})
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=48_000)
            sound.layout = "mono"
        rendered = _clip_frames(frames, width, height, photo, camera)
        if loop:  # the pan's first frames, at its speed
            rendered = _back_and_forth(list(itertools.islice(rendered, loop)), frames)
        for i, frame in enumerate(rendered):
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            rate, samples = 48_000, 1024
            t = np.arange(frames * rate // fps) / rate
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, len(tone), samples):
                chunk = tone[start:start + samples][None]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = rate, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return Path(path)


def _back_and_forth(frames: list[av.VideoFrame], count: int) -> Iterator[av.VideoFrame]:
    """``count`` frames going through ``frames`` forwards, then backwards, and so on."""
    cycle = frames + frames[-2:0:-1] if len(frames) > 1 else frames
    for i in range(count):
        yield cycle[i % len(cycle)]


def _clip_frames(frames: int, width: int, height: int, photo: str, camera: bool
                 ) -> Iterator[av.VideoFrame]:
    if not camera:
        for image in dark_clip_frames(frames, width, height, photo):
            yield av.VideoFrame.from_ndarray(image, format="rgb24")
        return
    if width % 2 or height % 2:
        raise ValueError(f"a camera-like clip needs even sides, got {width}x{height}")
    for i, image in enumerate(pan_frames(frames, width, height, photo)):
        yield av.VideoFrame.from_ndarray(simulate_camera_night(image, seed=i), format="yuv420p")


class DarkCamera(Source):
    """A synthetic live camera: ``frames`` frames of the dark clip (``loop`` of them
    rendered, then repeated) released on an ``fps`` clock and stamped with the capture
    clock, as the webcam source does."""

    live = True

    def __init__(self, width: int, height: int, fps: float, frames: int, loop: int = 30):
        self.width, self.height, self.fps, self.frames = width, height, fps, frames
        self.clip = list(dark_clip_frames(loop, width, height))

    def __iter__(self) -> Iterator[VideoFrame]:
        start = time.monotonic()
        for index in range(self.frames):
            time.sleep(max(0.0, start + index / self.fps - time.monotonic()))
            pts = round((time.monotonic() - start) / WEBCAM_TIME_BASE)
            # converted as a webcam's frames are (io.WebcamSource)
            image, fmt = camera_frame(self.clip[index % len(self.clip)])
            yield VideoFrame(image, index, pts, WEBCAM_TIME_BASE, pixel_format=fmt)
