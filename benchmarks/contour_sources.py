#!/usr/bin/env python3
"""Where a clip's false contours (``metrics.night_look``) come from: the figure as the
night-scenes issue defines it, on luma computed from each clip decoded to rgb24 (clipped to
0-255, as a player shows it), beside the same figure on the Y planes themselves, with one
side or the other decoded from its plane; and the share of the contour pixels within 5×5
pixels of an input pixel that has a channel clipped at 0.

A night input whose blacks carry a chroma bias (magenta: G below 0) decodes to RGB with that
channel clipped: its darks' luma, computed from RGB, loses the variation its Y plane has, so
the metric takes an edge of a dark object for a flat area, and the output's rendering of
that edge for a contour (docs/history.md, 2026-12-07).

  python benchmarks/contour_sources.py IN.mp4 OUT.mp4 [--frames 60] [--every 6]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from rtretinex.metrics import false_contours
from rtretinex.pixelops.formats import LUMA, Y_BLACK, Y_TO_FULL


def decoded(path: Path, frames: int, every: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every ``every``-th of the first ``frames`` frames: (RGB uint8, full-range luma of the
    Y plane, float32)."""
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= frames:
                break
            if index % every == 0:
                plane = frame.to_ndarray(format="yuv420p")[:frame.height].astype(np.float32)
                yield frame.to_ndarray(format="rgb24"), (plane - Y_BLACK) * np.float32(Y_TO_FULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--every", type=int, default=6, help="score every N-th frame")
    args = parser.parse_args(argv)
    rows = []
    beside = np.ones((5, 5), np.uint8)
    for (rgb_in, plane_in), (rgb_out, plane_out) in zip(
            decoded(args.source, args.frames, args.every),
            decoded(args.output, args.frames, args.every), strict=True):
        luma_in, luma_out = rgb_in.astype(np.float32) @ LUMA, rgb_out.astype(np.float32) @ LUMA
        metric = false_contours(luma_in, luma_out)
        clipped = cv2.dilate((rgb_in.min(axis=2) == 0).astype(np.uint8), beside) > 0
        rows.append((100 * metric.mean(), 100 * false_contours(plane_in, plane_out).mean(),
                     100 * false_contours(luma_in, plane_out).mean(),
                     100 * false_contours(plane_in, luma_out).mean(),
                     (metric & clipped).sum() / max(int(metric.sum()), 1)))
    if not rows:
        print("no frames", file=sys.stderr)
        return 1
    rgb, planes, rgb_in, plane_in, clipped = np.mean(rows, axis=0)
    print(f"{args.source.name}: false contours {rgb:.3f} % (rgb24 both); Y planes both "
          f"{planes:.3f} %; rgb24 input, Y-plane output {rgb_in:.3f} %; Y-plane input, rgb24 "
          f"output {plane_in:.3f} %; beside a clipped input channel: {clipped:.2f} of them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
