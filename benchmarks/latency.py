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

import numpy as np
from rich.console import Console
from rich.table import Table

from rtretinex.frame.enhancer import Enhancer
from rtretinex.frame.settings import EnhanceSettings
from rtretinex.nets.backends import create_backend
from rtretinex.samples import DarkCamera, write_dark_clip
from rtretinex.video.frames import VideoFrame
from rtretinex.video.pipeline import run_pipeline
from rtretinex.video.sources import PacedSource, Source, VideoSource


class TakeSink:
    """Takes each frame and does nothing with it (no encoder or window in the way)."""

    name = "sink"
    closed = False

    def write(self, frame: VideoFrame, original: np.ndarray) -> None:
        pass

    def copy(self, packet) -> None:
        pass

    def close(self, keep: bool = True) -> None:
        pass


def measure(source: Source, enhancer: Enhancer) -> dict:
    stats = run_pipeline(source, enhancer, [TakeSink()])
    latency = stats.stages["latency"]
    offered = stats.frames + stats.dropped
    return {"frames": stats.frames, "dropped": stats.dropped,
            "dropped_share": stats.dropped / offered if offered else 0.0, "fps": stats.fps,
            "latency_ms": {k: latency[k] for k in ("ms_median", "ms_p95", "ms_p99")},
            "samples_ms": stats.latency_samples}


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
                    rows.append({"size": size, "source": name, **measure(source, enhancer)})
    table = Table(title=f"live latency, {backend.name} {backend.precision}, {args.mode} mode, "
                        f"{args.fps:g} fps sources")
    for column in ("size", "source", "p50 ms", "p95 ms", "p99 ms", "output FPS", "dropped"):
        table.add_column(column, justify="right")
    for r in rows:
        lat = r["latency_ms"]
        table.add_row(r["size"], r["source"], f"{lat['ms_median']:.1f}", f"{lat['ms_p95']:.1f}",
                      f"{lat['ms_p99']:.1f}", f"{r['fps']:.1f}",
                      f"{100 * r['dropped_share']:.1f} %")
    console.print(table)
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
    for r in rows:
        samples = np.sort(r["samples_ms"])
        ax.plot(samples, np.linspace(0, 1, len(samples)), label=f"{r['size']} {r['source']}")
    ax.set_xlabel("capture → output latency (ms)")
    ax.set_ylabel("share of frames")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
