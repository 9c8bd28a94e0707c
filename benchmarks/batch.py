#!/usr/bin/env python3
"""Throughput of a batch of videos: 1 vs 2 local workers (--jobs) and 1 vs 2 Ray workers
(a local Ray cluster started with --num-cpus 1, then 2), on the same generated clips.

Each configuration runs ``run_stream.py CLIPS -o OUT`` once (fast mode, default backend,
``--preset ultrafast``); the figure is the whole command's wall time and the frames per
second over all files (process start-up and Ray's included, as a user sees it).

  python benchmarks/batch.py [--clips 6] [--frames 120] [--size 1280x720] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rtretinex.samples import write_dark_clip

ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")


def run_batch(clips: Path, out: Path, extra: list[str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "run_stream.py"), str(clips), "-o", str(out),
                    "--preset", "ultrafast", *extra], check=True, capture_output=True)
    return time.perf_counter() - start


def with_ray_cluster(cpus: int, work) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as temp:
        subprocess.run([RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port",
                        str(port), "--num-cpus", str(cpus), "--include-dashboard", "false",
                        "--disable-usage-stats", "--temp-dir", temp],
                       check=True, capture_output=True)
        try:
            return work(f"127.0.0.1:{port}")
        finally:
            subprocess.run([RAY, "stop", "--force"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips, out = Path(tmp) / "clips", Path(tmp) / "out"
        clips.mkdir()
        for k in range(args.clips):
            write_dark_clip(clips / f"clip{k}.mp4", frames=args.frames, width=width,
                            height=height, photo=("astronaut", "coffee", "chelsea")[k % 3])
        total = args.clips * args.frames
        configs = [("local", 1, lambda: run_batch(clips, out, ["--jobs", "1"])),
                   ("local", 2, lambda: run_batch(clips, out, ["--jobs", "2"]))]
        if shutil.which(RAY):
            configs += [("ray", n, lambda n=n: with_ray_cluster(
                n, lambda address: run_batch(clips, out, ["--ray", address]))) for n in (1, 2)]
        for kind, workers, work in configs:
            seconds = work()
            rows.append({"workers": f"{kind} × {workers}", "seconds": round(seconds, 1),
                         "fps": round(total / seconds, 1)})
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "clips": args.clips,
                                         "frames": args.frames, "size": args.size,
                                         "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
