#!/usr/bin/env python3
"""Live latency: what a webcam user feels, from capture to a finished output frame.

A source is paced at its frame rate as a camera would deliver it, and the real pipeline
runs in live mode (newest frame wins, stale frames dropped) into a sink that only takes
the frame. Two sources per size: a file played in real time (``PacedSource``, what
``run_stream.py --realtime`` does) and a synthetic 30 fps camera (``samples.DarkCamera``:
dark frames released on a 30 fps clock). Reported: capture → output latency p50/p95/p99,
output FPS and the share of frames dropped; JSON and a plot of the latency distribution.

  python benchmarks/latency.py [--sizes 1280x720,1920x1080] [--seconds 10] \
      [--json l.json] [--plot l.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from rtretinex.bench import measure_latency, plot_latency, render_latency
from rtretinex.frame.enhancer import Enhancer
from rtretinex.frame.settings import EnhanceSettings
from rtretinex.nets.backends import create_backend
from rtretinex.samples import DarkCamera, write_dark_clip
from rtretinex.video.sources import PacedSource, VideoSource


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1280x720,1920x1080")
    p.add_argument("--seconds", type=float, default=10.0, help="per run (default 10)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--backend", default="openvino")
    p.add_argument("--mode", default="fast")
    p.add_argument("--json", type=Path)
    p.add_argument("--plot", type=Path)
    args = p.parse_args(argv)
    backend = create_backend(args.backend)
    console = Console()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            clip = write_dark_clip(Path(tmp) / f"{size}.mp4", round(args.seconds * args.fps),
                                   width, height, fps=round(args.fps), audio=False)
            sources = {"file, real time": lambda c=clip: PacedSource(VideoSource(str(c))),
                       "camera 30 fps": lambda w=width, h=height: DarkCamera(
                           w, h, args.fps, round(args.seconds * args.fps))}
            for name, make in sources.items():
                enhancer = Enhancer(backend, EnhanceSettings(mode=args.mode), live=True)
                console.log(f"{size} {name}")
                with make() as source:
                    enhancer.warm_up(source.width, source.height)  # as run_stream.py does
                    rows.append({"backend": f"{backend.name} {backend.precision}", "size": size,
                                 "source": name, **measure_latency(source, enhancer)})
    render_latency(rows, console)
    if args.json:
        command = "python benchmarks/latency.py " + " ".join(sys.argv[1:] if argv is None else argv)
        args.json.write_text(json.dumps({"command": command, "backend": backend.name,
                                         "precision": backend.precision, "rows": [
            {k: v for k, v in r.items() if k != "samples_ms"} for r in rows]}, indent=2))
    if args.plot:
        plot(rows, args.plot)
    return 0


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    plot_latency(rows, ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
