#!/usr/bin/env python3
"""Video quality as users see it: dark clips made from clean footage, real dark clips, and
well-exposed input that must come out unharmed. Every clip goes through ``run_stream.py``
itself (decode → enhance → encode), so the figures are the product's.

1. **Synthetic dark clips** (``--clean`` clips): each frame darkened by the low-light
   simulator (exposure 0.08, shot + read noise, fresh noise every frame), written as
   H.264 (crf 10), enhanced, and compared with the clean frames: PSNR, SSIM (every 5th
   frame) and temporal error = mean |Δout − Δclean| between consecutive frames (0-255).
2. **Real dark clips** (``--dark``): output mean luma, relative MABD (mean |Y_t − Y_{t−1}|
   over mean Y), global flicker (mean |Δ mean Y| / 255) and chromaticity shift (L1
   distance of the mean r, g, b proportions, input vs output).
3. **No harm** (the clean clips themselves as input, and ``--images``): PSNR(out, in) and how
   many come out darker (mean luma below 0.99× the input's).

``--run-stream`` points at another checkout's run_stream.py to measure an older version
on the same clips; ``--sheet`` saves a PNG of input | each version for a dark and a
well-lit frame.

  python benchmarks/video_quality.py --clean ../shared/data/video/clean_*.mp4 \\
      --dark ../shared/data/video/dark_*.mp4 --images DIR --json out.json --sheet out.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from rtretinex.data import simulate_low_light
from rtretinex.images import IMAGE_SUFFIXES, read_image, write_image
from rtretinex.metrics import chromaticity_shift, psnr, ssim
from rtretinex.pixels import LUMA

ROOT = Path(__file__).resolve().parents[1]
SSIM_EVERY = 5


def read_frames(path: Path, limit: int) -> tuple[list[np.ndarray], float]:
    """Up to ``limit`` frames as uint8 RGB, and the frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or 30)
        frames = []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= limit:
                break
    return frames, fps


def write_clip(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """H.264 at crf 10 (a good camera's quality), even size."""
    height, width = (s - s % 2 for s in frames[0].shape[:2])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "10", "preset": "veryfast"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(
                np.ascontiguousarray(image[:height, :width]), format="rgb24")))
        container.mux(stream.encode(None))


def enhance(run_stream: Path, source: Path, target: Path, extra: list[str]) -> None:
    cmd = [sys.executable, str(run_stream), str(source), "-o", str(target), "-y", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()[-500:]}")


def luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ LUMA


def temporal_error(out: list[np.ndarray], clean: list[np.ndarray]) -> float:
    errors = [np.abs((o1.astype(np.float32) - o0) - (c1.astype(np.float32) - c0)).mean()
              for o0, o1, c0, c1 in zip(out, out[1:], clean, clean[1:])]
    return float(np.mean(errors))


def stability(frames: list[np.ndarray]) -> dict[str, float]:
    lumas = [luma(f) for f in frames]
    means = np.array([y.mean() for y in lumas])
    mabd = np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(lumas)])
    return {"mean_luma": float(means.mean()), "relative_mabd": float(mabd / means.mean()),
            "global_flicker": float(np.abs(np.diff(means)).mean() / 255)}


def darker(out: np.ndarray, source: np.ndarray) -> bool:
    return float(luma(out).mean()) < 0.99 * float(luma(source).mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clean", type=Path, nargs="*", default=[], help="clean clips")
    p.add_argument("--dark", type=Path, nargs="*", default=[], help="real dark clips")
    p.add_argument("--images", type=Path, default=None, help="folder of well-exposed images")
    p.add_argument("--frames", type=int, default=90, help="frames per clip (default 90)")
    p.add_argument("--exposure", type=float, default=0.08)
    p.add_argument("--run-stream", type=Path, action="append", default=None,
                   help="run_stream.py to measure (repeat to compare versions; default this "
                        "checkout's)")
    p.add_argument("--args", default="--preset veryfast",
                   help="extra run_stream.py arguments for every run")
    p.add_argument("--json", type=Path)
    p.add_argument("--sheet", type=Path, help="PNG: input | each version, dark and lit frame")
    args = p.parse_args(argv)
    versions = args.run_stream or [ROOT / "run_stream.py"]
    extra = args.args.split()
    console = Console()
    result: dict = {"command": "python benchmarks/video_quality.py " + " ".join(
        sys.argv[1:] if argv is None else argv), "versions": [str(v) for v in versions],
        "synthetic": [], "real_dark": [], "no_harm_clips": [], "no_harm_images": []}
    sheet_rows: dict[str, list[np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip in args.clean:
            clean, fps = read_frames(clip, args.frames)
            clean = [f[: f.shape[0] - f.shape[0] % 2, : f.shape[1] - f.shape[1] % 2]
                     for f in clean]
            dark = [simulate_low_light(f, exposure=args.exposure, seed=i)
                    for i, f in enumerate(clean)]
            write_clip(tmp / "dark.mp4", dark, fps)
            write_clip(tmp / "lit.mp4", clean, fps)
            for v, run_stream in enumerate(versions):
                enhance(run_stream, tmp / "dark.mp4", tmp / "out.mp4", extra)
                out, _ = read_frames(tmp / "out.mp4", args.frames)
                result["synthetic"].append({
                    "clip": clip.name, "version": v, "size": f"{clean[0].shape[1]}x"
                    f"{clean[0].shape[0]}",
                    "psnr": float(np.mean([psnr(o, c) for o, c in zip(out, clean)])),
                    "ssim": float(np.mean([ssim(o, c) for o, c in
                                           zip(out[::SSIM_EVERY], clean[::SSIM_EVERY])])),
                    "temporal_error": temporal_error(out, clean),
                    "input_temporal_error": temporal_error(dark, clean)})
                enhance(run_stream, tmp / "lit.mp4", tmp / "out.mp4", extra)
                out, _ = read_frames(tmp / "out.mp4", args.frames)
                lit_in, _ = read_frames(tmp / "lit.mp4", args.frames)
                result["no_harm_clips"].append({
                    "clip": clip.name, "version": v,
                    "psnr_out_in": float(np.mean([psnr(o, c) for o, c in zip(out, lit_in)])),
                    "luma_in": float(np.mean([luma(f).mean() for f in lit_in])),
                    "luma_out": float(np.mean([luma(f).mean() for f in out])),
                    "darker_frames": int(sum(darker(o, c) for o, c in zip(out, lit_in)))})
                if clip == args.clean[0]:
                    sheet_rows.setdefault("lit", [lit_in[len(out) // 2]]).append(
                        out[len(out) // 2])
        for clip in args.dark:
            frames, fps = read_frames(clip, args.frames)
            write_clip(tmp / "real.mp4", frames, fps)
            for v, run_stream in enumerate(versions):
                enhance(run_stream, clip, tmp / "out.mp4", extra)
                out, _ = read_frames(tmp / "out.mp4", args.frames)
                row = {"clip": clip.name, "version": v, **stability(out),
                       "input": stability(frames),
                       "chromaticity_shift": float(np.median(
                           [chromaticity_shift(o, i) for o, i in zip(out[::10], frames[::10])]))}
                result["real_dark"].append(row)
                if clip == args.dark[0]:
                    sheet_rows.setdefault("dark", [frames[len(out) // 2]]).append(
                        out[len(out) // 2])
        if args.images:
            images = sorted(q for q in args.images.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            for v, run_stream in enumerate(versions):
                enhance(run_stream, args.images, tmp / f"images{v}", [])
                for q in images:
                    out, source = read_image(tmp / f"images{v}" / f"{q.stem}.png"), read_image(q)
                    result["no_harm_images"].append({
                        "image": q.name, "version": v, "psnr_out_in": psnr(out, source),
                        "darker": darker(out, source)})
    _print(console, result, versions)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.sheet and sheet_rows:
        rows = [np.hstack([cv2.resize(f, (480, round(480 * f.shape[0] / f.shape[1])))
                           for f in frames]) for frames in sheet_rows.values()]
        width = max(r.shape[1] for r in rows)
        write_image(args.sheet, np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)))
                                           for r in rows]))
    return 0


def _print(console: Console, result: dict, versions: list[Path]) -> None:
    for key, columns in (
        ("synthetic", ("clip", "version", "size", "psnr", "ssim", "temporal_error",
                       "input_temporal_error")),
        ("real_dark", ("clip", "version", "mean_luma", "relative_mabd", "global_flicker",
                       "chromaticity_shift")),
        ("no_harm_clips", ("clip", "version", "psnr_out_in", "luma_in", "luma_out",
                           "darker_frames")),
    ):
        if not result[key]:
            continue
        table = Table(title=key)
        for column in columns:
            table.add_column(column, justify="right")
        for row in result[key]:
            table.add_row(*(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c])
                            for c in columns))
        console.print(table)
    for v in range(len(versions)):
        rows = [r for r in result["no_harm_images"] if r["version"] == v]
        if rows:
            console.print(f"images, version {v}: median PSNR(out, in) "
                          f"{np.median([r['psnr_out_in'] for r in rows]):.1f} dB, "
                          f"{sum(r['darker'] for r in rows)} of {len(rows)} darker")


if __name__ == "__main__":
    sys.exit(main())
