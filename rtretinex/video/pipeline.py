"""Threads and bounded queues: decode → enhance → sinks, with per-stage timing.

A file keeps every frame in order (blocking queues of a few frames). A live source keeps
only the newest frame: a one-slot buffer replaces a stale frame and counts it as dropped
(the frame that replaces it carries the count, so the enhancer knows time jumped), so
latency stays bounded when the enhancer is slower than the camera. Audio and subtitle
packets travel through the same queues as frames, so they reach the muxer in demux order.
The sinks (sinks.py: a file, a window, ...) are driven through one interface.

Every frame allocates and frees buffers of a few MB in each thread. By default glibc's
malloc gives such blocks back to the kernel when they are freed, so the next frame's
buffers fault their pages in again (~700 minor faults a 720p frame); ``keep_freed_buffers``
makes it keep them for reuse.

A file's stages keep the cores busy (the encoder on threads of its own), so there OpenCV's
thread pool only competes with them: while a file runs through, OpenCV works on the
enhancing thread alone (``opencv_on_one_thread``). A live source's stages wait on the
camera, and the pool's spare core shortens each frame's latency: it keeps the pool.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import itertools
import math
import platform
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol

import av
import cv2
import numpy as np

from ..errors import InputError
from .frames import VideoFrame
from .sinks import Sink
from .sources import Packet, Source

__all__ = ["STOP_SIGNALS", "FrameEnhancer", "LatestSlot", "PipelineStats", "StageTimer",
           "keep_freed_buffers", "opencv_on_one_thread", "run_pipeline", "signals_handled",
           "signals_held"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FILE_QUEUE_FRAMES = 4
SAMPLES_KEPT = 10_000  # per stage: bounded memory on endless streams
_POLL_S = 0.1
# Where frames stop early (--max-frames), how far past them a file is read for the audio and
# subtitle packets that belong before the stop (seconds of video); after Ctrl-C for at most
# READ_ON_SECONDS of wall time as well (a second Ctrl-C waits for it: 4K decodes slowly).
TRAILING_SECONDS, READ_ON_SECONDS = 5.0, 2.0
# glibc's mallopt parameters: blocks up to 32 MiB (its largest allowed threshold) come from
# the heap, and up to 64 MiB of freed memory at a heap's top is kept rather than trimmed.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT_BYTES, _HEAP_BLOCK_BYTES = 64 << 20, 32 << 20


@contextmanager
def signals_handled(signums: Sequence[int], handler: Callable | int) -> Iterator[None]:
    """``handler`` for ``signums`` inside the block, the handlers before it back after it.
    Only the main thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, previous in before.items():
            signal.signal(signum, previous)


def signals_held() -> AbstractContextManager[None]:
    """Ignore Ctrl-C, SIGTERM and SIGHUP inside the block: for the short steps that must
    finish once a run is stopping (joining the workers, finishing the output files)."""
    return signals_handled(STOP_SIGNALS, signal.SIG_IGN)


class FrameEnhancer(Protocol):
    """What the pipeline needs of an enhancer (``enhancer.Enhancer`` in the product)."""

    def enhance(self, frame: VideoFrame) -> np.ndarray:
        """The enhanced picture of ``frame``, in its pixel format."""
        ...


class _End:
    """Marks the end of the stream in a queue."""


@dataclass
class _Failure:
    error: BaseException


class StageTimer:
    """Milliseconds per call of each stage, the newest ``SAMPLES_KEPT`` kept."""

    def __init__(self) -> None:
        self.samples: dict[str, deque[float]] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.samples.setdefault(stage, deque(maxlen=SAMPLES_KEPT)).append(seconds * 1e3)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            name: {"ms_median": float(np.median(v)), "ms_p95": float(np.percentile(v, 95)),
                   "ms_p99": float(np.percentile(v, 99)), "count": len(v)}
            for name, v in self.samples.items() if v
        }


class LatestSlot:
    """A one-item buffer for live sources: ``put`` replaces an unread item (a drop)."""

    def __init__(self) -> None:
        self._item: object = None
        self._full = False
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: object, timeout: float | None = None) -> None:
        with self._cond:
            if self._full and not isinstance(self._item, (_End, _Failure)):
                self.dropped += 1
                if isinstance(self._item, VideoFrame) and isinstance(item, VideoFrame):
                    item.dropped_before += self._item.dropped_before + 1
            self._item, self._full = item, True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> object:
        with self._cond:
            if not self._cond.wait_for(lambda: self._full, timeout):
                raise queue.Empty
            self._full = False
            self._cond.notify_all()  # for wait_empty
            return self._item

    def wait_empty(self) -> None:
        """Wait until the item put last has been taken."""
        with self._cond:
            self._cond.wait_for(lambda: not self._full)


@dataclass
class PipelineStats:
    """What a run did; ``as_json`` is the --stats-json format."""

    frames: int = 0
    dropped: int = 0
    seconds: float = 0.0
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    interrupted: bool = False
    stopped_by: str = ""  # the signal that interrupted the run: "SIGINT" (Ctrl-C), "SIGTERM"...
    warnings: list[str] = field(default_factory=list)
    describe: str = ""  # what ran: backend, precision, mode
    scene_cuts: int = 0
    latency_samples: list[float] = field(default_factory=list)  # ms, the newest SAMPLES_KEPT

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict:
        return {"frames": self.frames, "fps": self.fps, "dropped": self.dropped,
                "seconds": self.seconds, "interrupted": self.interrupted,
                "warnings": self.warnings, "enhancer": self.describe,
                "scene_cuts": self.scene_cuts, "stages": self.stages}


def _put(q: queue.Queue | LatestSlot, item: object, stop: threading.Event) -> bool:
    """Put unless stopping; False when the pipeline is stopping."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue | LatestSlot, stop: threading.Event) -> object:
    while not stop.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return _End()


def _decode(source: Source, items: Iterator[VideoFrame | Packet],
            out: queue.Queue | LatestSlot, timer: StageTimer, stop: threading.Event,
            max_frames: int | None, held: list[VideoFrame | Packet]) -> None:
    """Read ``items`` (``source``'s) into ``out``; the item in hand at a stop goes to
    ``held``."""
    frames, last = 0, None
    try:
        while not stop.is_set() and (max_frames is None or frames < max_frames):
            start = time.perf_counter()
            item = next(items, None)
            if item is None:
                break
            if isinstance(item, VideoFrame):
                timer.add("decode", time.perf_counter() - start)
                item.captured_at = time.perf_counter()
                frames, last = frames + 1, item
            if not _put(out, item, stop):
                held.append(item)
                return
        if (source.copied_streams and frames == max_frames and last is not None
                and last.time is not None):
            end = last.time + 1.0 / source.fps
            for packet in _packets_before(items, end, len(source.copied_streams)):
                if not _put(out, packet, stop):
                    return
    except BaseException as exc:  # handed to the main thread
        _put(out, _Failure(exc), stop)
        return
    _put(out, _End(), stop)


def _packets_before(items: Iterator[VideoFrame | Packet], end: float, streams: int,
                    deadline: float = math.inf) -> Iterator[Packet]:
    """The audio and subtitle packets still to come from ``items`` that are timed before
    ``end`` (seconds: where the frames stopped early). A file interleaves them up to a
    second or more behind its video, so it is read on until each of its ``streams`` has
    passed ``end``, or its video has by TRAILING_SECONDS, or ``time.perf_counter()`` has
    passed ``deadline``."""
    passed: set[int] = set()
    for item in items:
        if time.perf_counter() > deadline:
            return
        if isinstance(item, VideoFrame):
            if item.time is not None and item.time > end + TRAILING_SECONDS:
                return
            continue
        stamp = item.pts if item.pts is not None else item.dts
        if stamp is None or item.time_base is None:
            continue
        if float(stamp * item.time_base) < end:
            yield item
        else:
            passed.add(item.stream.index)
            if len(passed) >= streams:
                return


def _enhance(enhancer: FrameEnhancer, inbox: queue.Queue | LatestSlot,
             out: queue.Queue | LatestSlot, timer: StageTimer, stop: threading.Event,
             held: list[VideoFrame | Packet]) -> None:
    """Enhance the frames from ``inbox`` into ``out``, packets passed on; a packet in hand at
    a stop goes to ``held``."""
    while True:
        item = _get(inbox, stop)
        if isinstance(item, VideoFrame):
            start = time.perf_counter()
            try:
                enhanced = enhancer.enhance(item)
            except BaseException as exc:  # handed to the main thread
                _put(out, _Failure(exc), stop)
                return
            timer.add("enhance", time.perf_counter() - start)
            item = (item, enhanced)
        if not _put(out, item, stop):
            if isinstance(item, Packet):
                held.append(item)
            return
        if isinstance(item, (_End, _Failure)):
            return


@functools.cache
def keep_freed_buffers() -> bool:
    """Have glibc's malloc keep freed frame-sized blocks in the process for reuse instead
    of returning them to the kernel, so frames stop costing page faults (process-wide, so
    done once per process). False where the C library is not glibc (nothing is changed
    there)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _HEAP_BLOCK_BYTES)
                and libc.mallopt(_M_TRIM_THRESHOLD, _KEPT_BYTES))


@contextmanager
def opencv_on_one_thread() -> Iterator[None]:
    """OpenCV's functions on the calling thread alone for the block, its pool as it was
    after (photos and tiles take it whole)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def run_pipeline(source: Source, enhancer: FrameEnhancer, sinks: Sequence[Sink] = (),
                 max_frames: int | None = None,
                 on_frame: Callable[[PipelineStats], None] | None = None) -> PipelineStats:
    """Run the stages until the source ends, ``max_frames`` are done, a sink closes (the
    window) or Ctrl-C (then ``stats.interrupted`` is set). The caller closes the sinks."""
    keep_freed_buffers()
    with nullcontext() if source.live else opencv_on_one_thread():
        return _run_stages(source, enhancer, sinks, max_frames, on_frame)


def _run_stages(source: Source, enhancer: FrameEnhancer, sinks: Sequence[Sink],
                max_frames: int | None, on_frame: Callable[[PipelineStats], None] | None
                ) -> PipelineStats:
    live = source.live
    decoded = LatestSlot() if live else queue.Queue(FILE_QUEUE_FRAMES)
    enhanced = LatestSlot() if live else queue.Queue(FILE_QUEUE_FRAMES)
    timer, stop, stats = StageTimer(), threading.Event(), PipelineStats()
    items = iter(source)
    decode_held: list[VideoFrame | Packet] = []
    enhance_held: list[VideoFrame | Packet] = []
    workers = [
        threading.Thread(target=_decode, args=(source, items, decoded, timer, stop, max_frames,
                                               decode_held), name="decode", daemon=True),
        threading.Thread(target=_enhance, args=(enhancer, decoded, enhanced, timer, stop,
                                                enhance_held), name="enhance", daemon=True),
    ]
    written: float | None = None  # the time of the last frame written (seconds)
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    try:
        while True:
            item = _get(enhanced, stop)
            if isinstance(item, _End):
                break
            if isinstance(item, _Failure):
                raise item.error
            if isinstance(item, Packet):
                for sink in sinks:
                    sink.copy(item)
                continue
            frame, output = item
            enhanced_frame = frame.with_image(output)
            for sink in sinks:
                t = time.perf_counter()
                sink.write(enhanced_frame, frame.image)
                timer.add(sink.name, time.perf_counter() - t)
            timer.add("latency", time.perf_counter() - frame.captured_at)
            written = frame.time
            stats.frames += 1
            stats.seconds = time.perf_counter() - start
            if on_frame is not None:
                on_frame(stats)
            if any(sink.closed for sink in sinks):
                break
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP turned into one by the CLI
        stats.interrupted, stats.stopped_by = True, str(exc) or "SIGINT"
    finally:
        with signals_held():  # a second Ctrl-C must not leave the workers running
            stop.set()
            for worker in workers:
                worker.join(timeout=5)
        stats.seconds = time.perf_counter() - start
        stats.stages = timer.summary()
        stats.latency_samples = list(timer.samples.get("latency", ()))
        stats.dropped = getattr(decoded, "dropped", 0) + getattr(enhanced, "dropped", 0)
    if (stats.interrupted and not live and source.copied_streams and written is not None
            and not any(worker.is_alive() for worker in workers)):
        # a file's audio lies up to a second or more behind its video: what belongs before
        # the last frame written is read on for, as after --max-frames
        read = [*_drained(enhanced), *enhance_held, *_drained(decoded), *decode_held]
        with signals_held():
            try:
                for packet in _packets_before(itertools.chain(read, items),
                                              written + 1.0 / source.fps,
                                              len(source.copied_streams),
                                              time.perf_counter() + READ_ON_SECONDS):
                    for sink in sinks:
                        sink.copy(packet)
            except (InputError, av.error.FFmpegError):
                pass  # a damaged stretch: the packets before it are kept
    stats.warnings.extend(source.warnings)
    return stats


def _drained(q: queue.Queue) -> list[VideoFrame | Packet]:
    """The frames and packets left in a file's queue (a frame enhanced: its input frame)."""
    left = []
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return left
        item = item[0] if isinstance(item, tuple) else item
        if isinstance(item, (VideoFrame, Packet)):
            left.append(item)
