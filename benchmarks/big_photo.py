#!/usr/bin/env python3
"""Peak memory and time of one large photo through run_stream.py, per mode.

Makes a dark photo of the requested size from a bundled scikit-image picture (through the
low-light simulator), enhances it with ``run_stream.py`` in a child process per mode, and
reports the child's peak resident memory (``VmHWM`` from /proc, read while it runs: a
forked child's ``ru_maxrss`` would count the parent's memory from before the exec) and
its wall time.

  python benchmarks/big_photo.py [--size 6000x4000] [--modes quality,fast] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from skimage import data as skdata

from rtretinex.images import write_image
from rtretinex.training.data import simulate_low_light

ROOT = Path(__file__).resolve().parent.parent


def measure(photo: Path, mode: str, out_dir: Path) -> dict:
    """Run one child, sampling its peak resident memory until it exits."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), str(photo), "-o",
                              str(out_dir / f"out_{mode}.png"), "-y", "--mode", mode],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_kib = 0
    status = Path(f"/proc/{child.pid}/status")
    while child.poll() is None:
        try:
            peak_kib = max(peak_kib, next(int(line.split()[1]) for line in
                                          status.read_text().splitlines()
                                          if line.startswith("VmHWM")))
        except (OSError, StopIteration):
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    stderr = child.stderr.read().strip().splitlines()
    return {"mode": mode, "exit": child.returncode, "seconds": round(seconds, 2),
            "peak_rss_gib": round(peak_kib / 2**20, 3),
            "error": stderr[-1:] if child.returncode else []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT (default 24 MP)")
    parser.add_argument("--modes", default="quality,fast")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "dark.png"
        big = cv2.resize(skdata.coffee(), (width, height), interpolation=cv2.INTER_CUBIC)
        write_image(photo, simulate_low_light(big, exposure=0.08, seed=1))
        for mode in args.modes.split(","):
            rows.append(measure(photo, mode, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "size": args.size,
                                         "rows": rows}, indent=1) + "\n")
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
