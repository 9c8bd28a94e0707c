"""Fast mode between runs of the nets: the gain grid that stands in for them, when they
run, and the whole video path with the nets on every 4th frame against every frame."""

import hashlib
import threading
import time
from fractions import Fraction

import cv2
import numpy as np
import pytest

from rtretinex import Enhancer, EnhanceSettings
from rtretinex.frame.schedule import LIGHT_STOPS, MAX_INTERVAL, NET_BUDGET_MS, GainGrid, NetSchedule
from rtretinex.nets.backends import create_backend
from rtretinex.pixelops.formats import LUMA, YUV420P, to_rgb
from rtretinex.training.data import simulate_camera_night
from rtretinex.video.frames import VideoFrame

from .conftest import small_photo


def tone_curve(source: np.ndarray) -> np.ndarray:
    """A stand-in for the nets: each pixel's colour kept, a brightness-dependent gain (dark
    pixels lifted more) that is stronger on the left half of the frame, a warm tint."""
    luma = source @ LUMA
    gain = 0.5 / np.maximum(luma, 0.01) ** 0.6
    gain[:, : source.shape[1] // 2] *= 1.5
    return np.clip(source * gain[..., None] * np.array([1.05, 1.0, 0.9], np.float32), 0, 1)


def moved(image: np.ndarray, dx: int) -> np.ndarray:
    return np.roll(image, dx, axis=1)


def test_grid_gives_moved_content_the_gain_its_brightness_needs():
    source = small_photo("astronaut", 60, 106).astype(np.float32) / 255 * 0.3
    grid = GainGrid(source, tone_curve(source))
    later = moved(source, 9)  # content moved by two cells
    wanted = tone_curve(later) @ LUMA
    error = np.abs(grid(later) @ LUMA - wanted)
    assert np.median(error) < 0.03  # of a mean output luma of 0.26
    # what a stale per-pixel gain map would do instead (the gain stays where it was)
    stale = later * tone_curve(source) / np.maximum(source, 2 / 255)
    assert np.median(error) < 0.6 * np.median(np.abs(stale @ LUMA - wanted))


def test_grid_fills_brightness_the_fitted_frame_did_not_have():
    source = np.full((60, 106, 3), 0.05, np.float32)  # one brightness only
    grid = GainGrid(source, tone_curve(source))
    brighter = np.full_like(source, 0.2)
    out = grid(brighter)
    assert np.isfinite(out).all() and (out > brighter).all()


def run(schedule: NetSchedule, frames, cuts=None):
    """Which frames the nets ran on."""
    ran = []
    for i, frame in enumerate(frames):
        def nets(i=i, frame=frame):
            ran.append(i)
            return tone_curve(frame)
        schedule(frame, bool(cuts and i in cuts), nets)
    return ran


def test_schedule_runs_every_nth_frame_and_at_once_on_a_cut_or_new_light():
    frame = np.full((60, 106, 3), 0.05, np.float32)
    assert run(NetSchedule(4), [frame] * 10) == [0, 4, 8]
    assert run(NetSchedule(4), [frame] * 10, cuts={2}) == [0, 2, 6]
    light = 2 ** (1.5 * LIGHT_STOPS / 2.2)  # a change just past LIGHT_STOPS, linear light
    frames = [frame] * 3 + [frame * light] * 3
    assert run(NetSchedule(4), frames) == [0, 3]
    assert run(NetSchedule(4), [frame, frame[:30]]) == [0, 1]  # a new size
    assert run(NetSchedule(1), [frame] * 3) == [0, 1, 2]


@pytest.mark.parametrize("ms,interval", [(0.5, 1), (NET_BUDGET_MS * 3, 3), (500.0, MAX_INTERVAL)])
def test_automatic_interval_follows_the_nets_time(ms, interval):
    schedule = NetSchedule()
    assert schedule.interval == 1  # until the nets have been timed
    schedule.costs.extend([ms] * 5)
    assert schedule.interval == interval


def busy(seconds: float) -> None:
    """Keep this thread's CPU busy for ``seconds`` of wall time."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        hashlib.sha256(bytes(4096)).digest()


@pytest.mark.parametrize("work,costly", [(time.sleep, False), (busy, True)])
def test_automatic_interval_counts_the_nets_cpu_time_not_their_wall_time(work, costly):
    """Nets that wait (on a device, or on threads of their own) are charged the CPU time
    the process spent meanwhile, not the time they took."""
    frame = np.full((20, 30, 3), 0.2, np.float32)
    schedule = NetSchedule()

    def nets():
        work(NET_BUDGET_MS * 4 / 1000)
        return frame

    for _ in range(4):
        schedule(frame, True, nets)
    assert (schedule.interval >= 3) == costly


class FakeNets:
    """Nets that answer a constant everywhere, logging their calls and the most that ran at
    once; ``release`` (an Event) makes a call wait for it first (at most 5 s)."""

    def __init__(self, frame: np.ndarray) -> None:
        self.frame, self.calls, self.running, self.most = frame, [], 0, 0
        self.lock = threading.Lock()

    def answer(self, value: float, release: threading.Event | None = None):
        def nets():
            with self.lock:
                self.calls.append(value)
                self.running += 1
                self.most = max(self.most, self.running)
            if release is not None:
                release.wait(5)
            with self.lock:
                self.running -= 1
            return np.full_like(self.frame, value)
        return nets


def test_background_refresh_does_not_hold_up_frames_and_is_adopted_when_done():
    """A live source's periodic refresh runs while frames go on through the last grid;
    its result is used from the frame after it finished."""
    frame = np.full((60, 106, 3), 0.05, np.float32)
    fake, release = FakeNets(frame), threading.Event()
    schedule = NetSchedule(background=True)
    schedule.costs.extend([NET_BUDGET_MS * 2] * 3)  # the nets every 2nd frame
    assert schedule(frame, False, fake.answer(0.1)).mean() == pytest.approx(0.1, rel=1e-4)
    schedule(frame, False, fake.answer(0.2, release))  # not due yet
    start = time.perf_counter()
    for _ in range(3):  # due: started in the background, then still running
        out = schedule(frame, False, fake.answer(0.2, release))
        assert out.mean() == pytest.approx(0.1, rel=1e-4)  # the last grid, not waiting for the nets
    assert time.perf_counter() - start < 2.0
    assert fake.calls == [0.1, 0.2]  # one background run at a time
    release.set()
    schedule.pending.result(timeout=5)
    assert schedule(frame, False, fake.answer(0.3)).mean() == pytest.approx(0.2, rel=1e-4)


def test_a_cut_waits_for_the_background_run_and_runs_the_nets_at_once():
    frame = np.full((60, 106, 3), 0.05, np.float32)
    fake, release = FakeNets(frame), threading.Event()
    schedule = NetSchedule(background=True)
    schedule.costs.extend([NET_BUDGET_MS * 2] * 3)  # the nets every 2nd frame
    schedule(frame, False, fake.answer(0.1))
    schedule(frame, False, fake.answer(0.15))  # not due yet: the grid
    schedule(frame, False, fake.answer(0.2, release))  # due: in the background
    threading.Timer(0.2, release.set).start()
    out = schedule(frame, True, fake.answer(0.3))  # a cut: the nets now, after that run
    assert out.mean() == pytest.approx(0.3, rel=1e-4)
    assert fake.calls == [0.1, 0.2, 0.3]
    assert fake.most == 1  # never two calls at once


@pytest.mark.parametrize("every,cost", [(1, 0.0), (None, 0.1)])
def test_a_fixed_interval_or_cheap_nets_stay_in_the_frames_thread_even_live(every, cost):
    """--nets-every N is kept to the frame; nets cheap enough for every frame (a GPU) are
    not sent to another thread."""
    frame = np.full((60, 106, 3), 0.05, np.float32)
    fake = FakeNets(frame)
    schedule = NetSchedule(every, background=True)
    schedule.costs.extend([cost] * 3)
    for value in (0.1, 0.2, 0.3):
        assert schedule(frame, False, fake.answer(value)).mean() == pytest.approx(value, rel=1e-4)
    assert schedule.pending is None


class CountingBackend:
    """A backend that counts its calls."""

    def __init__(self, backend):
        self.backend, self.calls = backend, 0

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def __call__(self, image):
        self.calls += 1
        return self.backend(image)


def test_video_with_nets_every_4th_frame_matches_every_frame():
    """A camera-like night clip of a panning photo: the nets run on a quarter of the frames
    and the output stays within a small error of running them on every frame."""
    photo = small_photo("astronaut", 240, 424)
    frames = [simulate_camera_night(np.roll(photo, 6 * i, axis=1), seed=i) for i in range(12)]
    outputs = {}
    for every in (1, 4):
        backend = CountingBackend(create_backend("torch-cpu"))
        enhancer = Enhancer(backend, EnhanceSettings(mode="fast", nets_every=every))
        outputs[every] = [to_rgb(enhancer.enhance(VideoFrame(f, i, i, Fraction(1, 30),
                                                            pixel_format=YUV420P)))
                          for i, f in enumerate(frames)]
        assert backend.calls == (12 if every == 1 else 3)
    for every_frame, fourth in zip(outputs[1], outputs[4], strict=True):
        # 0 where the nets ran; 1.5-3.4 codes after 1-3 frames of a fast pan (18 pixels)
        assert cv2.absdiff(fourth, every_frame).mean() < 4.0
    # the frames between runs are not the last run's output: the picture moved on
    shift = cv2.absdiff(outputs[4][3], outputs[4][0]).mean()
    assert shift > 5 * cv2.absdiff(outputs[4][3], outputs[1][3]).mean()
