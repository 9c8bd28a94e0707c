"""Sources (video files and URLs through PyAV, webcams through OpenCV) and sinks (PyAV
encoder with audio/subtitle stream copy, an OpenCV display window).

A source yields ``VideoFrame``s (uint8 RGB plus timestamps) and, for files, the audio and
subtitle ``Packet``s in demux order, so the sink can copy them without buffering a file.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .errors import InputError, OutputError, UsageError, existing

__all__ = [
    "DisplaySink",
    "FileSink",
    "Packet",
    "Source",
    "VideoFrame",
    "VideoSource",
    "WebcamSource",
    "open_source",
]

COPIED_STREAM_TYPES = ("audio", "subtitle")
DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET = "libx264", 18, "veryfast"
MAX_PENDING_PACKETS = 2000
log = logging.getLogger("rtretinex")


@dataclass
class VideoFrame:
    """One decoded frame: uint8 RGB (H, W, 3) and where it sits in time."""

    image: np.ndarray
    index: int
    pts: int | None
    time_base: Fraction | None
    rotation: int = 0
    captured_at: float = 0.0


Packet = av.Packet


class Source:
    """Base of all sources: iterate for frames (and, from files, copied packets)."""

    live = False
    width = height = 0
    fps: float = 30.0
    frame_count: int | None = None
    copied_streams: tuple = ()

    def __iter__(self) -> Iterator[VideoFrame | Packet]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoSource(Source):
    """A video file or network stream decoded with PyAV (threaded decoding).

    Audio and subtitle packets are yielded as they are demuxed so the sink can stream-copy
    them. A decode error mid-file ends the stream early: ``truncated`` says so.
    """

    def __init__(self, location: str, live: bool = False) -> None:
        self.location = location
        self.live = live
        self.truncated: str | None = None
        try:
            self.container = av.open(location, timeout=10.0 if live else None)
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"cannot open video {location}: {_reason(exc)}") from None
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{location} has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        ctx = self.stream.codec_context
        self.width, self.height = ctx.width, ctx.height
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else 30.0
        self.frame_count = self.stream.frames or None
        # Live streams pass video only: a live queue drops items, packets must not be dropped.
        self.copied_streams = () if live else tuple(
            s for s in self.container.streams if s.type in COPIED_STREAM_TYPES
        )

    def __iter__(self) -> Iterator[VideoFrame | Packet]:
        index = 0
        try:
            for packet in self.container.demux(self.stream, *self.copied_streams):
                if packet.stream is not self.stream:
                    if packet.dts is not None:
                        yield packet
                    continue
                for frame in packet.decode():
                    yield VideoFrame(frame.to_ndarray(format="rgb24"), index, frame.pts,
                                     frame.time_base, int(frame.rotation or 0))
                    index += 1
        except av.error.FFmpegError as exc:
            if index == 0:
                raise InputError(f"cannot decode {self.location}: {_reason(exc)}") from None
            self.truncated = f"decoding stopped after {index} frames: {_reason(exc)}"

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
        index = 0
        while True:
            ok, bgr = self.capture.read()
            if not ok:
                return
            yield VideoFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index, None, None)
            index += 1

    def close(self) -> None:
        self.capture.release()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return re.sub(r"^\[Errno -?\d+\] ", "", text).split(": '")[0].strip() or type(exc).__name__


def open_source(spec: str) -> Source:
    """A digit or /dev/videoN → webcam; a URL → stream (live unless http file); a path → file."""
    webcam = re.fullmatch(r"(?:/dev/video)?(\d+)", spec)
    if webcam:
        return WebcamSource(int(webcam.group(1)))
    if "://" in spec:
        return VideoSource(spec, live=not spec.startswith(("http://", "https://", "file://")))
    path = existing(spec)
    if path.is_dir():
        raise UsageError(f"{path} is a folder: folders of images are handled as images")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    return VideoSource(str(path))


class FileSink:
    """Encodes frames with PyAV and copies the source's audio/subtitle packets untouched.

    Writes to a hidden temporary file beside the target and renames it into place when
    closed, so the target is either absent or a complete, playable file. Odd frame sizes
    are padded by one edge pixel (yuv420p needs even sizes).
    """

    def __init__(self, path: Path, source: Source, codec: str = DEFAULT_CODEC,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        try:
            self.container = av.open(str(self.tmp), mode="w")
        except (av.error.FFmpegError, ValueError) as exc:
            raise OutputError(f"cannot write {self.path}: {_reason(exc)}") from None
        self.source = source
        self.codec, self.crf, self.preset = codec, crf, preset
        self.video = None
        self.time_base: Fraction | None = None  # of the encoder: the input's, kept exactly
        self.started = False
        self.copies: dict[int, av.stream.Stream] = {}
        self.pending: list[Packet] = []  # copied packets that arrive before the first frame
        self.frames_written = 0
        self.last_pts = -1

    def _open_video(self, frame: VideoFrame) -> None:
        height, width = frame.image.shape[:2]
        rate = Fraction(self.source.fps).limit_denominator(1001)
        try:
            self.video = self.container.add_stream(self.codec, rate=rate)
        except (av.error.FFmpegError, ValueError) as exc:
            raise UsageError(f"cannot use codec {self.codec!r}: {_reason(exc)}") from None
        self.video.width, self.video.height = width + width % 2, height + height % 2
        self.video.pix_fmt = "yuv420p"
        # Timestamps stay in the input's time base: no rounding, variable frame rate kept.
        # (the muxer may change the stream's own time base when the header is written)
        self.time_base = frame.time_base or Fraction(1, 90_000)
        self.video.time_base = self.video.codec_context.time_base = self.time_base
        self.video.thread_type = "AUTO"
        if self.codec in ("libx264", "libx265"):
            self.video.options = {"crf": str(self.crf), "preset": self.preset}
        if frame.rotation:
            self.video.set_display_rotation(frame.rotation)
        for stream in self.source.copied_streams:
            try:
                self.copies[stream.index] = self.container.add_stream_from_template(stream)
            except (av.error.FFmpegError, ValueError):
                log.warning("not copying %s stream %d: %s cannot hold codec %s", stream.type,
                            stream.index, self.path.suffix, stream.codec_context.name)
        try:
            self.container.start_encoding()  # opens the encoder, writes the header
            self.started = True
        except av.error.FFmpegError as exc:
            raise OutputError(f"encoder {self.codec!r} cannot encode this video "
                              f"({_reason(exc)}); try the default libx264") from None
        for packet in self.pending:
            self.copy(packet)
        self.pending.clear()

    def write(self, frame: VideoFrame) -> None:
        """Encode one enhanced frame, keeping its timestamp."""
        if self.video is None:
            self._open_video(frame)
        image = frame.image
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
        out = av.VideoFrame.from_ndarray(image, format="rgb24")
        if frame.pts is not None and frame.time_base == self.time_base:
            pts = frame.pts
        else:
            pts = round(frame.index / self.source.fps / self.time_base)
        self.last_pts = pts = max(pts, self.last_pts + 1)
        out.pts, out.time_base = pts, self.time_base
        self.container.mux(self.video.encode(out))
        self.frames_written += 1

    def copy(self, packet: Packet) -> None:
        """Mux an audio/subtitle packet as it came."""
        if self.video is None:
            if len(self.pending) >= MAX_PENDING_PACKETS:
                raise InputError("no video frame among the first packets; cannot mux")
            self.pending.append(packet)
            return
        stream = self.copies.get(packet.stream.index)
        if stream is not None:
            packet.stream = stream
            self.container.mux(packet)

    def close(self, keep: bool = True) -> None:
        """Flush the encoder and move the file into place (or delete it when not keeping)."""
        try:
            if self.started:
                self.container.mux(self.video.encode(None))
            self.container.close()
        finally:
            if keep and self.frames_written:
                os.replace(self.tmp, self.path)
            else:
                self.tmp.unlink(missing_ok=True)


class DisplaySink:
    """An OpenCV window; ``compare`` shows input and output side by side. q or Esc quits."""

    def __init__(self, title: str = "rtretinex", compare: bool = False) -> None:
        self.title, self.compare = title, compare
        self.closed = False
        if sys.platform.startswith("linux") and not (
                os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise OutputError("no display to show a window on (DISPLAY is not set); "
                              "use -o FILE instead")
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise OutputError("cannot open a window (no display?); use -o FILE instead") from None

    def show(self, output: np.ndarray, original: np.ndarray | None = None) -> None:
        image = np.hstack([original, output]) if self.compare and original is not None else output
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.closed = True

    def close(self) -> None:
        cv2.destroyWindow(self.title)
