"""Threads and queues: file order, live drop policy, bounded latency, failure hand-off."""

import platform
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from rtretinex.video.frames import VideoFrame
from rtretinex.video.pipeline import LatestSlot, StageTimer, run_pipeline
from rtretinex.video.sources import Source


class SyntheticCamera(Source):
    """Stands in for a webcam in CI: numbered frames at a fixed rate, live policy."""

    live = True

    def __init__(self, fps: float, frames: int) -> None:
        self.fps, self.frames = fps, frames

    def __iter__(self):
        for i in range(self.frames):
            time.sleep(1 / self.fps)
            yield VideoFrame(np.full((8, 8, 3), i % 256, np.uint8), i)


class SlowEnhancer:
    """A real enhancer's cost without its work: sleeps, then tags the frame."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.seen, self.dropped_before = seconds, [], []

    def enhance(self, frame):
        time.sleep(self.seconds)
        self.seen.append(int(frame.image[0, 0, 0]))
        self.dropped_before.append(frame.dropped_before)
        return frame.image


class Recorder:
    """A sink that remembers what it was given."""

    name = "display"
    closed = False

    def __init__(self):
        self.shown, self.packets, self.kept = [], 0, None

    def write(self, frame, original):
        self.shown.append(int(frame.image[0, 0, 0]))

    def copy(self, packet):
        self.packets += 1

    def close(self, keep=True):
        self.kept = keep


def test_live_source_drops_stale_frames_and_keeps_latency_bounded():
    camera, enhancer, display = SyntheticCamera(fps=200, frames=200), SlowEnhancer(0.02), Recorder()
    stats = run_pipeline(camera, enhancer, [display])
    assert stats.dropped > 50
    assert stats.frames + stats.dropped == 200
    # the enhancer is told how many frames were dropped before each one (time jumped)
    assert sum(enhancer.dropped_before) >= stats.dropped - 5 and max(enhancer.dropped_before) > 0
    assert display.shown == sorted(display.shown)  # newest-first never reorders
    # Latency stays near one enhance time, not growing with the backlog.
    assert stats.stages["latency"]["ms_p95"] < 150


def test_file_source_keeps_every_frame_in_order():
    class FileLike(SyntheticCamera):
        live = False

    display = Recorder()
    stats = run_pipeline(FileLike(fps=1000, frames=50), SlowEnhancer(0.002), [display])
    assert display.shown == list(range(50)) and stats.dropped == 0
    assert {"decode", "enhance", "display", "latency"} <= stats.stages.keys()


def test_max_frames_stops_early():
    class FileLike(SyntheticCamera):
        live = False

    display = Recorder()
    stats = run_pipeline(FileLike(fps=1000, frames=50), SlowEnhancer(0), [display],
                         max_frames=7)
    assert stats.frames == 7 and display.shown == list(range(7))


def test_enhancer_failure_reaches_the_caller_and_threads_stop():
    class Broken:
        def enhance(self, frame):
            raise RuntimeError("boom")

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="boom"):
        run_pipeline(SyntheticCamera(fps=1000, frames=10), Broken(), [Recorder()])
    time.sleep(0.3)
    assert threading.active_count() <= before


def test_latest_slot_counts_replacements():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.get() == 4 and slot.dropped == 4


def test_stage_timer_memory_is_bounded():
    timer = StageTimer()
    for _ in range(50_000):
        timer.add("x", 0.001)
    assert len(timer.samples["x"]) == 10_000
    assert timer.summary()["x"]["ms_median"] == pytest.approx(1.0)


def test_a_truncated_source_becomes_a_warning():
    class Truncated(SyntheticCamera):
        live = False
        warnings = ("decoding stopped after 3 frames: corrupt",)

    stats = run_pipeline(Truncated(fps=1000, frames=3), SlowEnhancer(0), [Recorder()])
    assert stats.warnings == ["decoding stopped after 3 frames: corrupt"]


FAULTS_SCRIPT = """
import resource, sys
import numpy as np
from rtretinex.video.pipeline import keep_freed_buffers
if sys.argv[1] == "keep":
    assert keep_freed_buffers()
def churn():
    for _ in range(50):  # a frame's worth of buffers, allocated, touched and freed
        buffers = [np.ones(3 << 20, np.uint8) for _ in range(3)]
        del buffers
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc malloc setting")
def test_freed_frame_buffers_are_reused_without_page_faults():
    def faults(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", FAULTS_SCRIPT, mode], capture_output=True,
                             text=True, check=True)
        return int(run.stdout)
    assert faults("keep") < 100 < faults("default")  # 50 × 3 buffers of 768 pages each


def test_reading_on_for_trailing_packets_stops_at_the_deadline():
    """After a stop the file is read on for the packets that belong before it, until each
    stream has passed the stop, and after Ctrl-C no longer than a deadline (a second Ctrl-C
    waits for it)."""
    from fractions import Fraction
    from types import SimpleNamespace

    from rtretinex.video.pipeline import _packets_before

    def packet(seconds, index=1):
        return SimpleNamespace(pts=int(seconds * 1000), dts=None, time_base=Fraction(1, 1000),
                               stream=SimpleNamespace(index=index))

    items = [packet(0.5), packet(0.9), packet(1.2), packet(0.95, index=2), packet(1.3, index=2),
             packet(0.1)]
    kept = [p.pts for p in _packets_before(iter(items), 1.0, streams=2)]
    assert kept == [500, 900, 950]  # both streams have passed 1.0 s: not read further
    assert list(_packets_before(iter(items), 1.0, 2, deadline=time.perf_counter() - 1)) == []


def test_opencv_works_on_the_enhancing_thread_alone_while_a_file_runs_through():
    """A file's stages keep the cores busy, so OpenCV's own pool would only compete with
    them: one thread while it runs, the pool as it was after (photos take it whole); a live
    source, whose stages wait on the camera, keeps the pool for its latency."""
    import cv2

    class FileLike(SyntheticCamera):
        live = False

    class Recording(SlowEnhancer):
        def enhance(self, frame):
            threads.append(cv2.getNumThreads())
            return super().enhance(frame)

    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        for source, want in ((FileLike(fps=1000, frames=3), {1}),
                             (SyntheticCamera(fps=1000, frames=3), {2})):
            threads = []
            run_pipeline(source, Recording(0), [])
            assert threads and set(threads) == want
            assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)
