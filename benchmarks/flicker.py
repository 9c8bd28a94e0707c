#!/usr/bin/env python3
"""Flicker with and without temporal smoothing, and how fast a real change passes through.

Clips are made from a bundled photo with the low-light simulator (fresh sensor noise every
frame): "static" has a steady light, "flickering" a light that wobbles ±15 % per frame.
Flicker = mean |Δ mean brightness| between consecutive output frames (0-255 scale).
"step" doubles the exposure halfway: we report how many frames the smoothed output needs
to come within 5 % of the unsmoothed one.

  python benchmarks/flicker.py [--backend openvino] [--smooth 0.5] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table
from skimage import data as skdata

from rtretinex.frame.enhancer import Enhancer
from rtretinex.frame.settings import DEFAULT_SMOOTH, MODES, EnhanceSettings
from rtretinex.metrics import flicker
from rtretinex.nets.backends import create_backend
from rtretinex.training.data import simulate_low_light
from rtretinex.video.frames import VideoFrame


def clip(kind: str, frames: int, width: int, height: int) -> list[np.ndarray]:
    photo = cv2.resize(skdata.astronaut(), (width, height), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    if kind == "static":
        exposures = np.full(frames, 0.08)
    elif kind == "flickering":
        exposures = 0.08 * (1 + 0.15 * rng.uniform(-1, 1, frames))
    else:  # step
        exposures = np.where(np.arange(frames) < frames // 2, 0.05, 0.10)
    return [simulate_low_light(photo, exposure=e, seed=i) for i, e in enumerate(exposures)]


def run(backend, frames: list[np.ndarray], mode: str, smooth: float) -> list[np.ndarray]:
    """The clip through the video path at 30 fps (no denoise: flicker only)."""
    enhancer = Enhancer(backend, EnhanceSettings(mode=mode, smooth=smooth, denoise=0.0,
                                                 temporal_denoise=0.0))
    return [enhancer.enhance(VideoFrame(f, i, i, Fraction(1, 30))) for i, f in enumerate(frames)]


def settle_frames(plain: list[np.ndarray], smoothed: list[np.ndarray], start: int) -> int:
    """Frames after ``start`` until the smoothed mean stays within 5 % of the plain one."""
    for offset in range(len(plain) - start):
        rest = range(start + offset, len(plain))
        if all(abs(smoothed[i].mean() - plain[i].mean()) <= 0.05 * plain[i].mean() for i in rest):
            return offset
    return len(plain) - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="openvino")
    p.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    backend = create_backend(args.backend)
    console = Console()
    table = Table(title=f"flicker, {args.size}, {backend.name} {backend.precision}, "
                        f"--smooth {args.smooth}")
    for column in ("clip", "mode", "input", "output, smooth 0", f"output, smooth {args.smooth}",
                   "ratio", "step: frames to settle"):
        table.add_column(column, justify="right")
    results = []
    clips = {kind: clip(kind, args.frames, width, height)
             for kind in ("static", "flickering", "step")}
    for mode in MODES:
        plain_step = run(backend, clips["step"], mode, 0.0)
        smooth_step = run(backend, clips["step"], mode, args.smooth)
        settle = settle_frames(plain_step, smooth_step, args.frames // 2)
        for kind in ("static", "flickering"):
            raw = flicker(clips[kind])[0]
            off = flicker(run(backend, clips[kind], mode, 0.0))[0]
            on = flicker(run(backend, clips[kind], mode, args.smooth))[0]
            results.append({"clip": kind, "mode": mode, "input": raw, "smooth_off": off,
                            "smooth_on": on, "ratio": on / off, "step_settle_frames": settle})
            table.add_row(kind, mode, f"{raw:.3f}", f"{off:.3f}", f"{on:.3f}",
                          f"{on / off:.2f}", str(settle))
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"command": "python benchmarks/flicker.py " + " ".join(
            sys.argv[1:] if argv is None else argv), "smooth": args.smooth, "rows": results},
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
