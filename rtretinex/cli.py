"""The ``rtretinex`` command (and run_stream.py): ``rtretinex [enhance] INPUT ...`` enhances
(argument parsing, the image and video jobs, rich output); ``rtretinex bench`` and
``rtretinex export`` hand over to ``bench`` and ``export``.

Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted (Ctrl-C), 143 SIGTERM,
129 SIGHUP (both handled like Ctrl-C: the frames done are kept).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from contextlib import ExitStack
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
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .atomic import atomic_write_bytes
from .errors import InputError, OutputError, UsageError, existing, report
from .frame.enhancer import Enhancer
from .frame.settings import (
    DEFAULT_DENOISE,
    DEFAULT_SMOOTH,
    DEFAULT_TEMPORAL_DENOISE,
    EXPOSURE_RANGE,
    MODES,
    EnhanceSettings,
)
from .images import IMAGE_SUFFIXES
from .jobs import (
    BackendChoice,
    EncoderOptions,
    FileReport,
    enhance_images,
    is_glob,
    list_videos,
    plan_images,
    plan_videos,
    transcode,
    transcode_all,
)
from .nets.backends import BACKENDS, BackendUnavailable
from .nets.weightfile import DEFAULT_WEIGHTS, WeightsError
from .version import version_line
from .video.display import KEYS
from .video.pipeline import STOP_SIGNALS, PipelineStats, signals_handled
from .video.sinks import (
    DEFAULT_CODEC,
    DEFAULT_CRF,
    DEFAULT_PRESET,
    MAX_CRF,
    PIPE_FORMAT,
    STDOUT,
    VPX_CRF_ABOVE_X264,
)
from .video.sources import DEFAULT_TIMEOUT, Source
from .video.vcam import AUTO_DEVICE, check_virtual_camera
from .workers import default_jobs, run_local, run_on_ray

__all__ = ["build_parser", "enhance", "main"]

EXIT_OK, EXIT_FAILURE = 0, 1  # usage errors: 2 (errors.report); signals: 128 + signal
log = logging.getLogger("rtretinex")


def _output(text: str) -> Path | str:
    """-o: a network URL, or - (standard output), stays text; anything else is a path."""
    return text if "://" in text or text == STDOUT else Path(text)


def _nets_every(text: str) -> int | None:
    """--nets-every: a number of frames, or auto."""
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of frames or auto, got {text!r}"
                                         ) from None


def build_parser(prog: str = "rtretinex") -> argparse.ArgumentParser:
    backends = ", ".join(["auto", *(s.name for s in BACKENDS)])
    p = argparse.ArgumentParser(
        prog=prog,
        description="Enhance dark videos, webcams and images with RetinexNet. Also: "
                    "rtretinex bench (FPS and latency here), rtretinex export (ONNX, "
                    "engines); each has --help.",
        epilog="examples:\n"
               "  rtretinex dark.mp4 -o bright.mp4           transcode (audio copied)\n"
               "  rtretinex 0 --display --compare            live webcam, side by side\n"
               "  rtretinex dark.png -o bright.png           one image\n"
               "  rtretinex photos/ -o bright_photos/        a folder of images\n"
               "  rtretinex night.ts -o - | ffplay -         to a pipe (NUT)\n\n"
               f"window keys (--display): {KEYS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=version_line())
    p.add_argument("inputs", nargs="+", metavar="input",
                   help="video file, URL, named pipe or - (standard input), webcam "
                        "(0, /dev/video0), image or folder of images; several videos, "
                        "folders of videos or quoted globs ('clips/*.mp4') with -o FOLDER")
    p.add_argument("-o", "--output", type=_output,
                   help="output video (.mp4/.mkv/...), - (standard output, as --format), "
                        "network stream (udp://host:port or tcp://host:port as MPEG-TS, "
                        "rtmp[s]://..., rtsp://...), image, or folder for a folder")
    p.add_argument("--format", default=None, metavar="CONTAINER",
                   help=f"-o -: the container written to the pipe (default {PIPE_FORMAT}, "
                        "which keeps timestamps and audio; e.g. matroska, mpegts)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--display", action="store_true",
                   help="show the result in a window (keys below; a file plays at its own rate)")
    p.add_argument("--virtual-camera", nargs="?", const=AUTO_DEVICE, default=None,
                   metavar="DEVICE",
                   help="video: also send the result to a virtual camera that Zoom, Meet, "
                        "Teams or OBS can pick (Linux: a v4l2loopback device, default the "
                        "first free one; Windows/macOS: OBS's virtual camera); needs "
                        "pip install 'rtretinex[vcam]'")
    p.add_argument("--compare", action="store_true",
                   help="show input and output side by side in the window")
    p.add_argument("--mode", choices=MODES, default=None,
                   help="quality: nets at full resolution; fast: nets on a downscaled frame, "
                        "gain upsampled (default: quality for images, fast for video, which "
                        "alone has the night corrections)")
    p.add_argument("--scale", type=int, default=None,
                   help="fast mode downscale factor (default: the nets see about 107x60 pixels)")
    p.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH, metavar="SECONDS",
                   help="video: auto-exposure time constant; the output brightness follows "
                        "the scene this smoothly (a light switched on or a cut at once), "
                        f"0 off (default {DEFAULT_SMOOTH})")
    p.add_argument("--temporal-denoise", type=float, default=DEFAULT_TEMPORAL_DENOISE,
                   metavar="STRENGTH",
                   help="video: motion-adaptive denoise over frames; still areas average "
                        f"~9 frames at 1, 0 off (default {DEFAULT_TEMPORAL_DENOISE})")
    p.add_argument("--nets-every", type=_nets_every, default=None, metavar="N",
                   help="video, fast mode: run the nets on every N-th frame (and at once on a "
                        "cut or a change of light), between runs their last result as a "
                        "per-cell tone curve; 1 every frame (default auto: as often as they "
                        "cost ~3 ms a frame on this CPU)")
    p.add_argument("--exposure", type=float, default=0.0, metavar="STOPS",
                   help=f"brighter (+) or darker (-) than the automatic result, up to "
                        f"±{EXPOSURE_RANGE:g} stops; never darker than the input "
                        "(the window's +/- keys change it live; default 0)")
    p.add_argument("--denoise", type=float, default=None,
                   help="denoise strength where the gain is high, 0 off (default "
                        f"{DEFAULT_DENOISE['quality']} in quality mode: bilateral on R; "
                        f"{DEFAULT_DENOISE['fast']} in fast mode: Gaussian on the input)")
    p.add_argument("--codec", default=None,
                   help=f"video encoder (default {DEFAULT_CODEC}, or where the container "
                        "cannot hold H.264 its own: VP9 in .webm)")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF,
                   help=f"x264/x265 quality 0-{MAX_CRF}, lower is better (default {DEFAULT_CRF}, "
                        f"visually lossless; VP9/VP8 take it {VPX_CRF_ABOVE_X264} higher on "
                        "their own scale)")
    p.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"x264/x265 speed preset (default {DEFAULT_PRESET}; ultrafast for speed)")
    p.add_argument("--realtime", action="store_true",
                   help="play a file as a live source at its own frame rate: frames the "
                        "enhancer cannot keep up with are dropped, as from a camera (video "
                        "only); for testing live setups and restreaming")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="network inputs: longest wait to connect or for the next data "
                        f"(default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--stats-json", type=Path, default=None, help="write run statistics here")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="several videos: files enhanced at once in local worker processes "
                        "(default: one per two cores; one for GPU backends)")
    p.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                   help="several videos: one task per file on a Ray cluster (auto: the one "
                        "RAY_ADDRESS or `ray start` names); needs pip install 'rtretinex[ray]'")
    p.add_argument("--backend", default="auto", help=f"one of: {backends} (default auto)")
    p.add_argument("--precision", default=None, help="backend precision (default: its best)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file")
    p.add_argument("--compile", action="store_true",
                   help="cuda backend: torch.compile the nets for each frame size (~5-15 s "
                        "once per size, then ~30 %% faster nets)")
    return p


def _settings(args: argparse.Namespace) -> EnhanceSettings:
    return EnhanceSettings(mode=args.mode, scale=args.scale, smooth=args.smooth,
                           denoise=args.denoise, temporal_denoise=args.temporal_denoise,
                           nets_every=args.nets_every, exposure=args.exposure)


def _backend(args: argparse.Namespace) -> BackendChoice:
    return BackendChoice(name=args.backend, precision=args.precision, weights=args.weights,
                         compile=args.compile)


def run_images(args: argparse.Namespace, console: Console) -> int:
    """Enhance one image or every image of a folder; unreadable folder entries are skipped."""
    source = Path(args.input)
    jobs = plan_images(source, args.output, args.overwrite)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("enhancing", total=len(jobs))
        result = enhance_images(jobs, _settings(args), backend=_backend(args),
                                folder=source.is_dir(), on_image=lambda: progress.advance(task))
    for path, why in result.skipped:
        log.warning("skipped %s: %s", escape(path.name), escape(why))
    console.print(f"wrote {result.written} image(s) to {escape(str(args.output))} "
                  f"[dim]({result.describe})[/]")
    if result.skipped:
        return report(f"{len(result.skipped)} of {len(jobs)} images could not be read",
                      EXIT_FAILURE)
    return EXIT_OK


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
    with ExitStack() as stack:
        progress_view: list = []

        def on_start(source: Source, enhancer: Enhancer) -> None:
            frames = source.frame_count
            if args.max_frames is not None and frames is not None:
                frames = min(frames, args.max_frames)
            if source.live:
                live = stack.enter_context(Live(console=console, transient=True))
                progress_view.append(lambda s: live.update(_status_line(s)))
                return
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[fps]:.1f} FPS"), TimeElapsedColumn(),
                       TimeRemainingColumn())
            progress = stack.enter_context(Progress(*columns, console=console, transient=True))
            task = progress.add_task("enhancing", total=frames, fps=0.0)
            progress_view.append(lambda s: progress.update(task, completed=s.frames, fps=s.fps))

        stats = transcode(
            args.input, args.output, _settings(args), backend=_backend(args),
            virtual_camera=args.virtual_camera,
            encoder=args.encoder,
            overwrite=args.overwrite, display=args.display or None, compare=args.compare,
            pipe_format=args.format,
            max_frames=args.max_frames, realtime=args.realtime, timeout=args.timeout,
            on_start=on_start,
            on_frame=lambda s: progress_view[0](s) if progress_view else None)
    for warning in stats.warnings:
        log.warning("%s", escape(warning))
    targets = [str(args.output)] if args.output else []
    if args.virtual_camera:
        targets.append("virtual camera" if args.virtual_camera == AUTO_DEVICE
                       else f"virtual camera {args.virtual_camera}")
    if args.display or args.compare or not targets:
        targets.append("display")
    console.print(_summary(stats, f"{escape(args.input)} → "
                                  f"{escape(' + '.join(targets))} ({stats.describe})"))
    if args.stats_json:
        try:
            atomic_write_bytes(args.stats_json, json.dumps(stats.as_json(), indent=2).encode())
        except OSError as exc:
            return report(f"cannot write {args.stats_json}: {exc.strerror or exc}", EXIT_FAILURE)
    if stats.interrupted:
        done = ""
        if stats.frames and args.output is not None and args.output != STDOUT:
            done = f"; {args.output} holds the {stats.frames} frames done"
        return _report_stop(stats.stopped_by, done)
    return EXIT_OK


class _BatchProgress:
    """The progress view of a parallel batch: the files bar (with the frames per second of
    all workers together) and a bar per file being worked on."""

    def __init__(self, progress: Progress, files: TaskID, jobs: list[tuple[Path, Path]]):
        self.progress, self.files, self.jobs = progress, files, jobs
        self.position = {str(source): k for k, (source, _) in enumerate(jobs)}
        self.bars: dict[int, tuple[TaskID, float]] = {}  # job → (its bar, when it started)
        self.frames: dict[int, int] = {}  # job → frames done
        self.finished: set[int] = set()
        self.start = time.perf_counter()

    def _update_fps(self) -> None:
        fps = sum(self.frames.values()) / max(1e-6, time.perf_counter() - self.start)
        self.progress.update(self.files, fps=fps)

    def on_progress(self, job: int, frames: int, total: int | None) -> None:
        if job in self.finished:  # a message sent just before the file's report
            return
        if job not in self.bars:
            bar = self.progress.add_task(escape(self.jobs[job][0].name), total=total, fps=0.0)
            self.bars[job] = (bar, time.perf_counter())
        bar, started = self.bars[job]
        fps = frames / max(1e-6, time.perf_counter() - started)
        self.progress.update(bar, completed=frames, fps=fps)
        self.frames[job] = frames
        self._update_fps()

    def on_report(self, report: FileReport) -> None:
        job = self.position[report.source]
        self.finished.add(job)
        if job in self.bars:
            self.progress.remove_task(self.bars.pop(job)[0])
        self.frames[job] = report.frames
        self.progress.advance(self.files)
        self._update_fps()


def run_video_batch(args: argparse.Namespace, console: Console) -> int:
    """Several videos (files, folders, globs) into an output folder, in this process, in
    local worker processes (--jobs) or on Ray (--ray): one progress view, a summary table,
    --stats-json with a row per file; a broken file is reported and the rest go on."""
    jobs = plan_videos(args.inputs, args.output)
    backend = _backend(args)
    workers = args.jobs or default_jobs(backend)
    options = dict(overwrite=args.overwrite, backend=backend, max_frames=args.max_frames,
                   timeout=args.timeout, settings=_settings(args),
                   encoder=args.encoder)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[fps]:.1f} FPS"), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        files = progress.add_task("files", total=len(jobs), fps=0.0)
        if args.ray or workers > 1:
            where = f"Ray at {args.ray}" if args.ray else f"{workers} workers"
            progress.update(files, description=f"files ({where})")
            view = _BatchProgress(progress, files, jobs)
            reports = (run_on_ray(jobs, args.ray, view.on_report, view.on_progress, **options)
                       if args.ray else
                       run_local(jobs, workers, view.on_report, view.on_progress, **options))
        else:
            frames = progress.add_task("frames", total=None, fps=0.0)
            position = {src: i for i, (src, _) in enumerate(jobs)}

            def on_file(path: Path, source: Source, enhancer: Enhancer) -> None:
                progress.update(files, completed=position[path])
                progress.reset(frames, total=source.frame_count,
                               description=escape(path.name), fps=0.0)

            reports = transcode_all(
                jobs, on_file=on_file,
                on_frame=lambda s: progress.update(frames, completed=s.frames, fps=s.fps),
                **options)
    table = Table(title=f"{escape(' '.join(args.inputs))} → {escape(str(args.output))}")
    for column in ("file", "status", "frames", "FPS", "error"):
        table.add_column(column)
    for r in reports:
        table.add_row(escape(Path(r.source).name), r.status, str(r.frames), f"{r.fps:.1f}",
                      escape(r.error))
    console.print(table)
    if args.stats_json:
        rows = [vars(r) for r in reports]
        atomic_write_bytes(args.stats_json, json.dumps(rows, indent=2).encode())
    stopped = next((r for r in reports if r.status == "interrupted"), None)
    if stopped is not None:
        return _report_stop(stopped.stopped_by or "SIGINT",
                            "; finished files are kept, run again to resume")
    failed = [r for r in reports if r.status == "failed"]
    if failed:
        return report(f"{len(failed)} of {len(jobs)} videos failed (first: "
                      f"{Path(failed[0].source).name}: {failed[0].error})", EXIT_FAILURE)
    return EXIT_OK


def _is_batch(spec: str) -> bool:
    """A glob pattern, or a folder holding videos."""
    return is_glob(spec) or (Path(spec).is_dir() and bool(list_videos(Path(spec))))


def _is_image_job(spec: str) -> bool:
    path = Path(spec)
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (the frames done are kept); its text is the
    signal's name."""


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def _report_stop(signal_name: str, detail: str = "") -> int:
    """The one line for a run stopped by a signal, and its exit code (128 + the signal)."""
    why = "interrupted" if signal_name == "SIGINT" else f"stopped by {signal_name}"
    return report(f"{why}{detail}", 128 + signal.Signals[signal_name].value)


def main(argv: list[str] | None = None) -> int:
    """``rtretinex [enhance] ...``, ``rtretinex bench ...`` or ``rtretinex export ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    console = Console(stderr=True)
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_time=False, show_path=False)])
    if argv[:1] == ["bench"]:
        from .bench import main as bench

        return bench(argv[1:])
    if argv[:1] == ["export"]:
        from .export import main as export

        return export(argv[1:])
    prog = "rtretinex"
    if argv[:1] == ["enhance"]:
        argv, prog = argv[1:], "rtretinex enhance"
    return enhance(argv, console, prog)


def enhance(argv: list[str], console: Console, prog: str = "rtretinex") -> int:
    """``rtretinex enhance``: images, videos, batches and live sources."""
    args = build_parser(prog).parse_args(argv)
    # SIGTERM and SIGHUP stop the run as Ctrl-C does; a caller of ``main`` from Python
    # gets its own handlers back after it
    with signals_handled((signal.SIGTERM, signal.SIGHUP), _stop):
        return _enhance(args, console)


def _enhance(args: argparse.Namespace, console: Console) -> int:
    """``enhance`` of parsed arguments: every failure one line and an exit code."""
    try:
        if args.max_frames is not None and args.max_frames < 1:
            raise UsageError(f"--max-frames must be >= 1, got {args.max_frames}")
        if args.timeout <= 0:
            raise UsageError(f"--timeout must be > 0 seconds, got {args.timeout}")
        if args.stats_json is not None and not args.stats_json.parent.is_dir():
            raise OutputError(f"--stats-json folder does not exist: {args.stats_json.parent}")
        if args.jobs is not None and args.jobs < 1:
            raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
        args.encoder = EncoderOptions(codec=args.codec, crf=args.crf, preset=args.preset)
        if args.format is not None and args.output != STDOUT:
            raise UsageError("--format names the container of -o - (standard output); a "
                             "file's container follows its suffix")
        args.input = args.inputs[0]
        batch = len(args.inputs) > 1 or _is_batch(args.input)
        if args.virtual_camera and (batch or _is_image_job(args.input)):
            raise UsageError("--virtual-camera takes one video or camera, not images or a batch")
        if args.virtual_camera:  # before any work: the extra and a device are there
            check_virtual_camera(args.virtual_camera)
        if batch:
            return run_video_batch(args, console)
        if _is_image_job(args.input):
            existing(args.input)
            return run_images(args, console)
        return run_video(args, console)
    except (UsageError, InputError, OutputError, WeightsError, BackendUnavailable) as exc:
        return report(exc)
    except av.error.FFmpegError as exc:
        return report(f"video processing failed: {exc}", EXIT_FAILURE)
    except MemoryError:
        return report("out of memory: try --mode fast, a smaller input or another backend",
                      EXIT_FAILURE)
    except KeyboardInterrupt as exc:  # Ctrl-C, or a Stopped signal
        return _report_stop(str(exc) or "SIGINT")
    except Exception as exc:  # the last net: one line, not a traceback (RTRETINEX_DEBUG=1 shows it)
        if os.environ.get("RTRETINEX_DEBUG"):
            raise
        return report(f"unexpected {type(exc).__name__}: {exc} (RTRETINEX_DEBUG=1 shows where)",
                      EXIT_FAILURE)


def entry_point() -> None:
    """run_stream.py and the ``rtretinex`` command: main(), then exit with its code. A Ctrl-C
    that lands after the run has ended is ignored, so interpreter shutdown prints nothing."""
    code = main()
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    entry_point()
