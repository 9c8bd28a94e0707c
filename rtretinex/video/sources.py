"""Sources: video files and URLs through PyAV, webcams through OpenCV (sinks.py writes).

A source yields ``VideoFrame``s (uint8 pixels plus timestamps) and, for files, the audio and
subtitle ``Packet``s in demux order, so a sink can copy them without buffering a file.
Video with even sides comes as limited-range yuv420p, the layout the fast path works on:
plain yuv420p (nearly every H.264/H.265/VP9/AV1 file) as decoded, anything else (full range
as IP cameras and MJPEG send it, 10-bit, 4:2:2, 4:4:4) converted by FFmpeg's scaler, so
the night-footage corrections reach it too; odd sizes come as RGB (the enhancer pads them
to even sides for the fast path).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np
from av.codec.hwaccel import HWAccel

from ..errors import InputError, UsageError, existing
from ..pixelops.formats import RGB24, YUV420P, camera_frame
from .frames import VideoFrame

__all__ = [
    "PacedSource",
    "Packet",
    "Source",
    "VideoSource",
    "WebcamSource",
    "open_source",
    "reason",
]

COPIED_STREAM_TYPES = ("audio", "subtitle")
# A stream rate above this is a container's artefact (a time base taken for a rate): 30 fps.
MAX_RATE = 1000
# What a video stream's pixels mean, carried to the output where it stays in YUV.
COLOUR_TAGS = ("color_primaries", "color_trc", "colorspace")
# Seconds a network stream may take to open or to deliver the next data.
DEFAULT_TIMEOUT = 10.0
# A container's tags (title, encoder) that are not valid UTF-8, from a damaged header or an
# old muxer, are read with the bad bytes replaced: PyAV's strict default fails the whole file.
METADATA_ERRORS = "replace"
# Damaged packets before the first frame after which an input counts as undecodable.
MAX_DAMAGED_AT_START = 50
# Webcam frames are stamped with the capture clock in microseconds.
WEBCAM_TIME_BASE = Fraction(1, 1_000_000)

Packet = av.Packet
# FFmpeg's colour ranges: limited ("MPEG", 16-235) and full ("JPEG", 0-255).
LIMITED_RANGE, FULL_RANGE = 1, 2
# FFmpeg's "unspecified" primaries, transfer and matrix.
UNSPECIFIED = 2
# PyAV from which hardware-decoded frames convert reliably (18.0 fixed NVDEC frames' reformat
# failing on their colour tags).
HWACCEL_AV = (18, 0)
_AV_VERSION = tuple(int(part) for part in av.__version__.split(".")[:2] if part.isdigit())


def is_plain_yuv420p(frame: av.VideoFrame) -> bool:
    """Whether a decoded frame is limited-range 4:2:0 with even sides, the layout that
    ``pixels`` works on directly (NV12, what a hardware decoder hands back, has the same
    samples with U and V interleaved)."""
    return (frame.format.name in (YUV420P, "nv12") and frame.color_range != FULL_RANGE
            and frame.width % 2 == 0 and frame.height % 2 == 0)


def decoded_image(frame: av.VideoFrame) -> tuple[np.ndarray, str]:
    """A decoded frame's pixels and their format: limited-range yuv420p where its sides are
    even (full range scaled to 16-235, more bits or chroma reduced), RGB otherwise."""
    if is_plain_yuv420p(frame):
        return frame.to_ndarray(format=YUV420P), YUV420P
    if frame.width % 2 or frame.height % 2:
        return frame.to_ndarray(format=RGB24), RGB24
    return frame.to_ndarray(format=YUV420P, dst_color_range=LIMITED_RANGE), YUV420P


class Source:
    """Base of all sources: iterate for frames (and, from files, copied packets)."""

    live = False
    width = height = 0
    fps: float = 30.0
    frame_count: int | None = None
    copied_streams: tuple = ()
    # the colour primaries, transfer and matrix the source is tagged with (FFmpeg's codes)
    colour_tags: tuple[tuple[str, int], ...] = ()

    @property
    def warnings(self) -> list[str]:
        """What the user should hear about this source once it has been read."""
        return []

    def __iter__(self) -> Iterator[VideoFrame | Packet]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameClock:
    """Timestamps for decoded frames: a frame's own when it comes after the previous one,
    else (none, or stuck at one value: raw ``.h264`` from a camera, a file whose every pts
    is 0) one frame period of ``fps`` after the last, so every output keeps every frame at
    the stream's rate. ``made_up``: whether any stamp was made up."""

    def __init__(self, fps: float, time_base: Fraction | None) -> None:
        self.fps, self.time_base = fps, time_base or Fraction(1, 90_000)
        self.last: int | None = None
        self.origin: int | None = None  # the last real stamp before a run of made-up ones
        self.run = 0  # made-up stamps since it
        self.made_up = False

    def stamp(self, pts: int | None, time_base: Fraction | None) -> tuple[int, Fraction]:
        """(pts, time base) for the next frame, which came with ``pts`` in ``time_base``."""
        time_base = time_base or self.time_base
        if pts is None or (self.last is not None and pts <= self.last):
            if self.run == 0:
                self.origin = self.last
            self.run += 1
            self.made_up = True
            period = 1 / (self.fps * time_base)
            pts = (round((self.run - 1) * period) if self.origin is None
                   else self.origin + round(self.run * period))
        else:
            self.run = 0
        self.last = pts
        return pts, time_base


class VideoSource(Source):
    """A video file, pipe or network stream decoded with PyAV (threaded decoding).

    Audio and subtitle packets are yielded as they are demuxed so the sink can stream-copy
    them. A damaged video packet is skipped and counted; an error that stops demuxing ends
    the stream early. ``warnings`` says what was lost. ``timeout`` (seconds) bounds opening
    and every read of a network stream, so a silent server cannot hang the run.
    """

    def __init__(self, location: str | BinaryIO, live: bool = False,
                 timeout: float | None = None, hwaccel: str | None = None) -> None:
        """``hwaccel``: decode on this kind of device (``"cuda"``: NVDEC) where it opens,
        else in software with a note saying so."""
        self.location = getattr(location, "name", location) if not isinstance(location, str) \
            else location
        self.live = live
        self.truncated: str | None = None
        self.damaged = 0
        self.notes: list[str] = []
        self.hwaccel: str | None = None  # the device decoding, None: software
        self.container = self._open(location, timeout, hwaccel)
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{self.location} has no video stream")
        if len(self.container.streams.video) > 1:
            self.notes.append(f"{self.location} has {len(self.container.streams.video)} video "
                              "streams: only the first is enhanced, the others are not copied")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        ctx = self.stream.codec_context
        self.width, self.height = ctx.width, ctx.height
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate and 0 < rate <= MAX_RATE else 30.0
        self.frame_count = self.stream.frames or None
        self.colour_tags = tuple((name, getattr(ctx, name)) for name in COLOUR_TAGS
                                 if getattr(ctx, name) not in (None, UNSPECIFIED))
        # Live streams pass video only: a live queue drops items, packets must not be dropped.
        copied = () if live else [s for s in self.container.streams
                                  if s.type in COPIED_STREAM_TYPES]
        for stream in copied:
            if stream.codec_context is None:  # a damaged header: its codec cannot be read
                self.notes.append(f"not copying {stream.type} stream {stream.index} of "
                                  f"{self.location}: its codec cannot be read")
        self.copied_streams = tuple(s for s in copied if s.codec_context is not None)

    def _open(self, location: str | BinaryIO, timeout: float | None, hwaccel: str | None
              ) -> av.container.InputContainer:
        if hwaccel is not None and _AV_VERSION < HWACCEL_AV:
            needed = ".".join(map(str, HWACCEL_AV))
            self.notes.append(f"decoding in software: {hwaccel} decoding needs PyAV {needed} "
                              f"or newer (this is {av.__version__})")
            hwaccel = None
        if hwaccel is not None and isinstance(location, str):
            try:
                container = av.open(location, timeout=timeout, hwaccel=HWAccel(
                    hwaccel, allow_software_fallback=True), metadata_errors=METADATA_ERRORS)
                self.hwaccel = hwaccel
                return container
            except (av.error.FFmpegError, OSError) as exc:
                self.notes.append(f"decoding in software: no {hwaccel} video decoder here "
                                  f"({reason(exc)})")
        try:
            return av.open(location, timeout=timeout, metadata_errors=METADATA_ERRORS)
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"cannot open video {self.location}: {reason(exc)}") from None

    def __iter__(self) -> Iterator[VideoFrame | Packet]:
        index = 0
        clock, noted = FrameClock(self.fps, self.stream.time_base), False
        try:
            for packet in self.container.demux(self.stream, *self.copied_streams):
                if packet.stream is not self.stream:
                    if packet.dts is not None:
                        yield packet
                    continue
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError as exc:
                    self.damaged += 1
                    if index == 0 and self.damaged >= MAX_DAMAGED_AT_START:
                        raise InputError(f"cannot decode {self.location}: {reason(exc)}"
                                         ) from None
                    continue
                for frame in frames:
                    image, fmt = decoded_image(frame)
                    pts, time_base = clock.stamp(frame.pts, frame.time_base)
                    if clock.made_up and not noted:
                        noted = True
                        self.notes.append(f"{self.location} has frames without usable "
                                          f"timestamps: timed at its nominal {self.fps:g} fps")
                    yield VideoFrame(image, index, pts, time_base, int(frame.rotation or 0),
                                     pixel_format=fmt)
                    index += 1
        except av.error.FFmpegError as exc:
            if index == 0:
                raise InputError(f"cannot decode {self.location}: {reason(exc)}") from None
            self.truncated = f"decoding stopped after {index} frames: {reason(exc)}"


    @property
    def warnings(self) -> list[str]:
        found = list(self.notes)
        if self.damaged:
            found.append(f"skipped {self.damaged} damaged video packet(s) of {self.location} "
                         "(about as many frames lost)")
        if self.truncated:
            found.append(self.truncated)
        return found

    def close(self) -> None:
        self.container.close()


class WebcamSource(Source):
    """A V4L2 webcam read through OpenCV (the PyAV wheels have no v4l2 input)."""

    live = True

    def __init__(self, index: int) -> None:
        if os.name == "posix" and not Path(f"/dev/video{index}").exists():
            raise InputError(f"no webcam at index {index} (/dev/video{index} does not exist)")
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            raise InputError(f"cannot open webcam {index} (busy, or not a capture device)")
        self.index = index
        self.width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 30.0

    def __iter__(self) -> Iterator[VideoFrame]:
        index, start = 0, time.monotonic()
        while True:
            ok, bgr = self.capture.read()
            if not ok:
                return
            pts = round((time.monotonic() - start) / WEBCAM_TIME_BASE)
            image, fmt = camera_frame(bgr, bgr=True)
            yield VideoFrame(image, index, pts, WEBCAM_TIME_BASE, pixel_format=fmt)
            index += 1

    def close(self) -> None:
        self.capture.release()


class PacedSource(Source):
    """A source released in real time, as a camera would deliver it: each frame waits until
    its timestamp (from the first frame) has come, and the source is live (newest frame
    wins, stale ones are dropped), with video only. ``run_stream.py --realtime``.
    ``pause``/``resume`` hold the clock, as a player's pause does."""

    live = True

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.start: float | None = None  # when the first frame was due (monotonic)
        self.paused_at: float | None = None
        stream = getattr(inner, "stream", None)
        if stream is not None:  # frame threading holds frames back and competes for cores
            stream.thread_type = "SLICE"
        self.width, self.height, self.fps = inner.width, inner.height, inner.fps
        self.frame_count = inner.frame_count

    def __iter__(self) -> Iterator[VideoFrame]:
        first: float | None = None
        for item in self.inner:
            if not isinstance(item, VideoFrame):
                continue
            moment = item.time if item.time is not None else item.index / self.fps
            if self.start is None or first is None:
                self.start, first = time.monotonic(), moment
            while self.paused_at is not None or (
                    wait := self.start + (moment - first) - time.monotonic()) > 0:
                time.sleep(0.01 if self.paused_at is not None else min(wait, 0.05))
            yield item

    def pause(self) -> None:
        if self.paused_at is None:
            self.paused_at = time.monotonic()

    def resume(self) -> None:
        if self.paused_at is not None:
            if self.start is not None:
                self.start += time.monotonic() - self.paused_at
            self.paused_at = None

    @property
    def warnings(self) -> list[str]:
        return self.inner.warnings

    def close(self) -> None:
        self.inner.close()


def reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return re.sub(r"^\[Errno -?\d+\] ", "", text).split(": '")[0].strip() or type(exc).__name__


def open_source(spec: str, realtime: bool = False, timeout: float = DEFAULT_TIMEOUT,
                hwaccel: str | None = None) -> Source:
    """A digit or /dev/videoN → webcam; ``-`` → standard input; a URL → stream (live unless
    http(s) or file); a path → file or named pipe. ``realtime`` plays a file as a live
    source paced at its own rate (``PacedSource``); ``timeout`` bounds network reads;
    ``hwaccel`` decodes files and streams on that device where it can (``VideoSource``)."""
    source = _open(spec, timeout, hwaccel)
    return PacedSource(source) if realtime and not source.live else source


def _open(spec: str, timeout: float, hwaccel: str | None = None) -> Source:
    webcam = re.fullmatch(r"(?:/dev/video)?(\d+)", spec)
    if webcam:
        return WebcamSource(int(webcam.group(1)))
    if spec == "-":
        return VideoSource(sys.stdin.buffer)
    if "://" in spec:
        live = not spec.startswith(("http://", "https://", "file://"))
        return VideoSource(spec, live=live, timeout=None if spec.startswith("file://") else timeout,
                           hwaccel=hwaccel)
    path = existing(spec)
    if path.is_dir():
        raise UsageError(f"{path} is a folder: folders of images are handled as images")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    return VideoSource(str(path), hwaccel=hwaccel)
