"""Command line for run_stream.py: argument parsing, the image and video jobs, rich output.

Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import av
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .backends import BACKENDS, BackendUnavailable, create_backend
from .enhancer import DEFAULT_DENOISE, DEFAULT_SMOOTH, MODES, Enhancer, EnhanceSettings
from .errors import InputError, OutputError, UsageError, existing, report
from .images import IMAGE_SUFFIXES, list_images, read_image, write_image
from .io import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET, DisplaySink, FileSink, open_source
from .models import DEFAULT_WEIGHTS, WeightsError
from .pipeline import PipelineStats, run_pipeline

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 130  # usage errors: 2 (errors.report)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".ts")
log = logging.getLogger("rtretinex")


def build_parser() -> argparse.ArgumentParser:
    backends = ", ".join(["auto", *(s.name for s in BACKENDS)])
    p = argparse.ArgumentParser(
        prog="run_stream.py",
        description="Enhance dark videos, webcams and images with RetinexNet.",
        epilog="examples:\n"
               "  python run_stream.py dark.mp4 -o bright.mp4     transcode (audio copied)\n"
               "  python run_stream.py 0 --display --compare      live webcam, side by side\n"
               "  python run_stream.py dark.png -o bright.png     one image\n"
               "  python run_stream.py photos/ -o bright_photos/  a folder of images",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="video file or URL, webcam (0, /dev/video0), image or folder")
    p.add_argument("-o", "--output", type=Path,
                   help="output video (.mp4/.mkv/...), image, or folder for a folder of images")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--display", action="store_true", help="show the result in a window (q quits)")
    p.add_argument("--compare", action="store_true", help="show input and output side by side")
    p.add_argument("--mode", choices=MODES, default=None,
                   help="quality: nets at full resolution; fast: nets on a downscaled frame, "
                        "gain upsampled (default: quality for images and GPU backends, "
                        "fast for video on a CPU)")
    p.add_argument("--scale", type=int, default=None,
                   help="fast mode downscale factor (default: the nets see about 107x60 pixels)")
    p.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH,
                   help=f"temporal smoothing of the output brightness, 0 off, <1 (default "
                        f"{DEFAULT_SMOOTH})")
    p.add_argument("--denoise", type=float, default=None,
                   help="denoise strength where the gain is high, 0 off (default "
                        f"{DEFAULT_DENOISE['quality']} in quality mode: bilateral on R; "
                        f"{DEFAULT_DENOISE['fast']} in fast mode: Gaussian on the input)")
    p.add_argument("--codec", default=DEFAULT_CODEC,
                   help=f"video encoder (default {DEFAULT_CODEC})")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF,
                   help=f"x264/x265 quality, lower is better (default {DEFAULT_CRF}, "
                        "visually lossless)")
    p.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"x264/x265 speed preset (default {DEFAULT_PRESET}; ultrafast for speed)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--stats-json", type=Path, default=None, help="write run statistics here")
    p.add_argument("--backend", default="auto", help=f"one of: {backends} (default auto)")
    p.add_argument("--precision", default=None, help="backend precision (default: its best)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file")
    return p


def _check_target(output: Path, overwrite: bool) -> None:
    """The output's folder exists and the output does not (unless -y)."""
    if not output.parent.is_dir():
        raise OutputError(f"output folder does not exist: {output.parent}")
    _refuse_overwrite(output, overwrite)


def _refuse_overwrite(output: Path, overwrite: bool) -> None:
    if output.exists() and not overwrite:
        raise OutputError(f"{output} already exists; pass -y to overwrite")


def _image_jobs(source: Path, output: Path | None, overwrite: bool) -> list[tuple[Path, Path]]:
    """(input, output) pairs for an image or a folder; validates before anything is written."""
    if output is None:
        raise UsageError("an image input needs -o OUTPUT (a file, or a folder for a folder)")
    if source.is_dir():
        if output.exists() and not output.is_dir():
            raise UsageError(f"{source} is a folder, so -o must be a folder; {output} is a file")
        if not output.parent.is_dir():
            raise OutputError(f"output folder's parent does not exist: {output.parent}")
        jobs = [(p, output / f"{p.stem}.png") for p in list_images(source)]
        for _, out in jobs:
            _refuse_overwrite(out, overwrite)
    else:
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise UsageError(f"output {output} needs an image suffix ({', '.join(IMAGE_SUFFIXES)})")
        jobs = [(source, output)]
        _check_target(output, overwrite)
    if any(src.resolve() == out.resolve() for src, out in jobs):
        raise UsageError("output would replace the input; choose another -o")
    return jobs


def _make_enhancer(args: argparse.Namespace, video: bool, live: bool = False) -> Enhancer:
    backend = create_backend(args.backend, args.precision, args.weights)
    mode = args.mode
    if mode is None:
        on_gpu = backend.name in ("tensorrt", "cuda")
        mode = "fast" if video and (live or not on_gpu) else "quality"
    smooth = args.smooth if video else 0.0
    return Enhancer(backend, EnhanceSettings(mode, args.scale, smooth, args.denoise))


def _describe(enhancer: Enhancer) -> str:
    b, s = enhancer.backend, enhancer.settings
    return f"{b.name} {b.precision}, {s.mode} mode"


def run_images(args: argparse.Namespace, console: Console) -> int:
    """Enhance one image or every image of a folder; unreadable folder entries are skipped."""
    source = Path(args.input)
    jobs = _image_jobs(source, args.output, args.overwrite)
    if not source.is_dir():
        read_image(source)  # fail on an unreadable image before loading the nets
    enhancer = _make_enhancer(args, video=False)
    if source.is_dir():
        args.output.mkdir(exist_ok=True)
    failed = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("enhancing", total=len(jobs))
        for src, out in jobs:
            try:
                write_image(out, enhancer(read_image(src)))
            except InputError as exc:
                if not source.is_dir():
                    raise
                log.warning("skipped: %s", exc)
                failed += 1
            enhancer.reset()
            progress.advance(task)
    console.print(f"wrote {len(jobs) - failed} image(s) to {escape(str(args.output))} "
                  f"[dim]({_describe(enhancer)})[/]")
    return EXIT_FAILURE if failed else EXIT_OK


def _summary(stats: PipelineStats, title: str) -> Table:
    table = Table(title=title)
    for column in ("stage", "median ms", "p95 ms", "frames"):
        table.add_column(column, justify="right")
    for name, s in stats.stages.items():
        table.add_row(name, f"{s['ms_median']:.1f}", f"{s['ms_p95']:.1f}", str(s["count"]))
    table.caption = (f"{stats.frames} frames in {stats.seconds:.1f} s = {stats.fps:.1f} FPS"
                     f", {stats.dropped} dropped")
    return table


def _status_line(stats: PipelineStats) -> str:
    return f"{stats.fps:5.1f} FPS  frames {stats.frames}  dropped {stats.dropped}"


def run_video(args: argparse.Namespace, console: Console) -> int:
    """Transcode a file or enhance a live source, to a file and/or a window."""
    if args.output is not None:
        if args.output.suffix.lower() not in VIDEO_SUFFIXES:
            raise UsageError(f"video output needs one of {', '.join(VIDEO_SUFFIXES)}: "
                             f"{args.output}")
        _check_target(args.output, args.overwrite)
        if Path(args.input).resolve() == args.output.resolve():
            raise UsageError("output would replace the input; choose another -o")
    with open_source(args.input) as source:
        display = args.display or args.compare
        if args.output is None and not display:
            if not source.live:
                raise UsageError("nothing to do: add -o OUTPUT.mp4 and/or --display")
            display = True
        enhancer = _make_enhancer(args, video=True, live=source.live)
        sink = None
        if args.output is not None:
            sink = FileSink(args.output, source, args.codec, args.crf, args.preset)
        window = DisplaySink(compare=args.compare) if display else None
        stats, kept = None, False
        try:
            stats = _run_with_progress(source, enhancer, sink, window, args, console)
            kept = True
        finally:
            if sink is not None:
                sink.close(keep=kept)
            if window is not None:
                window.close()
    for warning in stats.warnings:
        log.warning("%s", warning)
    console.print(_summary(stats, f"{args.input} → {args.output or 'display'} "
                                  f"({_describe(enhancer)})"))
    if args.stats_json:
        args.stats_json.write_text(json.dumps(stats.as_json(), indent=2))
    if stats.interrupted:
        done = f"; {args.output} holds the {stats.frames} frames done" if stats.frames else ""
        return report(f"interrupted{done}", EXIT_INTERRUPTED)
    return EXIT_OK


def _run_with_progress(source, enhancer, sink, window, args, console) -> PipelineStats:
    frames = source.frame_count
    if args.max_frames is not None and frames is not None:
        frames = min(frames, args.max_frames)
    if source.live:
        with Live(console=console, transient=True) as live:
            return run_pipeline(source, enhancer, sink, window, args.max_frames,
                                lambda s: live.update(_status_line(s)))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[fps]:.1f} FPS"), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("enhancing", total=frames, fps=0.0)
        return run_pipeline(source, enhancer, sink, window, args.max_frames,
                            lambda s: progress.update(task, completed=s.frames, fps=s.fps))


def _is_image_job(spec: str) -> bool:
    path = Path(spec)
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=True)
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_time=False, show_path=False)])
    args = build_parser().parse_args(argv)
    try:
        if args.max_frames is not None and args.max_frames < 1:
            raise UsageError(f"--max-frames must be >= 1, got {args.max_frames}")
        if _is_image_job(args.input):
            existing(args.input)
            return run_images(args, console)
        return run_video(args, console)
    except (UsageError, InputError, OutputError, WeightsError, BackendUnavailable) as exc:
        return report(exc)
    except av.error.FFmpegError as exc:
        return report(f"video processing failed: {exc}", EXIT_FAILURE)
    except KeyboardInterrupt:
        return report("interrupted", EXIT_INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
