"""``rtretinex bench``: FPS and live latency on this machine (and the research benchmarks'
measuring code: ``benchmarks/fps.py`` and ``benchmarks/latency.py`` run it with their own
defaults).

Per backend, size and mode (warm-up first, CUDA synchronised, median and p95):
  model    the nets alone on their input (full frame, or the downscaled one in fast mode)
  enhance  the whole per-frame core on a decoded (yuv420p) frame
  pipeline end-to-end FPS on a generated H.264 clip (decode → enhance → encode threads),
           and the process's CPU ms per frame over all threads
beside, in the same run, a decode → encode passthrough with the same encoder (no
enhancement) and the peak matmul throughput in the backend's precision; then the live
latency of a synthetic 30 fps camera (capture → output, p50/p95).

  rtretinex bench                       720p and 1080p, fast mode, the default backend (~1 min)
  rtretinex bench --backends openvino,torch-cpu --modes quality,fast --sizes 640x360
  rtretinex bench --clips my_night.mp4 --json bench.json --plot bench.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import rtretinex

from .errors import InputError, UsageError, report
from .frame.enhancer import Enhancer
from .frame.settings import DEFAULT_SMOOTH, DEFAULT_TEMPORAL_DENOISE, MODES, EnhanceSettings
from .nets.backends import BACKENDS, get_spec, resolve_auto
from .nets.backends.openvino_backend import import_openvino
from .nets.models import DEFAULT_WEIGHTS, count_macs, create_retinexnet
from .pixelops.formats import as_rgb
from .samples import DarkCamera, write_dark_clip
from .version import installed, version_line
from .video.frames import VideoFrame
from .video.pipeline import run_pipeline
from .video.sinks import FileSink
from .video.sources import Source, VideoSource

__all__ = ["QUICK", "RESEARCH", "bench_backend", "build_parser", "machine_info", "main",
           "measure_latency", "plot", "render"]

# CPU tiers (``--isa``): what OpenVINO's oneDNN kernels and numba's compiled loops may use.
# Both read their cap when they load, so a capped run re-executes this script with the cap
# in its environment. avx512_core_bf16 is an AVX-512 CPU with bf16 and no AMX (e.g. AMD
# Zen 4), avx2 a laptop or desktop without AVX-512.
ISA_TIERS = {
    "native": {},
    "avx512_core_bf16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "NUMBA_CPU_NAME": "cooperlake"},
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "NUMBA_CPU_NAME": "haswell"},
}
CPU_SIZES = "640x360,1280x720,1920x1080"
GPU_SIZES = CPU_SIZES + ",3840x2160"


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'1280x720,640x360' → [(1280, 720), (640, 360)] as (width, height)."""
    sizes = []
    for part in text.split(","):
        try:
            width, height = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise UsageError(f"bad size {part!r}: expected WIDTHxHEIGHT") from None
        sizes.append((width, height))
    return sizes


def timed(fn, runs: int, warmup: int, budget_s: float, sync=lambda: None) -> list[float]:
    """Milliseconds per call: ``warmup`` untimed calls, then up to ``runs`` timed ones
    (at least 3) or until ``budget_s`` seconds have passed."""
    for _ in range(warmup):
        fn()
    sync()
    samples, start = [], time.perf_counter()
    while len(samples) < runs and (len(samples) < 3 or time.perf_counter() - start < budget_s):
        t = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t) * 1e3)
    return samples


def stats(samples: list[float]) -> dict[str, float]:
    return {"ms_median": float(np.median(samples)), "ms_p95": float(np.percentile(samples, 95)),
            "runs": len(samples)}


def peak_gflops(backend_name: str, precision: str, n: int = 2048) -> float:
    """Peak dense matmul throughput in the backend's precision on its device."""
    if backend_name == "openvino":
        ov = import_openvino()
        import openvino.opset13 as ops  # the package is imported: no telemetry

        x = ops.parameter([n, n], ov.Type.f32)
        weights = ops.constant(np.random.default_rng(0).random((n, n), dtype=np.float32))
        model = ov.Model([ops.matmul(x, weights, False, False)], [x])
        hint = {"bf16": "bf16", "fp32": "f32"}[precision]
        compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                          "PERFORMANCE_HINT": "LATENCY"})
        data = np.random.default_rng(1).random((n, n), dtype=np.float32)
        request = compiled.create_infer_request()
        ms = np.median(timed(lambda: request.infer([data]), 10, 2, 5.0))
    else:
        device = "cuda" if get_spec(backend_name).device == "cuda" else "cpu"
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        a = torch.rand(n, n, device=device, dtype=dtype)
        b = torch.rand(n, n, device=device, dtype=dtype)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        with torch.inference_mode():
            ms = np.median(timed(lambda: a @ b, 20, 3, 5.0, sync))
    return 2 * n**3 / (ms * 1e-3) / 1e9


class Passthrough:
    """An enhancer that returns the frame as it is."""

    def enhance(self, frame: VideoFrame):
        return frame.image


def passthrough_fps(clip: Path, preset: str, frames: int) -> tuple[float, float]:
    """Decode → encode with the same pipeline, threads and encoder, no enhancement."""
    return pipeline_fps(clip, Passthrough(), preset, frames)


def pipeline_fps(clip: Path, enhancer, preset: str, frames: int) -> tuple[float, float]:
    """(frames per second, CPU ms per frame) of the whole pipeline: the CPU time is the
    process's, over every thread (decoder, enhancer, encoder, their libraries' pools)."""
    with tempfile.TemporaryDirectory() as tmp, VideoSource(str(clip)) as source:
        sink = FileSink(Path(tmp) / "out.mp4", source, preset=preset)
        start, cpu = time.perf_counter(), time.process_time()
        result = run_pipeline(source, enhancer, [sink], max_frames=frames)
        sink.close()
        cpu_ms = (time.process_time() - cpu) * 1e3 / max(1, result.frames)
        return result.frames / (time.perf_counter() - start), cpu_ms


@dataclass
class Clip:
    """A video the pipeline runs on, its first frame and its passthrough figures."""

    path: Path
    width: int
    height: int
    frame: VideoFrame  # as decoded: what "enhance" is timed on
    passthrough_fps: float = 0.0
    passthrough_cpu_ms: float = 0.0


def open_clip(path: Path, preset: str, frames: int) -> Clip:
    """A clip with its first frame decoded and its passthrough measured."""
    with VideoSource(str(path)) as source:
        first = next((item for item in source if isinstance(item, VideoFrame)), None)
        if first is None:
            raise InputError(f"{path} has no video frames")
        clip = Clip(path, source.width, source.height, first)
    clip.passthrough_fps, clip.passthrough_cpu_ms = passthrough_fps(path, preset, frames)
    return clip


def bench_backend(name: str, precision: str | None, clips: list[Clip], modes: list[str],
                  args: argparse.Namespace, on_step: Callable[[str], None]) -> list[dict]:
    """Rows for one backend; an unavailable or failing backend becomes one row with why.
    ``on_step`` hears what is measured next."""
    spec = get_spec(name)
    reason = spec.unavailable_reason()
    if reason:
        return [{"backend": name, "error": reason}]
    try:
        backend = spec.create(args.weights, precision)
    except Exception as exc:  # a failed backend is a row, not a crash
        return [{"backend": name, "error": f"{type(exc).__name__}: {exc}"}]
    sync = getattr(backend, "synchronize", lambda: None)
    peak = peak_gflops(name, backend.precision)
    net = create_retinexnet(args.weights)
    rows = []
    for clip in clips:
        width, height, frame = clip.width, clip.height, clip.frame
        image = as_rgb(frame.image, frame.pixel_format)
        for mode in modes:
            enhancer = Enhancer(backend, EnhanceSettings(
                mode=mode, smooth=args.smooth, denoise=args.denoise,
                temporal_denoise=args.temporal_denoise, nets_every=args.nets_every))
            scale = enhancer.settings.scale_for(height, width)
            net_input = cv2.resize(image, (width // scale, height // scale),
                                   interpolation=cv2.INTER_AREA)
            on_step(f"{name} {backend.precision} {width}x{height} {mode}: the nets")
            model = stats(timed(lambda x=net_input: backend(x), args.runs, args.warmup,
                                args.budget, sync))
            on_step(f"{name} {backend.precision} {width}x{height} {mode}: one frame")
            enhance = stats(timed(lambda e=enhancer, x=frame: e.enhance(x), args.runs, args.warmup,
                                  args.budget, sync))
            macs = count_macs(net, *net_input.shape[:2])
            gflops = 2 * macs / (model["ms_median"] * 1e-3) / 1e9
            row = {
                "backend": name, "precision": backend.precision, "device": backend.device_name,
                "clip": clip.path.name, "size": f"{width}x{height}", "mode": mode, "scale": scale,
                "model": model, "model_fps": 1e3 / model["ms_median"],
                "enhance": enhance, "enhance_fps": 1e3 / enhance["ms_median"],
                "gflops": gflops, "peak_gflops": peak, "peak_ratio": gflops / peak,
            }
            expected_s = args.pipeline_frames * enhance["ms_median"] / 1e3
            if expected_s <= args.pipeline_budget:
                on_step(f"{name} {backend.precision} {width}x{height} {mode}: the pipeline")
                enhancer.reset()
                row["pipeline_fps"], row["pipeline_cpu_ms"] = pipeline_fps(
                    clip.path, enhancer, args.preset, args.pipeline_frames)
                row["passthrough_fps"] = clip.passthrough_fps
                row["passthrough_cpu_ms"] = clip.passthrough_cpu_ms
                row["enhance_cpu_ms"] = row["pipeline_cpu_ms"] - row["passthrough_cpu_ms"]
                row["pipeline_ratio"] = row["pipeline_fps"] / row["passthrough_fps"]
                if mode == "fast":  # how often the nets ran in the pipeline (``schedule``)
                    row["nets_interval"] = enhancer.decisions.schedule.interval
                    row["nets_runs"] = enhancer.decisions.schedule.runs
            else:
                row["pipeline_skipped"] = (f"would take ~{expected_s:.0f} s "
                                           f"(> --pipeline-budget {args.pipeline_budget:.0f} s)")
            rows.append(row)
    return rows


def isa_info(tier: str) -> dict:
    """The CPU tier a run was capped to, the caps in force and what OpenVINO then lists
    (it may still list BF16 under the AVX2 cap: the timing tells)."""
    try:
        ov = import_openvino()
        capabilities = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except (ImportError, RuntimeError) as exc:
        capabilities = [f"unavailable: {exc}"]
    return {"tier": tier, **{key: os.environ.get(key) for key in ISA_TIERS["avx2"]},
            "openvino_capabilities": capabilities}


def _cpuinfo(field: str) -> str | None:
    """The first value of ``field`` in /proc/cpuinfo (None where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines
                 if line.split(":", 1)[0].strip() == field), None)


def isa_tier() -> str:
    """The widest vector instructions this CPU has, as the CPU families differ: AMX,
    AVX-512 (with bf16 or not), AVX2 or older (from /proc/cpuinfo; "unknown" elsewhere)."""
    flags = (_cpuinfo("flags") or "").split()
    for flag, tier in (("amx_tile", "AMX"), ("avx512_bf16", "AVX-512 bf16"),
                       ("avx512f", "AVX-512"), ("avx2", "AVX2")):
        if flag in flags:
            return tier
    return "SSE" if flags else "unknown"


def machine_info() -> dict:
    """Device names and library versions for the table header and the JSON."""
    cpu = _cpuinfo("model name") or platform.processor() or platform.machine()
    return {
        "cpu": cpu, "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(), "torch": torch.__version__,
        "openvino": installed("openvino"), "av": av.__version__, "rtretinex": code_measured(),
        "isa_tier": isa_tier(),
    }


def code_measured() -> str:
    """Which rtretinex runs: its folder and, in a git checkout, its commit. An installed
    (editable) package wins over the checkout this script sits in unless PYTHONPATH says
    otherwise: an A/B of two checkouts must set it for the older one."""
    folder = Path(rtretinex.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{commit or 'no git'} at {folder}"


def render(rows: list[dict], info: dict, console: Console) -> None:
    """The FPS table, its title naming the machine and what ran."""
    tier = ("" if info["isa"]["tier"] == "native" else f" capped to {info['isa']['tier']}")
    title = (f"rtretinex {rtretinex.__version__} FPS — {info['cpu']} ({info['isa_tier']}{tier},"
             f" {info['cpu_threads']} threads){' · ' + info['gpu'] if info['gpu'] else ''} · "
             f"torch {info['torch']} · openvino {info['openvino']} · av {info['av']} · "
             f"code {info['rtretinex']}")
    table = Table(title=title)
    for column in ("backend", "size", "mode", "nets at", "nets every", "model ms (p95)",
                   "enhance ms (p95)",
                   "GFLOP/s", "of peak", "pipeline FPS", "passthrough FPS", "ratio",
                   "CPU ms/frame (+enhance)"):
        table.add_column(column, justify="right")
    for r in rows:
        if "error" in r:
            table.add_row(r["backend"], "-", "-", "-", "-", f"[red]{escape(r['error'])}[/]",
                          *[""] * 7)
            continue
        w, h = (int(v) for v in r["size"].split("x"))
        pipe = r.get("pipeline_fps")
        generated = r["clip"] == f"{r['size']}.mp4"
        table.add_row(
            f"{r['backend']} {r['precision']}",
            r["size"] if generated else f"{r['size']} {escape(r['clip'])}", r["mode"],
            f"{w // r['scale']}x{h // r['scale']}", str(r.get("nets_interval", "")),
            f"{r['model']['ms_median']:.1f} ({r['model']['ms_p95']:.1f})",
            f"{r['enhance']['ms_median']:.1f} ({r['enhance']['ms_p95']:.1f})",
            f"{r['gflops']:.0f}", f"{r['peak_ratio']:.0%}",
            f"{pipe:.1f}" if pipe else "skipped",
            f"{r['passthrough_fps']:.1f}" if pipe else "",
            f"{r['pipeline_ratio']:.2f}" if pipe else "",
            f"{r['pipeline_cpu_ms']:.1f} (+{r['enhance_cpu_ms']:.1f})" if pipe else "",
        )
    console.print(table)


def plot(rows: list[dict], latency: list[dict], path: Path) -> None:
    """FPS by resolution (pipeline where measured, else one frame), and beside it the live
    latency's distribution where it was measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if latency else 1, figsize=(14 if latency else 8, 5),
                             squeeze=False)
    ax = axes[0][0]
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if "error" not in r:
            pixels = int(np.prod([int(v) for v in r["size"].split("x")]))
            fps = r.get("pipeline_fps") or r["enhance_fps"]
            series.setdefault(f"{r['backend']} {r['precision']} {r['mode']}", []).append(
                (pixels, fps))
    for label, points in series.items():
        points.sort()
        ax.plot([p for p, _ in points], [f for _, f in points], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pixels per frame")
    ax.set_ylabel("FPS (pipeline where measured, else enhance)")
    ax.axhline(30, color="grey", linestyle="--", linewidth=0.8)
    ax.legend(fontsize=8)
    ax.set_title("rtretinex throughput by resolution")
    if latency:
        plot_latency(latency, axes[0][1])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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


def measure_latency(source: Source, enhancer: Enhancer) -> dict:
    """Capture → output latency of a live ``source`` through the real pipeline (live mode:
    newest frame wins), its output FPS and the share of frames dropped."""
    stats = run_pipeline(source, enhancer, [TakeSink()])
    latency = stats.stages["latency"]
    offered = stats.frames + stats.dropped
    return {"frames": stats.frames, "dropped": stats.dropped,
            "dropped_share": stats.dropped / offered if offered else 0.0, "fps": stats.fps,
            "latency_ms": {k: latency[k] for k in ("ms_median", "ms_p95", "ms_p99")},
            "samples_ms": stats.latency_samples}



def plot_latency(rows: list[dict], ax: Any) -> None:
    """The latency's cumulative distribution, one line per row."""
    for r in rows:
        samples = np.sort(r["samples_ms"])
        ax.plot(samples, np.linspace(0, 1, len(samples)), label=f"{r['size']} {r['source']}")
    ax.set_xlabel("capture → output latency (ms)")
    ax.set_ylabel("share of frames")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("live latency")




def render_latency(rows: list[dict], console: Console) -> None:
    """The live latency table."""
    table = Table(title="live latency (capture → output)")
    for column in ("backend", "size", "source", "p50 ms", "p95 ms", "p99 ms", "output FPS",
                   "dropped"):
        table.add_column(column, justify="right")
    for r in rows:
        lat = r["latency_ms"]
        table.add_row(r["backend"], r["size"], r["source"], f"{lat['ms_median']:.1f}",
                      f"{lat['ms_p95']:.1f}", f"{lat['ms_p99']:.1f}", f"{r['fps']:.1f}",
                      f"{100 * r['dropped_share']:.1f} %")
    console.print(table)


def live_latency(backend_name: str, mode: str, size: tuple[int, int], seconds: float,
                 weights: Path) -> dict:
    """The latency row of a synthetic 30 fps camera (``samples.DarkCamera``) at ``size``,
    warmed up as a live run is."""
    spec = get_spec(backend_name)
    backend = spec.create(weights, None)
    enhancer = Enhancer(backend, EnhanceSettings(mode=mode), live=True)
    width, height = size
    with DarkCamera(width, height, 30.0, round(seconds * 30), loop=RENDERED) as source:
        enhancer.warm_up(source.width, source.height)
        row = measure_latency(source, enhancer)
    return {"backend": f"{backend.name} {backend.precision}", "size": f"{width}x{height}",
            "source": "camera 30 fps", "mode": mode, **row}


# Frames of a generated clip rendered (the rest: those played back and forth); the low-light
# simulator would otherwise take most of a quick run.
RENDERED = 16
# ``rtretinex bench``: a look at this machine in about a minute on 2 cores
QUICK = {"backends": "auto", "sizes": "1280x720,1920x1080", "modes": "fast", "runs": 30,
         "warmup": 3, "budget": 3.0, "pipeline_frames": 90, "latency_seconds": 5.0}
# benchmarks/fps.py: every backend, size and mode, longer (no latency: benchmarks/latency.py)
RESEARCH = {"backends": ",".join(s.name for s in BACKENDS), "sizes": None,
            "modes": "quality,fast", "runs": 50, "warmup": 3, "budget": 10.0,
            "pipeline_frames": 150, "latency_seconds": 0.0}


def build_parser(prog: str = "rtretinex bench", defaults: dict | None = None,
                 description: str | None = None) -> argparse.ArgumentParser:
    defaults = defaults or QUICK
    p = argparse.ArgumentParser(prog=prog, description=description or __doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version_line())
    p.add_argument("--backends",
                   help="comma-separated backend names, auto: the default here (default "
                        f"{defaults['backends']}; unavailable ones become rows saying why)")
    p.add_argument("--precision", default=None, help="one precision for all backends")
    p.add_argument("--sizes", help=f"WIDTHxHEIGHT list (default {defaults['sizes'] or CPU_SIZES}"
                                   f"{'' if defaults['sizes'] else ', plus 3840x2160 on a GPU'})")
    p.add_argument("--modes", help=f"quality and/or fast (default {defaults['modes']})")
    p.add_argument("--runs", type=int, help="timed runs per cell (at most)")
    p.add_argument("--warmup", type=int)
    p.add_argument("--budget", type=float, help="seconds per timed cell")
    p.add_argument("--pipeline-frames", type=int)
    p.add_argument("--pipeline-budget", type=float, default=60.0,
                   help="skip pipeline runs expected to take longer (seconds)")
    p.add_argument("--latency-seconds", type=float,
                   help="live latency: seconds of a synthetic 30 fps camera at the first "
                        "size, with the first backend and mode; 0 skips it")
    p.add_argument("--preset", default="ultrafast", help="x264 preset of pipeline/passthrough")
    p.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH)
    p.add_argument("--denoise", type=float, default=None, help="default: per mode")
    p.add_argument("--temporal-denoise", type=float, default=DEFAULT_TEMPORAL_DENOISE)
    p.add_argument("--nets-every", type=int, default=None,
                   help="fast mode: the nets on every N-th video frame (default: automatic)")
    p.add_argument("--clips", type=Path, nargs="+", default=None,
                   help="videos to measure on (each at its own size) instead of generated "
                        "dark clips; --sizes is then ignored")
    p.add_argument("--source", choices=("sensor", "camera"), default="sensor",
                   help="generated clips: sensor noise kept (CRF 12, default) or as a camera "
                        "writes night video (samples.write_dark_clip camera=True, CRF 28)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--isa", choices=tuple(ISA_TIERS), default="native",
                   help="cap the CPU's instruction set as on another CPU family (OpenVINO and "
                        "the compiled loops; default: this CPU's own)")
    p.add_argument("--json", type=Path, default=None, help="write every figure here")
    p.add_argument("--plot", type=Path, default=None, help="FPS (and latency) plot, PNG")
    p.set_defaults(**{key: value for key, value in defaults.items() if value is not None})
    return p


def main(argv: list[str] | None = None, prog: str = "rtretinex bench",
         defaults: dict | None = None, rerun: list[str] | None = None,
         description: str | None = None) -> int:
    """Run the benchmark and print its tables; ``rerun``: the command that runs this again
    (with the --isa caps in its environment; default ``python -m rtretinex.cli bench``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog, defaults, description).parse_args(argv)
    caps = ISA_TIERS[args.isa]
    if any(os.environ.get(key) != value for key, value in caps.items()):
        command = rerun or [sys.executable, "-m", "rtretinex.cli", "bench"]
        return subprocess.run([*command, *argv], env={**os.environ, **caps}).returncode
    console = Console(width=None if sys.stdout.isatty() else 200)
    try:
        names = [resolve_auto().name if n.strip() == "auto" else get_spec(n.strip()).name
                 for n in args.backends.split(",")]
        modes = [m.strip() for m in args.modes.split(",")]
        if unknown := [m for m in modes if m not in MODES]:
            raise UsageError(f"unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}")
        sizes = parse_sizes(args.sizes or (GPU_SIZES if torch.cuda.is_available() else CPU_SIZES))
    except UsageError as exc:
        return report(exc)
    info = {**machine_info(), "isa": isa_info(args.isa),
            "source": "your clips" if args.clips else args.source}
    rows: list[dict] = []
    latency: list[dict] = []
    clips_count = len(args.clips or sizes)
    steps = clips_count * (1 if args.clips else 2) + len(names) * clips_count * len(modes) * 3
    steps += 1 if args.latency_seconds > 0 else 0
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with tempfile.TemporaryDirectory() as tmp, \
            Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("starting", total=steps)

        def step(text: str) -> None:
            progress.update(task, description=escape(text))
            progress.advance(task)

        paths = list(args.clips or [])
        for width, height in ([] if args.clips else sizes):
            step(f"generating a dark {width}x{height} clip")
            paths.append(write_dark_clip(Path(tmp) / f"{width}x{height}.mp4",
                                         args.pipeline_frames, width, height, audio=False,
                                         camera=args.source == "camera", loop=RENDERED))
        try:
            clips = []
            for path in paths:
                step(f"passthrough of {path.name}")
                clips.append(open_clip(path, args.preset, args.pipeline_frames))
        except InputError as exc:
            return report(exc)
        for name in names:
            rows += bench_backend(name, args.precision, clips, modes, args, step)
        if args.latency_seconds > 0 and "error" not in rows[0]:
            step("live latency")
            latency.append(live_latency(names[0], modes[0], (clips[0].width, clips[0].height),
                                        args.latency_seconds, args.weights))
    render(rows, info, console)
    if latency:
        render_latency(latency, console)
    result = {"machine": info, "command": f"{prog} {' '.join(argv)}".strip(), "rows": rows,
              "latency": [{k: v for k, v in r.items() if k != "samples_ms"} for r in latency]}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {args.json}")
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(rows, latency, args.plot)
        console.print(f"wrote {args.plot}")
    return 0
