#!/usr/bin/env python3
"""Consecutive frames of a camera-like night clip with the nets on every frame and on every
N-th (fast mode's reuse between runs; default the longest automatic interval), and their
difference ×4: where moving things lag or get a halo behind them, it shows in the third
column.

  python benchmarks/reuse_sheet.py CLEAN.mp4 OUT.jpg [--start 30] [--frames 7] [--every N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
from video_quality import CAMERA, ROOT, camera_clip, contact_sheet, enhance, read_frames

from rtretinex.frame.schedule import MAX_INTERVAL


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip", type=Path, help="a clean clip (made camera-like here)")
    p.add_argument("sheet", type=Path)
    p.add_argument("--start", type=int, default=30)
    p.add_argument("--frames", type=int, default=7)
    p.add_argument("--every", type=int, default=MAX_INTERVAL,
                   help=f"the nets' interval to compare with every frame (default {MAX_INTERVAL})")
    args = p.parse_args(argv)
    camera = argparse.Namespace(**CAMERA)
    count = args.start + args.frames
    clean, fps = read_frames(args.clip, count)
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        dark = Path(tmp) / "camera.mp4"
        camera_clip(clean, camera, dark, fps)
        for every in (1, args.every):
            out = Path(tmp) / f"every{every}.mp4"
            enhance(ROOT / "run_stream.py", dark, out, ["--nets-every", str(every)])
            outputs[every] = read_frames(out, count)[0]
    rows = []
    for i in range(args.start, count):
        reused = outputs[args.every][i]
        difference = cv2.absdiff(outputs[1][i], reused).astype(np.float32) * 4
        rows.append([outputs[1][i], reused, np.clip(difference, 0, 255).astype(np.uint8)])
    cv2.imwrite(str(args.sheet), cv2.cvtColor(contact_sheet(rows, width=400), cv2.COLOR_RGB2BGR))
    worst = max(cv2.absdiff(a, b).mean()
                for a, b in zip(outputs[1], outputs[args.every], strict=True))
    print(f"wrote {args.sheet}; largest mean |difference| of a frame: {worst:.2f} codes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
