"""The live view: an OpenCV window showing the enhanced video (and the input beside it).

The window opens at the video's size (both panes side by side in compare mode), scaled
down only to fit the screen, aspect kept, resizable. Panes are labelled; a readout shows
output FPS, capture → display latency, frames dropped, the mode, backend and exposure.
Keys (``KEYS``) work while playing and while paused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import OutputError
from ..images import write_image
from ..pixelops.formats import to_bgr
from .frames import VideoFrame
from .sources import Packet

__all__ = ["KEYS", "DisplaySink", "screen_size"]

log = logging.getLogger("rtretinex")

KEYS = ("q/Esc quit · space pause · c compare · s snapshot · f fullscreen · i info · "
        "+/- exposure")
# Share of the screen the window may take when it opens.
SCREEN_SHARE = 0.9
FALLBACK_SCREEN = (1920, 1080)
EXPOSURE_STEP = 1 / 3  # stops per +/- press, as on a camera
_LABEL_FONT = cv2.FONT_HERSHEY_SIMPLEX


class ExposureControl(Protocol):
    """What the window needs of the enhancer (``Enhancer`` has it)."""

    @property
    def exposure_stops(self) -> float: ...

    def adjust_exposure(self, stops: float) -> float: ...


def screen_size() -> tuple[int, int]:
    """(width, height) of the X11 screen the window opens on; FALLBACK_SCREEN where that
    cannot be asked (no libX11, Wayland without XWayland, other systems)."""
    name = ctypes.util.find_library("X11")
    if not name or not os.environ.get("DISPLAY"):
        return FALLBACK_SCREEN
    try:
        x11 = ctypes.CDLL(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
        x11.XDisplayWidth.argtypes = x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        display = x11.XOpenDisplay(None)
        if not display:
            return FALLBACK_SCREEN
        screen = x11.XDefaultScreen(display)
        size = (x11.XDisplayWidth(display, screen), x11.XDisplayHeight(display, screen))
        x11.XCloseDisplay(display)
        return size
    except (OSError, AttributeError):
        return FALLBACK_SCREEN


def fit(size: tuple[int, int], screen: tuple[int, int]) -> tuple[int, int]:
    """``size`` (w, h) scaled down (never up) to fit SCREEN_SHARE of ``screen``, aspect kept."""
    scale = min(1.0, SCREEN_SHARE * screen[0] / size[0], SCREEN_SHARE * screen[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def draw_text(image: np.ndarray, lines: list[str], corner: str) -> None:
    """Write ``lines`` on a dark box in the ``corner`` ("top" or "bottom" left) of a BGR
    image, sized to the image (text ~2.5 % of its height, readable from 360 px up)."""
    scale = max(0.35, min(0.8, image.shape[0] / 1000, image.shape[1] / 1400))
    thickness = 1
    height = cv2.getTextSize("Ag", _LABEL_FONT, scale, thickness)[0][1]
    step, pad = int(height * 1.8), int(height * 0.6)
    width = max(cv2.getTextSize(line, _LABEL_FONT, scale, thickness)[0][0] for line in lines)
    top = pad if corner == "top" else image.shape[0] - pad - step * len(lines) - pad
    box = image[max(0, top - pad):top + step * len(lines) + pad, :width + 3 * pad]
    box[...] = (box * 0.35).astype(np.uint8)
    for k, line in enumerate(lines):
        cv2.putText(image, line, (pad, top + step * k + height + pad // 2), _LABEL_FONT, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)


class DisplaySink:
    """The live view (see the module docstring). ``describe`` names what runs (mode,
    backend); ``controls`` takes +/- (exposure); ``player`` (a source with pause/resume)
    is held while paused, so a file pauses like a player's; a live source goes on."""

    name = "display"

    def __init__(self, title: str = "rtretinex", compare: bool = False, describe: str = "",
                 controls: ExposureControl | None = None, player: object = None,
                 snapshots: Path | None = None) -> None:
        self.title, self.compare, self.describe = title, compare, describe
        self.controls, self.player = controls, player
        self.snapshots = Path.cwd() if snapshots is None else snapshots
        self.closed = self.paused = self.fullscreen = False
        self.info = True
        self.shown: deque[float] = deque(maxlen=30)  # display times, for the FPS readout
        self.latency_ms = 0.0
        self.dropped = 0
        self.canvas: np.ndarray | None = None
        self.size: tuple[int, int] | None = None  # the window's content size
        if sys.platform.startswith("linux") and not (
                os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise OutputError("no display to show a window on (DISPLAY is not set); "
                              "use -o FILE instead")
        os.environ.setdefault("QT_LOGGING_RULES", "*=false")  # Qt's font warnings
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO
                            | cv2.WINDOW_GUI_NORMAL)
        except cv2.error:
            raise OutputError("cannot open a window (no display?); use -o FILE instead") from None
        self.screen = screen_size()
        print(f"keys: {KEYS}", file=sys.stderr)
        self.frame: VideoFrame | None = None
        self.original: np.ndarray | None = None

    def write(self, frame: VideoFrame, original: np.ndarray | None = None) -> None:
        """Show an enhanced frame; while paused, keep showing the held one until resumed."""
        self.dropped += frame.dropped_before
        self.frame, self.original = frame, original
        self.shown.append(time.perf_counter())
        if frame.captured_at:
            self.latency_ms = (time.perf_counter() - frame.captured_at) * 1e3
        self._show()
        self._keys(1)
        while self.paused and not self.closed:
            self._keys(30)

    def _show(self) -> None:
        frame = self.frame
        if frame is None:
            return
        output = to_bgr(frame.image, frame.pixel_format)
        panes = [("enhanced", output)]
        if self.compare and self.original is not None:
            panes.insert(0, ("input", to_bgr(self.original, frame.pixel_format)))
        for label, pane in panes:
            draw_text(pane, [label], "top")
        canvas = np.hstack([pane for _, pane in panes])
        if self.info:
            draw_text(canvas, self._readout(), "bottom")
        size = (canvas.shape[1], canvas.shape[0])
        if size != self.size and not self.fullscreen:
            cv2.resizeWindow(self.title, *fit(size, self.screen))
            self.size = size
        self.canvas = canvas
        cv2.imshow(self.title, canvas)

    def _readout(self) -> list[str]:
        span = self.shown[-1] - self.shown[0] if len(self.shown) > 1 else 0.0
        fps = (len(self.shown) - 1) / span if span > 0 else 0.0
        state = "paused · " if self.paused else ""
        exposure = self.controls.exposure_stops if self.controls is not None else 0.0
        return [f"{state}{fps:.1f} FPS · latency {self.latency_ms:.0f} ms · "
                f"dropped {self.dropped}",
                f"{self.describe} · exposure {exposure:+.1f} EV"]

    def _keys(self, wait_ms: int) -> None:
        key = cv2.waitKey(wait_ms) & 0xFF
        if key == 255:
            if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
                self.closed = True  # the window was closed with the mouse
            return
        if key in (ord("q"), 27):
            self.closed = True
        elif key == ord(" "):
            self.paused = not self.paused
            hold = getattr(self.player, "pause" if self.paused else "resume", None)
            if hold is not None:
                hold()
        elif key == ord("c"):
            self.compare = not self.compare
        elif key == ord("s"):
            self._snapshot()
        elif key == ord("f"):
            self.fullscreen = not self.fullscreen
            cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN,
                                  cv2.WINDOW_FULLSCREEN if self.fullscreen else cv2.WINDOW_NORMAL)
        elif key == ord("i"):
            self.info = not self.info
        elif key in (ord("+"), ord("="), ord("-")) and self.controls is not None:
            step = EXPOSURE_STEP if key != ord("-") else -EXPOSURE_STEP
            self.controls.adjust_exposure(step)
        self._show()

    def _snapshot(self) -> None:
        """Save what the window shows (both panes, labels and readout) as a PNG."""
        if self.canvas is None:
            return
        stamp = time.strftime("rtretinex-%Y%m%d-%H%M%S")
        path, k = self.snapshots / f"{stamp}.png", 1
        while path.exists():
            path, k = self.snapshots / f"{stamp}_{k}.png", k + 1
        try:
            write_image(path, cv2.cvtColor(self.canvas, cv2.COLOR_BGR2RGB))
            print(f"saved {path}", file=sys.stderr)
        except OSError as exc:
            log.warning("cannot save a snapshot to %s: %s", path, exc.strerror or exc)

    def copy(self, packet: Packet) -> None:
        """A window plays no audio."""

    def close(self, keep: bool = True) -> None:
        cv2.destroyWindow(self.title)
