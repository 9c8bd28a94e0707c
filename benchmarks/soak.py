#!/usr/bin/env python3
"""Soak: a long live stream through the real live pipeline, memory and latency over time.

A synthetic camera delivers ``--frames`` small dark frames (moving, fresh noise) as fast as
``--fps`` allows; the pipeline runs in live mode (newest frame wins) into a sink that takes
each frame. Every ``--every`` seconds the process's resident memory (RSS) and the latency of
the frames since the last sample are recorded. Flat RSS and latency mean no per-frame growth.

  python benchmarks/soak.py [--frames 100000] [--size 160x90] [--json s.json] [--plot s.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from rtretinex.frame.enhancer import Enhancer
from rtretinex.frame.settings import EnhanceSettings
from rtretinex.nets.backends import create_backend
from rtretinex.samples import DarkCamera
from rtretinex.video.frames import VideoFrame
from rtretinex.video.pipeline import run_pipeline


def rss_mib() -> float:
    """Resident memory of this process (Linux /proc), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class LatencySink:
    """Records capture → output latency of each frame it takes (a bounded window)."""

    name = "sink"
    closed = False

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.lock = threading.Lock()

    def write(self, frame: VideoFrame, original: np.ndarray) -> None:
        with self.lock:
            self.latencies.append((time.perf_counter() - frame.captured_at) * 1e3)

    def take(self) -> list[float]:
        with self.lock:
            taken, self.latencies = self.latencies, []
        return taken

    def copy(self, packet) -> None:
        pass

    def close(self, keep: bool = True) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--size", default="160x90")
    p.add_argument("--fps", type=float, default=1000.0, help="camera rate (default 1000)")
    p.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    p.add_argument("--json", type=Path)
    p.add_argument("--plot", type=Path)
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    console = Console()
    enhancer = Enhancer(create_backend("openvino"), EnhanceSettings(mode="fast"), live=True)
    camera, sink = DarkCamera(width, height, args.fps, args.frames, loop=120), LatencySink()
    samples: list[dict] = []
    done = threading.Event()
    begin = time.monotonic()

    def sample() -> None:
        while not done.wait(args.every):
            latencies = sink.take()
            samples.append({"t": time.monotonic() - begin, "rss_mib": rss_mib(),
                            "frames": len(latencies),
                            "latency_p50_ms": float(np.median(latencies)) if latencies else None,
                            "latency_p95_ms": float(np.percentile(latencies, 95))
                            if latencies else None})
            console.log(samples[-1])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stats = run_pipeline(camera, enhancer, [sink])
    done.set()
    sampler.join()
    steady = [s["rss_mib"] for s in samples[len(samples) // 5:]]  # after warm-up
    result = {
        "command": "python benchmarks/soak.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "frames": stats.frames, "dropped": stats.dropped, "seconds": stats.seconds,
        "fps": stats.fps, "rss_mib_first": samples[0]["rss_mib"] if samples else None,
        "rss_mib_steady_min": min(steady) if steady else None,
        "rss_mib_steady_max": max(steady) if steady else None, "samples": samples}
    console.print({k: v for k, v in result.items() if k != "samples"})
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.plot and samples:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
        t = [s["t"] / 60 for s in samples]
        top.plot(t, [s["rss_mib"] for s in samples])
        top.set_ylabel("RSS (MiB)")
        bottom.plot(t, [s["latency_p50_ms"] for s in samples], label="p50")
        bottom.plot(t, [s["latency_p95_ms"] for s in samples], label="p95")
        bottom.set_ylabel("latency (ms)")
        bottom.set_xlabel("minutes")
        bottom.legend()
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
