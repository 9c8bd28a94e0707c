#!/usr/bin/env python3
"""Video quality as users see it: dark clips made from clean footage, real dark clips, and
well-exposed input that must come out unharmed. Every clip goes through ``run_stream.py``
itself (decode → enhance → encode), so the figures are the product's.

1. **Synthetic dark clips** (``--clean`` clips, and with ``--pan PHOTO`` a 720p camera pan
   over a bundled photo: a moving camera), two kinds (``--degrade``):
   - ``sensor``: each frame darkened by the low-light simulator (exposure 0.08, shot + read
     noise, fresh noise every frame), written as H.264 (crf 10);
   - ``camera``: as a camera writes night video (``simulate_camera_night``): exposure 0.02
     with shot + read noise, the camera's noise reduction (Gaussian σ 1.2), a black level
     whose chroma is +1.5 codes off neutral, then libx264 CRF 28 preset medium (each step
     an option: ``--camera-*``).
   Against the clean frames: PSNR, and with each output frame's mean matched to the clean
   one (the brightness target does not count) PSNR, SSIM (every 5th frame) and shadow
   colour error (mean |ΔCr|+|ΔCb| where the clean frame is darker than luma 110);
   temporal error = mean |Δout − Δclean| between consecutive frames (0-255). The middle
   frame of each camera-like clip is also saved as a photo (PNG) and enhanced as one
   (``night_photos``: images take the quality mode).
2. **Real dark clips** (``--dark``): output mean luma, relative MABD (mean |Y_t − Y_{t−1}|
   over mean Y), global flicker (mean |Δ mean Y| / 255), chromaticity shift (L1 distance of
   the mean r, g, b proportions, input vs output), shadow chroma distance from neutral
   (mean |Cr−128|+|Cb−128| at luma 20-110) and the share of 8×8 blocks there that are flat
   inside but step by ≥ 3 codes at an edge (amplified codec blocks); and how the night
   looks against its input (``metrics.night_look``): % newly clipped, % false contours,
   greys (chroma of lit greys), saturation kept, the floor, mean luma in and out.
   ``--full-range`` also measures each of them re-encoded in full range, as IP cameras and
   MJPEG send video.
3. **No harm** (the clean clips themselves as input, and ``--images``): PSNR(out, in) and how
   many come out darker (mean luma below 0.99× the input's).

Every dark-clip table has anchor rows beside the versions measured: ``gain``, the input
times one global gain per frame (to the last version's mean brightness), and for real clips
``clahe`` (OpenCV's CLAHE on L of Lab, clip limit 3, 8×8 tiles). ``--run-stream``
points at another checkout's run_stream.py to measure an older version on the same clips,
or gives this one arguments of its own (``--run-stream "run_stream.py --nets-every 6"``);
``--sheet`` saves a PNG of input × gain | each version for a camera-like dark frame, the same
frame as a photo, real dark frames (``--sheet-dark N`` clips) and a well-lit one (input |
each version).

  python benchmarks/video_quality.py --clean ../shared/data/video/clean_*.mp4 \\
      --dark ../shared/data/video/dark_*.mp4 --images DIR --json out.json --sheet out.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
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
from skimage import data as skdata

from rtretinex.images import IMAGE_SUFFIXES, read_image, write_image
from rtretinex.metrics import (
    chromaticity_shift,
    flat_stepped_blocks,
    mean_matched,
    neutral_chroma_distance,
    night_look_of_clip,
    psnr,
    shadow_colour_error,
    ssim,
)
from rtretinex.pixelops.formats import LUMA
from rtretinex.samples import pan_frames
from rtretinex.training.data import simulate_camera_night, simulate_low_light
from rtretinex.video.sources import FULL_RANGE

ROOT = Path(__file__).resolve().parents[1]
# The camera-like degradation's defaults (each an option, ``--camera-*``).
CAMERA = {"camera_exposure": 0.02, "camera_nr": 1.2, "camera_chroma_bias": 1.5,
          "camera_crf": 28, "camera_preset": "medium"}
SSIM_EVERY = 5
# x264 without its assembly, on one thread: otherwise the same frames encoded twice in one
# process came out different once anything else (a decode) had run in between, and a clip's
# figures moved with the clips measured before it (camera-like kitten mm SSIM 0.7784-0.7803;
# asm off alone: 1 encode in 6 still differed). Six times the encode's time (720p, 90 frames:
# 1.5 → 9.9 s).
DETERMINISTIC = "asm=0:threads=1"
DEGRADATIONS = ("sensor", "camera")
GAIN = "gain"  # the anchor row: input × one global gain per frame
CLAHE = "clahe"  # the anchor row: OpenCV's CLAHE on L of Lab (clip limit 3, 8×8 tiles)


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


def write_clip(path: Path, frames: list[np.ndarray], fps: float, crf: int = 10,
               preset: str = "veryfast", pixel_format: str = "rgb24") -> None:
    """H.264 (crf 10: a good camera's quality) of RGB frames or yuv420p buffers."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, "x264-params": DETERMINISTIC}
        for image in frames:
            if pixel_format == "rgb24":
                height, width = (s - s % 2 for s in image.shape[:2])
                image = image[:height, :width]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=pixel_format)
            if not stream.codec_context.is_open:
                stream.width, stream.height = frame.width, frame.height
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def full_range_copy(clip: Path, path: Path, limit: int) -> Path:
    """Up to ``limit`` frames of ``clip`` re-encoded as full-range H.264 (yuvj420p, CRF 16),
    the range IP cameras and MJPEG webcams send, at ``path``."""
    with av.open(str(clip)) as source, av.open(str(path), "w") as target:
        video = source.streams.video[0]
        stream = target.add_stream("libx264", rate=video.average_rate or 30)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuvj420p"
        stream.codec_context.color_range = FULL_RANGE
        stream.options = {"crf": "16", "preset": "fast", "x264-params": DETERMINISTIC}
        for frame in itertools.islice(source.decode(video), limit):
            frame = frame.reformat(format="yuvj420p", dst_color_range=FULL_RANGE)
            frame.pts = None
            target.mux(stream.encode(frame))
        target.mux(stream.encode(None))
    return path


def enhance(run_stream: Path, source: Path, target: Path, extra: list[str]) -> None:
    cmd = [sys.executable, str(run_stream), str(source), "-o", str(target), "-y", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()[-500:]}")


def luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ LUMA


def times_gain(frames: list[np.ndarray], like: list[np.ndarray]) -> list[np.ndarray]:
    """The anchor: each frame times one global gain, to the mean luma of ``like``'s frame."""
    return [cv2.convertScaleAbs(f, alpha=float(luma(o).mean()) / max(float(luma(f).mean()), 1e-3))
            for f, o in zip(frames, like)]


def temporal_error(out: list[np.ndarray], clean: list[np.ndarray]) -> float:
    errors = [np.abs((o1.astype(np.float32) - o0) - (c1.astype(np.float32) - c0)).mean()
              for o0, o1, c0, c1 in zip(out, out[1:], clean, clean[1:])]
    return float(np.mean(errors))


def against_clean(out: list[np.ndarray], clean: list[np.ndarray]) -> dict[str, float]:
    """The synthetic clips' figures (see the module docstring)."""
    matched = [mean_matched(o, c) for o, c in zip(out, clean)]
    return {
        "psnr": float(np.mean([psnr(o, c) for o, c in zip(out, clean)])),
        "mm_psnr": float(np.mean([psnr(m, c) for m, c in zip(matched, clean)])),
        "mm_ssim": float(np.mean([ssim(m, c) for m, c in
                                  zip(matched[::SSIM_EVERY], clean[::SSIM_EVERY])])),
        "shadow_colour_error": float(np.mean([shadow_colour_error(m, c) for m, c in
                                              zip(matched[::SSIM_EVERY], clean[::SSIM_EVERY])])),
        "temporal_error": temporal_error(out, clean)}


def photo_figures(out: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """A night photo's figures against its clean frame, its mean matched to it."""
    matched = mean_matched(out, clean)
    return {"mm_psnr": psnr(matched, clean), "mm_ssim": ssim(matched, clean),
            "shadow_colour_error": shadow_colour_error(matched, clean)}


def stability(frames: list[np.ndarray]) -> dict[str, float]:
    lumas = [luma(f) for f in frames]
    means = np.array([y.mean() for y in lumas])
    mabd = np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(lumas)])
    return {"mean_luma": float(means.mean()), "relative_mabd": float(mabd / means.mean()),
            "global_flicker": float(np.abs(np.diff(means)).mean() / 255)}


def clahe(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The CLAHE anchor: OpenCV's CLAHE on the L channel of Lab (clip limit 3, 8×8 tiles)."""
    equalize = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    out = []
    for frame in frames:
        lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
        lab[..., 0] = equalize.apply(lab[..., 0])
        out.append(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))
    return out


def night_figures(out: list[np.ndarray], source: list[np.ndarray]) -> dict[str, float]:
    """The real clips' figures (no ground truth; see the module docstring)."""
    return {**stability(out), **night_look_of_clip(out, source),
            "chromaticity_shift": float(np.median(
                [chromaticity_shift(o, i) for o, i in zip(out[::10], source[::10])])),
            "shadow_chroma": float(np.mean([neutral_chroma_distance(o) for o in out[::10]])),
            "flat_stepped_blocks": float(np.mean([flat_stepped_blocks(o) for o in out[::10]]))}


def darker(out: np.ndarray, source: np.ndarray) -> bool:
    return float(luma(out).mean()) < 0.99 * float(luma(source).mean())


def camera_clip(clean: list[np.ndarray], args: argparse.Namespace, path: Path, fps: float
                ) -> None:
    """The camera-like dark clip of ``clean`` frames, written to ``path``."""
    frames = [simulate_camera_night(f, exposure=args.camera_exposure, nr_sigma=args.camera_nr,
                                    chroma_bias=args.camera_chroma_bias, seed=i)
              for i, f in enumerate(clean)]
    write_clip(path, frames, fps, crf=args.camera_crf, preset=args.camera_preset,
               pixel_format="yuv420p")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clean", type=Path, nargs="*", default=[], help="clean clips")
    p.add_argument("--dark", type=Path, nargs="*", default=[], help="real dark clips")
    p.add_argument("--images", type=Path, default=None, help="folder of well-exposed images")
    p.add_argument("--frames", type=int, default=90, help="frames per clip (default 90)")
    p.add_argument("--degrade", default="sensor,camera",
                   help="synthetic dark clips to make: sensor, camera or both (default)")
    p.add_argument("--exposure", type=float, default=0.08, help="sensor clips' exposure")
    p.add_argument("--camera-exposure", type=float, default=CAMERA["camera_exposure"])
    p.add_argument("--camera-nr", type=float, default=CAMERA["camera_nr"],
                   help="camera noise reduction, Gaussian sigma in pixels (0: none)")
    p.add_argument("--camera-chroma-bias", type=float, default=CAMERA["camera_chroma_bias"],
                   help="black level chroma bias, codes on U and V")
    p.add_argument("--camera-crf", type=int, default=CAMERA["camera_crf"])
    p.add_argument("--camera-preset", default=CAMERA["camera_preset"])
    p.add_argument("--run-stream", action="append", default=None, metavar="'PATH [ARGS]'",
                   help="run_stream.py to measure, with arguments of its own (repeat to "
                        "compare versions; default this checkout's)")
    p.add_argument("--args", default="--preset veryfast",
                   help="extra run_stream.py arguments for every run")
    p.add_argument("--pan", nargs="*", default=[], metavar="PHOTO",
                   help="also a clean 720p pan over each bundled photo (astronaut, coffee, ...)")
    p.add_argument("--no-lit", action="store_true", help="skip the clean clips as input")
    p.add_argument("--full-range", action="store_true",
                   help="also measure each --dark clip re-encoded in full range")
    p.add_argument("--json", type=Path)
    p.add_argument("--sheet", type=Path,
                   help="PNG: input × gain | each version, camera-like, real dark, lit frame")
    p.add_argument("--sheet-dark", type=int, default=1, metavar="N",
                   help="the first N --dark clips each get a row of the sheet (default 1)")
    args = p.parse_args(argv)
    degradations = args.degrade.split(",")
    unknown = [photo for photo in args.pan if not hasattr(skdata, photo)]
    if unknown:
        p.error(f"--pan takes bundled photos (skimage.data: astronaut, coffee, chelsea, ...), "
                f"got {', '.join(unknown)}")
    if not set(degradations) <= set(DEGRADATIONS):
        p.error(f"--degrade takes {', '.join(DEGRADATIONS)}, got {args.degrade}")
    versions = args.run_stream or [str(ROOT / "run_stream.py")]
    commands = [(Path(words[0]), words[1:]) for words in map(shlex.split, versions)]
    extra = args.args.split()
    console = Console()
    result: dict = {"command": "python benchmarks/video_quality.py " + " ".join(
        sys.argv[1:] if argv is None else argv), "versions": versions,
        "synthetic": [], "night_photos": [], "real_dark": [], "no_harm_clips": [],
        "no_harm_images": []}
    sheet_rows: dict[str, list[np.ndarray]] = {}

    def measured(source: Path, limit: int) -> list[list[np.ndarray]]:
        """Each version's output frames for ``source``."""
        outputs = []
        for run_stream, own in commands:
            enhance(run_stream, source, tmp / "out.mp4", [*extra, *own])
            outputs.append(read_frames(tmp / "out.mp4", limit)[0])
        return outputs

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clean_clips = list(args.clean)
        for photo in args.pan:
            clean_clips.append(tmp / f"pan_{photo}_720p.mp4")
            write_clip(clean_clips[-1], list(pan_frames(args.frames, 1280, 720, photo)), 30.0)
        for clip in clean_clips:
            clean, fps = read_frames(clip, args.frames)
            clean = [f[: f.shape[0] - f.shape[0] % 2, : f.shape[1] - f.shape[1] % 2]
                     for f in clean]
            size = f"{clean[0].shape[1]}x{clean[0].shape[0]}"
            for kind in degradations:
                if kind == "sensor":
                    write_clip(tmp / "dark.mp4", [simulate_low_light(
                        f, exposure=args.exposure, seed=i) for i, f in enumerate(clean)], fps)
                else:
                    camera_clip(clean, args, tmp / "dark.mp4", fps)
                dark, _ = read_frames(tmp / "dark.mp4", args.frames)
                outputs = measured(tmp / "dark.mp4", args.frames)
                anchor = times_gain(dark, outputs[-1])
                for v, out in [(GAIN, anchor), *enumerate(outputs)]:
                    result["synthetic"].append({"clip": clip.name, "degrade": kind,
                                                "version": v, "size": size,
                                                **against_clean(out, clean)})
                if kind != "camera":
                    continue
                middle = len(dark) // 2
                if clip == clean_clips[0]:
                    sheet_rows["camera"] = [anchor[middle], *(o[middle] for o in outputs)]
                # the same frame as a photo (an image goes through the images' path)
                write_image(tmp / "photo.png", dark[middle])
                photos = []
                for v, (run_stream, own) in enumerate(commands):
                    enhance(run_stream, tmp / "photo.png", tmp / f"photo{v}.png", own)
                    photos.append(read_image(tmp / f"photo{v}.png"))
                photo_anchor = times_gain([dark[middle]], photos[-1:])[0]
                if clip == clean_clips[0]:
                    sheet_rows["photo"] = [photo_anchor, *photos]
                for v, out in [(GAIN, photo_anchor), *enumerate(photos)]:
                    result["night_photos"].append({"clip": clip.name, "version": v,
                                                   "size": size,
                                                   **photo_figures(out, clean[middle])})
            if args.no_lit:
                continue
            write_clip(tmp / "lit.mp4", clean, fps)
            lit_in, _ = read_frames(tmp / "lit.mp4", args.frames)
            for v, out in enumerate(measured(tmp / "lit.mp4", args.frames)):
                result["no_harm_clips"].append({
                    "clip": clip.name, "version": v,
                    "psnr_out_in": float(np.mean([psnr(o, c) for o, c in zip(out, lit_in)])),
                    "luma_in": float(np.mean([luma(f).mean() for f in lit_in])),
                    "luma_out": float(np.mean([luma(f).mean() for f in out])),
                    "darker_frames": int(sum(darker(o, c) for o, c in zip(out, lit_in)))})
                if clip == clean_clips[0]:
                    sheet_rows.setdefault("lit", [lit_in[len(out) // 2]]).append(
                        out[len(out) // 2])
        dark_clips = list(args.dark)
        if args.full_range:
            dark_clips += [full_range_copy(clip, tmp / f"{clip.stem}_full_range.mp4", args.frames)
                           for clip in args.dark]
        for clip in dark_clips:
            frames, _ = read_frames(clip, args.frames)
            outputs = measured(clip, args.frames)
            anchor = times_gain(frames, outputs[-1])
            for v, out in [(GAIN, anchor), (CLAHE, clahe(frames)), *enumerate(outputs)]:
                result["real_dark"].append({"clip": clip.name, "version": v,
                                            **night_figures(out, frames),
                                            "input": stability(frames)})
            if clip in args.dark[:args.sheet_dark]:
                middle = len(outputs[-1]) // 2
                sheet_rows[f"dark {clip.name}"] = [anchor[middle], *(o[middle] for o in outputs)]
        if args.images:
            images = sorted(q for q in args.images.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            for v, (run_stream, own) in enumerate(commands):
                enhance(run_stream, args.images, tmp / f"images{v}", own)
                for q in images:
                    out, source = read_image(tmp / f"images{v}" / f"{q.stem}.png"), read_image(q)
                    result["no_harm_images"].append({
                        "image": q.name, "version": v, "psnr_out_in": psnr(out, source),
                        "darker": darker(out, source)})
    _print(console, result, versions)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.sheet and sheet_rows:
        write_image(args.sheet, contact_sheet(list(sheet_rows.values())))
    return 0


def contact_sheet(rows: list[list[np.ndarray]], width: int = 480) -> np.ndarray:
    """Rows of frames side by side, each frame ``width`` pixels wide."""
    strips = [np.hstack([cv2.resize(f, (width, round(width * f.shape[0] / f.shape[1])),
                                    interpolation=cv2.INTER_AREA) for f in frames])
              for frames in rows]
    full = max(r.shape[1] for r in strips)
    return np.vstack([np.pad(r, ((0, 0), (0, full - r.shape[1]), (0, 0))) for r in strips])


def _print(console: Console, result: dict, versions: list[str]) -> None:
    for key, columns in (
        ("synthetic", ("clip", "degrade", "version", "size", "psnr", "mm_psnr", "mm_ssim",
                       "shadow_colour_error", "temporal_error")),
        ("night_photos", ("clip", "version", "size", "mm_psnr", "mm_ssim",
                          "shadow_colour_error")),
        ("real_dark", ("clip", "version", "mean_luma", "relative_mabd", "global_flicker",
                       "chromaticity_shift", "shadow_chroma", "flat_stepped_blocks")),
        ("real_dark", ("clip", "version", "newly_clipped", "false_contours", "greys",
                       "saturation_kept", "floor", "luma_in", "luma_out")),
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
