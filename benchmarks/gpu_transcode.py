#!/usr/bin/env python3
"""Whole-process file transcodes with ``run_stream.py``, against a decode → encode
passthrough measured in the same run: the figures of ``benchmarks/results/gpu_transcode.json``.

For each size a dark clip is written (``samples.write_dark_clip``, no audio), then each
command is timed as a fresh process, start-up included, as a user waits for it:
- ``run_stream.py CLIP -o OUT -y --backend B --preset P --mode M [ARGS]`` for each mode
  (by default quality, quality with ``--compile``, fast);
- the passthrough: the same decoder, pipeline and encoder with no enhancement
  (``benchmarks/fps.py``'s, run by this script's ``--passthrough``).
FPS = frames / wall seconds of the command; each row also keeps what ``run_stream.py
--stats-json`` saw (the pipeline's own FPS, its stages' median ms, which path ran, warnings
such as software decoding).

  python benchmarks/gpu_transcode.py --backend cuda --json benchmarks/results/gpu_transcode.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from rtretinex.bench import passthrough_fps
from rtretinex.samples import write_dark_clip

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str]) -> float:
    """Wall seconds of a command; its error output if it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-400:]}")
    return time.perf_counter() - start


def passthrough(clip: Path, preset: str, frames: int) -> None:
    """The passthrough, in this process (``--passthrough``)."""
    passthrough_fps(clip, preset, frames)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1920x1080,3840x2160")
    p.add_argument("--frames", default="1200,300",
                   help="frames per size (default 1200,300: long enough that start-up, "
                        "a few seconds, is not the figure)")
    p.add_argument("--modes", default="quality,quality --compile,fast",
                   help="comma-separated modes, each with run_stream.py arguments of its own")
    p.add_argument("--backend", default="cuda")
    p.add_argument("--preset", default="ultrafast", help="x264 preset of every command")
    p.add_argument("--json", type=Path)
    p.add_argument("--passthrough", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.passthrough:
        passthrough(args.passthrough, args.preset, int(args.frames))
        return 0
    sizes, counts = args.sizes.split(","), [int(n) for n in args.frames.split(",")]
    counts += counts[-1:] * (len(sizes) - len(counts))
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    rows = []
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        for size, frames in zip(sizes, counts):
            width, height = (int(v) for v in size.split("x"))
            clip = write_dark_clip(Path(tmp) / f"{size}.mp4", frames, width, height,
                                   audio=False)
            out = str(Path(tmp) / "out.mp4")
            base = timed([sys.executable, str(Path(__file__).resolve()), "--passthrough",
                          str(clip), "--frames", str(frames), "--preset", args.preset])
            stats = Path(tmp) / "stats.json"
            for mode in args.modes.split(","):
                seconds = timed([sys.executable, str(ROOT / "run_stream.py"), str(clip), "-o",
                                 out, "-y", "--backend", args.backend, "--preset", args.preset,
                                 "--stats-json", str(stats), "--mode", *mode.split()])
                run = json.loads(stats.read_text())  # what the pipeline itself saw
                rows.append({"size": size, "mode": mode, "frames": frames,
                             "fps": frames / seconds, "passthrough_fps": frames / base,
                             "ratio": base / seconds, "pipeline_fps": run["fps"],
                             "enhancer": run["enhancer"], "warnings": run["warnings"],
                             "stage_ms": {name: round(stage["ms_median"], 2)
                                          for name, stage in run["stages"].items()}})
                console.log(rows[-1])
    table = Table(title=f"whole-process transcode, {args.backend} on {device}, "
                        f"--preset {args.preset}")
    for column in ("size", "mode", "frames", "FPS", "passthrough FPS", "ratio"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["size"], r["mode"], str(r["frames"]), f"{r['fps']:.1f}",
                      f"{r['passthrough_fps']:.1f}", f"{r['ratio']:.2f}")
    console.print(table)
    if args.json:
        command = "python benchmarks/gpu_transcode.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        args.json.write_text(json.dumps({"command": command, "device": device,
                                         "backend": args.backend, "preset": args.preset,
                                         "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
