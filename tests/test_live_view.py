"""The live view under Xvfb: real screenshots of the window and real key presses (XTest)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rtretinex.video.display import fit

from .test_cli import ROOT

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
SCREEN = (1280, 800)
TITLE = "rtretinex"


@pytest.fixture(scope="module")
def xserver():
    """An Xvfb screen and an Xlib connection to it."""
    Xlib = pytest.importorskip("Xlib.display", reason="python-xlib is not installed")
    name = f":{90 + os.getpid() % 50}"
    server = subprocess.Popen(["Xvfb", name, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                connection = Xlib.Display(name)
                break
            except Exception:
                time.sleep(0.1)
        else:
            pytest.skip("Xvfb did not start")
        yield name, connection
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def moving_clip(path: Path, width: int, height: int, seconds: float = 20.0) -> Path:
    """A dark gradient with a bright bar moving along the bottom quarter, 30 fps."""
    gradient = np.linspace(20, 70, width, dtype=np.float32)[None, :, None]
    base = np.broadcast_to(gradient, (height, width, 3)).astype(np.uint8).copy()
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * 30)):
            image = base.copy()
            x = (i * 4) % (width - 8)
            image[height * 3 // 4:, x:x + 8] = 230
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


class Window:
    """The tool's window on the X server: where it is, what it shows, keys sent to it."""

    def __init__(self, xserver, proc, timeout=60):
        self.name, self.x = xserver
        self.proc = proc
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            self.window = self._find(self.x.screen().root)
            if self.window is not None and self.geometry()[2] > 1:
                return
            time.sleep(0.2)
        pytest.fail("the window never appeared")

    def _find(self, window):
        try:
            if window.get_wm_name() == TITLE:
                return window
            children = window.query_tree().children
        except Exception:  # a window that went away while we looked
            return None
        for child in children:
            found = self._find(child)
            if found is not None:
                return found
        return None

    def geometry(self):
        g = self.window.get_geometry()
        origin = self.x.screen().root.translate_coords(self.window, 0, 0)
        return origin.x, origin.y, g.width, g.height

    def screenshot(self) -> np.ndarray:
        from PIL import ImageGrab

        x, y, w, h = self.geometry()
        return np.asarray(ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=self.name))

    def press(self, key: str) -> None:
        from Xlib import XK, X
        from Xlib.ext import xtest

        x, y, w, h = self.geometry()
        xtest.fake_input(self.x, X.MotionNotify, x=x + w // 2, y=y + h // 2)
        self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
        code = self.x.keysym_to_keycode(XK.string_to_keysym(key))
        xtest.fake_input(self.x, X.KeyPress, code)
        xtest.fake_input(self.x, X.KeyRelease, code)
        self.x.sync()
        time.sleep(0.5)


def start(xserver, *args, cwd):
    env = {**os.environ, "DISPLAY": xserver[0]}
    return subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), *map(str, args)],
                            cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)


def quit_cleanly(window):
    window.press("q")
    _, stderr = window.proc.communicate(timeout=30)
    assert window.proc.returncode == 0, stderr
    assert "keys: q/Esc quit" in stderr  # the one-line hint at start
    return stderr


def middle_band(pane: np.ndarray) -> np.ndarray:
    """Rows away from the label (top), the readout and the moving bar (bottom)."""
    height = pane.shape[0]
    return pane[height * 3 // 10:height * 6 // 10].astype(float)


def enhanced_frame(clip: Path) -> np.ndarray:
    """Frame 60 of the clip as ``run_stream.py -o`` enhances it (RGB)."""
    out = clip.with_name("enhanced.mkv")
    subprocess.run([sys.executable, str(ROOT / "run_stream.py"), str(clip), "-o", str(out),
                    "--max-frames", "61", "-y"], check=True, capture_output=True, timeout=120)
    with av.open(str(out)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == 60:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError("the transcode has fewer than 61 frames")


def test_the_window_fits_the_video_shows_both_panes_and_obeys_its_keys(xserver, tmp_path):
    width, height = 320, 180
    clip = moving_clip(tmp_path / "clip.mp4", width, height)
    proc = start(xserver, clip, "--display", "--compare", cwd=tmp_path)
    window = Window(xserver, proc)
    try:
        time.sleep(2)
        # the window has the video's size, both panes side by side
        assert window.geometry()[2:] == (2 * width, height)
        shot = window.screenshot()
        shown_input, shown_output = shot[:, :width], shot[:, width:]
        decoded = next(av.open(str(clip)).decode(video=0)).to_ndarray(format="rgb24")
        # the input pane shows the input (the bar aside), the enhanced pane what a transcode
        # of the same clip writes (the scene is still, so any settled frame will do)
        assert np.abs(middle_band(shown_input) - middle_band(decoded)).mean() < 3
        assert np.abs(middle_band(shown_output) - middle_band(enhanced_frame(clip))).mean() < 4
        assert middle_band(shown_output).mean() > middle_band(shown_input).mean() + 20
        # playing: the bar moves; paused: the picture holds
        time.sleep(0.3)
        assert not np.array_equal(shot, window.screenshot())
        window.press("space")
        held = window.screenshot()
        time.sleep(1)
        assert np.array_equal(held, window.screenshot())
        window.press("space")
        # + brightens the enhanced pane live (one stop in three presses)
        before = middle_band(window.screenshot()[:, width:]).mean()
        for _ in range(3):
            window.press("plus")
        time.sleep(1)
        assert middle_band(window.screenshot()[:, width:]).mean() > before + 15
        # s saves both panes as a PNG in the working folder
        window.press("s")
        deadline = time.monotonic() + 10  # written by the display's loop: on a loaded machine
        while not (snapshots := list(tmp_path.glob("rtretinex-*.png"))) and (
                time.monotonic() < deadline):
            time.sleep(0.1)
        assert len(snapshots) == 1
        import cv2

        assert cv2.imread(str(snapshots[0])).shape[:2] == (height, 2 * width)
        # c turns compare off: one pane, and the window follows
        window.press("c")
        assert window.geometry()[2:] == (width, height)
    finally:
        if proc.poll() is None:
            quit_cleanly(window)


def test_a_large_video_opens_scaled_to_the_screen_aspect_kept(xserver, tmp_path):
    width, height = 1200, 640
    clip = moving_clip(tmp_path / "big.mp4", width, height, seconds=5)
    proc = start(xserver, clip, "--display", "--compare", cwd=tmp_path)
    window = Window(xserver, proc)
    time.sleep(1)
    w, h = window.geometry()[2:]
    assert (w, h) == fit((2 * width, height), SCREEN)
    assert w <= SCREEN[0] and abs(w / h - 2 * width / height) < 0.02
    quit_cleanly(window)


def test_a_file_shown_plays_at_its_own_rate(xserver, tmp_path):
    clip = moving_clip(tmp_path / "clip.mp4", 160, 96, seconds=2)
    stats = tmp_path / "s.json"
    env = {**os.environ, "DISPLAY": xserver[0]}
    begin = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "run_stream.py"), str(clip),
                             "--display", "--stats-json", str(stats)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(stats.read_text())
    assert report["frames"] + report["dropped"] == 60
    assert report["seconds"] >= 59 / 30 - 0.05 and time.monotonic() - begin < 60


def test_the_readout_shows_the_exposure_in_use(xserver, monkeypatch):
    from rtretinex import Enhancer, EnhanceSettings
    from rtretinex.nets.backends import create_backend
    from rtretinex.video.display import DisplaySink

    monkeypatch.setenv("DISPLAY", xserver[0])
    enhancer = Enhancer(create_backend("torch-cpu"), EnhanceSettings(exposure=1.0))
    window = DisplaySink(title="readout test", controls=enhancer)
    try:
        assert window._readout()[1].endswith("exposure +1.0 EV")  # --exposure, from the start
        enhancer.adjust_exposure(-1 / 3)
        assert window._readout()[1].endswith("exposure +0.7 EV")
    finally:
        window.close()


def test_a_live_view_stopped_by_sigterm_says_so_without_naming_a_file(xserver, tmp_path):
    clip = moving_clip(tmp_path / "clip.mp4", 160, 96, seconds=20)
    proc = start(xserver, clip, "--display", cwd=tmp_path)
    time.sleep(6)  # playing
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert lines == ["error: stopped by SIGTERM"], stderr
