"""The jobs, as library functions: transcode one video (or live source), enhance images.

The CLI, the benchmarks and future folder/worker modes all call these. Nothing here prints
or exits: failures come back as the typed errors of errors.py (and BackendUnavailable /
WeightsError), the stats as a ``PipelineStats`` value.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from .errors import InputError, OutputError, UsageError, existing
from .frame.enhancer import Enhancer
from .frame.settings import EnhanceSettings
from .images import IMAGE_SUFFIXES, list_images, load_image, upright_exif, write_image
from .nets.backends import Backend, BackendSpec, create_backend, get_spec, resolve_auto
from .nets.weightfile import DEFAULT_WEIGHTS
from .pixelops.formats import as_rgb
from .video.display import DisplaySink
from .video.frames import VideoFrame
from .video.pipeline import PipelineStats, run_pipeline, signals_held
from .video.sinks import (
    DEFAULT_CRF,
    DEFAULT_PRESET,
    MAX_CRF,
    STDOUT,
    X264_PRESETS,
    FileSink,
    Sink,
    check_encoder,
    stream_format,
)
from .video.sources import DEFAULT_TIMEOUT, Source, open_source
from .video.vcam import VirtualCameraSink

__all__ = ["VIDEO_SUFFIXES", "BackendChoice", "EncoderOptions", "FileReport", "ImageReport",
           "enhance_images", "enhanced_frames", "expand_videos", "is_glob", "list_videos",
           "plan_images", "plan_videos", "transcode", "transcode_all", "transcode_file"]

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".ts")


@dataclass(frozen=True, kw_only=True)
class BackendChoice:
    """Which backend runs the nets (``auto``: the fastest available here)."""

    name: str = "auto"
    precision: str | None = None
    weights: Path = DEFAULT_WEIGHTS
    compile: bool = False  # torch.compile the nets (cuda backend)

    @property
    def spec(self) -> BackendSpec:
        """The backend this choice runs ("auto": the fastest available here)."""
        return resolve_auto() if self.name == "auto" else get_spec(self.name)

    @property
    def on_gpu(self) -> bool:
        """Whether the nets run on an NVIDIA GPU (then its video decoder is tried too)."""
        return self.spec.device == "cuda"

    def create(self) -> Backend:
        spec = self.spec
        if self.compile and spec.name != "cuda":
            raise UsageError(f"--compile applies to the cuda backend (torch.compile of the "
                             f"nets); this run uses {spec.name}")
        options = {"compile": True} if self.compile else {}
        return create_backend(spec.name, self.precision, self.weights, **options)


@dataclass(frozen=True, kw_only=True)
class EncoderOptions:
    """How the output video is encoded; checked when made, before any work."""

    codec: str | None = None  # the sink's default: libx264, or the container's own
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= MAX_CRF:
            raise UsageError(f"--crf must be 0-{MAX_CRF}, got {self.crf}")
        if self.preset not in X264_PRESETS:
            raise UsageError(f"unknown --preset {self.preset!r}; one of "
                             f"{', '.join(X264_PRESETS)}")
        if self.codec is not None:
            check_encoder(self.codec)


def check_target(output: Path, overwrite: bool) -> None:
    """The output's folder exists and is writable, the output is not a folder, and it does
    not exist (or -y)."""
    if not output.parent.is_dir():
        raise OutputError(f"output folder does not exist: {output.parent}")
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"cannot write to {output.parent}: read-only or not permitted")
    if output.is_dir():
        raise OutputError(f"{output} is a folder; name a file to write")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} already exists; pass -y to overwrite")


def _check_output_folder(output: Path, why: str) -> None:
    """``output`` can be a folder of outputs (``why`` says why one is needed)."""
    if output.exists() and not output.is_dir():
        raise UsageError(f"{why}, so -o must be a folder; {output} is a file")
    if not output.parent.is_dir():
        raise OutputError(f"output folder's parent does not exist: {output.parent}")


def _check_not_input(source: str | Path, output: Path) -> None:
    if Path(source).resolve() == output.resolve():
        raise UsageError("output would replace the input; choose another -o")


def transcode(source: str, target: Path | str | None, settings: EnhanceSettings | None = None,
              *, backend: BackendChoice | None = None, encoder: EncoderOptions | None = None,
              overwrite: bool = False, display: bool | None = None, compare: bool = False,
              virtual_camera: str | None = None,
              max_frames: int | None = None, realtime: bool = False,
              timeout: float = DEFAULT_TIMEOUT, keep_partial: bool = True,
              pipe_format: str | None = None,
              on_start: Callable[[Source, Enhancer], None] | None = None,
              on_frame: Callable[[PipelineStats], None] | None = None) -> PipelineStats:
    """Enhance the video ``source`` (file, URL or webcam) into ``target`` (a file, or a
    network URL such as ``udp://127.0.0.1:5000``, see ``sinks.stream_format``), a window
    and/or a ``virtual_camera`` (a device, or ``vcam.AUTO_DEVICE``).

    ``display`` None shows a window only for a live source with no target; ``realtime``
    plays a file as a live source at its own rate (newest frame wins), as does a file that
    is only shown or sent to a network stream or a virtual camera. A file target is
    written atomically: after a failure it is untouched; after Ctrl-C
    (``stats.interrupted``) it holds the frames done, or is left untouched when not
    ``keep_partial``."""
    settings, backend = settings or EnhanceSettings(), backend or BackendChoice()
    encoder = encoder or EncoderOptions()
    # a pipe's or a network output's container, checked before any work; None for a file
    container = None if target is None else stream_format(target, pipe_format)
    streaming = container is not None and target != STDOUT
    if target is not None and container is None:
        target = Path(target)
        if target.suffix.lower() not in VIDEO_SUFFIXES:
            raise UsageError(f"video output needs one of {', '.join(VIDEO_SUFFIXES)}: {target}")
        check_target(target, overwrite)
        _check_not_input(source, target)
    # a file only shown on screen, or sent to a network stream, plays at its own rate
    paced = realtime or streaming or (target is None and bool(display or compare
                                                                or virtual_camera))
    with open_source(source, paced, timeout, "cuda" if backend.on_gpu else None) as src:
        show = display if display is not None else (
            target is None and not virtual_camera and src.live)
        show = show or compare
        if target is None and not show and not virtual_camera:
            raise UsageError("nothing to do: add -o OUTPUT.mp4, --display and/or "
                             "--virtual-camera")
        enhancer = _video_enhancer(backend, settings, src)
        sinks: list[Sink] = []
        try:
            if target is not None:
                sinks.append(FileSink(target, src, encoder.codec, encoder.crf, encoder.preset,
                                      pipe_format))
            if virtual_camera:
                sinks.append(VirtualCameraSink(src, virtual_camera))
            if show:
                sinks.append(DisplaySink(compare=compare, describe=describe(enhancer),
                                         controls=enhancer, player=src))
            if on_start is not None:
                on_start(src, enhancer)
            stats = run_pipeline(src, enhancer, sinks, max_frames, on_frame)
            if not stats.frames and not stats.interrupted:
                raise InputError(f"no video frame could be decoded from {source}"
                                 + "".join(f"; {w}" for w in src.warnings))
        except BaseException:
            for sink in sinks:
                sink.close(keep=False)
            raise
        with signals_held():
            for sink in sinks:
                sink.close(keep=keep_partial or not stats.interrupted)
    stats.describe = describe(enhancer)
    stats.scene_cuts = enhancer.scene_cuts
    return stats


def enhanced_frames(source: str, enhancer: Enhancer | None = None, *,
                    timeout: float = DEFAULT_TIMEOUT) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(input, enhanced) RGB uint8 pairs for every frame of a video file, URL, pipe or
    webcam (``open_source``), in order, in the caller's thread: for embedding the enhancer
    in another program. ``enhancer`` None builds one as ``transcode`` would."""
    with open_source(source, timeout=timeout) as src:
        if enhancer is None:
            enhancer = _video_enhancer(BackendChoice(), EnhanceSettings(), src)
        for item in src:
            if isinstance(item, VideoFrame):
                output = enhancer.enhance(item)
                yield as_rgb(item.image, item.pixel_format), as_rgb(output, item.pixel_format)


def _video_enhancer(backend: BackendChoice, settings: EnhanceSettings, source: Source
                    ) -> Enhancer:
    """The enhancer for a video: fast mode unless asked. For a live source it is warmed up
    on the frame size (a file waits for it anyway)."""
    enhancer = Enhancer(backend.create(), settings.for_stream(video=True), live=source.live)
    if source.live:
        enhancer.warm_up(source.width, source.height)
    return enhancer


def describe(enhancer: Enhancer) -> str:
    """'openvino bf16, fast mode' — what ran ('…, frames on the GPU' for the device path)."""
    b, s = enhancer.backend, enhancer.settings
    where = ", frames on the GPU" if enhancer.executor.on_gpu else ""
    return f"{b.name} {b.precision}, {s.mode} mode{where}"


def plan_images(source: Path, output: Path | str | None, overwrite: bool
                ) -> list[tuple[Path, Path]]:
    """(input, output) pairs for an image or a folder; validates before anything is written."""
    if output is None:
        raise UsageError("an image input needs -o OUTPUT (a file, or a folder for a folder)")
    if isinstance(output, str):
        raise UsageError(f"images are written to files, not to {output}")
    if source.is_dir():
        _check_output_folder(output, f"{source} is a folder")
        jobs = [(p, output / f"{p.stem}.png") for p in list_images(source)]
        seen: dict[Path, Path] = {}
        for src, out in jobs:
            if out in seen:
                raise UsageError(f"{seen[out].name} and {src.name} would both be written to "
                                 f"{out.name}; rename one of them")
            seen[out] = src
        if output.is_dir():
            for _, out in jobs:
                check_target(out, overwrite)
    else:
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise UsageError(f"output {output} needs an image suffix ({', '.join(IMAGE_SUFFIXES)})")
        jobs = [(source, output)]
        check_target(output, overwrite)
    for src, out in jobs:
        _check_not_input(src, out)
    return jobs


@dataclass
class ImageReport:
    """What an image job did: images written, and (path, reason) of those skipped."""

    written: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    describe: str = ""


def enhance_images(jobs: list[tuple[Path, Path]], settings: EnhanceSettings | None = None,
                   *, backend: BackendChoice | None = None, folder: bool = False,
                   on_image: Callable[[], None] | None = None) -> ImageReport:
    """Enhance each (input, output) pair. For a single image a bad input raises InputError;
    in a ``folder`` an unreadable image is skipped and reported."""
    settings, backend = settings or EnhanceSettings(), backend or BackendChoice()
    if not folder:
        load_image(jobs[0][0])  # fail on an unreadable image before loading the nets
    enhancer = Enhancer(backend.create(), settings.for_stream(video=False))
    report = ImageReport(describe=describe(enhancer))
    if jobs:
        jobs[0][1].parent.mkdir(exist_ok=True)
    for src, out in jobs:
        try:
            rgb, alpha = load_image(src)
            write_image(out, enhancer(rgb), alpha, upright_exif(src))
            report.written += 1
        except InputError as exc:
            if not folder:
                raise
            report.skipped.append((src, str(exc)))
        enhancer.reset()
        if on_image is not None:
            on_image()
    return report


def list_videos(folder: Path) -> list[Path]:
    """Video files directly inside ``folder`` (by suffix), sorted."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def is_glob(spec: str) -> bool:
    """A glob pattern, not the name of an existing file (names may hold * ? [)."""
    return any(c in spec for c in "*?[") and not Path(spec).exists()


def expand_videos(inputs: Sequence[str | Path]) -> list[Path]:
    """The video files named by ``inputs``: files, folders (their videos) and glob patterns
    (``clips/*.mp4``, quoted so the shell leaves them), in order, each once."""
    found: list[Path] = []
    for spec in map(str, inputs):
        if is_glob(spec):
            matches = sorted(Path(p) for p in glob.glob(spec, recursive=True))
            if not matches:
                raise InputError(f"no file matches {spec}")
            found.extend(p for p in matches if p.is_file())
        elif Path(spec).is_dir():
            found.extend(list_videos(Path(spec)))
        else:
            found.append(existing(spec))
    return list(dict.fromkeys(found))


def plan_videos(inputs: Sequence[str | Path], output: Path | str | None
                ) -> list[tuple[Path, Path]]:
    """(input, output) pairs for a batch of videos (``expand_videos``): each output keeps
    its input's name and container in the ``output`` folder (created if missing; its
    parent must exist). Two inputs with one name are refused before any work."""
    if output is None or isinstance(output, str):
        raise UsageError("several videos need -o OUTPUT_FOLDER")
    _check_output_folder(output, "several videos are written")
    videos = expand_videos(inputs)
    if not videos:
        raise InputError(f"no videos in {', '.join(map(str, inputs))}")
    seen: dict[str, Path] = {}
    for video in videos:
        if video.parent.resolve() == output.resolve():
            raise UsageError(f"{video} is in the output folder; choose another -o")
        if video.name in seen:
            raise UsageError(f"{seen[video.name]} and {video} would both be written to "
                             f"{output / video.name}; rename one of them")
        seen[video.name] = video
    return [(video, output / video.name) for video in videos]


@dataclass
class FileReport:
    """One file of a folder run: ``status`` is done, skipped (a complete output was already
    there), failed (with ``error``) or interrupted (by the signal ``stopped_by``; its
    partial output is not kept, so a new run redoes it)."""

    source: str
    target: str
    status: str
    frames: int = 0
    fps: float = 0.0
    error: str = ""
    stopped_by: str = ""


def transcode_file(source: Path, target: Path, settings: EnhanceSettings | None = None, *,
                   overwrite: bool = False,
                   on_file: Callable[[Path, Source, Enhancer], None] | None = None,
                   on_frame: Callable[[PipelineStats], None] | None = None,
                   **options) -> FileReport:
    """One file of a batch, as a report (a bad file is a "failed" report, not an error).
    An output that already exists is complete (every output is written atomically), so it
    is skipped unless ``overwrite``; a file stopped by Ctrl-C or SIGTERM is not written, so
    the next run does it again, whole."""
    if target.exists() and not overwrite:
        return FileReport(str(source), str(target), "skipped")
    try:
        target.parent.mkdir(exist_ok=True)
        stats = transcode(str(source), target, settings, overwrite=overwrite,
                          keep_partial=False,
                          on_start=None if on_file is None else
                          (lambda src, enh: on_file(source, src, enh)),
                          on_frame=on_frame, **options)
    except (InputError, OutputError, OSError, av.error.FFmpegError) as exc:
        return FileReport(str(source), str(target), "failed", error=str(exc))
    report = FileReport(str(source), str(target), "done", stats.frames, stats.fps)
    if stats.interrupted:
        report.status, report.stopped_by = "interrupted", stats.stopped_by
    return report


def transcode_all(jobs: list[tuple[Path, Path]], settings: EnhanceSettings | None = None,
                  **options) -> list[FileReport]:
    """``transcode_file`` for each (input, output) pair in turn, in this process; a broken
    file is reported and the rest go on; Ctrl-C stops the batch. (``workers`` runs them in
    parallel.)"""
    reports: list[FileReport] = []
    for source, target in jobs:
        reports.append(transcode_file(source, target, settings, **options))
        if reports[-1].status == "interrupted":
            break
    return reports
