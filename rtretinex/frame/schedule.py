"""Fast mode between two runs of the nets: the last result as a per-cell tone curve.

On a CPU without AMX the nets are most of a fast-mode frame's cost. Their answer changes
slowly from frame to frame, so they need not run on every one. ``GainGrid`` keeps what the
last run did as a bilateral grid (Chen et al., 2007): the nets' log gain per colour channel
(against the frame's luma with its smoothed colour, ``_base``) for each spatial cell and
each brightness bin (one stop wide), averaged with tent weights along brightness. A frame
is sliced through it: every small pixel gets the gain its cell gave pixels of its own
brightness, so what moved still gets the gain its brightness needs, and everything after
the nets (colour, highlights, exposure, the night corrections) runs on that frame as usual.
Every video frame goes through the grid, the ones the nets ran on too, so the output does
not switch between two kinds of gain; the grid's averaging also keeps the nets' response to
single noisy pixels out of the gain.

``NetSchedule`` decides when the nets run: on every ``every``-th frame, and at once on a
scene cut, a new frame size or when the light on the input changes by more than
LIGHT_STOPS since the last run. ``every`` None (the default) picks the interval from the
CPU time the process spends while the nets run (all its threads: the nets' own and, in a
busy pipeline, the decoder's and encoder's, which then wait longer; for a refresh in the
background, the frames' own work meanwhile), so that they cost about NET_BUDGET_MS of CPU a
frame on average: 1 (every frame) where they are that cheap, up to MAX_INTERVAL (wall time
would undercount them: two threads spend twice it).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import cv2
import numpy as np

from ..pixelops.formats import LUMA
from ..pixelops.loops import grid_sums, slice_grid
from .exposure import light_stops

__all__ = ["INPUT_FLOOR", "LIGHT_STOPS", "MAX_INTERVAL", "NET_BUDGET_MS", "GainGrid",
           "NetSchedule"]

# Brightness bins: one per stop of input luma from 2^-BIN_STOPS to 1.
BIN_STOPS = 8
# A spatial cell is this many small pixels square (107×60 nets input: 27×15 cells): larger
# cells lose the nets' local detail, smaller ones keep more colour noise.
CELL = 4
# Weight (in pixels) of the frame-wide curve mixed into each cell: a cell with few pixels
# of a brightness takes that brightness's gain mostly from the whole frame.
PRIOR_PIXELS = 4.0
# A gain divides by its input: dark pixels below this level (0-1) count as this level, which
# caps the gain (at ~127× for a fully bright output). The grid's log gains use the same.
INPUT_FLOOR = 2.0 / 255.0
# The nets' output (0-1) is taken as at least this before its log.
OUTPUT_FLOOR = 1e-4
# The gains act on the small frame's luma with the chromaticity of its copy smoothed by a
# Gaussian of this many small pixels: against each channel's own value the grid passes on
# the chroma noise; against the luma alone colour comes only from the cell.
CHROMA_SIGMA = 2.0
# The nets' average CPU time a frame aimed at when ``every`` is chosen automatically (ms),
# and the longest interval then (frames: 0.4 s at 30 fps; the grid stands in for them that
# long without a visible difference, docs/history.md).
NET_BUDGET_MS = 3.0
MAX_INTERVAL = 12
# A change of the input's mean luma since the last run (stops, in linear light) that runs
# the nets at once.
LIGHT_STOPS = 0.25
_COSTS = 9  # nets calls whose median CPU time sets the automatic interval


class GainGrid:
    """The nets' per-channel log gain as a function of position and brightness, fitted on
    one small frame (the constructor) and applied to another of the same size
    (``__call__``)."""

    def __init__(self, source: np.ndarray, output: np.ndarray) -> None:
        """``source``: the small input (h, w, 3, float32 0-1); ``output``: what the nets
        made of it (R ∘ Î, same shape)."""
        self.shape = source.shape
        luma = source @ LUMA
        log_gain = (np.log(np.maximum(output, OUTPUT_FLOOR))
                    - np.log(np.maximum(_base(source, luma), INPUT_FLOOR))).astype(np.float32)
        sums = grid_sums(_positions(luma), log_gain, CELL, BIN_STOPS + 1)
        cell_gain, cell_weight = sums[..., :3], sums[..., 3:]
        # the frame's own curve is a prior for cells with few pixels at a brightness
        curve = _frame_curve(cell_weight.sum(axis=(0, 1))[:, 0], cell_gain.sum(axis=(0, 1)))
        self.grid = (cell_gain + PRIOR_PIXELS * curve) / (cell_weight + PRIOR_PIXELS)

    def __call__(self, source: np.ndarray) -> np.ndarray:
        """What the nets' last run says ``source`` (same shape as the fitted frame) becomes."""
        luma = source @ LUMA
        log_gain = slice_grid(self.grid, _positions(luma), CELL)
        return np.maximum(_base(source, luma), INPUT_FLOOR) * np.exp(log_gain)


def _base(source: np.ndarray, luma: np.ndarray) -> np.ndarray:
    """What the grid's gains multiply: the small frame's luma with the chromaticity of its
    Gaussian-smoothed copy (CHROMA_SIGMA), so a pixel keeps its own colour but not its
    chroma noise."""
    blurred = cv2.GaussianBlur(source, (0, 0), CHROMA_SIGMA)
    return luma[..., None] * blurred / np.maximum(blurred @ LUMA, INPUT_FLOOR)[..., None]


def _positions(luma: np.ndarray) -> np.ndarray:
    """Where each pixel of a luma map (0-1) falls among the brightness bins (0 to
    BIN_STOPS, one bin a stop of log2 brightness)."""
    return np.clip(np.log2(np.maximum(luma, 2.0**-BIN_STOPS)) + BIN_STOPS, 0,
                   BIN_STOPS).astype(np.float32)


def _frame_curve(weights: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """The frame-wide mean log gain of each bin (bins, 3) from its Σw (bins) and Σw·g
    (bins, 3); bins with no pixels take the nearest filled bins' values (interpolated)."""
    filled = np.flatnonzero(weights > 1e-6)
    if filled.size == 0:
        return np.zeros_like(sums)
    means = sums[filled] / weights[filled, None]
    return np.stack([np.interp(np.arange(len(weights)), filled, means[:, c])
                     for c in range(3)], axis=1).astype(np.float32)


class NetSchedule:
    """When fast mode runs the nets on a video frame (see the module docstring); ``every``
    None: automatic, from the nets' measured CPU time. ``background`` (live sources, with
    the automatic interval): the periodic refresh runs on a thread of its own while frames
    go on through the last grid, so the frame it falls on does not wait for the nets (a
    scene cut, a new size or a change of light still waits: the old grid is wrong for what
    comes). A fixed ``every``, and nets cheap enough for every frame, are kept to the frame,
    in the frame's own thread."""

    def __init__(self, every: int | None = None, background: bool = False) -> None:
        if every is not None and every < 1:
            raise ValueError(f"the nets' interval must be >= 1 frame, got {every}")
        self.every = every
        self.background = background and every is None
        self.costs: deque[float] = deque(maxlen=_COSTS)  # CPU ms; kept across streams
        self.pending: Future | None = None  # the background run: (source, output)
        self._worker: ThreadPoolExecutor | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the stream (the next frame runs the nets)."""
        self._settle()
        self.grid: GainGrid | None = None
        self.since = 0
        self.input_stops = 0.0
        self.runs = 0

    @property
    def interval(self) -> int:
        """Frames from one run of the nets to the next."""
        if self.every is not None:
            return self.every
        if len(self.costs) < 3:
            return 1
        ms = float(np.median(self.costs))
        return min(MAX_INTERVAL, max(1, math.ceil(ms / NET_BUDGET_MS - 0.25)))

    def __call__(self, source: np.ndarray, cut: bool,
                 nets: Callable[[], np.ndarray]) -> np.ndarray:
        """The nets' output for the small ``source`` (h, w, 3, float32 0-1) of the next
        frame: ``nets()`` run now (or started in the background), or the last run's grid
        applied."""
        stops = light_stops(float((source @ LUMA).mean()))
        if self.pending is not None and self.pending.done():
            self._adopt(*self.pending.result())
            self.pending = None
        urgent = (self.grid is None or cut or self.grid.shape != source.shape
                  or abs(stops - self.input_stops) > LIGHT_STOPS)
        interval = self.interval
        due = self.since + 1 >= interval
        # nets cheap enough for every frame (a GPU) stay in the frame's thread
        if urgent or (due and (not self.background or interval == 1)):
            self._settle()  # the nets run one call at a time
            self._adopt(*self._run(source, stops, nets))
        else:
            if due and self.pending is None:
                if self._worker is None:
                    self._worker = ThreadPoolExecutor(1, thread_name_prefix="rtretinex-nets")
                self.pending = self._worker.submit(self._run, source, stops, nets)
            self.since += 1
        # the frames the nets ran on go through the grid too, so the output does not
        # switch between two kinds of gain from frame to frame
        return self.grid(source)

    def _run(self, source: np.ndarray, stops: float, nets: Callable[[], np.ndarray]
             ) -> tuple[np.ndarray, float, np.ndarray]:
        """``nets()`` for ``source`` (its light ``stops``), their CPU time recorded."""
        start = time.process_time()
        output = nets()
        self.costs.append((time.process_time() - start) * 1e3)
        return source, stops, output

    def _adopt(self, source: np.ndarray, stops: float, output: np.ndarray) -> None:
        """Make the grid of a run of the nets on ``source`` the one frames go through."""
        self.grid = GainGrid(source, output)
        self.since, self.runs, self.input_stops = 0, self.runs + 1, stops

    def _settle(self) -> None:
        """Wait for a background run still going, and drop it."""
        if self.pending is not None:
            wait([self.pending])
            self.pending = None
