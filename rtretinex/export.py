"""rtretinex export: the nets as ONNX graphs, or a backend's engine built ahead of time.

  rtretinex export --format onnx [-o retinexnet.onnx]   three graphs, dynamic H×W, checked
  rtretinex export --format openvino|tensorrt           an engine into the engine cache

Every export proves itself: the ONNX graphs run against the eager nets on real frames of
three sizes (``nets.onnx_export``), an engine is reloaded and compared with them.
(``python -m rtretinex.export --backend ...`` still works.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

from .errors import OutputError, UsageError, report
from .nets.backends import BACKENDS, BackendUnavailable, create_backend
from .nets.backends.tensorrt_backend import ShapeProfile
from .nets.models import DEFAULT_WEIGHTS, WeightsError
from .nets.onnx_export import (
    TOLERANCE,
    ExportMismatch,
    OnnxUnavailable,
    export_onnx,
    graph_paths,
)
from .samples import dark_clip_frames
from .version import version_line

__all__ = ["build_parser", "main"]

ENGINES = ("tensorrt", "openvino")
# (width, height) of the frames each ONNX graph is checked on: odd, 16:9 and portrait
CHECK_SIZES = ((333, 197), (1280, 720), (360, 640))
FORMATS = ("onnx", *ENGINES)


def _size(text: str) -> tuple[int, int]:
    """'1280x720' → (720, 1280) as (height, width)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return height, width


def build_parser(prog: str = "rtretinex export") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version_line())
    p.add_argument("--format", "--backend", dest="format", choices=FORMATS, required=True,
                   help="onnx: portable graphs (trtexec, onnxruntime, vs-mlrt, OpenVINO); "
                        "openvino/tensorrt: this machine's engine, into the engine cache")
    p.add_argument("-o", "--output", type=Path, default=Path("retinexnet.onnx"),
                   help="onnx: the whole graph's file; the nets go beside it as "
                        "NAME_decom.onnx and NAME_enhance.onnx (default retinexnet.onnx)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace existing graphs")
    p.add_argument("--precision", default=None,
                   help=", ".join(f"{s.name}: {'/'.join(s.precisions)}" for s in BACKENDS
                                  if s.name in ENGINES) + "; onnx: fp32")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--min-size", type=_size, default="64x64",
                   help="smallest frame of the TensorRT profile (default 64x64)")
    p.add_argument("--opt-size", type=_size, default="1280x720",
                   help="frame size TensorRT tunes for (default 1280x720)")
    p.add_argument("--max-size", type=_size, default="3840x2160",
                   help="largest frame of the TensorRT profile (default 3840x2160)")
    return p


def check_images() -> dict[str, np.ndarray]:
    """Real frames to check the ONNX graphs on: a bundled photo, darkened as a camera at night
    records it, at each of CHECK_SIZES."""
    return {f"{width}x{height}": next(dark_clip_frames(1, width, height, photo="chelsea"))
            for width, height in CHECK_SIZES}


def _onnx(args: argparse.Namespace, console: Console) -> None:
    if args.precision not in (None, "fp32"):
        raise UsageError(f"ONNX graphs are exported in fp32 (trtexec --fp16 builds an fp16 "
                         f"engine from them), not {args.precision}")
    paths = graph_paths(args.output)
    if not args.output.parent.is_dir():
        raise OutputError(f"output folder does not exist: {args.output.parent}")
    if not args.overwrite and (taken := [p for p in paths.values() if p.exists()]):
        raise OutputError(f"{taken[0]} already exists; pass -y to overwrite")
    with console.status("exporting") as status:
        checks = export_onnx(args.output, check_images(), args.weights,
                             on_step=status.update)
    sizes = ", ".join(f"{w}x{h}" for w, h in CHECK_SIZES)
    for check in checks:
        worst = max(check.max_error.values())
        what = "R ∘ Î" if check.name == "retinexnet" else "outputs"
        print(f"{check.path}  max |Δ| {what} vs eager {worst:.1e} "
              f"(≤ {TOLERANCE:g}; {sizes}; {check.runtime})")


def main(argv: list[str] | None = None, prog: str = "rtretinex export") -> int:
    args = build_parser(prog).parse_args(argv)
    console = Console(stderr=True)
    try:
        if args.format == "onnx":
            _onnx(args, console)
            return 0
        options = {}
        if args.format == "tensorrt":
            options["profile"] = ShapeProfile(args.min_size, args.opt_size, args.max_size)
        backend = create_backend(args.format, args.precision, args.weights, **options)
    except (UsageError, OutputError, BackendUnavailable, WeightsError, OnnxUnavailable,
            ExportMismatch, RuntimeError) as exc:
        return report(exc)
    path = getattr(backend, "engine_file", None) or getattr(backend, "ir_path", None)
    print(f"{backend.name} {backend.precision} engine ready on {backend.device_name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m rtretinex.export"))
